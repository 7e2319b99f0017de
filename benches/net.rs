//! Loopback TCP with weft, tokio and smol, side by side in one run.
//!
//! Run with `cargo bench --bench net`. Same worker count for all (`WEFT_BENCH_WORKERS`,
//! default 2). Peers: tokio's `TcpStream` on its multi-thread runtime; smol's async-io
//! `Async<TcpStream>` on async-executor.
//!
//! - `tcp_echo`: 50 connections at once, each 200 round trips of 64 bytes to an echo
//!   server on the same runtime.
//! - `stream_1gib`: one connection carries 1 GiB from a writer task to a reader task
//!   (256 KiB writes and reads); reported as throughput.
//!
//! The workload is the same code shape on each runtime, written against each one's own
//! socket API (tokio's I/O traits differ from the futures-io ones weft and smol share).

mod common;

use common::echo::{smol_echo, tokio_echo, weft_echo};
use common::{workers, Rt, Smol, Tokio, Weft};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;

use common::echo::{CONNS, MSG, ROUNDS};
const STREAM: usize = 1 << 30;
const CHUNK: usize = 256 * 1024;

fn weft_stream(rt: &Weft) {
    use futures_lite::AsyncWriteExt;
    use weft_reactor::{TcpListener, TcpStream};
    let got = rt.run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let writer = weft_executor::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let buf = vec![1u8; CHUNK];
            let mut sent = 0;
            while sent < STREAM {
                s.write_all(&buf).await.unwrap();
                sent += CHUNK;
            }
        });
        let s = TcpStream::connect(addr).await.unwrap();
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0;
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got += n;
        }
        writer.await.unwrap();
        got
    });
    assert_eq!(got, STREAM);
}

fn tokio_stream(rt: &Tokio) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    let got = rt.run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let writer = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let buf = vec![1u8; CHUNK];
            let mut sent = 0;
            while sent < STREAM {
                s.write_all(&buf).await.unwrap();
                sent += CHUNK;
            }
        });
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0;
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got += n;
        }
        writer.await.unwrap();
        got
    });
    assert_eq!(got, STREAM);
}

fn smol_stream(rt: &Smol) {
    use async_io::Async;
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use std::net::{TcpListener, TcpStream};
    let got = rt.run(async {
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
        let addr = listener.get_ref().local_addr().unwrap();
        let writer = Smol::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let buf = vec![1u8; CHUNK];
            let mut sent = 0;
            while sent < STREAM {
                s.write_all(&buf).await.unwrap();
                sent += CHUNK;
            }
        });
        let mut s = Async::<TcpStream>::connect(addr).await.unwrap();
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0;
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got += n;
        }
        writer.await;
        got
    });
    assert_eq!(got, STREAM);
}

fn bench(c: &mut Criterion) {
    let n = workers();
    let weft = Weft::new(n);
    let tokio = Tokio::new(n);
    let smol = Smol::new(n);

    let mut g = c.benchmark_group(format!("tcp_echo_{CONNS}x{ROUNDS}x{MSG}B/{n}w"));
    g.measurement_time(Duration::from_secs(5));
    g.bench_function(BenchmarkId::from_parameter(weft.name()), |b| {
        b.iter(|| weft_echo(&weft))
    });
    g.bench_function(BenchmarkId::from_parameter(tokio.name()), |b| {
        b.iter(|| tokio_echo(&tokio))
    });
    g.bench_function(BenchmarkId::from_parameter(smol.name()), |b| {
        b.iter(|| smol_echo(&smol))
    });
    g.finish();

    let mut g = c.benchmark_group(format!("tcp_stream_1GiB/{n}w"));
    g.sample_size(10);
    g.throughput(Throughput::Bytes(STREAM as u64));
    g.bench_function(BenchmarkId::from_parameter(weft.name()), |b| {
        b.iter(|| weft_stream(&weft))
    });
    g.bench_function(BenchmarkId::from_parameter(tokio.name()), |b| {
        b.iter(|| tokio_stream(&tokio))
    });
    g.bench_function(BenchmarkId::from_parameter(smol.name()), |b| {
        b.iter(|| smol_stream(&smol))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

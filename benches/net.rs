//! Loopback TCP with weft, tokio and smol, side by side in one run.
//!
//! Run with `cargo bench -p weft-benches --bench net`. Same worker count for all
//! (`WEFT_BENCH_WORKERS`, default 2). Peers: tokio's `TcpStream` on its multi-thread runtime; smol's async-io
//! `Async<TcpStream>` on async-executor.
//!
//! - `tcp_echo`: 50 connections at once, each 200 round trips of 64 bytes to an echo
//!   server on the same runtime.
//! - `tcp_stream_1GiB`: one connection carries 1 GiB from a writer task to a reader task
//!   (256 KiB writes and reads); reported as throughput.
//!
//! Each workload is written once (`common/src/workload/net.rs`), against a small socket
//! trait each runtime implements with its own API.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;
use weft_bench_common::workload::net::{echo, stream, CONNS, MSG, ROUNDS, STREAM};
use weft_bench_common::{bench_each, workers, Smol, Tokio, Weft};

fn bench(c: &mut Criterion) {
    let n = workers();
    let weft = Weft::new(n);
    let tokio = Tokio::new(n);
    let smol = Smol::new(n);

    let mut g = c.benchmark_group(format!("tcp_echo_{CONNS}x{ROUNDS}x{MSG}B/{n}w"));
    g.measurement_time(Duration::from_secs(5));
    bench_each!(g, &weft, &tokio, &smol, |rt| echo(rt));
    g.finish();

    let mut g = c.benchmark_group(format!("tcp_stream_1GiB/{n}w"));
    g.sample_size(10);
    g.throughput(Throughput::Bytes(STREAM as u64));
    bench_each!(g, &weft, &tokio, &smol, |rt| stream(rt));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

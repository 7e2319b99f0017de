//! Resident memory per idle keep-alive HTTP/1.1 connection: weft (weft-hyper's `HyperIo`)
//! against tokio (hyper-util's `TokioIo`), the same hyper server on each, in one run.
//!
//! Each runtime is measured in a child process of its own (this test binary run again), so
//! that neither inherits the other's freed heap: the child starts a server on 2 workers,
//! opens `N` blocking loopback connections (a file descriptor each, no user memory), sends
//! one request on each and reads the answer, then compares `VmRSS` before and after. The
//! parent alternates the runtimes, two rounds, and prints bytes per connection with the
//! ratio. `WEFT_CONN_MEMORY_CONNS` sets `N` (default 2,000; each costs two descriptors).
//!
//! `cargo test -p weft-hyper --release --test conn_memory -- --nocapture`

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

const CHILD_ENV: &str = "WEFT_CONN_MEMORY_RUNTIME";
const CONNS_ENV: &str = "WEFT_CONN_MEMORY_CONNS";
const BODY: &[u8] = b"hello";

#[test]
fn idle_keep_alive_connection_memory_weft_against_tokio() {
    if let Ok(runtime) = std::env::var(CHILD_ENV) {
        let conns = connections();
        let bytes = match runtime.as_str() {
            "weft" => weft_server::measure(conns),
            "tokio" => tokio_server::measure(conns),
            other => panic!("{CHILD_ENV}={other}: expected weft or tokio"),
        };
        println!("\nbytes_per_connection={bytes}");
        return;
    }
    let mut weft = Vec::new();
    let mut tokio = Vec::new();
    for _round in 0..2 {
        weft.push(child("weft"));
        tokio.push(child("tokio"));
    }
    let (w, t) = (median(&mut weft), median(&mut tokio));
    println!(
        "idle keep-alive connection, {} connections: weft {w:.0} B (runs {weft:?}), \
         tokio {t:.0} B (runs {tokio:?}), weft/tokio {:.2}",
        connections(),
        w / t
    );
    // Not a performance bound: the regression this guards against (a 16 KiB buffer per
    // connection, 1.76x tokio) is far above it, and RSS is not noisy at this scale.
    assert!(
        w < 1.3 * t,
        "weft holds {w:.0} B per idle connection against tokio's {t:.0} B"
    );
}

fn connections() -> usize {
    std::env::var(CONNS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

fn child(runtime: &str) -> f64 {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "idle_keep_alive_connection_memory_weft_against_tokio",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, runtime)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the {runtime} child failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split_once("bytes_per_connection=").map(|(_, v)| v))
        .unwrap_or_else(|| panic!("no figure from the {runtime} child: {stdout}"))
        .trim()
        .parse()
        .unwrap()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    (v[(n - 1) / 2] + v[n / 2]) / 2.0
}

/// Resident set size of this process, in bytes.
fn rss() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024.0
}

/// Opens `n` connections, each served one keep-alive request, and keeps them open.
fn open_idle(addr: SocketAddr, n: usize) -> Vec<std::net::TcpStream> {
    let mut conns = Vec::with_capacity(n);
    let mut buf = [0; 512];
    for _ in 0..n {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")
            .unwrap();
        let mut got = Vec::new();
        while !got.ends_with(BODY) {
            let k = s.read(&mut buf).unwrap();
            assert!(k > 0, "the server closed a connection");
            got.extend_from_slice(&buf[..k]);
        }
        conns.push(s);
    }
    conns
}

/// The measurement, with the server already running at `addr`: a warm-up round opened
/// and closed first (so that first-use allocations are not counted), then `n` idle
/// connections. Bytes of RSS per connection.
fn measure_at(addr: SocketAddr, n: usize) -> f64 {
    drop(open_idle(addr, n / 4));
    std::thread::sleep(Duration::from_millis(300));
    let before = rss();
    let conns = open_idle(addr, n);
    // Let the server tasks go back to waiting for the next request.
    std::thread::sleep(Duration::from_millis(300));
    let after = rss();
    drop(conns);
    (after - before) / n as f64
}

async fn hello(
    _req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<http_body_util::Full<hyper::body::Bytes>>, std::convert::Infallible> {
    Ok(hyper::Response::new(http_body_util::Full::new(
        hyper::body::Bytes::from_static(BODY),
    )))
}

mod weft_server {
    use weft_hyper::{HyperIo, WeftTimer};

    pub fn measure(n: usize) -> f64 {
        let rt = weft::Builder::new().worker_threads(2).build().unwrap();
        let addr = rt.block_on(async {
            let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            weft::spawn(async move {
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    weft::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .timer(WeftTimer)
                            .serve_connection(
                                HyperIo::new(stream),
                                hyper::service::service_fn(super::hello),
                            )
                            .await;
                    });
                }
            });
            addr
        });
        rt.block_on(rt.spawn_blocking(move || super::measure_at(addr, n)))
            .unwrap()
    }
}

mod tokio_server {
    use hyper_util::rt::{TokioIo, TokioTimer};

    pub fn measure(n: usize) -> f64 {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let addr = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move {
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .serve_connection(
                                TokioIo::new(stream),
                                hyper::service::service_fn(super::hello),
                            )
                            .await;
                    });
                }
            });
            addr
        });
        rt.block_on(rt.spawn_blocking(move || super::measure_at(addr, n)))
            .unwrap()
    }
}

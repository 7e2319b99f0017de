//! A tour of weft: what it is, shown by running it, in a few seconds.
//!
//! `cargo run --release --example tour`
//!
//! 1. A burst of 100,000 tasks over every worker, with the scheduler's own counters.
//! 2. Timers: a thousand sleeps, how late they fire (never early).
//! 3. I/O: an HTTP server (hyper on weft) and a hundred concurrent clients over loopback.
//! 4. Failure: a panicking task and a cancelled one, without harm to the rest.

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Bytes;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::task::JoinSet;
use weft_hyper::{HyperIo, WeftTimer};

const TASKS: u64 = 100_000;
const SLEEPS: u64 = 1_000;
const CLIENTS: usize = 100;

fn main() {
    let rt = weft::Builder::new()
        .on_task_panic(|_| {}) // the tour reports panics itself
        .build()
        .expect("cannot start the runtime");
    let workers = rt.metrics().num_workers();
    println!("weft tour: {workers} worker threads\n");
    let started = Instant::now();

    // 1. The burst.
    let sum = Arc::new(AtomicU64::new(0));
    let s = sum.clone();
    let t = Instant::now();
    // Spawned from inside a task: each goes to that worker's LIFO slot / queue, and the
    // other workers steal.
    let spawner = rt.spawn(async move {
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let s = s.clone();
                weft::spawn(async move {
                    if i % 10 == 0 {
                        weft::task::yield_now().await;
                    }
                    s.fetch_add(i, Ordering::Relaxed);
                })
            })
            .collect();
        for h in handles {
            h.await.expect("task failed");
        }
    });
    rt.block_on(spawner).expect("the spawner failed");
    let burst = t.elapsed();
    assert_eq!(sum.load(Ordering::Relaxed), TASKS * (TASKS - 1) / 2);
    println!(
        "1. spawned and joined {TASKS} tasks in {:.1} ms ({:.0} ns per task)",
        burst.as_secs_f64() * 1e3,
        burst.as_nanos() as f64 / TASKS as f64
    );
    std::thread::sleep(Duration::from_millis(50)); // workers publish counters when idle
    let m = rt.metrics();
    println!(
        "   {:>6} {:>9} {:>9} {:>10} {:>9} {:>7} {:>9}",
        "worker", "polls", "stolen", "steal ops", "lifo hits", "parks", "overflows"
    );
    for i in 0..workers {
        println!(
            "   {:>6} {:>9} {:>9} {:>10} {:>9} {:>7} {:>9}",
            i,
            m.worker_polls(i),
            m.worker_steal_count(i),
            m.worker_steal_operations(i),
            m.worker_lifo_hits(i),
            m.worker_park_count(i),
            m.worker_overflow_count(i),
        );
    }

    // 2. Timers.
    let (late_us, early) = rt.block_on(async {
        let mut set = JoinSet::new();
        for i in 0..SLEEPS {
            let d = Duration::from_micros(1_000 + (i * 7_919) % 49_000);
            set.spawn(async move {
                let deadline = Instant::now() + d;
                weft::time::sleep_until(deadline).await;
                Instant::now().checked_duration_since(deadline)
            });
        }
        let (mut late, mut early) = (0u128, 0);
        while let Some(r) = set.join_next().await {
            match r.unwrap() {
                Some(l) => late += l.as_micros(),
                None => early += 1,
            }
        }
        (late as f64 / SLEEPS as f64, early)
    });
    println!("\n2. {SLEEPS} sleeps of 1-50 ms: mean lateness {late_us:.0} µs, {early} early");

    // 3. HTTP over loopback.
    let (ok, took) = rt.block_on(async {
        let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = weft::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                weft::spawn(async move {
                    let svc = hyper::service::service_fn(
                        |req: Request<hyper::body::Incoming>| async move {
                            let body = format!("hello {}", req.uri().path());
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(WeftTimer)
                        .serve_connection(HyperIo::new(stream), svc)
                        .await;
                });
            }
        });
        let t = Instant::now();
        let mut set = JoinSet::new();
        for i in 0..CLIENTS {
            set.spawn(async move {
                let stream = weft::net::TcpStream::connect(addr).await?;
                let (mut tx, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
                    .await
                    .map_err(std::io::Error::other)?;
                weft::spawn(conn);
                let req = Request::get(format!("/client/{i}"))
                    .header("host", "localhost")
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                let res = tx.send_request(req).await.map_err(std::io::Error::other)?;
                let body = res
                    .into_body()
                    .collect()
                    .await
                    .map_err(std::io::Error::other)?;
                Ok::<_, std::io::Error>(body.to_bytes() == format!("hello /client/{i}"))
            });
        }
        let mut ok = 0;
        while let Some(r) = set.join_next().await {
            if matches!(r, Ok(Ok(true))) {
                ok += 1;
            }
        }
        server.abort();
        (ok, t.elapsed())
    });
    println!(
        "\n3. HTTP/1.1 (hyper on weft): {ok}/{CLIENTS} concurrent clients served over loopback in {:.1} ms",
        took.as_secs_f64() * 1e3
    );

    // 4. Failure stays contained. (The process's panic hook would print the panic as for
    // any panic; the tour silences it.)
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let panicked = rt
        .block_on(rt.spawn(async {
            let n: u32 = "not a number".parse().unwrap_or(0);
            if n == 0 {
                panic!("a task failed on purpose");
            }
        }))
        .unwrap_err();
    std::panic::set_hook(default_hook);
    let pending = rt.spawn(std::future::pending::<()>());
    pending.abort();
    let cancelled = rt.block_on(pending).unwrap_err();
    println!(
        "\n4. a panicking task: {panicked}; an aborted one: {cancelled}; the runtime runs on: {}",
        rt.block_on(rt.spawn(async { "yes" })).unwrap()
    );

    let alive = rt.metrics().alive_tasks();
    drop(rt);
    println!(
        "\nsummary: {TASKS} tasks, {SLEEPS} timers, {CLIENTS} HTTP exchanges on {workers} workers in {:.2} s; \
         shut down with {alive} tasks still alive (dropped).",
        started.elapsed().as_secs_f64()
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_tour_runs() {
        super::main();
    }
}

//! Spawn-and-join and yield throughput of weft, tokio and smol, side by side in one run.
//!
//! Run with `cargo bench --bench executor`. All three runtimes use the same number of
//! worker threads: `WEFT_BENCH_WORKERS`, default 2. Each workload checks its own result.
//!
//! - `spawn_join`: from inside a task, spawn 10,000 tasks and await every handle.
//! - `yield_many`: 200 tasks each yield 1,000 times.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::future::Future;
use std::thread;
use std::time::Duration;

const SPAWN: usize = 10_000;
const YIELD_TASKS: usize = 200;
const YIELDS: usize = 1_000;

fn workers() -> usize {
    std::env::var("WEFT_BENCH_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

/// The operations a workload needs, for each runtime.
trait Rt {
    type Join<T: Send + 'static>: Future<Output = T> + Send + 'static;
    fn name(&self) -> &'static str;
    fn spawn<F>(f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    /// Runs `f` as a task on the runtime and waits for it from this thread.
    fn run<F>(&self, f: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    fn yield_now() -> impl Future<Output = ()> + Send;
}

struct Weft(weft_executor::Runtime);

/// Unwraps a weft `JoinHandle` so all three have the same shape.
struct WeftJoin<T>(weft_executor::JoinHandle<T>);
impl<T> Future for WeftJoin<T> {
    type Output = T;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<T> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.expect("task failed"))
    }
}

impl Rt for Weft {
    type Join<T: Send + 'static> = WeftJoin<T>;
    fn name(&self) -> &'static str {
        "weft"
    }
    fn spawn<F>(f: F) -> WeftJoin<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        WeftJoin(weft_executor::spawn(f))
    }
    fn run<F>(&self, f: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.block_on(self.0.spawn(f)).unwrap()
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        weft_executor::yield_now()
    }
}

struct Tokio(tokio::runtime::Runtime);

struct TokioJoin<T>(tokio::task::JoinHandle<T>);
impl<T> Future for TokioJoin<T> {
    type Output = T;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<T> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.expect("task failed"))
    }
}

impl Rt for Tokio {
    type Join<T: Send + 'static> = TokioJoin<T>;
    fn name(&self) -> &'static str {
        "tokio"
    }
    fn spawn<F>(f: F) -> TokioJoin<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        TokioJoin(tokio::spawn(f))
    }
    fn run<F>(&self, f: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.block_on(self.0.spawn(f)).unwrap()
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
}

/// smol's executor on N threads.
struct Smol {
    stop: Option<async_channel::Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

static SMOL: std::sync::OnceLock<async_executor::Executor<'static>> = std::sync::OnceLock::new();

fn smol_ex() -> &'static async_executor::Executor<'static> {
    SMOL.get_or_init(async_executor::Executor::new)
}

impl Smol {
    fn new(n: usize) -> Smol {
        let (tx, rx) = async_channel::bounded::<()>(1);
        let threads = (0..n)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || {
                    let _ = futures_lite::future::block_on(smol_ex().run(rx.recv()));
                })
            })
            .collect();
        Smol {
            stop: Some(tx),
            threads,
        }
    }
}

impl Drop for Smol {
    fn drop(&mut self) {
        drop(self.stop.take());
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
    }
}

impl Rt for Smol {
    type Join<T: Send + 'static> = async_executor::Task<T>;
    fn name(&self) -> &'static str {
        "smol"
    }
    fn spawn<F>(f: F) -> async_executor::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        smol_ex().spawn(f)
    }
    fn run<F>(&self, f: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        futures_lite::future::block_on(smol_ex().spawn(f))
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }
}

fn spawn_join<R: Rt>(rt: &R) {
    let n = rt.run(async {
        let hs: Vec<_> = (0..SPAWN).map(|i| R::spawn(async move { i })).collect();
        let mut n = 0;
        for h in hs {
            n += h.await;
        }
        n
    });
    assert_eq!(n, SPAWN * (SPAWN - 1) / 2);
}

fn yield_many<R: Rt>(rt: &R) {
    let total = rt.run(async move {
        let hs: Vec<_> = (0..YIELD_TASKS)
            .map(|_| {
                R::spawn(async move {
                    let mut n = 0;
                    for _ in 0..YIELDS {
                        R::yield_now().await;
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let mut total = 0;
        for h in hs {
            total += h.await;
        }
        total
    });
    assert_eq!(total, YIELD_TASKS * YIELDS);
}

fn bench(c: &mut Criterion) {
    let n = workers();
    let weft = Weft(
        weft_executor::Builder::new()
            .worker_threads(n)
            .build()
            .unwrap(),
    );
    let tokio = Tokio(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build()
            .unwrap(),
    );
    let smol = Smol::new(n);

    let mut g = c.benchmark_group(format!("spawn_join_{SPAWN}/{n}w"));
    g.measurement_time(Duration::from_secs(3));
    g.bench_function(BenchmarkId::from_parameter(weft.name()), |b| {
        b.iter(|| spawn_join(&weft))
    });
    g.bench_function(BenchmarkId::from_parameter(tokio.name()), |b| {
        b.iter(|| spawn_join(&tokio))
    });
    g.bench_function(BenchmarkId::from_parameter(smol.name()), |b| {
        b.iter(|| spawn_join(&smol))
    });
    g.finish();

    let mut g = c.benchmark_group(format!("yield_{YIELD_TASKS}x{YIELDS}/{n}w"));
    g.measurement_time(Duration::from_secs(3));
    g.bench_function(BenchmarkId::from_parameter(weft.name()), |b| {
        b.iter(|| yield_many(&weft))
    });
    g.bench_function(BenchmarkId::from_parameter(tokio.name()), |b| {
        b.iter(|| yield_many(&tokio))
    });
    g.bench_function(BenchmarkId::from_parameter(smol.name()), |b| {
        b.iter(|| yield_many(&smol))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

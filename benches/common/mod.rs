//! What the benchmarks share: the three runtimes behind one small trait, so every workload
//! is written once and run identically on weft, tokio and smol.
//!
//! All three use the same number of worker threads: `WEFT_BENCH_WORKERS`, default 2.
//! smol's executor threads run inside `async_io::block_on`, so they also drive async-io's
//! reactor and timers when idle (smol's recommended setup).

#![allow(dead_code)]

pub mod net;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

/// Evaluates `$body` once per runtime with `$rt` bound to each, into an array in the order
/// weft, tokio, smol (a workload is generic over the runtime, a closure cannot be).
macro_rules! each {
    ($weft:expr, $tokio:expr, $smol:expr, |$rt:ident| $body:expr) => {
        [
            {
                let $rt = $weft;
                $body
            },
            {
                let $rt = $tokio;
                $body
            },
            {
                let $rt = $smol;
                $body
            },
        ]
    };
}
pub(crate) use each;

/// One criterion benchmark per runtime in group `$g`, named after the runtime.
#[allow(unused_macros)] // not by the `compare` bench, which has no criterion
macro_rules! bench_each {
    ($g:expr, $weft:expr, $tokio:expr, $smol:expr, |$rt:ident| $body:expr) => {
        $crate::common::each!($weft, $tokio, $smol, |$rt| {
            $g.bench_function(
                criterion::BenchmarkId::from_parameter($crate::common::Rt::name($rt)),
                |b| b.iter(|| $body),
            );
        })
    };
}
#[allow(unused_imports)]
pub(crate) use bench_each;

/// 200 tasks each yield 1,000 times.
pub const YIELD_TASKS: usize = 200;
pub const YIELDS: usize = 1_000;

/// `YIELD_TASKS` tasks each yield `YIELDS` times; their handles are awaited in order.
pub fn yield_many<R: Rt>(rt: &R) {
    let total = rt.run(async {
        let hs: Vec<_> = (0..YIELD_TASKS)
            .map(|_| {
                R::spawn(async {
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

pub fn workers() -> usize {
    std::env::var("WEFT_BENCH_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

/// The operations a workload needs, for each runtime.
pub trait Rt {
    type Join<T: Send + 'static>: Future<Output = T> + Send + 'static;
    type Sleep: Future<Output = ()> + Send + 'static;
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
    fn sleep_until(deadline: Instant) -> Self::Sleep;
    /// Spawns a task nobody will await (smol cancels a task whose handle is dropped, so
    /// each runtime says how to let one run on its own).
    fn detach<F>(f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(Self::spawn(f));
    }
    /// Spawns from a thread that is not one of the runtime's.
    fn spawn_outside<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
}

/// Unwraps a `Result`-returning join handle so all three have the same shape.
pub struct Unwrap<J>(J);
impl<J: Future<Output = Result<T, E>> + Unpin, T, E: std::fmt::Debug> Future for Unwrap<J> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.expect("task failed"))
    }
}

pub struct Weft(pub weft_executor::Runtime);

impl Weft {
    /// Reactor and timer stacked, as the `weft` crate builds its runtimes.
    pub fn new(n: usize) -> Weft {
        let reactor = weft_reactor::ReactorDriver::new().unwrap();
        let timer = weft_timer::TimerDriver::new(std::sync::Arc::new(reactor.clone()));
        Weft(
            weft_executor::Builder::new()
                .worker_threads(n)
                .driver(std::sync::Arc::new(timer.clone()))
                .extension(reactor.reactor())
                .extension(timer.timer())
                .build()
                .unwrap(),
        )
    }
}

impl Rt for Weft {
    type Join<T: Send + 'static> = Unwrap<weft_executor::JoinHandle<T>>;
    type Sleep = weft_timer::Sleep;
    fn name(&self) -> &'static str {
        "weft"
    }
    fn spawn<F>(f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(weft_executor::spawn(f))
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
    fn sleep_until(deadline: Instant) -> Self::Sleep {
        weft_timer::sleep_until(deadline)
    }
    fn spawn_outside<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(self.0.spawn(f))
    }
}

pub struct Tokio(pub tokio::runtime::Runtime);

impl Tokio {
    pub fn new(n: usize) -> Tokio {
        Tokio(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(n)
                .enable_all()
                .build()
                .unwrap(),
        )
    }
}

impl Rt for Tokio {
    type Join<T: Send + 'static> = Unwrap<tokio::task::JoinHandle<T>>;
    type Sleep = Pin<Box<tokio::time::Sleep>>;
    fn name(&self) -> &'static str {
        "tokio"
    }
    fn spawn<F>(f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(tokio::spawn(f))
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
    fn sleep_until(deadline: Instant) -> Self::Sleep {
        // tokio's Sleep is !Unpin; boxing it is what users of a trait object do too.
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }
    fn spawn_outside<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(self.0.spawn(f))
    }
}

/// smol's executor on N threads.
pub struct Smol {
    stop: Option<async_channel::Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

static SMOL: std::sync::OnceLock<async_executor::Executor<'static>> = std::sync::OnceLock::new();

fn smol_ex() -> &'static async_executor::Executor<'static> {
    SMOL.get_or_init(async_executor::Executor::new)
}

impl Smol {
    pub fn new(n: usize) -> Smol {
        let (tx, rx) = async_channel::bounded::<()>(1);
        let threads = (0..n)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || {
                    let _ = async_io::block_on(smol_ex().run(rx.recv()));
                })
            })
            .collect();
        Smol {
            stop: Some(tx),
            threads,
        }
    }
}

impl Smol {
    /// Spawns on smol's executor.
    pub fn spawn<F>(f: F) -> async_executor::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        smol_ex().spawn(f)
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

/// async-io's `Timer` as a `()` future.
pub struct SmolSleep(async_io::Timer);
impl Future for SmolSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

impl Rt for Smol {
    type Join<T: Send + 'static> = async_executor::Task<T>;
    type Sleep = SmolSleep;
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
    fn sleep_until(deadline: Instant) -> SmolSleep {
        SmolSleep(async_io::Timer::at(deadline))
    }
    fn detach<F>(f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        smol_ex().spawn(f).detach();
    }
    fn spawn_outside<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        smol_ex().spawn(f)
    }
}

/// A deterministic pseudo-random sequence (xorshift), the same for every runtime.
pub fn durations(n: usize, min_ms: u64, max_ms: u64, seed: u64) -> Vec<Duration> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let span_us = (max_ms - min_ms) * 1000;
            Duration::from_micros(min_ms * 1000 + x % (span_us + 1))
        })
        .collect()
}

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// `n` tasks each sleeping 1..=`max_ms` ms from its first poll (the deadline computed
/// there); returns the total time, the mean lateness in µs, and how many woke early.
pub fn sleeps<R: Rt>(rt: &R, n: usize, max_ms: u64) -> (Duration, f64, usize) {
    let ds = durations(n, 1, max_ms, 42);
    let start = Instant::now();
    let (late_ns, early) = rt.run(async move {
        let hs: Vec<_> = ds
            .into_iter()
            .map(|d| {
                R::spawn(async move {
                    let deadline = Instant::now() + d;
                    R::sleep_until(deadline).await;
                    let now = Instant::now();
                    if now < deadline {
                        (0u128, 1usize)
                    } else {
                        ((now - deadline).as_nanos(), 0)
                    }
                })
            })
            .collect();
        let mut late = 0u128;
        let mut early = 0;
        for h in hs {
            let (l, e) = h.await;
            late += l;
            early += e;
        }
        (late, early)
    });
    let total = start.elapsed();
    (total, late_ns as f64 / n as f64 / 1000.0, early)
}

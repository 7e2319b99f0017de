//! Spawning, joining, yielding and waking tasks.

use crate::Rt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tasks spawned by [`spawn_join`], [`spawn_many_local`] and [`spawn_many_remote`].
pub const SPAWN: usize = 10_000;
/// Tasks in [`yield_many`].
pub const YIELD_TASKS: usize = 200;
/// Yields per task in [`yield_many`].
pub const YIELDS: usize = 1_000;
/// Pairs of tasks in [`ping_pong`].
pub const PING_PONGS: usize = 1_000;
/// Tasks in a row in [`chained_spawn`].
pub const CHAIN: usize = 1_000;
/// Tasks parked in [`idle_memory`].
pub const IDLE_TASKS: usize = 1_000_000;

/// From inside a task, spawns [`SPAWN`] tasks and awaits every handle.
pub fn spawn_join<R: Rt>(rt: &R) {
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

/// [`YIELD_TASKS`] tasks each yield [`YIELDS`] times; their handles are awaited in order.
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

/// From inside a task, detaches `n` tasks; the last one to run says so.
pub fn spawn_many_local<R: Rt>(rt: &R, n: usize) {
    let (tx, rx) = async_channel::bounded::<()>(1);
    let left = Arc::new(AtomicUsize::new(n));
    rt.run(async move {
        for _ in 0..n {
            let left = left.clone();
            let tx = tx.clone();
            R::detach(async move {
                if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                    tx.try_send(()).unwrap();
                }
            });
        }
        rx.recv().await.unwrap();
    });
}

/// From this thread (not the runtime's), spawns [`SPAWN`] tasks and awaits every handle.
pub fn spawn_many_remote<R: Rt>(rt: &R) {
    let hs: Vec<_> = (0..SPAWN)
        .map(|i| rt.spawn_outside(async move { i }))
        .collect();
    let sum = futures_lite::future::block_on(async {
        let mut s = 0;
        for h in hs {
            s += h.await;
        }
        s
    });
    assert_eq!(sum, SPAWN * (SPAWN - 1) / 2);
}

/// Keeps every worker busy (yield, then a short spin) until dropped.
#[derive(Debug)]
pub struct Busy(Arc<AtomicBool>);

impl Busy {
    /// One busy task per worker.
    pub fn start<R: Rt>(rt: &R, workers: usize) -> Busy {
        let stop = Arc::new(AtomicBool::new(false));
        for _ in 0..workers {
            let stop = stop.clone();
            let busy = rt.spawn_outside(async move {
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    while t.elapsed() < Duration::from_micros(2) {
                        std::hint::spin_loop();
                    }
                    R::yield_now().await;
                }
            });
            // Awaited by nobody, run on its own.
            rt.run(async move {
                R::detach(async move {
                    busy.await;
                });
            });
        }
        Busy(stop)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// [`PING_PONGS`] pairs of tasks, each pair one round trip over two channels.
pub fn ping_pong<R: Rt>(rt: &R) {
    let (done_tx, done_rx) = async_channel::bounded::<()>(1);
    let left = Arc::new(AtomicUsize::new(PING_PONGS));
    rt.run(async move {
        for _ in 0..PING_PONGS {
            let left = left.clone();
            let done_tx = done_tx.clone();
            R::detach(async move {
                let (ping_tx, ping_rx) = async_channel::bounded::<u32>(1);
                let (pong_tx, pong_rx) = async_channel::bounded::<u32>(1);
                R::detach(async move {
                    let v = ping_rx.recv().await.unwrap();
                    pong_tx.send(v + 1).await.unwrap();
                });
                ping_tx.send(1).await.unwrap();
                assert_eq!(pong_rx.recv().await.unwrap(), 2);
                if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                    done_tx.try_send(()).unwrap();
                }
            });
        }
        done_rx.recv().await.unwrap();
    });
}

fn chain<R: Rt>(left: usize, done: async_channel::Sender<()>) {
    if left == 0 {
        done.try_send(()).unwrap();
    } else {
        R::detach(async move { chain::<R>(left - 1, done) });
    }
}

/// Each task spawns the next, [`CHAIN`] in a row.
pub fn chained_spawn<R: Rt>(rt: &R) {
    let (tx, rx) = async_channel::bounded::<()>(1);
    rt.run(async move {
        chain::<R>(CHAIN, tx);
        rx.recv().await.unwrap();
    });
}

/// This process's resident memory, in bytes (0 where `/proc` cannot say).
pub fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Resident memory per task, in bytes, of [`IDLE_TASKS`] tasks parked on a channel: the
/// growth from before spawning them to once all have started. Meant for a fresh process.
pub fn idle_memory<R: Rt>(rt: &R) -> f64 {
    let (tx, rx) = async_channel::unbounded::<()>();
    // Warm the runtime up (threads, first allocations) before measuring.
    rt.run(async {});
    let before = rss_bytes();
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    rt.run(async move {
        for _ in 0..IDLE_TASKS {
            let rx = rx.clone();
            let s = s.clone();
            R::detach(async move {
                s.fetch_add(1, Ordering::Relaxed);
                let _ = rx.recv().await; // never fires until the sender closes
            });
        }
    });
    while started.load(Ordering::Relaxed) < IDLE_TASKS {
        std::thread::sleep(Duration::from_millis(10));
    }
    let after = rss_bytes();
    drop(tx); // wakes every task: they end
    (after.saturating_sub(before)) as f64 / IDLE_TASKS as f64
}

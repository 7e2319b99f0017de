//! Sleeping: many concurrent sleeps, and registering then cancelling them.

use crate::Rt;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

/// Concurrent sleeps in [`sleeps`] as `compare` and `timer` run it.
pub const SLEEPS: usize = 100_000;
/// Sleeps registered and cancelled by [`insert_cancel`].
pub const INSERT_CANCEL: usize = 1_000_000;

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

/// [`sleeps`] of 1-50 ms; returns the mean lateness in µs; panics if any sleep returned
/// early.
pub fn timers<R: Rt>(rt: &R, n: usize) -> f64 {
    let (_, late_us, early) = sleeps(rt, n, 50);
    assert_eq!(early, 0, "a sleep returned early");
    late_us
}

/// Inside a task, creates [`INSERT_CANCEL`] sleeps seconds out, polls each once (which
/// registers it) and drops it (which cancels it).
pub fn insert_cancel<R: Rt>(rt: &R) {
    let n = rt.run(async {
        let now = Instant::now();
        // A minute or two out: all still pending while the loop runs, however slow the
        // machine (1-50 s out, a slow tokio run on a busy host saw deadlines pass).
        let ds = durations(1000, 60_000, 110_000, 7);
        let mut cx = Context::from_waker(Waker::noop());
        let mut pending = 0;
        for i in 0..INSERT_CANCEL {
            let mut s = pin!(R::sleep_until(now + ds[i % ds.len()]));
            if s.as_mut().poll(&mut cx).is_pending() {
                pending += 1;
            }
        }
        pending
    });
    assert_eq!(n, INSERT_CANCEL);
}

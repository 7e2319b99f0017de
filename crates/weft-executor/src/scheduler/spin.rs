//! Spin-then-block: a thread about to sleep keeps looking for a while first.
//!
//! Being woken costs a futex call on each side and, here, tens of microseconds before the
//! woken thread runs (an idle vCPU is woken by the hypervisor). A thread that expects its
//! next piece of work within that time (a blocking-pool thread between two calls of a
//! sequential caller, a `block_on` thread waiting for one) looks for it instead: spinning
//! briefly (`Backoff`), then yielding the CPU between looks, so that on a machine with few
//! CPUs the thread that will produce the work can run.

use crossbeam_utils::Backoff;
use std::time::{Duration, Instant};

/// Calls `ready` until it returns true or `limit` has passed; returns whether it did.
/// `ready` is called at least once.
pub(crate) fn spin_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    if ready() {
        return true;
    }
    if limit.is_zero() {
        return false;
    }
    let backoff = Backoff::new();
    while !backoff.is_completed() {
        backoff.snooze();
        if ready() {
            return true;
        }
    }
    let start = Instant::now();
    loop {
        std::thread::yield_now();
        if ready() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
    }
}

/// Whether the next wait of one thread is worth spinning for: it is when the thread's
/// last wait ended within the spin's limit. A thread whose waits are long (a `block_on`
/// whose future is a whole server, a pool thread of a rare `spawn_blocking` caller)
/// then spins once and sleeps at once after that, instead of taking, at every wait, the
/// CPU that the threads doing the work need (measured in docs/measuring.md).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spin {
    limit: Duration,
    worth_it: bool,
}

impl Spin {
    pub(crate) const fn new(limit: Duration) -> Spin {
        Spin {
            limit,
            worth_it: true,
        }
    }

    /// Looks for work with `ready` for up to the limit if the last wait was short, else
    /// once. Returns whether it found some; if not, the caller sleeps and then calls
    /// `slept`.
    pub(crate) fn spin(&mut self, ready: impl FnMut() -> bool) -> bool {
        let limit = if self.worth_it {
            self.limit
        } else {
            Duration::ZERO
        };
        let found = spin_until(limit, ready);
        if found {
            self.worth_it = true;
        } else if self.worth_it {
            // It spun for the whole limit in vain.
            self.worth_it = false;
        }
        found
    }

    /// The caller's wait, begun at `since`, is over: was it short enough to spin for?
    pub(crate) fn slept(&mut self, since: Instant) {
        self.worth_it = since.elapsed() < self.limit;
    }
}

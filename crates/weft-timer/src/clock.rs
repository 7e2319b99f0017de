//! The clock as the timer reads it, and each thread's latest reading.
//!
//! Reading the clock (`Instant::now`, `clock_gettime` through the vDSO) costs about 38 ns
//! on the development machine (a KVM guest; see docs/measuring.md): as much as the rest
//! of arming and cancelling a timer. So every reading the timer makes is remembered per
//! thread, and a sleep's first poll asks that reading before the clock:
//!
//! - A deadline at or before the latest reading has passed (the clock never goes back).
//! - A deadline more than [`AHEAD`] after it is taken to lie ahead, and the sleep is
//!   registered without a reading. If it has in fact passed (the thread read no clock
//!   for longer than `AHEAD` and the deadline fell in between), nothing fires early: the
//!   wheel fires an entry only once a reading is past its exact deadline, at its next
//!   advance (the registration lowers the shard's `next_wake`, which wakes a parked
//!   worker for it). The sleep then completes a moment later instead of on that poll.
//! - In between, only the clock can tell, and it is read.
//!
//! A registered sleep always reads the clock unless the latest reading says its deadline
//! passed: the wheel may have fired it, and it would not be woken again.
//!
//! Readings come from `sleep` (the instant its duration counts from), the first polls
//! that read, and the driver's fires, so on a server arming a timeout per request the
//! latest reading is microseconds old and a timeout's first poll costs no reading.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// How far beyond the thread's latest reading a first poll's deadline must lie to be
/// taken for ahead without reading the clock. Sleeps shorter than this (polled at once)
/// keep the exact check; for longer ones, a first poll that comes this late after the
/// thread's latest reading is rare, and costs only a moment's delay (see above).
pub(crate) const AHEAD: Duration = Duration::from_millis(1);

thread_local! {
    /// The latest instant the timer read on this thread.
    static LATEST: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Reads the clock, and remembers the reading as this thread's latest.
#[inline]
pub(crate) fn now() -> Instant {
    let now = Instant::now();
    // (During the thread's exit the reading is just not kept.)
    let _ = LATEST.try_with(|l| l.set(Some(now)));
    now
}

fn latest() -> Option<Instant> {
    LATEST.try_with(Cell::get).ok().flatten()
}

/// True if this thread's latest reading is at or after `deadline`, so it has passed.
#[inline]
pub(crate) fn passed(deadline: Instant) -> bool {
    latest().is_some_and(|t| t >= deadline)
}

/// Whether `deadline` has passed, for a sleep not registered yet: from the latest reading
/// when it decides (see the module comment), otherwise from a new one.
#[inline]
pub(crate) fn passed_at_first_poll(deadline: Instant) -> bool {
    match latest() {
        Some(t) if deadline <= t => true,
        Some(t) if t.checked_add(AHEAD).is_some_and(|far| deadline > far) => false,
        _ => now() >= deadline,
    }
}

#[cfg(all(test, not(weft_loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_latest_reading_decides_when_it_can() {
        // Each test runs on a thread of its own: its readings are its own.
        let t = now();
        assert!(passed(t));
        assert!(passed(t - Duration::from_millis(5)));
        assert!(!passed(t + Duration::from_nanos(1)));
        assert!(passed_at_first_poll(t - Duration::from_secs(1)));
        // Far ahead of the latest reading: ahead, without a reading.
        assert!(!passed_at_first_poll(t + Duration::from_secs(3600)));
        assert_eq!(latest(), Some(t), "no reading was taken");
        // Close to it: the clock is read.
        let close = t + AHEAD / 2;
        let verdict = passed_at_first_poll(close);
        let read = latest().expect("a reading");
        assert!(read > t, "the clock was read");
        assert_eq!(verdict, read >= close);
    }
}

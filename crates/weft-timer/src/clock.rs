//! The clock as the timer reads it, and each thread's latest reading.
//!
//! # Paused time
//!
//! Each runtime's timer has a [`Clock`]. It is the real clock until it is first paused;
//! from then on it is the runtime's own: while paused it stands still, moved only by
//! `advance` and the driver's auto-advance; once resumed it runs at the real clock's pace
//! from where it stood (so it never jumps back, and stays ahead of the real clock by
//! however far it was advanced). Readings that know their timer (the driver's, a
//! registered sleep's) ask it; the others (`sleep`, `Instant::now`) ask the current
//! runtime's timer, but only while some clock in the process is not the real one
//! (`OFFSET_CLOCKS`): otherwise they read the real clock directly, as before.
//!
//! The latest-reading cache below holds real readings only, and is consulted only while
//! no clock is offset: a paused clock's reading may lie far ahead of (or behind) the real
//! clock, and must never let a real sleep complete early.
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
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::{Duration, Instant};
use weft_sync::Mutex;

/// How far beyond the thread's latest reading a first poll's deadline must lie to be
/// taken for ahead without reading the clock. Sleeps shorter than this (polled at once)
/// keep the exact check; for longer ones, a first poll that comes this late after the
/// thread's latest reading is rare, and costs only a moment's delay (see above).
pub(crate) const AHEAD: Duration = Duration::from_millis(1);

/// Live clocks of the process that are not the real clock (paused once, while their timer
/// lives). Zero in any program that never pauses time: then every reading is the real
/// clock's, cached per thread, and this costs one relaxed load. It is only a hint of
/// where to read: a clock is paused on its runtime's own thread (the current-thread
/// flavour) before that thread takes any reading of it, so that thread sees the count go
/// up in program order.
static OFFSET_CLOCKS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The latest instant the timer read on this thread, from the real clock.
    static LATEST: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// True while some clock of the process is not the real clock.
#[inline]
fn any_offset() -> bool {
    OFFSET_CLOCKS.load(Relaxed) != 0
}

/// Reads the real clock, and remembers the reading as this thread's latest.
#[inline]
pub(crate) fn real_now() -> Instant {
    let now = Instant::now();
    // (During the thread's exit the reading is just not kept.)
    let _ = LATEST.try_with(|l| l.set(Some(now)));
    now
}

/// Reads the clock of the runtime this thread is in (the real clock outside any runtime,
/// or in one whose clock was never paused).
#[inline]
pub(crate) fn now() -> Instant {
    if any_offset() {
        runtime_now()
    } else {
        real_now()
    }
}

#[cold]
fn runtime_now() -> Instant {
    #[cfg(not(weft_loom))]
    if let Some(t) = weft_executor::Handle::current_extension::<crate::Timer>() {
        return t.now();
    }
    Instant::now()
}

fn latest() -> Option<Instant> {
    if any_offset() {
        return None;
    }
    LATEST.try_with(Cell::get).ok().flatten()
}

/// True if this thread's latest reading is at or after `deadline`, so it has passed.
/// (False when it cannot tell: while a clock is offset, see the module comment.)
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

/// A runtime's clock: the real one, or paused, or running offset from the real one.
pub(crate) struct Clock {
    /// Set (never cleared) the first time the clock is paused: from then on its readings
    /// are its own, counted in `OFFSET_CLOCKS`. Read without the lock, to keep the real
    /// clock's readings free of it; a clock is paused before the readings that must see
    /// it (see `OFFSET_CLOCKS`), so a relaxed load is enough.
    offset: AtomicBool,
    /// Mirrors `state.paused`, for the driver's cheap look at every park.
    paused: AtomicBool,
    /// Whether the runtime can run paused: the executor reports when every task is idle
    /// (`Driver::park_idle`), so auto-advance can work. Off: pausing panics.
    pausable: AtomicBool,
    state: Mutex<ClockState>,
}

struct ClockState {
    paused: bool,
    /// The clock read `at` when the real clock read `real` (and, while paused, reads
    /// `at` still).
    real: Instant,
    at: Instant,
}

impl ClockState {
    fn read(&self) -> Instant {
        if self.paused {
            self.at
        } else {
            self.at + Instant::now().saturating_duration_since(self.real)
        }
    }
}

impl Clock {
    /// The real clock, from `start` on.
    pub(crate) fn new(start: Instant) -> Clock {
        Clock {
            offset: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            pausable: AtomicBool::new(false),
            state: Mutex::new(ClockState {
                paused: false,
                real: start,
                at: start,
            }),
        }
    }

    /// The reading of an offset clock (the driver calls `real_now` for the others).
    pub(crate) fn read(&self) -> Instant {
        self.state.lock().read()
    }

    /// True once the clock was paused: its readings are its own.
    #[inline]
    pub(crate) fn is_offset(&self) -> bool {
        self.offset.load(Relaxed)
    }

    /// True while the clock stands still.
    #[inline]
    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(Relaxed)
    }

    pub(crate) fn allow_pause(&self) {
        self.pausable.store(true, Relaxed);
    }

    /// Stops the clock where it reads now.
    #[track_caller]
    pub(crate) fn pause(&self) {
        if !self.pausable.load(Relaxed) {
            panic!(
                "time can be paused only on a current-thread runtime (whose executor tells \
                 the timer when every task is idle): build it with \
                 `weft::Builder::new_current_thread()`"
            );
        }
        let mut s = self.state.lock();
        if s.paused {
            drop(s);
            panic!("time is already paused: call `weft::time::resume` before pausing again");
        }
        s.at = s.read();
        s.paused = true;
        self.paused.store(true, Relaxed);
        if !self.offset.swap(true, SeqCst) {
            OFFSET_CLOCKS.fetch_add(1, SeqCst);
        }
    }

    /// Lets the clock run again, at the real clock's pace, from where it stands.
    #[track_caller]
    pub(crate) fn resume(&self) {
        let mut s = self.state.lock();
        if !s.paused {
            drop(s);
            panic!("time is not paused: `weft::time::resume` needs a `pause` before it");
        }
        s.real = Instant::now();
        s.paused = false;
        self.paused.store(false, Relaxed);
    }

    /// Moves a paused clock forward to `t` (never back). Returns false if it is not
    /// paused (nothing moved).
    pub(crate) fn advance_to(&self, t: Instant) -> bool {
        let mut s = self.state.lock();
        if !s.paused {
            return false;
        }
        s.at = s.at.max(t);
        true
    }
}

impl Drop for Clock {
    fn drop(&mut self) {
        if *self.offset.get_mut() {
            OFFSET_CLOCKS.fetch_sub(1, SeqCst);
        }
    }
}

#[cfg(all(test, not(weft_loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_latest_reading_decides_when_it_can() {
        // Each test runs on a thread of its own: its readings are its own.
        let t = real_now();
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

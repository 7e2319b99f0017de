//! One registered I/O source: its readiness, and the tasks waiting on it.
//!
//! # The readiness word
//!
//! One atomic word per source: bit `READABLE`, bit `WRITABLE`, and above them a *tick*
//! that the reactor increments with every event it delivers to the source. An event means
//! "something changed", and the source is then considered ready in that direction until an
//! I/O operation says otherwise (`WouldBlock`). Where the reactor registers sources
//! edge-triggered, that is all; in its oneshot fallback an event also disarms the
//! registration, and the reactor arms it again for the directions still waited on.
//!
//! # Optimistic I/O, and no lost readiness
//!
//! An I/O operation is tried first, without looking at readiness. If it returns
//! `WouldBlock`, the caller clears the direction's bit, but only if the tick is still the
//! one it read *before* the attempt: an event that arrived during the attempt leaves the
//! bit set (and the caller retries), so a stale "not ready" never hides a fresh event.
//! Then the caller registers its waker under the waiters' lock and looks at the bit once
//! more. The reactor sets the bit first and takes the wakers under the same lock after;
//! so either the reactor's take finds the new waker, or the caller's second look sees the
//! bit. The loom model `loom_waker_registration_racing_an_event` checks this.

use crate::sync::{AtomicUsize, Mutex};
use std::sync::atomic::Ordering::{AcqRel, Acquire};
use std::task::{Context, Poll, Waker};

/// A direction of I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Read = 0,
    Write = 1,
}

/// The source may be read without blocking (as far as the last event says).
const READABLE: usize = 1 << 0;
/// The source may be written without blocking.
const WRITABLE: usize = 1 << 1;
/// Events delivered so far, counted above the flags (wrapping).
const TICK_ONE: usize = 1 << 2;

impl Direction {
    fn bit(self) -> usize {
        match self {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        }
    }
}

/// What the readiness word said when an operation began.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot(usize);

/// What to do after an operation returned `WouldBlock`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterBlock {
    /// Readiness changed meanwhile: try the operation again now.
    Retry,
    /// The waker is registered; the task will be woken by the next event.
    Wait,
}

pub(crate) struct Source {
    /// The key in the reactor's slab and in the poller.
    pub(crate) key: usize,
    /// The registered descriptor (a number; open while the source is in the slab).
    pub(crate) fd: std::os::fd::RawFd,
    readiness: AtomicUsize,
    /// Wakers of tasks waiting to read, and to write. Several tasks may wait on one
    /// direction; a task's waker is stored once.
    waiters: Mutex<[Vec<Waker>; 2]>,
}

impl Source {
    pub(crate) fn new(key: usize, fd: std::os::fd::RawFd) -> Source {
        Source {
            key,
            fd,
            readiness: AtomicUsize::new(0),
            waiters: Mutex::new([Vec::new(), Vec::new()]),
        }
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot(self.readiness.load(Acquire))
    }

    /// The reactor delivers an event: mark the directions ready, then hand over the wakers
    /// of their waiters (to be woken after the reactor's locks are released).
    pub(crate) fn set_ready(&self, readable: bool, writable: bool, wake: &mut Vec<Waker>) {
        let bits = if readable { READABLE } else { 0 } | if writable { WRITABLE } else { 0 };
        if bits == 0 {
            return;
        }
        let _ = self
            .readiness
            .fetch_update(AcqRel, Acquire, |r| Some((r | bits).wrapping_add(TICK_ONE)));
        let mut waiters = self.waiters.lock();
        if readable {
            wake.append(&mut waiters[Direction::Read as usize]);
        }
        if writable {
            wake.append(&mut waiters[Direction::Write as usize]);
        }
    }

    /// After an operation begun at `before` returned `WouldBlock`: clear the direction's
    /// readiness unless an event came since, and register `cx`'s waker.
    pub(crate) fn clear_and_wait(
        &self,
        dir: Direction,
        before: Snapshot,
        cx: &mut Context<'_>,
    ) -> AfterBlock {
        let bit = dir.bit();
        let cleared = self.readiness.fetch_update(AcqRel, Acquire, |r| {
            if r & !(READABLE | WRITABLE) == before.0 & !(READABLE | WRITABLE) {
                Some(r & !bit)
            } else {
                None
            }
        });
        if cleared.is_err() {
            return AfterBlock::Retry;
        }
        self.wait(dir, cx)
    }

    /// Registers `cx`'s waker for `dir`, unless the direction is ready.
    fn wait(&self, dir: Direction, cx: &mut Context<'_>) -> AfterBlock {
        let bit = dir.bit();
        let mut waiters = self.waiters.lock();
        if self.readiness.load(Acquire) & bit != 0 {
            return AfterBlock::Retry;
        }
        let list = &mut waiters[dir as usize];
        if !list.iter().any(|w| w.will_wake(cx.waker())) {
            list.push(cx.waker().clone());
        }
        // Looked at again under the lock: the reactor sets the bit before it takes the
        // wakers under this lock, so it either sees our waker or we see its bit.
        if self.readiness.load(Acquire) & bit != 0 {
            return AfterBlock::Retry;
        }
        AfterBlock::Wait
    }

    /// Waits until an event marks `dir` ready (strictly: no optimistic answer).
    pub(crate) fn poll_ready(&self, dir: Direction, cx: &mut Context<'_>) -> Poll<()> {
        if self.readiness.load(Acquire) & dir.bit() != 0 {
            return Poll::Ready(());
        }
        match self.wait(dir, cx) {
            AfterBlock::Retry => Poll::Ready(()),
            AfterBlock::Wait => Poll::Pending,
        }
    }

    /// True if somebody waits in `dir` (for oneshot re-arming).
    pub(crate) fn interest(&self) -> (bool, bool) {
        let w = self.waiters.lock();
        (!w[0].is_empty(), !w[1].is_empty())
    }

    /// Wakes every waiter (the source is going away).
    pub(crate) fn wake_all(&self) {
        let all: Vec<Waker> = {
            let mut w = self.waiters.lock();
            let mut v = std::mem::take(&mut w[0]);
            v.append(&mut w[1]);
            v
        };
        for w in all {
            w.wake();
        }
    }
}

#[cfg(all(test, weft_loom))]
mod tests_loom {
    use super::*;
    use loom::sync::atomic::AtomicBool;
    use loom::sync::Arc;
    use loom::thread;
    use std::sync::atomic::Ordering::SeqCst;
    use std::task::Wake;

    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.store(true, SeqCst);
        }
    }

    /// A task whose read just returned `WouldBlock` registers its waker while the reactor
    /// delivers a read event: the task is told to retry, or it is woken. Never neither.
    #[test]
    fn loom_waker_registration_racing_an_event() {
        loom::model(|| {
            let source = Arc::new(Source::new(0, 0));
            let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
            let waker = Waker::from(flag.clone());
            // The read began (and failed) before the event.
            let before = source.snapshot();
            let s2 = source.clone();
            let reactor = thread::spawn(move || {
                let mut wake = Vec::new();
                s2.set_ready(true, false, &mut wake);
                for w in wake {
                    w.wake();
                }
            });
            let mut cx = Context::from_waker(&waker);
            let after = source.clear_and_wait(Direction::Read, before, &mut cx);
            reactor.join().unwrap();
            assert!(
                after == AfterBlock::Retry || flag.0.load(SeqCst),
                "the readiness event was lost"
            );
        });
    }
}

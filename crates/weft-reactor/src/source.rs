//! One registered I/O source: its readiness, and the tasks waiting on it.
//!
//! # The readiness word
//!
//! One atomic word per source: bit `READABLE`, bit `WRITABLE`, bit `HUNG_UP`, and above
//! them a *tick* that the reactor increments with every event it delivers to the source.
//! An event means "something changed", and the source is then considered ready in that
//! direction until an I/O operation says otherwise (`WouldBlock`, from an operation of the
//! crate or from a user's own through `try_io`; or a stream read after which the kernel
//! reported its receive queue empty, see "Drained reads" below). Where the reactor registers sources edge-triggered, that
//! is all; in its oneshot fallback an event also disarms the registration, and the reactor
//! arms it again for the directions still waited on.
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
//!
//! # Drained reads
//!
//! A TCP read can learn, in the same system call, how many bytes the receive queue still
//! holds (`TCP_INQ`, net/buf.rs); the kernel counts a received end of stream as one. When
//! it says none, the read clears the read bit as a `WouldBlock` would (same tick rule), so
//! a reader that waits for readiness before reading (weft-hyper) waits for the next event
//! instead of calling `recv(2)` to learn `WouldBlock`. Anything that arrives later (bytes,
//! the end of stream, a reset) wakes the poller again, so it brings a new event. One case
//! the count does not cover: a reset that arrived before the read, whose event was already
//! delivered; the count says zero, and no new event will come. So an event that reports a
//! hang-up or an error sets `HUNG_UP`, which nothing clears, and a drained read never
//! clears readiness once it is set (`Source::clear_drained`). The loom model
//! `loom_a_drained_read_racing_a_hang_up` checks that no order of the two hides the reset.
//!
//! # Waiters, and waiters that give up
//!
//! Each direction has a list of waiters, emptied (the wakers handed to the reactor to
//! wake) by every event in that direction. A waiter that has a place to keep state (the
//! future of an `async fn`, a stream polled through `&mut self`) owns a [`WaitSlot`]: the
//! index of its entry in the list and the list's *epoch* (how many times it was emptied).
//! Polling again with the same waker changes nothing; with another waker replaces the
//! entry's; dropping the waiter removes its entry. So the list holds the live waiters
//! only, however many waits time out. An event bumps the epoch, which makes every
//! outstanding slot stale: a waiter whose slot is stale (it was woken, or will be) skips
//! the lock when it drops, so the common path (wait, get woken, complete) locks once.
//!
//! A caller of a `poll_*` method through `&self` has nowhere to keep a slot, and no drop
//! tells when it gives up. Such callers share one entry per direction (as in tokio and
//! async-io): the same waker polling again changes nothing; another waker replaces it, and
//! the replaced one is *woken* (after the lock), not dropped, so no caller's wake-up is
//! lost: a caller that still waits polls, and takes the entry back. (Two tasks waiting
//! on one direction through the same `poll_*` method so keep waking each other; each
//! async method's future has its own entry, and is the way to wait from several tasks.)
//! So the list holds at most one waker that nobody may be waiting with.
//!
//! # No user code under the lock
//!
//! Nothing that may run user code happens while the waiters' lock is held: a waker is
//! cloned before the lock is taken, and every waker that leaves a list (replaced, removed,
//! swept, handed out by an event) is woken or dropped after it is released.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
#[cfg(test)]
use std::task::Poll;
use std::task::{Context, Waker};
use weft_sync::atomic::AtomicUsize;
use weft_sync::Mutex;

/// A direction of I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Read = 0,
    Write = 1,
}

/// The source may be read without blocking (as far as the last event says).
pub(crate) const READABLE: usize = 1 << 0;
/// The source may be written without blocking.
pub(crate) const WRITABLE: usize = 1 << 1;
/// An event reported a hang-up or an error. Final: never cleared. While it is set, a read
/// that found the receive queue empty does not clear `READABLE` (module header, "Drained
/// reads"); a read that returns `WouldBlock` still does.
const HUNG_UP: usize = 1 << 2;
/// Events delivered so far, counted above the flags (wrapping).
const TICK_ONE: usize = 1 << 3;
/// The bits below the tick.
const FLAGS: usize = READABLE | WRITABLE | HUNG_UP;

impl Direction {
    pub(crate) fn bit(self) -> usize {
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

/// A waiter's entry in one direction's list: `(epoch, index)`, or none.
#[derive(Debug, Default)]
pub(crate) struct WaitSlot(Option<(usize, usize)>);

impl WaitSlot {
    pub(crate) const fn new() -> WaitSlot {
        WaitSlot(None)
    }
}

/// The waiters of one direction.
#[derive(Default)]
struct WaitList {
    /// Times the slots were handed out by an event (while there were any).
    epoch: usize,
    /// The entries of waiters with a slot, by index (`None`: free, index in `free`).
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
    /// Entries of `slots` that hold a waker.
    live: usize,
    /// The waker of the callers without a slot.
    shared: Option<Waker>,
}

impl WaitList {
    fn is_empty(&self) -> bool {
        self.live == 0 && self.shared.is_none()
    }

    fn len(&self) -> usize {
        self.live + usize::from(self.shared.is_some())
    }

    /// An event: every waker goes to `wake`, every slot becomes stale. True if the epoch
    /// changed.
    #[inline]
    fn take_all(&mut self, wake: &mut Vec<Waker>) -> bool {
        if let Some(w) = self.shared.take() {
            wake.push(w);
        }
        if self.slots.is_empty() {
            return false;
        }
        if self.live > 0 {
            for entry in &mut self.slots {
                if let Some(w) = entry.take() {
                    wake.push(w);
                }
            }
        }
        // Only `None`s left: nothing to drop.
        self.slots.clear();
        self.free.clear();
        self.live = 0;
        self.epoch = self.epoch.wrapping_add(1);
        true
    }

    /// Stores `waker` (cloned by the caller, before the lock) for the slot's owner. Returns
    /// the waker to drop after the lock is released (the unused clone, or the replaced one).
    fn register(&mut self, slot: &mut WaitSlot, waker: Waker) -> Option<Waker> {
        if let Some((epoch, index)) = slot.0 {
            // (A current slot always has its entry: `remove` forgets the slot.)
            let entry = self.slots.get_mut(index).and_then(Option::as_mut);
            if let (true, Some(entry)) = (epoch == self.epoch, entry) {
                if entry.will_wake(&waker) {
                    return Some(waker);
                }
                return Some(std::mem::replace(entry, waker));
            }
        }
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(waker);
                i
            }
            None => {
                self.slots.push(Some(waker));
                self.slots.len() - 1
            }
        };
        self.live += 1;
        slot.0 = Some((self.epoch, index));
        None
    }

    /// Takes the slot's entry out, if it is still current.
    fn remove(&mut self, epoch: usize, index: usize) -> Option<Waker> {
        if epoch != self.epoch {
            return None;
        }
        let w = self.slots.get_mut(index).and_then(Option::take);
        if w.is_some() {
            self.free.push(index);
            self.live -= 1;
        }
        w
    }

    /// Stores `waker` in the entry of the callers without a slot. Returns the waker to drop
    /// after the lock (the unused clone) and the one to wake (the replaced one).
    fn register_shared(&mut self, waker: Waker) -> (Option<Waker>, Option<Waker>) {
        match &self.shared {
            Some(w) if w.will_wake(&waker) => (Some(waker), None),
            _ => (None, self.shared.replace(waker)),
        }
    }
}

pub(crate) struct Source {
    /// The key in the reactor's slab and in the poller.
    pub(crate) key: usize,
    /// The registered descriptor (a number; open while the source is in the slab).
    pub(crate) fd: std::os::fd::RawFd,
    readiness: AtomicUsize,
    /// Each direction's `WaitList::epoch`, readable without the lock (a slot whose epoch
    /// differs is stale for sure; one that matches is checked again under the lock).
    epochs: [AtomicUsize; 2],
    /// Waiters to read, and to write.
    waiters: Mutex<[WaitList; 2]>,
}

impl Source {
    pub(crate) fn new(key: usize, fd: std::os::fd::RawFd) -> Source {
        Source {
            key,
            fd,
            readiness: AtomicUsize::new(0),
            epochs: [AtomicUsize::new(0), AtomicUsize::new(0)],
            waiters: Mutex::new([WaitList::default(), WaitList::default()]),
        }
    }

    #[inline]
    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot(self.readiness.load(Acquire))
    }

    /// True if the readiness word has one of `bits` set.
    #[inline]
    pub(crate) fn is_ready(&self, bits: usize) -> bool {
        self.readiness.load(Acquire) & bits != 0
    }

    /// The reactor delivers an event: mark the directions ready (and `HUNG_UP` if the event
    /// reported a hang-up or an error), then hand over the wakers of their waiters (to be
    /// woken after the reactor's locks are released).
    pub(crate) fn set_ready(
        &self,
        readable: bool,
        writable: bool,
        hung_up: bool,
        wake: &mut Vec<Waker>,
    ) {
        let bits = if readable { READABLE } else { 0 } | if writable { WRITABLE } else { 0 };
        if bits == 0 {
            return;
        }
        let set = bits | if hung_up { HUNG_UP } else { 0 };
        let _ = self
            .readiness
            .fetch_update(AcqRel, Acquire, |r| Some((r | set).wrapping_add(TICK_ONE)));
        let mut waiters = self.waiters.lock();
        for dir in [Direction::Read, Direction::Write] {
            if bits & dir.bit() != 0 {
                let list = &mut waiters[dir as usize];
                if list.take_all(wake) {
                    self.epochs[dir as usize].store(list.epoch, Release);
                }
            }
        }
    }

    /// Clears the readiness `bits` after an operation begun at `before` returned
    /// `WouldBlock`, unless an event came since. False if one did (retry the operation).
    pub(crate) fn clear(&self, bits: usize, before: Snapshot) -> bool {
        self.readiness
            .fetch_update(AcqRel, Acquire, |r| {
                if r & !FLAGS == before.0 & !FLAGS {
                    Some(r & !bits)
                } else {
                    None
                }
            })
            .is_ok()
    }

    /// After a read begun at `before` returned bytes and the kernel said the receive queue
    /// holds no more (module header, "Drained reads"): clear the read bit unless an event
    /// came since, or one ever reported a hang-up. True if it was cleared.
    pub(crate) fn clear_drained(&self, before: Snapshot) -> bool {
        if before.0 & HUNG_UP != 0 {
            return false;
        }
        // (`HUNG_UP` set since `before` fails the comparison: it comes with a tick.)
        self.clear(READABLE, before)
    }

    /// After an operation begun at `before` returned `WouldBlock`: clear the direction's
    /// readiness unless an event came since, and register `cx`'s waker (in `slot`, or
    /// without one).
    pub(crate) fn clear_and_wait(
        &self,
        dir: Direction,
        before: Snapshot,
        slot: Option<&mut WaitSlot>,
        cx: &mut Context<'_>,
    ) -> AfterBlock {
        if !self.clear(dir.bit(), before) {
            return AfterBlock::Retry;
        }
        self.wait(dir, slot, cx)
    }

    /// Registers `cx`'s waker for `dir`, unless the direction is ready.
    pub(crate) fn wait(
        &self,
        dir: Direction,
        slot: Option<&mut WaitSlot>,
        cx: &mut Context<'_>,
    ) -> AfterBlock {
        let bit = dir.bit();
        if self.readiness.load(Acquire) & bit != 0 {
            return AfterBlock::Retry;
        }
        // Cloned here, not under the lock: a clone is the waker's own code.
        let waker = cx.waker().clone();
        let (to_drop, to_wake, after) = {
            let mut waiters = self.waiters.lock();
            let list = &mut waiters[dir as usize];
            let (to_drop, to_wake) = match slot {
                Some(slot) => (list.register(slot, waker), None),
                None => list.register_shared(waker),
            };
            // Looked at again under the lock: the reactor sets the bit before it takes the
            // wakers under this lock, so it either sees our waker or we see its bit.
            let after = if self.readiness.load(Acquire) & bit != 0 {
                AfterBlock::Retry
            } else {
                AfterBlock::Wait
            };
            (to_drop, to_wake, after)
        };
        drop(to_drop);
        wake_each(to_wake);
        after
    }

    /// Removes the waiter's entry (it gives up waiting). Skips the lock if the entry was
    /// already handed to the reactor by an event; does nothing (inline) if it has none.
    #[inline]
    pub(crate) fn unregister(&self, dir: Direction, slot: &mut WaitSlot) {
        if let Some((epoch, index)) = slot.0.take() {
            self.unregister_entry(dir, epoch, index);
        }
    }

    fn unregister_entry(&self, dir: Direction, epoch: usize, index: usize) {
        if self.epochs[dir as usize].load(Relaxed) != epoch {
            return;
        }
        let removed = self.waiters.lock()[dir as usize].remove(epoch, index);
        // Dropped here, after the lock: a waker's drop may run any code (even come back
        // here).
        drop(removed);
    }

    /// Waits until an event marks `dir` ready (strictly: no optimistic answer).
    #[cfg(test)]
    pub(crate) fn poll_ready(
        &self,
        dir: Direction,
        slot: Option<&mut WaitSlot>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        match self.wait(dir, slot, cx) {
            AfterBlock::Retry => Poll::Ready(()),
            AfterBlock::Wait => Poll::Pending,
        }
    }

    /// True if somebody waits in `dir` (for oneshot re-arming).
    pub(crate) fn interest(&self) -> (bool, bool) {
        let w = self.waiters.lock();
        (!w[0].is_empty(), !w[1].is_empty())
    }

    /// Wakers held now, both directions (for tests and diagnostics).
    pub(crate) fn waiter_count(&self) -> usize {
        let w = self.waiters.lock();
        w[0].len() + w[1].len()
    }

    /// Wakes every waiter (the source is going away).
    pub(crate) fn wake_all(&self) {
        let mut all = Vec::new();
        {
            let mut w = self.waiters.lock();
            for dir in [Direction::Read, Direction::Write] {
                let list = &mut w[dir as usize];
                if list.take_all(&mut all) {
                    self.epochs[dir as usize].store(list.epoch, Release);
                }
            }
        }
        wake_each(all);
    }
}

/// Wakes each waker; a waker whose wake panics does not keep the others from being woken
/// (nor unwind into the reactor's caller: a worker parked in the driver, say): the
/// executor's `wake_contained` reports it and goes on.
pub(crate) fn wake_each(wakers: impl IntoIterator<Item = Waker>) {
    for w in wakers {
        weft_executor::wake_contained(w);
    }
}

#[cfg(all(test, not(weft_loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Counted;
    impl Wake for Counted {
        fn wake(self: Arc<Self>) {}
    }

    fn waker() -> (Arc<Counted>, Waker) {
        let a = Arc::new(Counted);
        (a.clone(), Waker::from(a))
    }

    #[test]
    fn a_slot_holds_one_entry_however_often_it_waits() {
        let s = Source::new(0, 0);
        let (a, w) = waker();
        let mut slot = WaitSlot::new();
        for _ in 0..10 {
            let mut cx = Context::from_waker(&w);
            assert!(s
                .poll_ready(Direction::Read, Some(&mut slot), &mut cx)
                .is_pending());
        }
        assert_eq!(s.waiter_count(), 1);
        // Another waker replaces it.
        let (b, w2) = waker();
        let mut cx = Context::from_waker(&w2);
        assert!(s
            .poll_ready(Direction::Read, Some(&mut slot), &mut cx)
            .is_pending());
        assert_eq!(s.waiter_count(), 1);
        assert_eq!(Arc::strong_count(&a), 2, "the replaced waker was dropped");
        s.unregister(Direction::Read, &mut slot);
        assert_eq!(s.waiter_count(), 0);
        assert_eq!(Arc::strong_count(&b), 2, "the removed waker was dropped");
    }

    #[test]
    fn an_event_makes_slots_stale_and_their_indices_are_reused() {
        let s = Source::new(0, 0);
        let (_a, w) = waker();
        let mut cx = Context::from_waker(&w);
        let mut one = WaitSlot::new();
        assert!(s
            .poll_ready(Direction::Read, Some(&mut one), &mut cx)
            .is_pending());
        let mut wake = Vec::new();
        s.set_ready(true, false, false, &mut wake);
        assert_eq!(wake.len(), 1);
        wake.clear();
        assert!(s.clear(READABLE, s.snapshot()));
        // A new waiter takes index 0 of the new epoch; the old slot's removal is a no-op.
        let mut two = WaitSlot::new();
        assert!(s
            .poll_ready(Direction::Read, Some(&mut two), &mut cx)
            .is_pending());
        s.unregister(Direction::Read, &mut one);
        assert_eq!(s.waiter_count(), 1);
        s.unregister(Direction::Read, &mut two);
        assert_eq!(s.waiter_count(), 0);
    }

    #[test]
    fn callers_without_a_slot_share_one_entry_and_a_replaced_one_is_woken() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        struct Woken(AtomicUsize);
        impl Wake for Woken {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, SeqCst);
            }
        }
        let s = Source::new(0, 0);
        let flags: Vec<_> = (0..1_000)
            .map(|_| Arc::new(Woken(AtomicUsize::new(0))))
            .collect();
        for f in &flags {
            let w = Waker::from(f.clone());
            let mut cx = Context::from_waker(&w);
            assert!(s.poll_ready(Direction::Read, None, &mut cx).is_pending());
            assert!(s.poll_ready(Direction::Read, None, &mut cx).is_pending());
            assert_eq!(s.waiter_count(), 1);
        }
        // Every caller but the last was woken once (replaced), none lost; none is held.
        let mut wake = Vec::new();
        s.set_ready(true, false, false, &mut wake);
        wake_each(wake);
        for f in &flags {
            assert_eq!(f.0.load(SeqCst), 1);
            assert_eq!(Arc::strong_count(f), 1);
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

    fn deliver_read_event(source: &Source) {
        let mut wake = Vec::new();
        source.set_ready(true, false, false, &mut wake);
        wake_each(wake);
    }

    /// A task whose read just returned `WouldBlock` registers its waker (in a slot, or
    /// without one) while the reactor delivers a read event: the task is told to retry,
    /// or it is woken. Never neither.
    #[test]
    fn loom_waker_registration_racing_an_event() {
        for with_slot in [true, false] {
            loom::model(move || {
                let source = Arc::new(Source::new(0, 0));
                let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
                let waker = Waker::from(flag.clone());
                // The read began (and failed) before the event.
                let before = source.snapshot();
                let s2 = source.clone();
                let reactor = thread::spawn(move || deliver_read_event(&s2));
                let mut cx = Context::from_waker(&waker);
                let mut slot = WaitSlot::new();
                let slot = with_slot.then_some(&mut slot);
                let after = source.clear_and_wait(Direction::Read, before, slot, &mut cx);
                reactor.join().unwrap();
                assert!(
                    after == AfterBlock::Retry || flag.0.load(SeqCst),
                    "the readiness event was lost"
                );
            });
        }
    }

    /// A read that the kernel said emptied the queue clears the readiness while the reactor
    /// delivers an event reporting a reset (which the count misses: "Drained reads"),
    /// before the read began, during it, or after. Whatever the order, the source is left
    /// readable: the reader's next wait completes, and its next read sees the reset.
    #[test]
    fn loom_a_drained_read_racing_a_hang_up() {
        loom::model(|| {
            let source = Arc::new(Source::new(0, 0));
            // The bytes' event.
            deliver_read_event(&source);
            let s2 = source.clone();
            let reader = thread::spawn(move || {
                let before = s2.snapshot();
                s2.clear_drained(before);
            });
            // The reset's event.
            let mut wake = Vec::new();
            source.set_ready(true, true, true, &mut wake);
            reader.join().unwrap();
            assert!(source.is_ready(READABLE), "the hang-up was hidden");
        });
    }

    /// A waiter gives up (its future is dropped) while the reactor delivers an event: its
    /// waker is woken by the reactor or dropped by the waiter, and nothing is left in the
    /// list (the waker's count tells: only the test's own reference remains).
    #[test]
    fn loom_a_dropped_wait_racing_an_event() {
        loom::model(|| {
            let source = Arc::new(Source::new(0, 0));
            let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
            let waker = Waker::from(flag.clone());
            let mut cx = Context::from_waker(&waker);
            let mut slot = WaitSlot::new();
            assert_eq!(
                source.wait(Direction::Read, Some(&mut slot), &mut cx),
                AfterBlock::Wait
            );
            drop(waker);
            let s2 = source.clone();
            let reactor = thread::spawn(move || deliver_read_event(&s2));
            source.unregister(Direction::Read, &mut slot);
            reactor.join().unwrap();
            assert_eq!(source.waiter_count(), 0);
            assert_eq!(std::sync::Arc::strong_count(&flag), 1, "a waker was kept");
        });
    }

    /// A waiter gives up while an event makes its slot stale and another waiter registers,
    /// perhaps in the index the first one had: the first one's removal must never take
    /// the second one's entry (the second is woken, told to retry, or still registered),
    /// and the first one's waker is not kept.
    #[test]
    fn loom_a_stale_slot_never_removes_another_waiter() {
        loom::model(|| {
            let source = Arc::new(Source::new(0, 0));
            let first = std::sync::Arc::new(Flag(AtomicBool::new(false)));
            let mut slot = WaitSlot::new();
            {
                let waker = Waker::from(first.clone());
                let mut cx = Context::from_waker(&waker);
                assert_eq!(
                    source.wait(Direction::Read, Some(&mut slot), &mut cx),
                    AfterBlock::Wait
                );
            }
            let s2 = source.clone();
            let reactor = thread::spawn(move || {
                deliver_read_event(&s2);
                // The task read everything: not ready any more.
                assert!(s2.clear(READABLE, s2.snapshot()));
            });
            let s3 = source.clone();
            let second = std::sync::Arc::new(Flag(AtomicBool::new(false)));
            let f2 = second.clone();
            let other = thread::spawn(move || {
                let waker = Waker::from(f2);
                let mut cx = Context::from_waker(&waker);
                let mut slot = WaitSlot::new();
                let after = s3.wait(Direction::Read, Some(&mut slot), &mut cx);
                // This waiter keeps waiting: its slot is forgotten, not removed.
                std::mem::forget(slot);
                after
            });
            source.unregister(Direction::Read, &mut slot);
            reactor.join().unwrap();
            let after = other.join().unwrap();
            let registered = std::sync::Arc::strong_count(&second) == 2;
            assert!(
                after == AfterBlock::Retry || second.0.load(SeqCst) || registered,
                "the second waiter was lost"
            );
            assert_eq!(source.waiter_count(), usize::from(registered));
            assert_eq!(std::sync::Arc::strong_count(&first), 1, "a waker was kept");
        });
    }
}

//! The timer as a driver of the executor, and the protocol that keeps a parked worker from
//! sleeping past a newly registered, earlier deadline.
//!
//! [`TimerDriver`] wraps another driver (the reactor, or the executor's plain
//! [`ParkDriver`]). When the executor parks a worker in it, it first fires every timer that
//! is due, then parks the inner driver until the exact earliest deadline (or the executor's
//! own timeout, if sooner). Busy workers call `Driver::poll_due` every 32 ticks, which fires
//! due timers without blocking, and [`Driver::poll`] every 61, which also polls the inner
//! driver, so a CPU-bound load does not starve timers.
//!
//! # No missed wake-up
//!
//! The timer has one wheel per CPU (*shards*): a thread registers into its own, so workers
//! do not contend for one lock. Each shard publishes its earliest deadline in `next_wake`
//! (an atomic, lowered by every registration under the shard's lock). The worker about to
//! park first publishes `parked_until = PARKED_FOREVER` ("wake me for anything"), then
//! reads every shard's `next_wake` (locking only the shards with something due), then
//! publishes the instant it will wake at, and parks. A task registering a timer inserts it
//! and lowers `next_wake`, then reads `parked_until`. Either the parker's read of
//! `next_wake` comes after the registrant's store and sees the new deadline, or the
//! registrant's read of `parked_until` comes after the parker's first store and sees
//! `PARKED_FOREVER` or the final instant, and unparks the parker if its deadline is earlier
//! (the inner driver latches an unpark that comes before the wait). The loom model
//! `loom_register_racing_park` checks this.
//!
//! A registration whose deadline is not earlier than its shard's `next_wake` (read under
//! the shard's lock) skips all of it: no store, no fence, no read of `parked_until`, whose
//! cache line the parker writes at every park. `next_wake` is never above the earliest
//! deadline of the shard, and whoever stored its value made sure of a wake-up by then: a
//! registrant that lowered it went through the handshake above; a worker that advanced
//! the shard is awake and scans again before it parks. Any parker wakes by that value,
//! rescans, and then sees the new entry (`loom_register_behind_an_earlier_deadline`).
//!
//! # A registration's reference to the timer, without a reference count
//!
//! Every registration holds an `Arc<Timer>` (a sleep may outlive its runtime and must
//! still cancel). Counting it up and down costs two atomic read-modify-writes per sleep,
//! a fifth of an insert and cancel (docs/measuring.md, "Timer insert and cancel"). So a
//! cancel moves its `Arc` into a small store of spare references in its shard, under the
//! lock it takes anyway, and a registration takes one from there under its lock; only
//! when the store is empty (or full, on a cancel) is the count touched. The store holds
//! references to the timer that owns it: shutdown empties it, and so does dropping the
//! last [`TimerDriver`] (a timer installed as an extension without its driver is never
//! shut down); a cancel after either keeps nothing, so no cycle outlives the runtime.
//!
//! Expired timers are fired in batches: their wakers are collected under the lock and woken
//! after it is released.
//!
//! # No user code under a shard's lock
//!
//! A waker's clone, wake and drop may run any code: a hand-written executor's waker may
//! own its task's future, and dropping it may drop another sleep of the same shard, which
//! takes the shard's (non-reentrant) lock to cancel. So no waker is cloned, woken or
//! dropped while a shard is locked: `register` moves its waker in, `update_waker` swaps
//! the new one in and drops the old one after unlocking, and `cancel`, the fires and
//! `shutdown` take the wakers out and drop or wake them after unlocking.

use crate::wheel::{Key, Wheel};
use crossbeam_utils::CachePadded;
use std::fmt;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::{Arc, Weak};
use std::task::Waker;
use std::time::{Duration, Instant};
use weft_executor::Driver;
use weft_sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize};
use weft_sync::Mutex;

use crate::clock::{self, Clock};

/// `parked_until` when no worker is parked in the timer: nobody to wake.
const NOT_PARKED: u64 = 0;
/// `parked_until` when a worker is parked with no deadline at all, or is about to park and
/// has not computed its deadline yet: any registration wakes it.
const PARKED_FOREVER: u64 = u64::MAX;

/// Identifies a registration: the wheel shard and the key within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerKey {
    shard: u32,
    key: Key,
}

/// How many spare references to its timer a shard keeps (see the module comment): a
/// burst of cancels beyond it drops the rest. Reserved up front, so a cancel never
/// allocates under the lock.
const SPARE_REFS: usize = 32;

/// What a shard's lock guards.
struct Locked {
    wheel: Wheel<Waker>,
    /// References to the timer this shard belongs to, left by cancels for registrations
    /// to take (see the module comment). Empty once the timer shut down.
    spare: Vec<Arc<Timer>>,
}

/// One wheel. Threads register into "their" shard, so two workers registering timers at
/// the same moment do not fight over one lock.
struct Shard {
    locked: Mutex<Locked>,
    /// Nanoseconds since `base` of this wheel's earliest deadline, or earlier (a cancelled
    /// timer does not raise it), never later: so a shard whose `next_wake` is in the
    /// future has nothing due, and its lock need not be taken to know it. Written only
    /// under the wheel's lock.
    next_wake: AtomicU64,
}

/// The timer of a runtime: its wheels, and what its driver needs to know about the worker
/// parked in it. Reached by `sleep` and friends through
/// [`Handle::extension`](weft_executor::Handle::extension).
pub struct Timer {
    shards: Box<[CachePadded<Shard>]>,
    /// This timer itself, for a registration that finds no spare reference.
    me: Weak<Timer>,
    /// Nanoseconds since `base` at which the parked worker will wake, or `NOT_PARKED` /
    /// `PARKED_FOREVER`.
    parked_until: CachePadded<AtomicU64>,
    base: Instant,
    /// The driver the timer parks in; unparked when an earlier deadline is registered.
    inner: Arc<dyn Driver>,
    shut_down: AtomicBool,
    /// Cancels may leave spare references (see the module comment): until shutdown, or
    /// until the last `TimerDriver` is dropped.
    keeps_spares: AtomicBool,
    /// The `TimerDriver`s of this timer (clones count).
    drivers: AtomicUsize,
    /// The runtime's clock: the real one unless paused (see `clock.rs`).
    pub(crate) clock: Clock,
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

impl Timer {
    fn new(inner: Arc<dyn Driver>, shards: usize) -> Arc<Timer> {
        let base = Instant::now();
        Arc::new_cyclic(|me| Timer {
            shards: (0..shards.max(1))
                .map(|_| {
                    CachePadded::new(Shard {
                        locked: Mutex::new(Locked {
                            wheel: Wheel::new(base),
                            spare: Vec::with_capacity(SPARE_REFS),
                        }),
                        next_wake: AtomicU64::new(u64::MAX),
                    })
                })
                .collect(),
            me: me.clone(),
            parked_until: CachePadded::new(AtomicU64::new(NOT_PARKED)),
            base,
            inner,
            shut_down: AtomicBool::new(false),
            keeps_spares: AtomicBool::new(true),
            // The one `TimerDriver::new` wraps this in.
            drivers: AtomicUsize::new(1),
            clock: Clock::new(base),
        })
    }

    /// Reads this runtime's clock: the real clock (remembered as the thread's latest
    /// reading) unless it was ever paused.
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        if self.clock.is_offset() {
            self.clock.read()
        } else {
            clock::real_now()
        }
    }

    fn nanos(&self, t: Instant) -> u64 {
        // +1 so that no real instant maps to NOT_PARKED. (The wheels count from the same
        // base without it: `register` and `reset` hand them this minus one, which differs
        // from their own reading only past 584 years, where both mean "never".)
        u64::try_from(t.saturating_duration_since(self.base).as_nanos())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
            .min(u64::MAX - 1)
    }

    /// Timers now registered and not yet due.
    ///
    /// A sleep that completes leaves its entry to the wheel, which drops it when it next
    /// fires, so due entries are not counted; nor are they fired: this only looks. It
    /// walks every wheel (for tests and diagnostics, not for a hot path).
    pub fn len(&self) -> usize {
        let now = self.now();
        self.shards
            .iter()
            .map(|s| s.locked.lock().wheel.len_after(now))
            .sum()
    }

    /// True if no timer is registered and not yet due (see [`len`](Timer::len)).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Relaxed)
    }

    /// Notes a new deadline `d` (`nanos` of it) in a shard, under its lock; returns whether
    /// the parked worker must be woken for it.
    fn noted(&self, shard: &Shard, d: u64) -> bool {
        if d >= shard.next_wake.load(Relaxed) {
            // The shard already asks to be woken by then: nothing to publish, no fence,
            // no look at `parked_until` (see the module comment).
            return false;
        }
        shard.next_wake.store(d, SeqCst);
        // Pairs with the fence in `prepare_park`: of our store above and the parker's
        // store of `parked_until`, at least one is seen by the other side's load.
        fence(SeqCst);
        d < self.parked_until.load(SeqCst)
    }

    /// Registers `waker` to be woken at `deadline`.
    pub(crate) fn register(&self, deadline: Instant, waker: Waker) -> TimerKey {
        self.insert(deadline, waker, false).0
    }

    /// Registers `waker` to be woken at `deadline`, and returns a reference to this timer
    /// for the registration to keep: a spare one if its shard has one (see the module
    /// comment). Give it back with [`cancel_returning`](Timer::cancel_returning).
    pub(crate) fn register_leased(
        &self,
        deadline: Instant,
        waker: Waker,
    ) -> (Arc<Timer>, TimerKey) {
        let (key, spare) = self.insert(deadline, waker, true);
        let timer = spare.unwrap_or_else(|| {
            // Our caller reached us through a live reference, so `me` still upgrades.
            self.me.upgrade().expect("a timer in use has a reference")
        });
        (timer, key)
    }

    #[inline(always)]
    fn insert(
        &self,
        deadline: Instant,
        waker: Waker,
        lease: bool,
    ) -> (TimerKey, Option<Arc<Timer>>) {
        let n = weft_sync::thread_shard(self.shards.len());
        let shard = &self.shards[n];
        let d = self.nanos(deadline);
        let (key, unpark, spare) = {
            let mut locked = shard.locked.lock();
            // The wheel counts from the same base, without our +1.
            let key = locked.wheel.insert_nanos(d - 1, waker);
            let spare = if lease { locked.spare.pop() } else { None };
            (key, self.noted(shard, d), spare)
        };
        if unpark {
            self.inner.unpark();
        }
        let key = TimerKey {
            shard: n as u32,
            key,
        };
        (key, spare)
    }

    /// Moves a registration; if it already fired, registers `waker` anew.
    pub(crate) fn reset(&self, key: TimerKey, deadline: Instant, waker: &Waker) -> TimerKey {
        let shard = &self.shards[key.shard as usize];
        let d = self.nanos(deadline);
        let (moved, unpark) = {
            let moved = shard.locked.lock().wheel.reset_nanos(key.key, d - 1);
            (moved, moved && self.noted(shard, d))
        };
        if !moved {
            return self.register(deadline, waker.clone());
        }
        if unpark {
            self.inner.unpark();
        }
        key
    }

    /// Replaces the waker of a registration still in the wheel. Returns false if it fired.
    pub(crate) fn update_waker(&self, key: TimerKey, waker: &Waker) -> bool {
        // Cloned and dropped outside the lock: a waker's clone and drop may run any code,
        // such as dropping another sleep of this shard (which takes this lock).
        let mut waker = waker.clone();
        let found = {
            let mut locked = self.shards[key.shard as usize].locked.lock();
            locked
                .wheel
                .get_mut(key.key)
                .map(|w| std::mem::swap(w, &mut waker))
                .is_some()
        };
        drop(waker); // the old waker, or the unused clone
        found
    }

    /// Cancels a registration (no-op if it fired) and gives its reference to the timer,
    /// `this`, to the shard's spares, unless the timer shut down or the spares are full.
    #[allow(unsafe_code)]
    pub(crate) fn cancel_returning(this: Arc<Timer>, key: TimerKey) {
        // (Borrowing through `this` would forbid moving it into the spares below.)
        // SAFETY: `this` keeps the timer alive until it moves into the spares, then they
        // do: only a holder of this shard's lock takes from them, after our guard's drop,
        // `timer`'s last use.
        let timer: &Timer = unsafe { &*Arc::as_ptr(&this) };
        let mut locked = timer.shards[key.shard as usize].locked.lock();
        let waker = locked.wheel.remove(key.key);
        // Relaxed: `end_spares` clears the flag before it takes each shard's lock to empty
        // the spares, so a cancel locking after that sees it (and one before is emptied).
        let kept = if timer.keeps_spares.load(Relaxed) && locked.spare.len() < SPARE_REFS {
            locked.spare.push(this);
            None
        } else {
            Some(this)
        };
        drop(locked);
        // Outside the lock: dropping a waker may run arbitrary code, and dropping the
        // last reference drops the timer.
        drop(waker);
        drop(kept);
    }

    /// From now on cancels keep no spare reference; drops those kept. The caller holds a
    /// reference of its own, so this cannot drop the timer under itself.
    fn end_spares(&self) {
        self.keeps_spares.store(false, SeqCst);
        let mut spare = Vec::new();
        for shard in self.shards.iter() {
            spare.append(&mut shard.locked.lock().spare);
        }
        drop(spare); // outside the locks: it may be the last reference but the caller's
    }

    /// Advances one shard to `now`: collects its due wakers, refreshes its `next_wake`,
    /// and returns its earliest remaining deadline.
    fn advance_shard(
        &self,
        shard: &Shard,
        now: Instant,
        fired: &mut Vec<(Key, Waker)>,
    ) -> Option<Instant> {
        self.advance_locked(shard, &mut shard.locked.lock().wheel, now, fired)
    }

    /// `advance_shard` with the shard's wheel already locked.
    fn advance_locked(
        &self,
        shard: &Shard,
        wheel: &mut Wheel<Waker>,
        now: Instant,
        fired: &mut Vec<(Key, Waker)>,
    ) -> Option<Instant> {
        wheel.advance(now, fired);
        let next = wheel.next_deadline();
        shard
            .next_wake
            .store(next.map_or(u64::MAX, |d| self.nanos(d)), SeqCst);
        next
    }

    /// The instant of a `nanos` value.
    fn instant(&self, nanos: u64) -> Instant {
        self.base + Duration::from_nanos(nanos.saturating_sub(1))
    }

    /// Advances the shards that have something due (locking only those) and returns the
    /// earliest deadline left, or an earlier instant (waking early is harmless).
    fn advance_due(&self, now: Instant, fired: &mut Vec<(Key, Waker)>) -> Option<Instant> {
        let now_ns = self.nanos(now);
        let mut next: Option<Instant> = None;
        for shard in self.shards.iter() {
            let nw = shard.next_wake.load(SeqCst);
            let d = if nw <= now_ns {
                self.advance_shard(shard, now, fired)
            } else if nw == u64::MAX {
                None
            } else {
                Some(self.instant(nw))
            };
            if let Some(d) = d {
                next = Some(next.map_or(d, |n| n.min(d)));
            }
        }
        next
    }

    /// Fires the due timers of the shards nobody else holds: a shard held by another
    /// thread is being advanced or registered into right now, and waiting for it would
    /// cost more than it saves.
    fn fire_uncontended(&self, now: Instant) {
        let now_ns = self.nanos(now);
        let mut fired = Vec::new();
        for shard in self.shards.iter() {
            if shard.next_wake.load(SeqCst) > now_ns {
                continue;
            }
            if let Some(mut locked) = shard.locked.try_lock() {
                self.advance_locked(shard, &mut locked.wheel, now, &mut fired);
            }
        }
        for (_, waker) in fired {
            weft_executor::wake_contained(waker);
        }
    }

    /// Fires every due timer, waking their tasks after the locks are released.
    fn fire(&self, now: Instant) {
        let mut fired = Vec::new();
        self.advance_due(now, &mut fired);
        for (_, waker) in fired {
            weft_executor::wake_contained(waker);
        }
    }

    /// Fires due timers, then (if none fired) computes and publishes the instant to wake at
    /// and returns the time to wait, capped by `timeout`. `None` in the outer option means
    /// "do not park": timers fired, their tasks are waiting to run.
    fn prepare_park(&self, timeout: Option<Duration>) -> Option<Option<Duration>> {
        // First say "about to park: wake me for anything". A registration that this scan
        // of the shards misses comes after it, so it sees this (or the final value below)
        // and unparks us if its deadline is earlier.
        self.parked_until.store(PARKED_FOREVER, SeqCst);
        fence(SeqCst);
        let now = self.now();
        let mut fired = Vec::new();
        let next = self.advance_due(now, &mut fired);
        if !fired.is_empty() {
            self.parked_until.store(NOT_PARKED, SeqCst);
            for (_, waker) in fired {
                weft_executor::wake_contained(waker);
            }
            return None;
        }
        if self.clock.is_paused() {
            // A paused clock does not move while we sleep: no deadline to wake for, and
            // any registration wakes us (the executor may be about to report itself
            // idle, and auto-advance to it). Parks that are not idle ones (a blocking
            // task is in flight) look again every `PAUSED_RECHECK`.
            self.parked_until.store(PARKED_FOREVER, SeqCst);
            return Some(Some(
                timeout.map_or(PAUSED_RECHECK, |t| t.min(PAUSED_RECHECK)),
            ));
        }
        let by_timer = next.map(|d| d.saturating_duration_since(now));
        let wait = match (by_timer, timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let until = match wait {
            Some(w) => now.checked_add(w).map_or(PARKED_FOREVER, |t| self.nanos(t)),
            None => PARKED_FOREVER,
        };
        self.parked_until.store(until, SeqCst);
        Some(wait)
    }
}

impl Timer {
    /// The earliest deadline registered, exactly (locking every shard: for paused time,
    /// not for the hot path).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.shards
            .iter()
            .filter_map(|s| s.locked.lock().wheel.next_deadline())
            .min()
    }

    /// Moves a paused clock to `t` and fires what is due then. False if the clock is
    /// not paused (nothing moved).
    pub(crate) fn step_to(&self, t: Instant) -> bool {
        if !self.clock.advance_to(t) {
            return false;
        }
        self.fire(self.now());
        true
    }

    /// Stops this runtime's clock (see [`pause`](crate::pause)).
    ///
    /// # Panics
    ///
    /// If the clock is paused already, or the timer was not allowed to pause
    /// ([`TimerDriver::allow_pause`]).
    #[track_caller]
    pub fn pause(&self) {
        self.clock.pause();
    }

    /// Lets this runtime's clock run again from where it stands (see
    /// [`resume`](crate::resume)).
    ///
    /// # Panics
    ///
    /// If the clock is not paused.
    #[track_caller]
    pub fn resume(&self) {
        self.clock.resume();
        // A worker parked while paused waits for no deadline: it must look again.
        self.inner.unpark();
    }

    /// True while this runtime's clock is paused.
    pub fn is_paused(&self) -> bool {
        self.clock.is_paused()
    }
}

/// How often a worker parked while time is paused, in a park the executor did not call an
/// idle one (a blocking task is in flight, say), wakes to look again: the task that ends
/// it may wake nobody, yet end what kept the runtime from advancing.
const PAUSED_RECHECK: Duration = Duration::from_millis(1);

/// A [`Driver`] that runs the timer on top of another driver.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::{Duration, Instant};
/// use weft_executor::{Builder, ParkDriver};
/// use weft_timer::TimerDriver;
///
/// let driver = TimerDriver::new(Arc::new(ParkDriver::new()));
/// let rt = Builder::new()
///     .driver(Arc::new(driver.clone()))
///     .extension(driver.timer())
///     .build()
///     .unwrap();
/// let start = Instant::now();
/// rt.block_on(weft_timer::sleep(Duration::from_millis(10)));
/// assert!(start.elapsed() >= Duration::from_millis(10));
/// ```
pub struct TimerDriver {
    timer: Arc<Timer>,
}

impl Clone for TimerDriver {
    fn clone(&self) -> TimerDriver {
        // Relaxed: a count only; the clone is made from a live driver.
        self.timer.drivers.fetch_add(1, Relaxed);
        TimerDriver {
            timer: self.timer.clone(),
        }
    }
}

impl Drop for TimerDriver {
    fn drop(&mut self) {
        // The last driver gone: nobody will shut the timer down, so the spares must go
        // now (they would keep the timer alive for ever).
        if self.timer.drivers.fetch_sub(1, SeqCst) == 1 {
            self.timer.end_spares();
        }
    }
}

impl fmt::Debug for TimerDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerDriver")
            .field("timer", &self.timer)
            .finish()
    }
}

impl TimerDriver {
    /// A timer that parks in `inner` (the reactor, or a [`ParkDriver`](weft_executor::ParkDriver)).
    pub fn new(inner: Arc<dyn Driver>) -> TimerDriver {
        // One wheel per CPU: about one per worker thread.
        let shards = std::thread::available_parallelism().map_or(2, |n| n.get());
        TimerDriver {
            timer: Timer::new(inner, shards),
        }
    }

    /// Lets this timer's clock be paused ([`Timer::pause`], [`pause`](crate::pause)).
    ///
    /// Only for an executor that calls [`Driver::park_idle`] when every task is idle
    /// (weft's current-thread runtime does): a paused clock moves only by `advance` or
    /// by auto-advance, which needs to know the runtime is idle. Without it, pausing
    /// panics.
    pub fn allow_pause(&self) {
        self.timer.clock.allow_pause();
    }

    /// The timer, to install with [`Builder::extension`](weft_executor::Builder::extension)
    /// so `sleep` and friends find it.
    pub fn timer(&self) -> Arc<Timer> {
        self.timer.clone()
    }
}

impl Driver for TimerDriver {
    fn park(&self, timeout: Option<Duration>) {
        let t = &*self.timer;
        match t.prepare_park(timeout) {
            Some(wait) => {
                t.inner.park(wait);
                t.parked_until.store(NOT_PARKED, SeqCst);
                t.fire(t.now());
            }
            // Timers fired: no sleeping, but let the inner driver (the reactor) deliver
            // what is ready, so steady timer load does not leave I/O to the 61-tick poll.
            None => t.inner.poll(),
        }
    }

    /// While paused, this is where time moves by itself (auto-advance): timers due now
    /// fire first; then the inner driver (the reactor) is polled without blocking, and
    /// only if that left the runtime idle does the clock jump to the earliest deadline,
    /// whose timers fire. With no timer at all, it parks as [`park`](Driver::park).
    fn park_idle(&self, timeout: Option<Duration>, idle: &dyn Fn() -> bool) {
        let t = &*self.timer;
        if !t.clock.is_paused() {
            return self.park(timeout);
        }
        let mut fired = Vec::new();
        t.advance_due(t.now(), &mut fired);
        if !fired.is_empty() {
            for (_, waker) in fired {
                weft_executor::wake_contained(waker);
            }
            return;
        }
        // What the sockets have ready now comes before any jump of the clock.
        t.inner.poll();
        if !idle() {
            return;
        }
        match t.next_deadline() {
            Some(d) => {
                t.step_to(d);
            }
            None => self.park(timeout),
        }
    }

    fn unpark(&self) {
        self.timer.inner.unpark();
    }

    fn poll(&self) {
        let t = &*self.timer;
        t.inner.poll();
        t.fire(t.now());
    }

    fn poll_due(&self) {
        let t = &*self.timer;
        t.inner.poll_due();
        // No timer at all (the common case of a busy worker without timers): not even a
        // clock read.
        if t.shards
            .iter()
            .all(|s| s.next_wake.load(Relaxed) == u64::MAX)
        {
            return;
        }
        t.fire_uncontended(t.now());
    }

    fn shutdown(&self) {
        let t = &*self.timer;
        t.shut_down.store(true, SeqCst);
        // Wake whatever still waits (outside the runtime's tasks, which are gone): their
        // next poll reports that the timer has shut down.
        t.end_spares();
        let mut all = Vec::new();
        for shard in t.shards.iter() {
            all.extend(shard.locked.lock().wheel.drain());
        }
        for w in all {
            weft_executor::wake_contained(w);
        }
        t.inner.shutdown();
    }
}

#[cfg(all(test, weft_loom))]
mod tests_loom {
    //! The park/register protocol: a worker parking towards the next deadline races a task
    //! registering an earlier one. The worker must either have computed its wait with the
    //! new timer in view, or be unparked.

    use super::*;
    use loom::sync::atomic::AtomicBool;
    use loom::thread;

    /// An inner driver that records unparks (latched) instead of blocking.
    #[derive(Default)]
    struct Latch(AtomicBool);

    impl Driver for Latch {
        fn park(&self, _timeout: Option<Duration>) {}
        fn unpark(&self) {
            self.0.store(true, SeqCst);
        }
    }

    #[test]
    fn loom_register_racing_park() {
        loom::model(|| {
            let latch = Arc::new(Latch::default());
            // Two shards, so the parker's scan and the registration can interleave.
            let t = Timer::new(latch.clone(), 2);
            let base = t.base;
            // A timer 100 ms out is already registered: the parker would sleep 100 ms.
            t.register(base + Duration::from_millis(100), futures_noop_waker());
            let t2 = t.clone();
            let registrant = thread::spawn(move || {
                t2.register(base + Duration::from_millis(10), futures_noop_waker());
            });
            let wait = t.prepare_park(None).expect("nothing was due");
            registrant.join().unwrap();
            // It would wait about 10 ms if it saw the new timer, about 100 ms if not.
            let saw_new_timer = wait.is_some_and(|w| w <= Duration::from_millis(50));
            assert!(
                saw_new_timer || latch.0.load(SeqCst),
                "the parker would sleep past the earlier timer, unwoken"
            );
        });
    }

    #[test]
    fn loom_register_behind_an_earlier_deadline() {
        // A registration that does not lower `next_wake` skips the handshake: it relies on
        // whoever published the earlier value. Here that value outlives its timer (a
        // cancel does not raise it), and the parker races both registrants.
        loom::model(|| {
            let latch = Arc::new(Latch::default());
            // One shard: both registrations meet in it.
            let t = Timer::new(latch.clone(), 1);
            let base = t.base;
            let t1 = t.clone();
            let first = thread::spawn(move || {
                let (t1, key) =
                    t1.register_leased(base + Duration::from_millis(10), futures_noop_waker());
                Timer::cancel_returning(t1, key);
            });
            let t2 = t.clone();
            let second = thread::spawn(move || {
                t2.register(base + Duration::from_millis(50), futures_noop_waker());
            });
            let wait = t.prepare_park(None).expect("nothing was due");
            first.join().unwrap();
            second.join().unwrap();
            // Woken by 50 ms at the latest (10 ms when it saw the cancelled timer's mark),
            // or unparked.
            let in_time = wait.is_some_and(|w| w <= Duration::from_millis(50));
            assert!(
                in_time || latch.0.load(SeqCst),
                "the parker would sleep past the 50 ms timer, unwoken"
            );
        });
    }

    #[test]
    fn loom_a_cancel_racing_shutdown_keeps_no_reference() {
        // A cancel gives its reference to the shard's spares unless the timer shut down;
        // shutdown empties the spares. Whichever takes the shard's lock first, no spare
        // may be left once both are done: it would keep the timer alive forever.
        loom::model(|| {
            let latch = Arc::new(Latch::default());
            let t = Timer::new(latch, 1);
            let driver = TimerDriver { timer: t.clone() };
            let base = t.base;
            let t1 = t.clone();
            let canceller = thread::spawn(move || {
                let (lease, key) =
                    t1.register_leased(base + Duration::from_millis(10), futures_noop_waker());
                drop(t1);
                Timer::cancel_returning(lease, key);
            });
            driver.shutdown();
            canceller.join().unwrap();
            // Before the driver is dropped, which would empty the spares too.
            assert_eq!(
                Arc::strong_count(&t),
                2,
                "a spare reference outlived shutdown"
            );
            drop(driver);
            assert_eq!(Arc::strong_count(&t), 1);
        });
    }

    fn futures_noop_waker() -> Waker {
        Waker::noop().clone()
    }
}

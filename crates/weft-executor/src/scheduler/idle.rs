//! Who is searching, who is asleep, and whom to wake.
//!
//! Two counters, on separate cache lines: the workers *unparked* (not asleep) and, of those,
//! the ones *searching* (looking for work to steal). A mutex-protected list names the
//! sleepers.
//!
//! The rules, which together make sure no work is left in a queue while every worker sleeps
//! (the loom models `loom_idle_no_lost_wakeup_*` check them):
//!
//! 1. Whoever makes work visible (push to a queue) then calls `worker_to_notify`, which,
//!    after a `SeqCst` fence, wakes one sleeper unless somebody is searching (a searcher will
//!    find the work) or nobody sleeps.
//! 2. A woken worker is counted as searching *by the waker*, under the lock, so a burst of
//!    pushes wakes one worker, not one per push. When a searcher finds work and was the last
//!    searcher, it wakes the next one (if more work is visible): wake-ups chain.
//! 3. A worker going to sleep first registers as a sleeper (decrementing the counts with
//!    `SeqCst` read-modify-writes), then looks at every queue once more. Either the pusher's
//!    fence-then-load sees it asleep (and wakes someone), or its re-check sees the work.
//! 4. At most half the workers search at once, so idle workers do not all hammer the same
//!    queues.
//!
//! Rule 1 is needed for work that no awake worker is bound to look at: the injector. Work
//! an active worker pushes to its *own* queue will be run by that worker whatever happens,
//! so waking a sleeper for it is only about parallelism: `worker_to_notify_hint` skips the
//! fence (a full barrier per spawn or yield otherwise). If it misses a worker falling
//! asleep at that instant, the next push, or the pushing worker's maintenance tick (every
//! 61 polls, when its queue holds more than one task), wakes one.

use crate::sync::atomic::{fence, AtomicUsize};
use crate::sync::Mutex;
use crossbeam_utils::CachePadded;
use std::sync::atomic::Ordering::SeqCst;

pub(crate) struct Idle {
    /// Workers not asleep. Changed only under the `sleepers` lock, and rarely while the
    /// runtime is busy, so the check every spawn makes ("is anybody asleep?") reads a cache
    /// line that stays shared instead of bouncing between cores.
    unparked: CachePadded<AtomicUsize>,
    /// Workers searching for work. Changes on every steal; read only when somebody sleeps.
    searching: CachePadded<AtomicUsize>,
    /// Indices of sleeping workers. Its length is always `num_workers - unparked`.
    sleepers: Mutex<Vec<usize>>,
    num_workers: usize,
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Idle {
        Idle {
            unparked: CachePadded::new(AtomicUsize::new(num_workers)),
            searching: CachePadded::new(AtomicUsize::new(0)),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
        }
    }

    fn should_notify(&self) -> bool {
        // Sleepers first: while everybody is awake this is the only load.
        self.unparked.load(SeqCst) < self.num_workers && self.searching.load(SeqCst) == 0
    }

    /// Rule 1: called after work was made visible. Returns the sleeper to wake, already
    /// counted as unparked and searching.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        fence(SeqCst);
        self.worker_to_notify_hint()
    }

    /// Like `worker_to_notify`, without the fence: for pushes to the caller's own queue.
    /// The first look is inlined into every yield and spawn (while all workers are awake
    /// it is all there is); the locked part is not.
    #[inline(always)]
    pub(crate) fn worker_to_notify_hint(&self) -> Option<usize> {
        if !self.should_notify() {
            return None;
        }
        self.take_sleeper()
    }

    /// The locked part of `worker_to_notify_hint`: looks again under the lock.
    #[inline(never)]
    fn take_sleeper(&self) -> Option<usize> {
        let mut sleepers = self.sleepers.lock();
        if !self.should_notify() {
            return None;
        }
        let w = sleepers.pop()?;
        self.unparked.fetch_add(1, SeqCst);
        self.searching.fetch_add(1, SeqCst);
        Some(w)
    }

    /// Rule 4: become a searcher if fewer than half the workers are.
    pub(crate) fn try_start_searching(&self) -> bool {
        let s = self.searching.load(SeqCst);
        if s > 0 && 2 * s >= self.num_workers {
            return false;
        }
        self.searching.fetch_add(1, SeqCst);
        true
    }

    /// Stops searching; returns true if this was the last searcher (rule 2).
    pub(crate) fn stop_searching(&self) -> bool {
        let prev = self.searching.fetch_sub(1, SeqCst);
        debug_assert!(prev > 0);
        prev == 1
    }

    /// Rule 3, first half: register `worker` as a sleeper. The caller must then re-check
    /// the queues (always: whether or not it was the last searcher, the check is cheaper
    /// than reasoning about who else will make it).
    pub(crate) fn transition_to_parked(&self, worker: usize, is_searching: bool) {
        let mut sleepers = self.sleepers.lock();
        // Unparked first: a pusher that sees us asleep but still searching leaves the work
        // to our re-check, which comes after both decrements.
        self.unparked.fetch_sub(1, SeqCst);
        if is_searching {
            self.searching.fetch_sub(1, SeqCst);
        }
        sleepers.push(worker);
    }

    /// After a park returns. If `worker` is still listed as a sleeper (a timeout, a spurious
    /// wake, or shutdown), unlist it and count it unparked, not searching: returns false.
    /// Otherwise a notifier unlisted it and counted it as a searcher: returns true.
    pub(crate) fn transition_from_parked(&self, worker: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        match sleepers.iter().position(|&w| w == worker) {
            Some(i) => {
                sleepers.swap_remove(i);
                self.unparked.fetch_add(1, SeqCst);
                false
            }
            None => true,
        }
    }

    /// Workers not asleep.
    pub(crate) fn num_unparked(&self) -> usize {
        self.unparked.load(SeqCst)
    }

    pub(crate) fn has_sleepers(&self) -> bool {
        self.num_unparked() < self.num_workers
    }

    #[cfg(any(test, weft_loom))]
    pub(crate) fn num_searching(&self) -> usize {
        self.searching.load(SeqCst)
    }
}

#[cfg(all(test, not(weft_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_notifies_wakes_one_sleeper() {
        let idle = Idle::new(4);
        for w in 0..3 {
            idle.transition_to_parked(w, false);
        }
        assert_eq!(idle.num_unparked(), 1);
        assert!(idle.worker_to_notify().is_some());
        // The woken worker counts as searching: further notifies wake nobody.
        assert_eq!(idle.num_searching(), 1);
        assert!(idle.worker_to_notify().is_none());
        // It finds work and was the last searcher: the next notify wakes the next one.
        assert!(idle.stop_searching());
        assert!(idle.worker_to_notify().is_some());
    }

    #[test]
    fn at_most_half_search() {
        let idle = Idle::new(4);
        assert!(idle.try_start_searching());
        assert!(idle.try_start_searching());
        assert!(!idle.try_start_searching());
        let one = Idle::new(1);
        assert!(one.try_start_searching());
    }

    #[test]
    fn timed_out_sleeper_unlists_itself() {
        let idle = Idle::new(2);
        idle.transition_to_parked(1, false);
        assert!(!idle.transition_from_parked(1));
        assert_eq!(idle.num_unparked(), 2);
        assert_eq!(idle.num_searching(), 0);
    }
}

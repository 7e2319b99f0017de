//! Who is searching, who is asleep, and whom to wake.
//!
//! One atomic word counts the workers that are *unparked* (not asleep) and, of those, the
//! ones *searching* (looking for work to steal). A mutex-protected list names the sleepers.
//!
//! The rules, which together make sure no work is left in a queue while every worker sleeps
//! (the loom model `idle_no_lost_wakeup` checks them):
//!
//! 1. Whoever makes work visible (push to a queue) then calls `worker_to_notify`, which,
//!    after a `SeqCst` fence, wakes one sleeper unless somebody is searching (a searcher will
//!    find the work) or nobody sleeps.
//! 2. A woken worker is counted as searching *by the waker*, under the lock, so a burst of
//!    pushes wakes one worker, not one per push. When a searcher finds work and was the last
//!    searcher, it wakes the next one (if more work is visible): wake-ups chain.
//! 3. A worker going to sleep first registers as a sleeper (decrementing the counts with a
//!    `SeqCst` read-modify-write), then looks at every queue once more. Either the pusher's
//!    fence-then-load sees it asleep (and wakes someone), or its re-check sees the work.
//! 4. At most half the workers search at once, so idle workers do not all hammer the same
//!    queues.

use crate::sync::atomic::{fence, AtomicUsize};
use crate::sync::Mutex;
use std::sync::atomic::Ordering::SeqCst;

const SEARCH_ONE: usize = 1;
const UNPARK_SHIFT: usize = 16;
const UNPARK_ONE: usize = 1 << UNPARK_SHIFT;
const SEARCH_MASK: usize = UNPARK_ONE - 1;

pub(crate) struct Idle {
    /// `searching | unparked << 16`.
    state: AtomicUsize,
    /// Indices of sleeping workers. Its length is always `num_workers - unparked`.
    sleepers: Mutex<Vec<usize>>,
    num_workers: usize,
}

fn searching(s: usize) -> usize {
    s & SEARCH_MASK
}
fn unparked(s: usize) -> usize {
    s >> UNPARK_SHIFT
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Idle {
        assert!(num_workers < SEARCH_MASK, "too many workers");
        Idle {
            state: AtomicUsize::new(num_workers << UNPARK_SHIFT),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
        }
    }

    fn should_notify(&self) -> bool {
        let s = self.state.load(SeqCst);
        searching(s) == 0 && unparked(s) < self.num_workers
    }

    /// Rule 1: called after work was made visible. Returns the sleeper to wake, already
    /// counted as unparked and searching.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        fence(SeqCst);
        if !self.should_notify() {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        if !self.should_notify() {
            return None;
        }
        let w = sleepers.pop()?;
        self.state.fetch_add(UNPARK_ONE | SEARCH_ONE, SeqCst);
        Some(w)
    }

    /// Rule 4: become a searcher if fewer than half the workers are.
    pub(crate) fn try_start_searching(&self) -> bool {
        let s = self.state.load(SeqCst);
        if 2 * searching(s) >= self.num_workers.max(2) && searching(s) > 0 {
            return false;
        }
        self.state.fetch_add(SEARCH_ONE, SeqCst);
        true
    }

    /// Stops searching; returns true if this was the last searcher (rule 2).
    pub(crate) fn stop_searching(&self) -> bool {
        let prev = self.state.fetch_sub(SEARCH_ONE, SeqCst);
        debug_assert!(searching(prev) > 0);
        searching(prev) == 1
    }

    /// Rule 3, first half: register `worker` as a sleeper. The caller must then re-check the
    /// queues. Returns true if it was the last searcher.
    pub(crate) fn transition_to_parked(&self, worker: usize, is_searching: bool) -> bool {
        let mut sleepers = self.sleepers.lock();
        let dec = UNPARK_ONE + if is_searching { SEARCH_ONE } else { 0 };
        let prev = self.state.fetch_sub(dec, SeqCst);
        sleepers.push(worker);
        is_searching && searching(prev) == 1
    }

    /// After a park returns. If `worker` is still listed as a sleeper (a timeout, a spurious
    /// wake, or shutdown), unlist it and count it unparked, not searching: returns false.
    /// Otherwise a notifier unlisted it and counted it as a searcher: returns true.
    pub(crate) fn transition_from_parked(&self, worker: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        match sleepers.iter().position(|&w| w == worker) {
            Some(i) => {
                sleepers.swap_remove(i);
                self.state.fetch_add(UNPARK_ONE, SeqCst);
                false
            }
            None => true,
        }
    }

    /// Workers not asleep.
    pub(crate) fn num_unparked(&self) -> usize {
        unparked(self.state.load(SeqCst))
    }

    pub(crate) fn has_sleepers(&self) -> bool {
        self.num_unparked() < self.num_workers
    }

    #[cfg(any(test, weft_loom))]
    pub(crate) fn num_searching(&self) -> usize {
        searching(self.state.load(SeqCst))
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

//! The task state word: flag bits, a reference count and a poll count in one
//! `AtomicUsize`.
//!
//! Every transition is one compare-and-swap (or one `fetch_*`) on this word, so the flags
//! and the count always change together. Each bit below states the invariant it carries.
//! The loom models in `task::tests_loom` check these transitions against each other.
//!
//! On 64-bit targets the word is `[polls: 26 | refs: 32 | flags: 6]`. The poll count is
//! statistics for `Handle::dump`, not part of any protocol: `transition_to_running` adds
//! one in the compare-and-swap every poll does anyway, so counting costs no memory access
//! of its own, and it wraps at 2^26 without touching the reference count. On 32-bit
//! targets there is no room: the count stays 0 and every bit above the flags counts
//! references.

use crate::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};

/// A thread holds the exclusive right to touch the future: to poll it, or to drop it.
/// Set by a run (which also clears `NOTIFIED`), or by shutdown taking a task that is idle
/// or queued; cleared when the poll ends or the task completes. Never set together with
/// `COMPLETE`.
pub(crate) const RUNNING: usize = 1 << 0;

/// A `Notified` reference exists (the task sits in a run queue, or is being pushed to
/// one), or, while `RUNNING`, the task was woken during its poll and the runner must
/// schedule it once more when the poll ends. At most one `Notified` exists at a time:
/// this bit is what makes "a wake during a poll reschedules exactly once" true. A task
/// that yields through the runner's fast path gets it set by `transition_to_idle`
/// itself, in the step that clears `RUNNING`.
pub(crate) const NOTIFIED: usize = 1 << 1;

/// The future has been dropped; the output slot holds the result (or was already taken).
/// Set once, never cleared. After it, wakes and aborts do nothing.
pub(crate) const COMPLETE: usize = 1 << 2;

/// `abort()` (or runtime shutdown) asked for the task to stop. The next thread that gets
/// `RUNNING` drops the future instead of polling it. Never cleared.
pub(crate) const CANCELLED: usize = 1 << 3;

/// The `JoinHandle` is alive and will read the output. Cleared when the handle is dropped;
/// whoever sees `COMPLETE` without `JOIN_INTEREST` (or clears it after `COMPLETE`) drops
/// the output.
pub(crate) const JOIN_INTEREST: usize = 1 << 4;

/// The join-waker slot holds a waker that belongs to the task side: the completing thread
/// may read it, the `JoinHandle` may not write it. While clear (and not `COMPLETE`), the
/// `JoinHandle` owns the slot and may write it.
pub(crate) const JOIN_WAKER: usize = 1 << 5;

/// Bits below this are flags; the reference count starts here.
const REF_SHIFT: usize = 6;

/// Bits of the reference count, and where the poll count starts (see the module comment).
#[cfg(target_pointer_width = "64")]
const REF_BITS: u32 = 32;
#[cfg(not(target_pointer_width = "64"))]
const REF_BITS: u32 = usize::BITS - REF_SHIFT as u32;
const POLL_SHIFT: u32 = REF_SHIFT as u32 + REF_BITS;
/// The reference count's bits, shifted down.
const REF_MASK: usize = usize::MAX >> (usize::BITS - REF_BITS);
/// One poll, or 0 where the word has no room for a count.
const POLL_ONE: usize = match 1usize.checked_shl(POLL_SHIFT) {
    Some(one) => one,
    None => 0,
};
/// A reference count this high means a leak loop: stop before it reaches the poll count.
const REF_LIMIT: usize = REF_MASK / 2;

/// One reference. References are held by: the `Notified` handle (queued task), the runner
/// during a poll (it inherits the `Notified`'s), the `JoinHandle`, each `Waker` and
/// `AbortHandle`, and the runtime's list of owned tasks. The cell is freed by whoever
/// drops the count to zero, exactly once.
pub(crate) const REF_ONE: usize = 1 << REF_SHIFT;

#[cfg(test)]
const FLAGS: usize = REF_ONE - 1;

/// A new task: queued once (`NOTIFIED`), with a `JoinHandle`, and three references: the
/// `Notified`, the `JoinHandle`, and the owned-task list.
pub(crate) const INITIAL: usize = NOTIFIED | JOIN_INTEREST | (3 * REF_ONE);

/// A copy of the state word, for inspecting a value read or written by a transition.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(pub(crate) usize);

impl Snapshot {
    #[inline]
    pub(crate) fn has(self, bit: usize) -> bool {
        self.0 & bit != 0
    }
    #[inline]
    pub(crate) fn refs(self) -> usize {
        (self.0 >> REF_SHIFT) & REF_MASK
    }
    /// Polls so far, modulo 2^26 (always 0 on 32-bit targets: see the module comment).
    #[inline]
    pub(crate) fn polls(self) -> u32 {
        self.0.checked_shr(POLL_SHIFT).unwrap_or(0) as u32
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = [
            (RUNNING, "RUNNING"),
            (NOTIFIED, "NOTIFIED"),
            (COMPLETE, "COMPLETE"),
            (CANCELLED, "CANCELLED"),
            (JOIN_INTEREST, "JOIN_INTEREST"),
            (JOIN_WAKER, "JOIN_WAKER"),
        ];
        let mut list = f.debug_list();
        for (bit, name) in names {
            if self.has(bit) {
                list.entry(&name);
            }
        }
        list.entry(&format_args!("refs={}", self.refs()));
        list.finish()
    }
}

/// What the caller of `transition_to_running` must do.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a transition's result says what the caller must do next"]
pub(crate) enum ToRunning {
    /// Poll the future.
    Poll,
    /// The task was aborted: drop the future and complete with `Cancelled`.
    Cancel,
    /// The task is complete or owned by another thread: just drop this reference.
    Stale,
}

/// What the runner must do after a poll returned `Pending`.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a transition's result says what the caller must do next"]
pub(crate) enum ToIdle {
    /// The task is idle and the runner's reference was released: touch nothing more.
    Idle,
    /// It was woken during the poll: the runner's reference becomes a new `Notified`.
    Notified,
    /// It was aborted during the poll: the runner keeps `RUNNING` and cancels it.
    Cancel,
}

/// What a waker (or abort) must do after its transition.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a transition's result says what the caller must do next"]
pub(crate) enum Wake {
    /// Nothing (already queued, running, complete, or cancelled).
    Nothing,
    /// Submit a new `Notified` (the transition took the reference for it).
    Submit,
    /// The caller's reference was the last one: free the cell.
    Dealloc,
}

/// The atomic state word of a task.
pub(crate) struct State(AtomicUsize);

impl State {
    pub(crate) fn new() -> State {
        State(AtomicUsize::new(INITIAL))
    }

    #[inline]
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Acquire))
    }

    /// Runs `f` in a compare-and-swap loop. `f` returns the new word (or `None` to leave it)
    /// and a result.
    #[inline]
    fn update<R>(&self, mut f: impl FnMut(Snapshot) -> (Option<usize>, R)) -> R {
        let mut cur = self.0.load(Acquire);
        loop {
            let (next, res) = f(Snapshot(cur));
            let Some(next) = next else { return res };
            match self.0.compare_exchange_weak(cur, next, AcqRel, Acquire) {
                Ok(_) => return res,
                Err(actual) => cur = actual,
            }
        }
    }

    /// A worker popped a `Notified`: take `RUNNING` and clear `NOTIFIED`.
    pub(crate) fn transition_to_running(&self) -> ToRunning {
        self.update(|s| {
            if s.has(RUNNING | COMPLETE) {
                return (None, ToRunning::Stale);
            }
            // Count the poll in the same step (wrapping out of the top of the word). A run
            // that only drops the future counts too: the task is complete after it, and
            // nobody reads a complete task's count.
            let next = ((s.0 | RUNNING) & !NOTIFIED).wrapping_add(POLL_ONE);
            let res = if s.has(CANCELLED) {
                ToRunning::Cancel
            } else {
                ToRunning::Poll
            };
            (Some(next), res)
        })
    }

    /// The poll returned `Pending`. `yielded`: the task asked to run again (as if it had
    /// woken itself during the poll: `NOTIFIED` is set in the same step).
    pub(crate) fn transition_to_idle(&self, yielded: bool) -> ToIdle {
        self.update(|s| {
            debug_assert!(s.has(RUNNING), "{s:?}");
            if s.has(CANCELLED) {
                return (None, ToIdle::Cancel);
            }
            let next = s.0 & !RUNNING;
            if yielded {
                (Some(next | NOTIFIED), ToIdle::Notified)
            } else if s.has(NOTIFIED) {
                (Some(next), ToIdle::Notified)
            } else {
                // The owned-task list still holds a reference, so this is never the last.
                debug_assert!(s.refs() >= 2, "{s:?}");
                (Some(next - REF_ONE), ToIdle::Idle)
            }
        })
    }

    /// The future is gone and the output stored: set `COMPLETE`, clear `RUNNING`.
    /// Returns the state just before, so the caller knows about the `JoinHandle`.
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        let prev = Snapshot(self.0.fetch_xor(RUNNING | COMPLETE, AcqRel));
        debug_assert!(prev.has(RUNNING) && !prev.has(COMPLETE), "{prev:?}");
        prev
    }

    /// `wake_by_ref`: the waker keeps its own reference.
    pub(crate) fn transition_to_notified_by_ref(&self) -> Wake {
        self.update(|s| {
            if s.has(COMPLETE | NOTIFIED) {
                (None, Wake::Nothing)
            } else if s.has(RUNNING) {
                (Some(s.0 | NOTIFIED), Wake::Nothing)
            } else {
                (Some((s.0 | NOTIFIED) + REF_ONE), Wake::Submit)
            }
        })
    }

    /// `wake`: the waker's reference is consumed (handed to the `Notified`, or dropped).
    pub(crate) fn transition_to_notified_by_val(&self) -> Wake {
        self.update(|s| {
            if s.has(RUNNING) {
                // The runner holds a reference, so this one is never the last.
                (Some((s.0 | NOTIFIED) - REF_ONE), Wake::Nothing)
            } else if s.has(COMPLETE | NOTIFIED) {
                let res = if s.refs() == 1 {
                    Wake::Dealloc
                } else {
                    Wake::Nothing
                };
                (Some(s.0 - REF_ONE), res)
            } else {
                (Some(s.0 | NOTIFIED), Wake::Submit)
            }
        })
    }

    /// `abort()` from any thread.
    pub(crate) fn transition_to_cancelled(&self) -> Wake {
        self.update(|s| {
            if s.has(COMPLETE | CANCELLED) {
                (None, Wake::Nothing)
            } else if s.has(RUNNING | NOTIFIED) {
                // The runner (now, or the one that pops the Notified) will see CANCELLED.
                (Some(s.0 | CANCELLED), Wake::Nothing)
            } else {
                // Idle: queue it so a worker drops the future in the runtime's context.
                (Some((s.0 | CANCELLED | NOTIFIED) + REF_ONE), Wake::Submit)
            }
        })
    }

    /// Shutdown takes the task if it is idle or queued (not running, not complete): sets
    /// `RUNNING | CANCELLED`. Returns true if the caller now owns the future.
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.update(|s| {
            if s.has(COMPLETE) {
                (None, false)
            } else if s.has(RUNNING) {
                (Some(s.0 | CANCELLED), false)
            } else {
                (Some(s.0 | CANCELLED | RUNNING), true)
            }
        })
    }

    /// The `JoinHandle` owns the (empty or stale) slot and has written a waker into it:
    /// hand it to the task side. Fails (returns the state) if the task completed meanwhile.
    pub(crate) fn set_join_waker(&self) -> Result<(), Snapshot> {
        self.update(|s| {
            debug_assert!(s.has(JOIN_INTEREST) && !s.has(JOIN_WAKER), "{s:?}");
            if s.has(COMPLETE) {
                (None, Err(s))
            } else {
                (Some(s.0 | JOIN_WAKER), Ok(()))
            }
        })
    }

    /// The `JoinHandle` takes the slot back to replace the waker. Fails if complete.
    pub(crate) fn unset_join_waker(&self) -> Result<(), Snapshot> {
        self.update(|s| {
            debug_assert!(s.has(JOIN_INTEREST) && s.has(JOIN_WAKER), "{s:?}");
            if s.has(COMPLETE) {
                (None, Err(s))
            } else {
                (Some(s.0 & !JOIN_WAKER), Ok(()))
            }
        })
    }

    /// The `JoinHandle` is dropped before the task completed and without a registered
    /// waker (a detached spawn): clear `JOIN_INTEREST` and drop the handle's reference in
    /// one step. Returns false (changing nothing) if the slow path is needed.
    pub(crate) fn drop_join_handle_fast(&self) -> bool {
        self.update(|s| {
            if s.has(COMPLETE | JOIN_WAKER) {
                return (None, false);
            }
            // Not complete: the owned list (or, for a blocking task, its Notified or
            // runner) holds another reference, so this is not the last.
            debug_assert!(s.has(JOIN_INTEREST) && s.refs() >= 2, "{s:?}");
            (Some((s.0 & !JOIN_INTEREST) - REF_ONE), true)
        })
    }

    /// The `JoinHandle` is dropped. Clears `JOIN_INTEREST`, and if the task is not complete
    /// also `JOIN_WAKER` (the handle then owns the slot and drops the waker). Returns the
    /// state before: if it had `COMPLETE`, the caller must drop the output.
    pub(crate) fn drop_join_interest(&self) -> Snapshot {
        self.update(|s| {
            debug_assert!(s.has(JOIN_INTEREST), "{s:?}");
            let next = if s.has(COMPLETE) {
                s.0 & !JOIN_INTEREST
            } else {
                s.0 & !(JOIN_INTEREST | JOIN_WAKER)
            };
            (Some(next), s)
        })
    }

    #[inline]
    pub(crate) fn ref_inc(&self) {
        let prev = Snapshot(self.0.fetch_add(REF_ONE, Relaxed));
        // Far more references than memory could hold means a leak loop: stop the process
        // rather than overflow into the poll count and later free a cell still in use.
        if prev.refs() > REF_LIMIT {
            std::process::abort();
        }
    }

    /// Drops `n` references; returns true if they were the last.
    #[inline]
    pub(crate) fn ref_dec(&self, n: usize) -> bool {
        let prev = Snapshot(self.0.fetch_sub(n * REF_ONE, AcqRel));
        debug_assert!(prev.refs() >= n, "{prev:?}");
        prev.refs() == n
    }

    #[cfg(test)]
    pub(crate) fn flags(&self) -> usize {
        self.0.load(Acquire) & FLAGS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_state_is_queued_with_three_references() {
        let s = State::new();
        assert_eq!(s.load().refs(), 3);
        assert_eq!(s.flags(), NOTIFIED | JOIN_INTEREST);
    }

    #[test]
    fn wake_during_poll_only_marks() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        assert_eq!(s.transition_to_notified_by_ref(), Wake::Nothing);
        assert_eq!(s.transition_to_notified_by_ref(), Wake::Nothing);
        assert_eq!(s.transition_to_idle(false), ToIdle::Notified);
        assert_eq!(s.load().refs(), 3);
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        assert_eq!(s.transition_to_idle(false), ToIdle::Idle);
        assert_eq!(s.load().refs(), 2);
        assert_eq!(s.transition_to_notified_by_ref(), Wake::Submit);
        assert_eq!(s.load().refs(), 3);
    }

    #[test]
    fn wake_after_complete_does_nothing() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        let prev = s.transition_to_complete();
        assert!(prev.has(JOIN_INTEREST));
        assert_eq!(s.transition_to_notified_by_ref(), Wake::Nothing);
        assert_eq!(s.transition_to_cancelled(), Wake::Nothing);
        assert!(!s.transition_to_shutdown());
        assert_eq!(s.transition_to_running(), ToRunning::Stale);
    }

    #[test]
    fn abort_of_idle_task_queues_it_cancelled() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        assert_eq!(s.transition_to_idle(false), ToIdle::Idle);
        assert_eq!(s.transition_to_cancelled(), Wake::Submit);
        assert_eq!(s.transition_to_cancelled(), Wake::Nothing);
        assert_eq!(s.transition_to_running(), ToRunning::Cancel);
    }

    #[test]
    fn last_reference_is_reported_once() {
        let s = State::new();
        assert!(!s.ref_dec(1));
        assert!(!s.ref_dec(1));
        assert!(s.ref_dec(1));
    }

    #[test]
    fn polls_are_counted_beside_the_references_and_wrap_alone() {
        let s = State::new();
        for _ in 0..3 {
            assert_eq!(s.transition_to_running(), ToRunning::Poll);
            assert_eq!(s.transition_to_idle(true), ToIdle::Notified);
        }
        let expect = if cfg!(target_pointer_width = "64") {
            3
        } else {
            0
        };
        assert_eq!(s.load().polls(), expect);
        assert_eq!(s.load().refs(), 3);
        // The count wraps without carrying into the references.
        let full = Snapshot(INITIAL | usize::MAX.checked_shl(POLL_SHIFT).unwrap_or(0));
        let next = Snapshot(full.0.wrapping_add(POLL_ONE));
        assert_eq!(next.polls(), 0);
        assert_eq!(next.refs(), 3);
    }

    #[test]
    fn debug_lists_flags() {
        let s = State::new();
        assert_eq!(
            format!("{:?}", s.load()),
            "[\"NOTIFIED\", \"JOIN_INTEREST\", refs=3]"
        );
    }
}

//! The cooperative budget: how many times a task may find a resource ready in one poll.
//!
//! A future that loops over resources that are always ready (a socket with data waiting,
//! a timer already due, a finished `JoinHandle`) never returns `Pending` by itself, so
//! without a budget it would hold its worker for as long as the resources stay ready:
//! every other task, timer and I/O wake-up queued on that worker waits.
//!
//! So every poll of a task starts with a budget of [`BUDGET`] units (on a runtime built
//! with a seed, a number of units from 1 to [`BUDGET`] drawn before each poll, so that
//! the forced yields land at different awaits from one seed to the next). Each weft resource
//! that is ready spends one unit ([`poll_proceed`]) before doing its work; when the budget
//! is spent, the resource wakes the task and returns `Pending` instead, and the task goes
//! to the back of the queue. A resource that turns out not to be ready gives its unit back
//! (the guard [`RestoreOnPending`] does that unless told the resource
//! [made progress](RestoreOnPending::made_progress)).
//!
//! Outside a budgeted poll (a thread of its own, another executor's task, or inside
//! [`unconstrained`]) the budget is unlimited and resources never refuse.
//!
//! While the budget lasts, spending a unit is a thread-local read and write, nothing
//! shared.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Units a task may spend in one poll. Measured (`cargo bench -p weft-benches --bench budget`, and the
/// sizes in `docs/measuring.md`): a hot socket reader's throughput is the same as without a
/// budget, while a timer beside it is late by a few hundred microseconds; at 255 the
/// lateness grows several times.
pub const BUDGET: u8 = 128;

/// `None`: unlimited. `Some(n)`: `n` units left in this poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Budget(Option<u8>);

/// A thread's budget, and the budget its next poll starts with.
struct Coop {
    budget: Cell<Budget>,
    /// `BUDGET`, except on the thread of a seeded runtime's `block_on`, whose scheduler
    /// draws it before each poll (`scheduler/seeded.rs`). In the same thread-local as the
    /// budget: reading it costs a load from a line `with_budget` writes anyway.
    start: Cell<u8>,
}

// The loom models run their threads as coroutines on one OS thread: each needs its own.
#[cfg(not(weft_loom))]
std::thread_local! {
    static CURRENT: Coop = const {
        Coop { budget: Cell::new(Budget(None)), start: Cell::new(BUDGET) }
    };
}
#[cfg(weft_loom)]
loom::thread_local! {
    static CURRENT: Coop = Coop { budget: Cell::new(Budget(None)), start: Cell::new(BUDGET) };
}

fn get() -> Budget {
    // During thread-local destruction: unlimited.
    CURRENT.try_with(|c| c.budget.get()).unwrap_or(Budget(None))
}

fn set(b: Budget) {
    let _ = CURRENT.try_with(|c| c.budget.set(b));
}

/// Runs `f` with a fresh budget, restoring the previous one after (also on unwind): the
/// runner of a task poll and `block_on`'s polls go through here.
#[inline]
pub(crate) fn with_budget<R>(f: impl FnOnce() -> R) -> R {
    let prev = CURRENT
        .try_with(|c| c.budget.replace(Budget(Some(c.start.get()))))
        .unwrap_or(Budget(None));
    let _reset = Reset(prev);
    f()
}

/// The budget the next polls on this thread start with (`BUDGET` unless a seeded
/// scheduler draws it: see `scheduler/seeded.rs`, which puts `BUDGET` back when its
/// `block_on` returns).
pub(crate) fn set_poll_budget(units: u8) {
    let _ = CURRENT.try_with(|c| c.start.set(units));
}

/// Runs `f` with no budget, restoring the current one after (also on unwind).
#[inline]
pub(crate) fn with_unlimited<R>(f: impl FnOnce() -> R) -> R {
    let prev = CURRENT
        .try_with(|c| c.budget.replace(Budget(None)))
        .unwrap_or(Budget(None));
    let _reset = Reset(prev);
    f()
}

/// Puts a saved budget back when dropped.
struct Reset(Budget);

impl Drop for Reset {
    fn drop(&mut self) {
        set(self.0);
    }
}

/// Spends one unit of the current task's budget before a resource does its work.
///
/// Returns `Pending` (after waking the task, so it runs again soon, behind the tasks
/// queued before it) when the budget is spent. Otherwise returns a guard that gives the
/// unit back when dropped, unless [`made_progress`](RestoreOnPending::made_progress) is
/// called: call it once the resource was ready, so a resource that finds nothing to do
/// costs nothing.
///
/// This is what weft's own sockets, timers and `JoinHandle`s do; call it from a resource
/// of your own so that it shares the budget.
///
/// # Examples
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
///
/// /// A resource that is always ready.
/// struct AlwaysReady;
///
/// impl Future for AlwaysReady {
///     type Output = ();
///     fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
///         let coop = std::task::ready!(weft_executor::coop::poll_proceed(cx));
///         coop.made_progress();
///         Poll::Ready(())
///     }
/// }
///
/// let rt = weft_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     for _ in 0..1_000 {
///         AlwaysReady.await; // returns Pending once every 128 times
///     }
/// });
/// ```
#[inline]
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<RestoreOnPending> {
    match get() {
        Budget(None) => Poll::Ready(RestoreOnPending(None)),
        Budget(Some(0)) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Budget(Some(n)) => {
            set(Budget(Some(n - 1)));
            Poll::Ready(RestoreOnPending(Some(n)))
        }
    }
}

/// Gives back the unit [`poll_proceed`] spent, unless the resource made progress.
#[derive(Debug)]
#[must_use = "dropping the guard at once gives the unit back"]
pub struct RestoreOnPending(Option<u8>);

impl RestoreOnPending {
    /// The resource was ready and did its work: the unit stays spent.
    #[inline]
    pub fn made_progress(mut self) {
        self.0 = None;
    }
}

impl Drop for RestoreOnPending {
    #[inline]
    fn drop(&mut self) {
        if let Some(before) = self.0 {
            set(Budget(Some(before)));
        }
    }
}

/// False once the current task has spent its budget, so that a resource polled now would
/// return `Pending`; true while units remain or outside a budgeted poll. (`timeout` uses
/// it to still look at its deadline when its future spent the budget.)
pub fn has_budget_remaining() -> bool {
    get() != Budget(Some(0))
}

/// Spends one unit of the budget, yielding to the scheduler when it is spent: call it in
/// loops that do work without touching a weft resource (or whose resources are not
/// weft's), so they take turns with other tasks like weft's resources do.
///
/// # Examples
///
/// ```
/// let rt = weft_executor::Runtime::new().unwrap();
/// let sum = rt.block_on(async {
///     let mut sum = 0u64;
///     for i in 0..10_000u64 {
///         sum += i;
///         weft_executor::coop::consume_budget().await; // yields every 128 turns
///     }
///     sum
/// });
/// assert_eq!(sum, 49_995_000);
/// ```
pub async fn consume_budget() {
    let mut done = false;
    std::future::poll_fn(|cx| {
        if done {
            return Poll::Ready(());
        }
        let coop = std::task::ready!(poll_proceed(cx));
        coop.made_progress();
        done = true;
        Poll::Ready(())
    })
    .await
}

/// Runs `future` without a budget: weft's resources inside it never return `Pending`
/// because of the budget. Use it for a future that must not be interrupted (and that
/// you know returns `Pending` often enough by itself); the rest of the task keeps its
/// budget.
///
/// # Examples
///
/// ```
/// let rt = weft_executor::Runtime::new().unwrap();
/// rt.block_on(weft_executor::coop::unconstrained(async {
///     for _ in 0..1_000 {
///         weft_executor::coop::consume_budget().await; // never yields here
///     }
/// }));
/// ```
pub fn unconstrained<F: Future>(future: F) -> Unconstrained<F> {
    Unconstrained { future }
}

pin_project_lite::pin_project! {
    /// The future returned by [`unconstrained`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless awaited"]
    pub struct Unconstrained<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Unconstrained<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let future = self.project().future;
        with_unlimited(|| future.poll(cx))
    }
}

#[cfg(all(test, not(weft_loom)))]
mod tests {
    use super::*;
    use std::task::Waker;

    fn spend_all(cx: &mut Context<'_>) -> usize {
        let mut n = 0;
        while let Poll::Ready(g) = poll_proceed(cx) {
            g.made_progress();
            n += 1;
            assert!(n <= 1_000, "the budget never ran out");
        }
        n
    }

    #[test]
    fn a_budgeted_poll_gets_budget_units_then_pending() {
        let mut cx = Context::from_waker(Waker::noop());
        let n = with_budget(|| spend_all(&mut cx));
        assert_eq!(n, BUDGET as usize);
        // Outside: unlimited again.
        for _ in 0..1_000 {
            assert!(poll_proceed(&mut cx).is_ready());
        }
    }

    #[test]
    fn a_unit_not_marked_as_progress_is_given_back() {
        let mut cx = Context::from_waker(Waker::noop());
        with_budget(|| {
            for _ in 0..10 * BUDGET as usize {
                let Poll::Ready(g) = poll_proceed(&mut cx) else {
                    panic!("a restored unit was lost");
                };
                drop(g);
            }
            assert!(has_budget_remaining());
        });
    }

    #[test]
    fn unconstrained_lifts_the_budget_and_restores_it() {
        let mut cx = Context::from_waker(Waker::noop());
        with_budget(|| {
            let Poll::Ready(unit) = poll_proceed(&mut cx) else {
                panic!("a fresh budget refused");
            };
            unit.made_progress();
            let mut inner = std::pin::pin!(unconstrained(std::future::poll_fn(|cx| {
                for _ in 0..1_000 {
                    assert!(poll_proceed(cx).is_ready());
                }
                Poll::Ready(())
            })));
            assert!(inner.as_mut().poll(&mut cx).is_ready());
            assert_eq!(spend_all(&mut cx), BUDGET as usize - 1);
        });
    }
}

//! Running a future to completion on the calling (non-worker) thread.

use crate::scheduler::context;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// How long a `block_on` thread looks for its wake-up before it parks, when its waits
/// have been that short (see `scheduler/spin.rs`): a blocking-pool call of a few
/// microseconds then returns without a futex wake (`fs::read` in a loop from `block_on`:
/// 2.8x faster with 50 us than with 0; 20 and 100 do as well: docs/measuring.md).
const BLOCK_ON_SPIN: Duration = Duration::from_micros(50);

/// Polls `future` on this thread, parking the thread between polls, until it completes.
///
/// This is the executor-independent core of [`Runtime::block_on`](crate::Runtime::block_on);
/// it does not enter a runtime, so tasks cannot be spawned from `future` with
/// [`spawn`](crate::spawn) unless a runtime was entered.
///
/// # Panics
///
/// When called on a worker thread or inside another `block_on`: blocking there would
/// stall the runtime. `.await` the future instead.
///
/// # Examples
///
/// ```
/// let v = weft_executor::block_on(async { 1 + 1 });
/// assert_eq!(v, 2);
/// ```
#[track_caller]
pub fn block_on<F: Future>(future: F) -> F::Output {
    let _guard = context::enter_block_on();
    let mut future = pin!(future);
    context::with_thread_waker(|waker| {
        let mut cx = Context::from_waker(waker);
        loop {
            // Each poll gets a fresh cooperative budget, as a task's does (`coop.rs`).
            if let Poll::Ready(v) = crate::coop::with_budget(|| future.as_mut().poll(&mut cx)) {
                return v;
            }
            // A wake that came before this wait is not lost (see `wait_for_thread_wake`).
            context::wait_for_thread_wake(BLOCK_ON_SPIN);
        }
    })
}

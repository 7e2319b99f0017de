//! Running a future to completion on the calling (non-worker) thread.

use crate::scheduler::context;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};
use std::thread;

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
            // A wake that came before this park left a token: `park` returns at once.
            thread::park();
        }
    })
}

//! Giving the worker to other tasks for a moment.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields to the scheduler once: the task goes to the back of its worker's queue (not
/// to the LIFO slot), so every task queued before it runs first.
///
/// # Examples
///
/// ```
/// let rt = weft_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let h = weft_executor::spawn(async {
///         for _ in 0..3 {
///             weft_executor::yield_now().await;
///         }
///         "done"
///     });
///     assert_eq!(h.await.unwrap(), "done");
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // Polled by its own task's runner: tell the runner, which requeues the task as it
        // marks it idle (one state transition). Otherwise a wake during the task's own
        // poll marks it NOTIFIED; when the poll returns the runner puts it at the back of
        // the local queue.
        if !crate::task::waker::request_yield(cx.waker()) {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

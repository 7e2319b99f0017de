//! `TaskTracker`: counts tasks, and waits until it is closed and the count is zero.
//!
//! One atomic word: bit 0 is "closed", the rest counts tracked tasks (in steps of 2).
//! Whoever makes the word exactly `CLOSED` (closing with no task left, or the last task
//! ending after the close) notifies the waiters, outside any lock.

use event_listener::{Event, EventListener};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use weft_executor::JoinHandle;

const CLOSED: usize = 1;
const ONE_TASK: usize = 2;

struct Inner {
    state: AtomicUsize,
    event: Event,
}

impl Inner {
    fn is_done(&self) -> bool {
        self.state.load(Ordering::Acquire) == CLOSED
    }

    fn notify_done(&self) {
        self.event.notify(usize::MAX);
    }
}

/// Tracks spawned tasks so that a shutdown can wait for all of them (as tokio-util's).
///
/// [`wait`](Self::wait) completes once the tracker is [closed](Self::close) *and* every
/// tracked task has finished; before the close it does not complete, even with no task
/// running, so tasks spawned while a server still accepts are not missed. A task counts
/// until its future is dropped: when it completes, or when it is aborted.
///
/// ```
/// use std::time::Duration;
/// use weft::sync::TaskTracker;
///
/// weft::run(async {
///     let tracker = TaskTracker::new();
///     for i in 0..3u64 {
///         tracker.spawn(async move { weft::time::sleep(Duration::from_millis(i)).await });
///     }
///     tracker.close(); // no more tasks will be added
///     tracker.wait().await;
///     assert!(tracker.is_empty());
/// });
/// ```
#[derive(Clone)]
pub struct TaskTracker {
    inner: Arc<Inner>,
}

impl TaskTracker {
    /// A new, open, empty tracker.
    pub fn new() -> TaskTracker {
        TaskTracker {
            inner: Arc::new(Inner {
                state: AtomicUsize::new(0),
                event: Event::new(),
            }),
        }
    }

    /// Spawns `future` on the current runtime, tracked until it completes or is aborted.
    ///
    /// # Panics
    ///
    /// Outside a weft runtime, as [`weft::spawn`](crate::spawn).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        weft_executor::spawn(self.track_future(future))
    }

    /// Wraps `future` so that it is tracked until it completes or is dropped.
    pub fn track_future<F: Future>(&self, future: F) -> TrackedFuture<F> {
        TrackedFuture {
            future,
            _token: self.token(),
        }
    }

    /// A token counting as one tracked task until dropped.
    pub fn token(&self) -> TaskTrackerToken {
        self.inner.state.fetch_add(ONE_TASK, Ordering::Relaxed);
        TaskTrackerToken {
            inner: self.inner.clone(),
        }
    }

    /// Closes the tracker: [`wait`](Self::wait) can now complete. Tasks can still be
    /// spawned through it. Returns whether this call closed it.
    pub fn close(&self) -> bool {
        let before = self.inner.state.fetch_or(CLOSED, Ordering::AcqRel);
        if before == 0 {
            self.inner.notify_done();
        }
        before & CLOSED == 0
    }

    /// Opens the tracker again. Returns whether this call opened it.
    pub fn reopen(&self) -> bool {
        let before = self.inner.state.fetch_and(!CLOSED, Ordering::AcqRel);
        before & CLOSED != 0
    }

    /// Whether the tracker is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Tracked tasks (and tokens) not yet finished.
    pub fn len(&self) -> usize {
        self.inner.state.load(Ordering::Acquire) / ONE_TASK
    }

    /// Whether no tracked task is left.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Completes once the tracker is closed and empty. Cancellation-safe.
    pub fn wait(&self) -> TrackerWait<'_> {
        TrackerWait {
            inner: &self.inner,
            listener: None,
        }
    }
}

impl Default for TaskTracker {
    fn default() -> TaskTracker {
        TaskTracker::new()
    }
}

impl fmt::Debug for TaskTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskTracker")
            .field("len", &self.len())
            .field("is_closed", &self.is_closed())
            .finish()
    }
}

/// One tracked task, for as long as it lives; see [`TaskTracker::token`].
pub struct TaskTrackerToken {
    inner: Arc<Inner>,
}

impl TaskTrackerToken {
    /// The tracker this token counts in.
    pub fn task_tracker(&self) -> TaskTracker {
        TaskTracker {
            inner: self.inner.clone(),
        }
    }
}

impl Drop for TaskTrackerToken {
    fn drop(&mut self) {
        let before = self.inner.state.fetch_sub(ONE_TASK, Ordering::AcqRel);
        if before == ONE_TASK | CLOSED {
            self.inner.notify_done();
        }
    }
}

impl fmt::Debug for TaskTrackerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskTrackerToken").finish_non_exhaustive()
    }
}

pin_project_lite::pin_project! {
    /// A future tracked by a [`TaskTracker`]; see [`TaskTracker::track_future`].
    pub struct TrackedFuture<F> {
        #[pin]
        future: F,
        _token: TaskTrackerToken,
    }
}

impl<F: Future> Future for TrackedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().future.poll(cx)
    }
}

impl<F> fmt::Debug for TrackedFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackedFuture").finish_non_exhaustive()
    }
}

/// The future of [`TaskTracker::wait`].
pub struct TrackerWait<'a> {
    inner: &'a Inner,
    listener: Option<EventListener>,
}

impl Future for TrackerWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            if this.inner.is_done() {
                this.listener = None;
                return Poll::Ready(());
            }
            match &mut this.listener {
                // Listening before checking again: a transition in between notifies it.
                None => this.listener = Some(this.inner.event.listen()),
                Some(l) => match Pin::new(l).poll(cx) {
                    Poll::Ready(()) => this.listener = None,
                    Poll::Pending => return Poll::Pending,
                },
            }
        }
    }
}

impl fmt::Debug for TrackerWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackerWait").finish_non_exhaustive()
    }
}

//! `JoinHandle` and `AbortHandle`: the spawner's side of a task.

use super::cell::{Header, RawTask};
use super::error::JoinError;
use super::id::Id;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

/// An owned permission to await a task's output.
///
/// Awaiting it yields `Ok(output)`, or a [`JoinError`] if the task panicked or was
/// cancelled. Dropping it detaches the task, which keeps running; its output is then
/// dropped when it finishes (and a panic is reported to the runtime's panic hook, see
/// [`Builder::on_task_panic`](crate::Builder::on_task_panic)).
///
/// # Examples
///
/// ```
/// let rt = weft_executor::Runtime::new().unwrap();
/// let sum = rt.block_on(async {
///     let a = weft_executor::spawn(async { 20 });
///     let b = weft_executor::spawn(async { 22 });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(sum, 42);
/// ```
pub struct JoinHandle<T> {
    raw: RawTask<T>,
}

// SAFETY: the handle only moves a `T` out (needs `T: Send`), and all shared state is
// synchronised by the task's state word.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only allows `abort`, `is_finished` and `abort_handle`, which are
// atomic operations on the state word.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// Takes over one reference to the task.
    /// The task's header (for the loom models' checks of what it counts).
    #[cfg(all(test, weft_loom))]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the handle holds a reference.
        unsafe { self.raw.ptr.as_ref() }
    }

    pub(crate) fn new(ptr: NonNull<Header>) -> JoinHandle<T> {
        JoinHandle {
            raw: RawTask::new(ptr),
        }
    }

    /// Cancels the task. If it is idle it is dropped soon on a worker; if it is being
    /// polled it is dropped when that poll returns `Pending` (a poll that completes the
    /// task keeps its output); if it already finished, nothing happens and awaiting the
    /// handle still yields the output.
    ///
    /// A cancelled task's handle resolves to a [`JoinError`] with
    /// [`is_cancelled()`](JoinError::is_cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::pending;
    /// let rt = weft_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let h = weft_executor::spawn(pending::<()>());
    ///     h.abort();
    ///     assert!(h.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        Header::abort(self.raw.ptr);
    }

    /// True once the task has finished (with an output, a panic, or a cancellation).
    pub fn is_finished(&self) -> bool {
        Header::is_complete(self.raw.ptr)
    }

    /// The task's id (see [`Id`]): the same as [`task_id`](crate::task_id) inside it.
    pub fn id(&self) -> Id {
        Header::id_of(self.raw.ptr)
    }

    /// A handle that can abort the task but not await it; it may outlive this one.
    pub fn abort_handle(&self) -> AbortHandle {
        Header::ref_inc(self.raw.ptr);
        AbortHandle { ptr: self.raw.ptr }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // A finished task's output is a ready resource: it spends a unit of the budget
        // (see `coop.rs`), so a loop over finished handles takes turns with other tasks.
        let coop = std::task::ready!(crate::coop::poll_proceed(cx));
        let mut out = Poll::Pending;
        self.raw.try_read_output(&mut out, cx.waker());
        if out.is_ready() {
            coop.made_progress();
        }
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        self.raw.drop_join_handle();
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// A handle that can cancel a task, without access to its output.
///
/// # Examples
///
/// ```
/// use std::future::pending;
/// let rt = weft_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let h = weft_executor::spawn(pending::<()>());
///     let abort = h.abort_handle();
///     abort.abort();
///     assert!(h.await.unwrap_err().is_cancelled());
///     assert!(abort.is_finished());
/// });
/// ```
pub struct AbortHandle {
    ptr: NonNull<Header>,
}

// SAFETY: only atomic operations on the state word go through an AbortHandle.
unsafe impl Send for AbortHandle {}
// SAFETY: shared between threads, an AbortHandle offers only `abort` and `is_finished`,
// atomic operations on the state word.
unsafe impl Sync for AbortHandle {}

impl AbortHandle {
    /// Cancels the task; see [`JoinHandle::abort`].
    pub fn abort(&self) {
        Header::abort(self.ptr);
    }

    /// True once the task has finished.
    pub fn is_finished(&self) -> bool {
        Header::is_complete(self.ptr)
    }

    /// The task's id (see [`JoinHandle::id`]).
    pub fn id(&self) -> Id {
        Header::id_of(self.ptr)
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> Self {
        Header::ref_inc(self.ptr);
        AbortHandle { ptr: self.ptr }
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        Header::ref_dec(self.ptr);
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

//! Task-local values: asyncio's `contextvars`, scoped to a future.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Declares task-local keys: values set for the duration of a future with
/// [`LocalKey::scope`], and read inside it (and in the functions it calls) with
/// [`with`](LocalKey::with), [`try_with`](LocalKey::try_with) and [`get`](LocalKey::get).
///
/// A task-local belongs to the future given to `scope`, wherever it is polled: when that
/// future is moved to another worker, the value goes with it.
///
/// # Examples
///
/// ```
/// weft_executor::task_local! {
///     static REQUEST_ID: u64;
/// }
///
/// async fn handle() -> u64 {
///     REQUEST_ID.get() * 10
/// }
///
/// let rt = weft_executor::Runtime::new().unwrap();
/// let out = rt.block_on(REQUEST_ID.scope(7, async {
///     weft_executor::yield_now().await;
///     handle().await
/// }));
/// assert_eq!(out, 70);
/// assert!(REQUEST_ID.try_with(|_| ()).is_err()); // outside the scope
/// ```
#[macro_export]
macro_rules! task_local {
    ($($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty;)+) => {$(
        $(#[$attr])*
        $vis static $name: $crate::LocalKey<$t> = {
            ::std::thread_local! {
                static __WEFT_TASK_LOCAL: ::std::cell::RefCell<::std::option::Option<$t>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            $crate::LocalKey::__new(&__WEFT_TASK_LOCAL)
        };
    )+};
}

/// A key declared with [`task_local!`].
pub struct LocalKey<T: 'static> {
    slot: &'static std::thread::LocalKey<RefCell<Option<T>>>,
}

/// The error of [`LocalKey::try_with`] outside a scope of the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessError(());

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task-local value not set: read it inside a `scope` of its key")
    }
}

impl std::error::Error for AccessError {}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn __new(slot: &'static std::thread::LocalKey<RefCell<Option<T>>>) -> Self {
        LocalKey { slot }
    }

    /// Runs `future` with the key set to `value`.
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture {
            key: self,
            value: Some(value),
            future: Some(future),
        }
    }

    /// Runs `f` with the key set to `value`, synchronously.
    pub fn sync_scope<R>(&'static self, value: T, f: impl FnOnce() -> R) -> R {
        let mut value = Some(value);
        let _guard = Swap::new(self, &mut value);
        f()
    }

    /// Calls `f` with a reference to the value.
    ///
    /// # Panics
    ///
    /// Outside a scope of the key; see [`try_with`](LocalKey::try_with).
    #[track_caller]
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        match self.try_with(f) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// Calls `f` with a reference to the value, or returns an error outside a scope.
    pub fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, AccessError> {
        self.slot
            .try_with(|cell| cell.borrow().as_ref().map(f))
            .ok()
            .flatten()
            .ok_or(AccessError(()))
    }

    /// A copy of the value.
    ///
    /// # Panics
    ///
    /// Outside a scope of the key.
    #[track_caller]
    pub fn get(&'static self) -> T
    where
        T: Clone,
    {
        self.with(T::clone)
    }
}

impl<T: Clone + 'static> LocalKey<T> {
    /// A copy of the value, or an error outside a scope of the key (the [`get`] that does
    /// not panic).
    ///
    /// [`get`]: LocalKey::get
    ///
    /// # Examples
    ///
    /// ```
    /// weft_executor::task_local! {
    ///     static USER: String;
    /// }
    ///
    /// assert!(USER.try_get().is_err()); // outside any scope
    /// let rt = weft_executor::Runtime::new().unwrap();
    /// let name = rt.block_on(USER.scope("ada".to_string(), async { USER.try_get() }));
    /// assert_eq!(name.unwrap(), "ada");
    /// ```
    pub fn try_get(&'static self) -> Result<T, AccessError> {
        self.try_with(T::clone)
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalKey { .. }")
    }
}

/// Puts a value in the thread's slot for the key and takes it back on drop (also when
/// the inner poll panics).
struct Swap<'a, T: 'static> {
    key: &'static LocalKey<T>,
    value: &'a mut Option<T>,
}

impl<'a, T: 'static> Swap<'a, T> {
    fn new(key: &'static LocalKey<T>, value: &'a mut Option<T>) -> Self {
        key.slot
            .with(|cell| std::mem::swap(&mut *cell.borrow_mut(), value));
        Swap { key, value }
    }
}

impl<'a, T: 'static> Swap<'a, T> {
    /// `new`, or nothing where the slot is gone or borrowed.
    fn try_new(key: &'static LocalKey<T>, value: &'a mut Option<T>) -> Option<Self> {
        let swapped = key
            .slot
            .try_with(|cell| match cell.try_borrow_mut() {
                Ok(mut slot) => {
                    std::mem::swap(&mut *slot, value);
                    true
                }
                Err(_) => false,
            })
            .unwrap_or(false);
        swapped.then_some(Swap { key, value })
    }
}

impl<T: 'static> Drop for Swap<'_, T> {
    fn drop(&mut self) {
        let _ = self
            .key
            .slot
            .try_with(|cell| std::mem::swap(&mut *cell.borrow_mut(), self.value));
    }
}

pin_project_lite::pin_project! {
    /// A future with a task-local value set while it runs; see [`LocalKey::scope`].
    ///
    /// The value is also set while the inner future is dropped, so its destructors can
    /// read it (when the task is aborted, or dropped at shutdown).
    pub struct TaskLocalFuture<T: 'static, F> {
        key: &'static LocalKey<T>,
        value: Option<T>,
        // `None` once dropped (by our own drop, inside the scope).
        #[pin]
        future: Option<F>,
    }

    impl<T: 'static, F> PinnedDrop for TaskLocalFuture<T, F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if this.future.is_some() {
                // If the slot cannot be borrowed (thread-local destruction, or a drop from
                // inside a `with` of the same key), the future is dropped without it.
                let _guard = Swap::try_new(this.key, this.value);
                this.future.set(None);
            }
        }
    }
}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _guard = Swap::new(this.key, this.value);
        match this.future.as_pin_mut() {
            Some(future) => future.poll(cx),
            None => unreachable!("a TaskLocalFuture polled after it was dropped"),
        }
    }
}

impl<T: 'static, F> TaskLocalFuture<T, F> {
    /// Takes the value out of the future: `Some` the first time, `None` once taken.
    ///
    /// Usually called once the future has completed, to get back a value the future
    /// changed. Taken before, the value is gone for the rest of the future: inside it, the
    /// key then reads as not set.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// weft_executor::task_local! {
    ///     static HITS: Cell<u32>;
    /// }
    ///
    /// let rt = weft_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut fut = Box::pin(HITS.scope(Cell::new(0), async {
    ///         HITS.with(|h| h.set(h.get() + 2));
    ///     }));
    ///     fut.as_mut().await;
    ///     assert_eq!(fut.as_mut().take_value().map(Cell::into_inner), Some(2));
    ///     assert!(fut.as_mut().take_value().is_none());
    /// });
    /// ```
    pub fn take_value(self: Pin<&mut Self>) -> Option<T> {
        // Outside a poll, the value is here (not in the thread's slot).
        self.project().value.take()
    }
}

impl<T: 'static, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskLocalFuture { .. }")
    }
}

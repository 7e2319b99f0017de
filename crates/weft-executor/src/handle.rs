//! `Handle`: a cheap reference to a runtime, to spawn onto it and enter it from anywhere;
//! the free functions `spawn` and `spawn_blocking` on the current runtime.

use crate::metrics::RuntimeMetrics;
use crate::scheduler::context;
use crate::scheduler::Shared;
use crate::task::spawned::Spawned;
use crate::task::JoinHandle;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

/// A cheap, cloneable reference to a runtime: spawn onto it from any thread.
///
/// # Examples
///
/// ```
/// let rt = weft_executor::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let from_thread = std::thread::spawn(move || {
///     weft_executor::block_on(handle.spawn(async { 7 })).unwrap()
/// });
/// assert_eq!(from_thread.join().unwrap(), 7);
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

const NO_RUNTIME: &str = "there is no weft runtime on this thread: call this from inside \
`weft::run` / `Runtime::block_on` or a task spawned on a runtime, or enter one with \
`Handle::enter`";

/// The error of [`Handle::try_current`] outside a runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NO_RUNTIME)
    }
}

impl std::error::Error for TryCurrentError {}

impl Handle {
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Handle {
        Handle { shared }
    }

    /// The runtime this thread is in.
    ///
    /// # Panics
    ///
    /// Outside a runtime, with a message that says how to enter one. Use
    /// [`try_current`](Handle::try_current) to check instead.
    #[track_caller]
    pub fn current() -> Handle {
        match context::current() {
            Some(shared) => Handle { shared },
            None => panic!("{NO_RUNTIME}"),
        }
    }

    /// The runtime this thread is in, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_executor::Handle::try_current().is_err());
    /// let rt = weft_executor::Runtime::new().unwrap();
    /// rt.block_on(async { assert!(weft_executor::Handle::try_current().is_ok()) });
    /// ```
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::current()
            .map(Handle::from_shared)
            .ok_or(TryCurrentError(()))
    }

    /// Spawns a task. Called on one of this runtime's workers it goes to that worker's
    /// LIFO slot; from elsewhere to the global injector, waking a worker if none is awake
    /// to take it. If the runtime has shut down, the task is dropped at once and its
    /// handle resolves to a cancelled error.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.spawn(future, Spawned::at(Location::caller()))
    }

    /// Runs `f` on the blocking pool and returns a handle to its result. `abort` cancels
    /// it only if it has not started.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft_executor::Runtime::new().unwrap();
    /// let n = rt.block_on(async {
    ///     weft_executor::spawn_blocking(|| std::fs::read_dir(".").unwrap().count())
    ///         .await
    ///         .unwrap()
    /// });
    /// assert!(n > 0);
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.shared
            .blocking
            .spawn(f, Spawned::at(Location::caller()))
    }

    /// Makes this runtime the current one on this thread until the guard drops, so
    /// [`spawn`](crate::spawn) and [`Handle::current`] work here.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft_executor::Runtime::new().unwrap();
    /// let _guard = rt.handle().enter();
    /// let h = weft_executor::spawn(async { 1 });
    /// drop(_guard);
    /// assert_eq!(rt.block_on(h).unwrap(), 1);
    /// ```
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            _guard: context::enter(self.shared.clone()),
            _handle: std::marker::PhantomData,
        }
    }

    /// The service of type `T` plugged in with [`Builder::extension`](crate::Builder::extension), if any.
    pub fn extension<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.shared.config.extension::<T>()
    }

    /// Like `Handle::current().extension::<T>()`, without cloning the handle: `None`
    /// outside a runtime or if the runtime has no such service.
    pub fn current_extension<T: Any + Send + Sync>() -> Option<Arc<T>> {
        context::with_current(|s| s.and_then(|s| s.config.extension::<T>()))
    }

    /// Runs `f` with the entered runtime's service of type `T`, borrowed (`None` outside a
    /// runtime or if the runtime has no such service): like
    /// [`current_extension`](Handle::current_extension) without touching the service's
    /// reference count, for a hot path that needs the service only for a moment.
    ///
    /// `f` runs while this thread's runtime context is borrowed: it must not enter or
    /// leave a runtime (`Handle::enter`, `block_on`), which panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use weft_executor::{Builder, Handle};
    ///
    /// struct Greeting(&'static str);
    /// let rt = Builder::new().extension(Arc::new(Greeting("hello"))).build().unwrap();
    /// let len = rt.block_on(async {
    ///     Handle::with_current_extension(|g: Option<&Greeting>| g.map_or(0, |g| g.0.len()))
    /// });
    /// assert_eq!(len, 5);
    /// assert_eq!(Handle::with_current_extension(|g: Option<&Greeting>| g.is_some()), false);
    /// ```
    #[inline]
    pub fn with_current_extension<T: Any + Send + Sync, R>(f: impl FnOnce(Option<&T>) -> R) -> R {
        context::with_current(|s| f(s.and_then(|s| s.config.extension_ref::<T>())))
    }

    /// The runtime's counters.
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::new(self.shared.clone())
    }

    /// The runtime's live tasks, each with its id, name, spawn location, state, polls so
    /// far and time since its last poll: see [`TaskDump`](crate::TaskDump) for what it
    /// shows and an example.
    pub fn dump(&self) -> crate::TaskDump {
        crate::TaskDump::take(&self.shared)
    }

    /// Takes the trace events the workers have handed over so far (they do every 61
    /// polls, before they sleep and when they stop: a busy worker's last few events come
    /// later). Empty unless the runtime was built with [`Builder::trace`](crate::Builder::trace); see
    /// [`Trace`](crate::Trace) for an example.
    pub fn take_trace(&self) -> crate::Trace {
        crate::scheduler::trace::take(
            self.shared.remotes.iter().map(|r| &r.trace),
            &self.shared.outside_trace,
        )
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.shared.num_workers())
            .finish_non_exhaustive()
    }
}

/// Returned by [`Handle::enter`]; leaves the runtime when dropped.
///
/// It is not `Send`: it changes the thread it was made on, so it is dropped there. Guards
/// of several runtimes may be dropped in any order: the runtime current afterwards is the
/// one entered last among the guards still alive, and none once all are gone.
///
/// ```compile_fail
/// let rt = weft_executor::Runtime::new().unwrap();
/// let guard = rt.enter();
/// std::thread::spawn(move || drop(guard)); // error: `EnterGuard` is not `Send`
/// ```
pub struct EnterGuard<'a> {
    _guard: context::EnterGuard,
    _handle: std::marker::PhantomData<&'a Handle>,
}

impl fmt::Debug for EnterGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnterGuard")
    }
}

/// Spawns a task on the current runtime.
///
/// # Panics
///
/// Outside a runtime: use `Runtime::block_on`, `Handle::enter`, or `Handle::spawn`.
///
/// # Examples
///
/// ```
/// let rt = weft_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let h = weft_executor::spawn(async { 2 + 2 });
///     assert_eq!(h.await.unwrap(), 4);
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // Borrow the current runtime rather than clone it: no reference-count traffic. (The
    // panic is outside the closure, so that it reports the caller's location; the closure
    // does not pass `#[track_caller]` on, so the location is taken here.)
    let mut future = Some(future);
    let at = Location::caller();
    match context::with_current(|s| s.map(|s| s.spawn(future.take().unwrap(), Spawned::at(at)))) {
        Some(join) => join,
        None => panic!("weft_executor::spawn: {NO_RUNTIME}"),
    }
}

/// Runs a blocking closure on the current runtime's blocking pool.
///
/// # Panics
///
/// Outside a runtime, like [`spawn`].
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let mut f = Some(f);
    let at = Location::caller();
    match context::with_current(|s| s.map(|s| s.blocking.spawn(f.take().unwrap(), Spawned::at(at))))
    {
        Some(join) => join,
        None => panic!("weft_executor::spawn_blocking: {NO_RUNTIME}"),
    }
}

//! `TaskBuilder`: spawning a task with a name (tokio's `task::Builder`).

use crate::handle::Handle;
use crate::local_set::LocalSet;
use crate::scheduler::context;
use crate::task::spawned::Spawned;
use crate::task::JoinHandle;
use std::future::Future;
use std::io;
use std::panic::Location;
use std::sync::Arc;

/// Spawns a task with a name, which the runtime shows wherever it names the task: panic
/// reports, traces, [`Handle::dump`] and slow-poll reports (with its id and where it was
/// spawned). Re-exported by weft as `weft::task::Builder`.
///
/// A name costs one small allocation at the spawn; a task without one stores only its
/// spawn location.
///
/// # Examples
///
/// ```
/// use weft_executor::{Runtime, TaskBuilder};
///
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     let h = TaskBuilder::new().name("conn 7").spawn(async { 7 }).unwrap();
///     assert_eq!(h.await.unwrap(), 7);
/// });
/// let h = TaskBuilder::new()
///     .name("checksum")
///     .spawn_blocking_on(|| 2 + 2, rt.handle())
///     .unwrap();
/// assert_eq!(rt.block_on(h).unwrap(), 4);
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct TaskBuilder<'a> {
    name: Option<&'a str>,
}

impl<'a> TaskBuilder<'a> {
    /// A builder for an unnamed task.
    pub fn new() -> TaskBuilder<'a> {
        TaskBuilder::default()
    }

    /// The task's name (need not be unique: its id is).
    pub fn name(self, name: &'a str) -> TaskBuilder<'a> {
        TaskBuilder { name: Some(name) }
    }

    fn spawned(self, at: &'static Location<'static>) -> Spawned {
        Spawned::new(at, self.name.map(Arc::from))
    }

    /// Spawns the task on the current runtime (see [`spawn`](crate::spawn)).
    ///
    /// # Errors
    ///
    /// None today: the `Result` is tokio's signature, kept for settings that may fail.
    ///
    /// # Panics
    ///
    /// Outside a runtime, like [`spawn`](crate::spawn).
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let at = Location::caller();
        let mut future = Some(future);
        match context::with_current(|s| {
            s.map(|s| s.spawn(future.take().unwrap(), self.spawned(at)))
        }) {
            Some(join) => Ok(join),
            None => panic!(
                "TaskBuilder::spawn outside a runtime: use spawn_on with a Handle, or call it \
                 from inside Runtime::block_on or a task"
            ),
        }
    }

    /// Spawns the task on the runtime of `handle` (see [`Handle::spawn`]).
    ///
    /// # Errors
    ///
    /// None today (see [`spawn`](Self::spawn)).
    #[track_caller]
    pub fn spawn_on<F>(self, future: F, handle: &Handle) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let at = Location::caller();
        Ok(handle.shared.spawn(future, self.spawned(at)))
    }

    /// Spawns a local task (its future need not be `Send`) on the set running on this
    /// thread (see [`spawn_local`](crate::spawn_local)).
    ///
    /// ```
    /// use std::rc::Rc;
    /// use weft_executor::{Builder, TaskBuilder};
    ///
    /// let rt = Builder::new_current_thread().build().unwrap();
    /// let v = rt.block_on(async {
    ///     let not_send = Rc::new(21);
    ///     let h = TaskBuilder::new()
    ///         .name("local worker")
    ///         .spawn_local(async move { *not_send * 2 })
    ///         .unwrap();
    ///     h.await.unwrap()
    /// });
    /// assert_eq!(v, 42);
    /// ```
    ///
    /// # Errors
    ///
    /// None today (see [`spawn`](Self::spawn)).
    ///
    /// # Panics
    ///
    /// Where no set of local tasks runs, like [`spawn_local`](crate::spawn_local).
    #[track_caller]
    pub fn spawn_local<F>(self, future: F) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let at = Location::caller();
        Ok(crate::local_set::spawn_local_as(future, self.spawned(at)))
    }

    /// Spawns a local task onto `set` (see [`LocalSet::spawn_local`]).
    ///
    /// # Errors
    ///
    /// None today (see [`spawn`](Self::spawn)).
    #[track_caller]
    pub fn spawn_local_on<F>(self, future: F, set: &LocalSet) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let at = Location::caller();
        Ok(set.spawn_local_as(future, self.spawned(at)))
    }

    /// Runs `f` on the current runtime's blocking pool (see
    /// [`spawn_blocking`](crate::spawn_blocking)).
    ///
    /// # Errors
    ///
    /// None today (see [`spawn`](Self::spawn)).
    ///
    /// # Panics
    ///
    /// Outside a runtime, like [`spawn_blocking`](crate::spawn_blocking).
    #[track_caller]
    pub fn spawn_blocking<F, R>(self, f: F) -> io::Result<JoinHandle<R>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let at = Location::caller();
        let mut f = Some(f);
        match context::with_current(|s| {
            s.map(|s| s.blocking.spawn(f.take().unwrap(), self.spawned(at)))
        }) {
            Some(join) => Ok(join),
            None => panic!(
                "TaskBuilder::spawn_blocking outside a runtime: use spawn_blocking_on with a \
                 Handle, or call it from inside Runtime::block_on or a task"
            ),
        }
    }

    /// Runs `f` on the blocking pool of `handle`'s runtime.
    ///
    /// # Errors
    ///
    /// None today (see [`spawn`](Self::spawn)).
    #[track_caller]
    pub fn spawn_blocking_on<F, R>(self, f: F, handle: &Handle) -> io::Result<JoinHandle<R>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let at = Location::caller();
        Ok(handle.shared.blocking.spawn(f, self.spawned(at)))
    }
}

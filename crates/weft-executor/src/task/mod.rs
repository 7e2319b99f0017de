//! Tasks: one allocation each (the cell), a state word, wakers that point at the cell,
//! and the handles around it.
//!
//! - `state`: the flag bits and reference count, with the invariant of each bit.
//! - `cell`: the allocation and the type-erased functions that poll, complete and free it.
//! - `waker`: `Waker`s built on the cell, with no allocation.
//! - `join`: `JoinHandle` and `AbortHandle`.
//! - `list`: the runtime's sharded list of owned tasks, used to drop them all at shutdown.
//! - `alloc`: per-worker caches of free cells.
//! - `id`: task ids, handed out in per-thread blocks.
//! - `spawned`: where a task was spawned and its name, one word of the header.

pub(crate) mod alloc;
pub(crate) mod cell;
mod error;
pub(crate) mod id;
mod join;
pub(crate) mod list;
pub(crate) mod spawned;
pub(crate) mod state;
pub(crate) mod waker;

#[cfg(all(test, weft_loom))]
pub(crate) mod tests_loom;

pub use error::JoinError;
pub use id::Id;
pub use join::{AbortHandle, JoinHandle};

use cell::{Header, TaskCell};
use spawned::Spawned;
use std::any::Any;
use std::future::Future;
use std::io::Write;
use std::ptr::NonNull;

/// The hook for panics nobody observes (`Builder::on_task_panic`).
pub(crate) type PanicHook = std::sync::Arc<dyn Fn(Box<dyn Any + Send>) + Send + Sync>;

/// Names a task in reports: `task 7 "conn 7" (spawned at src/main.rs:10:5)`, where `kind`
/// is "task" or "blocking task". The panic report, the slow-poll report and the task dump
/// all name tasks so.
pub(crate) fn describe<'a>(
    kind: &'a str,
    id: Id,
    name: Option<&'a str>,
    location: &'a std::panic::Location<'a>,
) -> impl std::fmt::Display + 'a {
    struct Describe<'a>(&'a str, Id, Option<&'a str>, &'a std::panic::Location<'a>);
    impl std::fmt::Display for Describe<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{} {}", self.0, self.1)?;
            if let Some(name) = self.2 {
                write!(f, " {name:?}")?;
            }
            write!(f, " (spawned at {})", self.3)
        }
    }
    Describe(kind, id, name, location)
}

/// Reports a panic no `JoinHandle` will see: to the hook if there is one, else one line on
/// stderr naming the task. `what` names the kind of task ("task", "blocking task"). Never
/// unwinds: a hook that panics is reported in its turn (see `unwind.rs`), and a failing
/// stderr is ignored.
pub(crate) fn report_unhandled_panic(
    hook: Option<&PanicHook>,
    what: &str,
    task: &Header,
    payload: Box<dyn Any + Send>,
) {
    match hook {
        Some(hook) => {
            crate::unwind::contain("the on_task_panic hook", || hook(payload));
        }
        None => {
            let msg =
                crate::unwind::panic_message(payload.as_ref()).unwrap_or("<non-string payload>");
            let _ = writeln!(
                std::io::stderr().lock(),
                "weft: {} panicked and nobody awaited its JoinHandle: {msg} \
                 (set Builder::on_task_panic to handle this differently)",
                describe(
                    what,
                    task.id,
                    task.spawned.name().map(|n| &**n),
                    task.spawned.location()
                )
            );
            crate::unwind::drop_payload(payload);
        }
    }
}

/// What a task needs from whoever runs it.
pub(crate) trait Schedule: Send + Sync + 'static {
    /// Queue a task that was just notified (by a waker or an abort). Any thread.
    fn schedule(&self, task: Notified);
    /// Queue a task that was woken during its own poll (a yield), on the thread that
    /// polled it: it goes to the back of the queue.
    fn yield_now(&self, task: Notified);
    /// Unlink a finished task from the owned-task list. Returns true if the caller drops
    /// the list's reference now (false: it was not linked, or a batch drops it later).
    fn release(&self, task: NonNull<Header>) -> bool;
    /// A panic that no `JoinHandle` will see, of the task of `task`.
    fn unhandled_panic(&self, task: &Header, payload: Box<dyn Any + Send>);
    /// Frees a cell of `layout` that was spawned into list shard `home`.
    ///
    /// # Safety
    ///
    /// `ptr` is the memory of a cell of this `layout` (from `alloc::alloc_global` or a
    /// worker's cache), not used any more.
    unsafe fn free_cell(&self, ptr: NonNull<u8>, layout: std::alloc::Layout, home: u16) {
        let _ = home;
        // SAFETY: the caller's guarantee.
        unsafe { alloc::free_global(ptr, layout) }
    }
}

/// A queued task: owns one reference, and is the only thing allowed to poll it.
pub(crate) struct Notified(NonNull<Header>);

// SAFETY: a Notified is a counted reference to a Send + Sync header; the future inside
// is Send and only touched by whoever holds RUNNING, or it is a local task's, which its
// scheduler runs only on its own thread (`new_local_task`): elsewhere a Notified is only
// queued or dropped, which touches the state word and, for the last reference, drops a
// finished cell (a waker, an output or error no JoinHandle holds any more: see there).
unsafe impl Send for Notified {}

impl Notified {
    pub(crate) fn from_raw(ptr: NonNull<Header>) -> Notified {
        Notified(ptr)
    }

    pub(crate) fn into_raw(self) -> NonNull<Header> {
        let ptr = self.0;
        std::mem::forget(self);
        ptr
    }

    /// The task's id.
    pub(crate) fn id(&self) -> Id {
        Header::id_of(self.0)
    }

    /// The task's header: its id, spawn location, name and poll counts.
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: we hold a reference.
        unsafe { self.0.as_ref() }
    }

    /// Polls the task once (or cancels it), consuming this reference.
    #[inline]
    pub(crate) fn run(self) {
        let ptr = self.into_raw();
        // SAFETY: we hand over our reference; the vtable belongs to the cell.
        unsafe { (ptr.as_ref().vtable.run)(ptr) }
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        Header::ref_dec(self.0);
    }
}

impl std::fmt::Debug for Notified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Notified({:p})", self.0)
    }
}

/// Makes a task, spawned where the caller was called. Returns the first `Notified`, the
/// `JoinHandle`, and the raw pointer that carries the owned-list reference (to insert into
/// the list, or to shut down at once).
#[cfg(weft_loom)]
#[track_caller]
pub(crate) fn new_task<F, S>(
    future: F,
    scheduler: S,
    shard: u16,
) -> (Notified, JoinHandle<F::Output>, NonNull<Header>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let spawned = Spawned::at(std::panic::Location::caller());
    new_task_in(future, scheduler, shard, spawned, alloc::alloc_global)
}

/// `new_task`, with the cell's memory from `memory` (given the cell's layout): the
/// runtime's spawn takes it from the worker's cache it already looked up.
pub(crate) fn new_task_in<F, S>(
    future: F,
    scheduler: S,
    shard: u16,
    spawned: Spawned,
    memory: impl FnOnce(std::alloc::Layout) -> NonNull<u8>,
) -> (Notified, JoinHandle<F::Output>, NonNull<Header>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let ptr = TaskCell::allocate(future, scheduler, Id::next(), spawned, shard, memory);
    (Notified(ptr), JoinHandle::new(ptr), ptr)
}

/// Makes a local task: its future (and output) need not be `Send`. Returns what
/// [`new_task`] returns; the cell's memory is the global allocator's.
///
/// # Safety
///
/// The caller's scheduler runs the task (`Notified::run`) and shuts it down
/// (`shutdown_task`) only on the thread calling this, and keeps the owned-list reference
/// until one of them completed the task: so the future is polled and dropped on this
/// thread only. The output is dropped by the runner (this thread), or by the
/// `JoinHandle`, which is `Send` only if the output is; a cell freed elsewhere (its last
/// `Notified` or waker dropped on another thread) holds no future and no unread output.
pub(crate) unsafe fn new_local_task<F, S>(
    future: F,
    scheduler: S,
    shard: u16,
    spawned: Spawned,
) -> (Notified, JoinHandle<F::Output>, NonNull<Header>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    let ptr = TaskCell::allocate(
        future,
        scheduler,
        Id::next(),
        spawned,
        shard,
        alloc::alloc_global,
    );
    (Notified(ptr), JoinHandle::new(ptr), ptr)
}

/// The id of the task running on this thread.
///
/// # Panics
///
/// Outside a task (on a thread that is not polling one, or dropping its future): use
/// [`try_task_id`] where that can happen.
///
/// # Examples
///
/// ```
/// let rt = weft_executor::Runtime::new().unwrap();
/// let h = rt.spawn(async { weft_executor::task_id() });
/// let id = h.id();
/// assert_eq!(rt.block_on(h).unwrap(), id);
/// // Closures of the blocking pool run as tasks too.
/// let b = rt.spawn_blocking(weft_executor::task_id);
/// let id = b.id();
/// assert_eq!(rt.block_on(b).unwrap(), id);
/// ```
#[track_caller]
pub fn task_id() -> Id {
    match waker::current_id() {
        Some(id) => id,
        None => panic!(
            "task::id() called outside a task (block_on's own future is not a task): use \
             task::try_id() where there may be no task, or read JoinHandle::id()"
        ),
    }
}

/// The id of the task running on this thread, or `None` outside a task (see [`task_id`]).
///
/// ```
/// assert!(weft_executor::try_task_id().is_none());
/// let rt = weft_executor::Runtime::new().unwrap();
/// assert!(rt.block_on(async { weft_executor::try_task_id() }).is_none());
/// assert!(rt.block_on(rt.spawn(async { weft_executor::try_task_id() })).unwrap().is_some());
/// ```
pub fn try_task_id() -> Option<Id> {
    waker::current_id()
}

/// Cancels a task that the owned list (or a closed list) handed over. Consumes the list's
/// reference.
pub(crate) fn shutdown_task(ptr: NonNull<Header>) {
    // SAFETY: the caller holds the list's reference.
    unsafe { (ptr.as_ref().vtable.shutdown)(ptr) }
}

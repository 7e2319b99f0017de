//! The thread-local context: which runtime this thread has entered, and, on a worker
//! thread, that worker's local state.
//!
//! It holds the scheduler's `Arc<Shared>`, not the public `Handle` (which wraps it): the
//! scheduler knows nothing of the layer above it.

use super::spin::Spin;
use super::worker::{Worker, WorkerLocal};
use super::Shared;
use std::cell::{Cell, RefCell};
use std::ptr;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

struct Context {
    /// The runtime entered on this thread (a worker, `block_on`, `Handle::enter`).
    runtime: RefCell<Option<Arc<Shared>>>,
    /// The runtimes entered on this thread and not left yet, oldest first, each with the
    /// id of its `EnterGuard`; `runtime` is the last one's. Guards may be dropped in any
    /// order: each removes its own entry.
    entered: RefCell<Vec<(u64, Arc<Shared>)>>,
    /// The id of the next `EnterGuard` made on this thread.
    next_guard: Cell<u64>,
    /// Inside `block_on` on this thread.
    blocking: Cell<bool>,
}

thread_local! {
    static CONTEXT: Context = const {
        Context {
            runtime: RefCell::new(None),
            entered: RefCell::new(Vec::new()),
            next_guard: Cell::new(0),
            blocking: Cell::new(false),
        }
    };
}

thread_local! {
    /// On a worker thread while it runs: the worker it owns (see "What re-enters the worker"
    /// in `worker.rs`). Apart from `CONTEXT`: with no destructor, reading it needs no check
    /// of the thread-local's state, and it stays readable during thread-local destruction.
    static WORKER: Cell<*mut Worker> = const { Cell::new(ptr::null_mut()) };
}

/// Runs `f` with the re-entrant part of this thread's worker, if it is a worker thread.
#[inline]
pub(crate) fn with_worker<R>(f: impl FnOnce(Option<&WorkerLocal>) -> R) -> R {
    let worker = WORKER.with(Cell::get);
    if worker.is_null() {
        return f(None);
    }
    // `f` must not let user code run while it holds the worker, but through
    // `WorkerLocal::lend` (a batch's flush does), which keeps `hand_off` from giving the
    // worker away under it. Only the `local` half is reached, by a place projection that
    // makes no reference to the whole: the run loop holds the `core` half mutably.
    // SAFETY: `WorkerGuard` sets the pointer for exactly as long as this thread owns the
    // worker (until its loop ends, or `take_worker` hands it off); only this thread reads it.
    f(Some(unsafe { &*ptr::addr_of!((*worker).local) }))
}

/// The worker this thread owns now, if any (null if none).
#[inline]
pub(crate) fn worker_ptr() -> *mut Worker {
    WORKER.with(Cell::get)
}

/// Takes this thread's worker away from it, to hand it to another thread: from now on the
/// thread is not a worker (spawns and wakes go through the injector). Null if it had none.
pub(crate) fn take_worker() -> *mut Worker {
    WORKER.with(|w| w.replace(ptr::null_mut()))
}

/// Gives a worker taken with `take_worker` back to this thread (its hand-off failed).
pub(crate) fn restore_worker(worker: *mut Worker) {
    WORKER.with(|w| w.set(worker));
}

/// Marks this thread as running `worker` until the guard drops.
pub(crate) struct WorkerGuard(());

pub(crate) fn set_worker(worker: *mut Worker) -> WorkerGuard {
    WORKER.with(|w| w.set(worker));
    WorkerGuard(())
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        WORKER.with(|w| w.set(ptr::null_mut()));
    }
}

/// Runs `f` with a borrow of the entered runtime.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Arc<Shared>>) -> R) -> R {
    let mut f = Some(f);
    let res = CONTEXT.try_with(|c| {
        let h = c.runtime.borrow();
        (f.take().unwrap())(h.as_ref())
    });
    match res {
        Ok(r) => r,
        // Thread-local destruction: no runtime.
        Err(_) => (f.take().unwrap())(None),
    }
}

/// The entered runtime, if any.
pub(crate) fn current() -> Option<Arc<Shared>> {
    CONTEXT
        .try_with(|c| c.runtime.borrow().clone())
        .ok()
        .flatten()
}

/// Leaves the runtime it entered when dropped. Not `Send`: it changes this thread's
/// context, so it is dropped on this thread. Guards may be dropped in any order: the
/// runtime current afterwards is the one entered last among the guards still alive (none
/// once every guard is gone).
pub(crate) struct EnterGuard {
    id: u64,
    _not_send: std::marker::PhantomData<*const ()>,
}

pub(crate) fn enter(runtime: Arc<Shared>) -> EnterGuard {
    let id = CONTEXT.with(|c| {
        let id = c.next_guard.get();
        c.next_guard.set(id + 1);
        c.entered.borrow_mut().push((id, runtime.clone()));
        *c.runtime.borrow_mut() = Some(runtime);
        id
    });
    EnterGuard {
        id,
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        // Thread-local destruction: nothing left to restore.
        let _ = CONTEXT.try_with(|c| {
            let (left, current) = {
                let mut entered = c.entered.borrow_mut();
                let left = entered
                    .iter()
                    .rposition(|(id, _)| *id == self.id)
                    .map(|i| entered.remove(i));
                (left, entered.last().map(|(_, h)| h.clone()))
            };
            let replaced = c.runtime.replace(current);
            // Dropped outside the borrows: the last reference to a runtime may shut it down.
            drop(replaced);
            drop(left);
        });
    }
}

/// Marks this thread as inside `block_on` until dropped.
pub(crate) struct BlockingGuard(());

const NESTED_BLOCK_ON: &str = "`block_on` was called from inside the weft runtime (on a worker \
thread, or inside another `block_on`), where blocking the thread would stall the tasks it \
runs: `.await` the future instead, or move the blocking code to `spawn_blocking`";

#[track_caller]
pub(crate) fn enter_block_on() -> BlockingGuard {
    let on_worker = !worker_ptr().is_null();
    let nested = CONTEXT.with(|c| on_worker || c.blocking.replace(true));
    if nested {
        panic!("{NESTED_BLOCK_ON}");
    }
    BlockingGuard(())
}

impl Drop for BlockingGuard {
    fn drop(&mut self) {
        let _ = CONTEXT.try_with(|c| c.blocking.set(false));
    }
}

/// Wakes a thread that sleeps in `thread::park`, or that looks for the wake before it
/// parks (`wait_for_thread_wake`).
///
/// `woken` is a hint on top of the park token, not a protocol of its own: the waker sets
/// it and then unparks, always, so a thread that misses the flag still has the token and
/// returns from `thread::park`. A thread that sees the flag returns before the unpark
/// comes: the token that unpark leaves makes one later `park` return at once, a spurious
/// wake-up its caller polls through.
struct ThreadWaker {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        // Release: what the waker published before waking is visible to the thread that
        // sees the flag (the swap in `wait_for_thread_wake`).
        self.woken.store(true, Release);
        self.thread.unpark();
    }
}

struct ThisThread {
    flag: Arc<ThreadWaker>,
    waker: Waker,
    /// Whether `wait_for_thread_wake` spins (see `spin.rs`).
    spin: Cell<Option<Spin>>,
}

thread_local! {
    /// One waker per thread, made once: a `block_on` allocates nothing per call.
    static THREAD_WAKER: ThisThread = {
        let flag = Arc::new(ThreadWaker {
            thread: thread::current(),
            woken: AtomicBool::new(false),
        });
        ThisThread {
            waker: Waker::from(flag.clone()),
            flag,
            spin: Cell::new(None),
        }
    };
}

/// Runs `f` with a waker that unparks this thread (`thread::park`).
pub(crate) fn with_thread_waker<R>(f: impl FnOnce(&Waker) -> R) -> R {
    THREAD_WAKER.with(|t| f(&t.waker))
}

/// Waits until this thread's waker (`with_thread_waker`) is woken: looks for the wake
/// for up to `limit` if this thread's last wait was that short (see `spin.rs`), then
/// parks. May return spuriously.
pub(crate) fn wait_for_thread_wake(limit: Duration) {
    THREAD_WAKER.with(|t| {
        let woken = &t.flag.woken;
        let mut spin = t.spin.get().unwrap_or(Spin::new(limit));
        let since = Instant::now();
        // A load while looking, so the waker's cache line is not written to each look.
        if !spin.spin(|| woken.load(Relaxed)) {
            thread::park();
            spin.slept(since);
        }
        t.spin.set(Some(spin));
        // Acquire: pairs with the waker's Release store.
        woken.swap(false, Acquire);
    })
}

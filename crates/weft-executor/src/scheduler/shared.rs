//! `Shared`: the state all workers and the handles of one runtime share, and the paths by
//! which a task enters a queue (spawn, wake, yield) or leaves the runtime (shutdown).

use super::blocking::BlockingPool;
use super::config::Config;
use super::context;
use super::idle::Idle;
use super::lifo::LifoSlot;
use super::metrics::WorkerStats;
use super::park::{Parker, Sleep};
use super::trace::{OutsideTrace, Place, TraceBuffer, TraceKind};
use super::worker::WATCH_INTERVAL;
use crate::driver::Driver;
use crate::sync::deque::{Injector, Steal, Stealer, Worker as LocalQueue};
use crate::task::alloc::{self, Origin, RemoteFree};
use crate::task::cell::Header;
use crate::task::list::OwnedTasks;
use crate::task::spawned::Spawned;
use crate::task::{self, JoinHandle, Notified, Schedule};
use crossbeam_utils::CachePadded;
use parking_lot::Mutex;
use std::alloc::Layout;
use std::any::Any;
use std::future::Future;
use std::ptr::{self, NonNull};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Weak};
use std::time::Duration;
use std::{io, thread};

/// Shards of the owned-task list used by spawns from outside the workers.
const REMOTE_SHARDS: usize = 4;
/// The most workers: a task's header holds its list shard as `u16`, and there is a
/// shard per worker plus `REMOTE_SHARDS`.
pub(crate) const MAX_WORKERS: usize = u16::MAX as usize + 1 - REMOTE_SHARDS;
/// `driver_owner` when no worker is in the driver.
pub(crate) const NO_OWNER: usize = usize::MAX;

/// One worker's own ends of its two queues, moved into its thread (see `worker.rs`).
pub(crate) struct WorkerQueues {
    /// Its FIFO queue of spawned, woken and yielding tasks.
    pub(crate) queue: LocalQueue<Notified>,
    /// The tasks the driver woke on it, run before `queue`.
    pub(crate) ready: LocalQueue<Notified>,
}

/// What other threads may touch of one worker.
pub(crate) struct Remote {
    /// The other end of the worker's `queue`.
    pub(crate) stealer: Stealer<Notified>,
    /// The queue of tasks the driver woke on this worker (see `worker.rs`).
    pub(crate) ready_stealer: Stealer<Notified>,
    pub(crate) lifo: LifoSlot,
    pub(crate) parker: Parker,
    /// On a line of its own: thieves write the LIFO slot and unparkers the parker.
    pub(crate) stats: CachePadded<WorkerStats>,
    /// Cells other threads freed and give back to this worker (see `task/alloc.rs`).
    pub(crate) free: CachePadded<RemoteFree>,
    /// The events this worker handed over (see `trace.rs`).
    pub(crate) trace: Mutex<TraceBuffer>,
}

/// The state shared by all workers and handles of one runtime.
pub(crate) struct Shared {
    pub(crate) remotes: Box<[CachePadded<Remote>]>,
    pub(crate) injector: Injector<Notified>,
    pub(crate) idle: Idle,
    pub(crate) owned: OwnedTasks,
    pub(crate) driver: Arc<dyn Driver>,
    /// Held by the one worker parked in (or polling) the driver.
    pub(crate) driver_lock: Mutex<()>,
    /// Index of the worker parked in the driver, or `NO_OWNER`.
    pub(crate) driver_owner: AtomicUsize,
    /// The worker in the driver parks with a short timeout to watch for stranded
    /// LIFO tasks (see `worker.rs`).
    pub(crate) watcher_armed: AtomicBool,
    /// Read by every worker before every task, written once: alone on its cache
    /// line, so it stays in every core's cache.
    pub(crate) shutdown: CachePadded<AtomicBool>,
    /// Bumped by every spawn from outside the workers: alone on its line too (beside
    /// `shutdown` it made each remote spawn miss the cache; docs/measuring.md).
    pub(crate) remote_spawned: CachePadded<AtomicU64>,
    pub(crate) blocking: BlockingPool,
    /// The events of threads outside the workers (see `trace.rs`).
    pub(crate) outside_trace: OutsideTrace,
    pub(crate) config: Arc<Config>,
    /// The threads of `block_in_place` hand-offs (see `worker.rs`).
    pub(crate) hand_offs: Mutex<HandOffs>,
    /// The owned lists of the local-task sets made inside this runtime (`local.rs`), for
    /// `Handle::dump`. Weak: a set's tasks belong to its `LocalSet`, not to the runtime.
    local_lists: Mutex<Vec<Weak<OwnedTasks>>>,
}

/// The threads `block_in_place` started and left (see "Blocking in place" in `worker.rs`).
#[derive(Default)]
pub(crate) struct HandOffs {
    /// Threads started to run a worker handed off: joined at shutdown like the first ones.
    pub(crate) started: Vec<thread::JoinHandle<()>>,
    /// Threads that handed their worker off and still finish a poll: not joined (they
    /// may block for long); shutdown waits for them as for blocking tasks, within its
    /// timeout (`BlockingPool::adopt_thread`).
    pub(crate) left: Vec<thread::ThreadId>,
}

impl Shared {
    /// The shared state of a runtime of `workers` workers, and each worker's own ends of
    /// its queues, for its thread (`worker::spawn`).
    pub(crate) fn new(
        workers: usize,
        driver: Arc<dyn Driver>,
        config: Config,
    ) -> (Arc<Shared>, Vec<WorkerQueues>) {
        let queues: Vec<WorkerQueues> = (0..workers)
            .map(|_| WorkerQueues {
                queue: LocalQueue::new_fifo(),
                ready: LocalQueue::new_fifo(),
            })
            .collect();
        let remotes = queues
            .iter()
            .map(|q| {
                CachePadded::new(Remote {
                    stealer: q.queue.stealer(),
                    ready_stealer: q.ready.stealer(),
                    lifo: LifoSlot::new(),
                    parker: Parker::new(),
                    stats: CachePadded::new(WorkerStats::default()),
                    free: CachePadded::new(RemoteFree::new()),
                    trace: Mutex::new(TraceBuffer::default()),
                })
            })
            .collect();
        let config = Arc::new(config);
        // The blocking pool's threads enter the runtime: it knows it from the start.
        let shared = Arc::new_cyclic(|me| Shared {
            remotes,
            injector: Injector::new(),
            idle: Idle::new(workers),
            owned: OwnedTasks::new(workers + REMOTE_SHARDS),
            driver,
            driver_lock: Mutex::new(()),
            driver_owner: AtomicUsize::new(NO_OWNER),
            watcher_armed: AtomicBool::new(false),
            shutdown: CachePadded::new(AtomicBool::new(false)),
            remote_spawned: CachePadded::new(AtomicU64::new(0)),
            blocking: BlockingPool::new(config.clone(), me.clone()),
            outside_trace: OutsideTrace::new(config.trace_limit, config.epoch),
            config,
            hand_offs: Mutex::new(HandOffs::default()),
            local_lists: Mutex::new(Vec::new()),
        });
        (shared, queues)
    }

    /// Lists a set of local tasks' owned list for the dump (once per set, as it is made);
    /// forgets the sets that are gone.
    pub(crate) fn register_local_tasks(&self, list: Weak<OwnedTasks>) {
        let mut lists = self.local_lists.lock();
        // Dropping a dead `Weak` frees at most the `Arc`'s allocation: no user code.
        lists.retain(|l| l.strong_count() > 0);
        lists.push(list);
    }

    /// The owned lists of the local-task sets still alive. The caller walks them after the
    /// registry's lock is let go, and may hold a set's list a little past the set's end
    /// (an emptied list: dropping it runs no user code).
    pub(crate) fn local_task_lists(&self) -> Vec<Arc<OwnedTasks>> {
        self.local_lists
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.remotes.len()
    }

    #[inline]
    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Relaxed)
    }

    /// Spawns a task, on this worker's queue if called on one of our workers.
    pub(crate) fn spawn<F>(self: &Arc<Self>, future: F, spawned: Spawned) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        context::with_worker(|w| {
            let local = w.filter(|w| ptr::eq(&*w.shared, &**self));
            let shard = match local {
                Some(w) => w.index,
                None => self.num_workers() + remote_shard(),
            };
            // The cell from this worker's cache (the context was looked up once).
            let memory = |layout| match local {
                Some(w) => w.cells.alloc(layout, &self.remotes[w.index].free),
                None => alloc::alloc_global(layout),
            };
            let (notified, join, raw) =
                task::new_task_in(future, self.clone(), shard as u16, spawned, memory);
            match local {
                // Into the worker's batch, linked at its next flush (see `list.rs`).
                // Not once shutdown began: the list may close before that flush.
                Some(w) if !self.is_shutdown() => {
                    w.add_pending(raw);
                    w.spawned(notified);
                    return join;
                }
                _ => {}
            }
            if !self.owned.insert(raw) {
                // Shut down: the task is cancelled before it ever runs.
                drop(notified);
                task::shutdown_task(raw);
                return join;
            }
            match local {
                Some(w) => w.spawned(notified),
                None => {
                    self.remote_spawned.fetch_add(1, Relaxed);
                    self.outside_trace.event(|| TraceKind::Spawn {
                        task: notified.id(),
                        to: Place::Injector,
                    });
                    self.schedule_remote(notified);
                }
            }
            join
        })
    }

    /// A wake from outside the workers: traced, then `schedule_remote`.
    fn schedule_outside(&self, task: Notified) {
        self.outside_trace.event(|| TraceKind::Wake {
            task: task.id(),
            to: Place::Injector,
        });
        self.schedule_remote(task);
    }

    /// From outside the workers: into the injector, then wake a worker if needed.
    pub(crate) fn schedule_remote(&self, task: Notified) {
        self.injector.push(task);
        // `notify_parked` begins with a SeqCst fence, which also orders this push
        // before the shutdown check below (see `begin_shutdown` and `shutdown`).
        self.notify_parked();
        if self.shutdown.load(SeqCst) {
            self.drain_injector();
        }
    }

    /// Wakes one sleeping worker if work needs one (see `idle.rs`, rule 1).
    #[inline]
    pub(crate) fn notify_parked(&self) {
        Sleep::notify_parked(self)
    }

    /// Wakes one sleeping worker to share work in the calling worker's own queue
    /// (see `idle.rs`: a hint, no fence).
    #[inline]
    pub(crate) fn notify_parked_local(&self) {
        Sleep::notify_parked_local(self)
    }

    /// Records an instant on the calling worker's trace, or the outside lane's.
    #[cold]
    fn trace_event(&self, kind: TraceKind) {
        context::with_worker(|w| match w {
            Some(w) if ptr::eq(&*w.shared, self) => w.trace.event(|| kind),
            _ => self.outside_trace.event(|| kind),
        })
    }

    /// Makes sure some idle worker watches the LIFO slots (see `worker.rs`).
    pub(crate) fn wake_watcher(&self) {
        let owner = self.driver_owner.load(SeqCst);
        if owner != NO_OWNER {
            self.on_unpark(owner);
            self.remotes[owner].parker.unpark(&*self.driver);
        } else {
            self.notify_parked();
        }
    }

    pub(crate) fn drain_injector(&self) {
        loop {
            match self.injector.steal() {
                Steal::Success(t) => drop(t),
                Steal::Empty => break,
                Steal::Retry => {}
            }
        }
    }

    pub(crate) fn report_panic(&self, task: &Header, payload: Box<dyn Any + Send>) {
        task::report_unhandled_panic(self.config.on_task_panic.as_ref(), "task", task, payload);
    }

    /// Begins shutting down: sets the flag and unparks every worker, which stops after
    /// its current poll. False if shutdown had begun already.
    pub(crate) fn begin_shutdown(&self) -> bool {
        if self.shutdown.swap(true, SeqCst) {
            return false;
        }
        for r in self.remotes.iter() {
            r.parker.unpark(&*self.driver);
        }
        true
    }

    /// The teardown once every worker thread has been joined (but the one calling, if it
    /// is a worker dropping the runtime from inside a task): drops every task still
    /// alive, empties the queues, then shuts the blocking pool down, waiting at most
    /// `blocking_timeout` for blocking tasks still running, and the driver.
    pub(crate) fn shutdown(&self, blocking_timeout: Option<Duration>) {
        // A worker dropping the runtime from inside a task: its batches must be settled
        // before the list closes (the other workers settled theirs on the way out): the
        // tasks spawned and not linked yet go into the list, and the finished tasks of
        // other shards it holds are unlinked while the list's references still keep them
        // alive.
        context::with_worker(|w| {
            if let Some(w) = w.filter(|w| ptr::eq(&*w.shared, self)) {
                w.settle();
            }
        });
        // Every task still alive, running or not: drop its future. Their destructors may
        // wake or spawn: a spawn now fails (the list is closed; spawns on a worker stop
        // batching once `shutdown` is set) and a wake lands in the injector, which is
        // emptied after.
        for t in self.owned.close_and_take_all() {
            task::shutdown_task(t);
        }
        self.drain_injector();
        for r in self.remotes.iter() {
            while let Some(t) = r.stealer.steal().success() {
                drop(t);
            }
            while let Some(t) = r.ready_stealer.steal().success() {
                drop(t);
            }
            drop(r.lifo.take());
        }
        self.blocking.shutdown(blocking_timeout);
        self.driver.shutdown();
    }

    /// Starts a thread that runs `body`, the loop of worker `index` handed off by the
    /// calling thread (see "Blocking in place" in `worker.rs`), and drops what it returns
    /// after `on_thread_stop`. False, and nothing started, once shutdown began or if the
    /// OS refuses a thread. Nothing here can unwind once the thread started: the caller
    /// takes the worker back if this unwinds (`TakenWorker` in `worker.rs`).
    pub(crate) fn start_hand_off<R: 'static>(
        self: &Arc<Self>,
        index: usize,
        body: impl FnOnce() -> R + Send + 'static,
    ) -> bool {
        let mut hand_offs = self.hand_offs.lock();
        // Under the lock: `Runtime`'s shutdown sets the flag, then takes the threads.
        if self.is_shutdown() {
            return false;
        }
        // Threads that ran a worker and exited: dropping their handles releases what the
        // OS keeps for them.
        hand_offs.started.retain(|t| !t.is_finished());
        // Room first, so that no push below can fail once the thread runs.
        hand_offs.started.reserve(1);
        hand_offs.left.reserve(1);
        let name = format!("{}-worker-{index}", self.config.thread_name);
        match super::thread::spawn(&self.config, name, Arc::downgrade(self), body) {
            Ok(t) => {
                hand_offs.started.push(t);
                hand_offs.left.push(thread::current().id());
                self.blocking.adopt_thread();
                true
            }
            Err(_) => false,
        }
    }

    /// The calling thread handed its worker off and its poll has returned: it exits now.
    /// The notice, dropped on this thread after its `on_thread_stop` hook (the worker
    /// thread's body returns it to `thread::spawn`), tells shutdown it is gone.
    pub(crate) fn hand_off_done(self: &Arc<Self>) -> LeftWorker {
        LeftWorker(self.clone())
    }

    /// At shutdown (the flag set): the threads started by hand-offs, to join, and those
    /// that handed off and may still block, not to join.
    pub(crate) fn take_hand_offs(&self) -> HandOffs {
        std::mem::take(&mut *self.hand_offs.lock())
    }

    /// Starts worker `index`'s thread, with its queues.
    pub(crate) fn spawn_worker(
        self: &Arc<Self>,
        index: usize,
        queues: WorkerQueues,
    ) -> io::Result<thread::JoinHandle<()>> {
        let name = format!("{}-worker-{index}", self.config.thread_name);
        let shared = self.clone();
        super::thread::spawn(&self.config, name, Arc::downgrade(self), move || {
            super::worker::run(shared, index, queues)
        })
    }
}

/// Dropped by a thread that handed its worker off, as it exits: it no longer counts as one
/// that shutdown waits for (see `Shared::hand_off_done`).
pub(crate) struct LeftWorker(Arc<Shared>);

impl Drop for LeftWorker {
    fn drop(&mut self) {
        let me = thread::current().id();
        self.0.hand_offs.lock().left.retain(|t| *t != me);
        self.0.blocking.release_thread();
    }
}

/// What a worker parks against (see `park.rs`).
impl Sleep for Shared {
    fn idle(&self) -> &Idle {
        &self.idle
    }
    fn parker(&self, worker: usize) -> &Parker {
        &self.remotes[worker].parker
    }
    fn driver(&self) -> &dyn Driver {
        &*self.driver
    }
    fn driver_lock(&self) -> &Mutex<()> {
        &self.driver_lock
    }
    /// The injector or any worker's queues.
    fn work_visible(&self) -> bool {
        !self.injector.is_empty()
            || self
                .remotes
                .iter()
                .any(|r| !r.stealer.is_empty() || !r.ready_stealer.is_empty())
    }
    fn enter_driver(&self, worker: usize) -> Option<Duration> {
        self.driver_owner.store(worker, SeqCst);
        // Watch the LIFO slots while anybody else is active (see `worker.rs`).
        let watch = self.idle.num_unparked() > 0;
        self.watcher_armed.store(watch, SeqCst);
        watch.then_some(WATCH_INTERVAL)
    }
    fn leave_driver(&self) {
        self.watcher_armed.store(false, SeqCst);
        self.driver_owner.store(NO_OWNER, SeqCst);
    }
    // Only when a sleeper is woken: out of line, so that the paths that wake nobody (most
    // spawns and yields) stay as small as before.
    #[cold]
    #[inline(never)]
    fn on_unpark(&self, worker: usize) {
        if self.outside_trace.on() {
            self.trace_event(TraceKind::Unpark { worker });
        }
    }
    fn reports_idle(&self) -> bool {
        self.config.current_thread
    }
    fn blocking_busy(&self) -> bool {
        self.blocking.busy()
    }
}

/// The owned-list shard of a thread outside the workers (one of `REMOTE_SHARDS`).
fn remote_shard() -> usize {
    weft_sync::thread_shard(REMOTE_SHARDS)
}

impl Schedule for Arc<Shared> {
    fn schedule(&self, task: Notified) {
        context::with_worker(|w| match w {
            Some(w) if ptr::eq(&*w.shared, &**self) => w.schedule_local(task),
            _ => self.schedule_outside(task),
        })
    }

    fn yield_now(&self, task: Notified) {
        context::with_worker(|w| match w {
            Some(w) if ptr::eq(&*w.shared, &**self) => w.schedule_yield(task),
            _ => self.schedule_outside(task),
        })
    }

    fn release(&self, task: NonNull<Header>) -> bool {
        context::with_worker(|w| match w {
            // On a worker, through its batches (see `task/list.rs`). Not once shutdown
            // began: a released pointer holds no reference of its own, only the
            // list's, which the closing of the list hands to `shutdown_task`.
            Some(w) if ptr::eq(&*w.shared, &**self) && !self.is_shutdown() => w.release(task),
            _ => self.owned.remove(task),
        })
    }

    fn unhandled_panic(&self, task: &Header, payload: Box<dyn Any + Send>) {
        self.report_panic(task, payload)
    }

    // The cell caches (task/alloc.rs); cells are taken from them in `spawn`.
    unsafe fn free_cell(&self, ptr: NonNull<u8>, layout: Layout, home: u16) {
        let home = usize::from(home);
        // Cells spawned on a worker flow back to it when they overflow elsewhere.
        let home_free = (home < self.num_workers()).then(|| &*self.remotes[home].free);
        context::with_worker(|w| match w {
            Some(w) if ptr::eq(&*w.shared, &**self) => {
                let origin = match home_free {
                    None => Origin::Outside,
                    Some(_) if home == w.index => Origin::Here,
                    Some(free) => Origin::Worker(free),
                };
                // SAFETY: the caller's guarantee.
                unsafe { w.cells.free(ptr, layout, origin) }
            }
            _ => match (home_free, alloc::class_of(layout)) {
                // SAFETY: the caller's guarantee; a cell with a class was allocated
                // with the class's layout.
                (Some(free), Some(class)) => unsafe { free.push(class, ptr) },
                // SAFETY: the caller's guarantee.
                _ => unsafe { alloc::free_global(ptr, layout) },
            },
        })
    }
}

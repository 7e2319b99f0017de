//! The worker: one OS thread running tasks.
//!
//! # Where a worker looks for its next task
//!
//! Every time it needs a task a worker counts a *tick*, then looks, in order:
//!
//! 0. Every 32nd tick, a look for timers that came due (`Driver::poll_due`, no lock and no
//!    system call): they go to the ready queue (step 3).
//! 1. Every 61st tick, *maintenance*: publish its metrics, let the driver process ready
//!    events without blocking (`Driver::poll`), and take a task from the global injector
//!    first. So tasks spawned from outside, timers and I/O are served even when the local
//!    queue never empties. (61 is prime, so it does not beat in step with task patterns.)
//! 2. The LIFO slot, which holds the task this worker most recently spawned or woke, unless
//!    the last `LIFO_CAP` polls all came from it: a pair of tasks waking each other would
//!    otherwise keep the slot busy forever and starve the queue.
//! 3. Its *ready* queue: the tasks the driver woke here (timers that fired, sockets that
//!    became ready), unless the last `READY_CAP` polls all came from it. Events from the
//!    outside world go before the backlog of spawned and yielding tasks: with 100,000
//!    tasks queued behind them, timers that fired waited for the backlog, milliseconds.
//! 4. Its own FIFO queue (`crossbeam_deque::Worker`, capped at `QUEUE_CAP`: when full, half
//!    of it moves to the injector, which also keeps crossbeam's buffer from growing and
//!    shrinking on every burst). Both local queues are stealable.
//! 5. The injector, taking a batch into its own queue.
//!
//! # Yielding
//!
//! A task that yields (wakes itself during its poll) goes to the back of the queue, not the
//! LIFO slot. If the queue is otherwise empty, a share of the injector goes in first: a
//! task yielding in a loop would otherwise run again at once, and tasks spawned from
//! outside would advance one batch per maintenance tick (measured: 10,000 spawns from
//! outside while every worker runs such a task took 4-12 ms instead of about 1).
//!
//! # Stealing
//!
//! With nothing local, the worker becomes a *searcher* (unless half the workers already
//! are: then it goes straight to sleep). A searcher takes a batch from the injector, then
//! half the ready queue (else half the queue) of another worker, starting at a random
//! victim. It spins between rounds
//! (crossbeam's `Backoff`), then keeps looking, yielding the CPU between looks and polling
//! the driver if nobody holds it, until `SEARCH_SPIN` has passed: on a VM, waking a
//! sleeping thread costs tens of microseconds, and most of the time work shows up while
//! searching. When a searcher finds work and it was the last searcher, it wakes one more
//! worker if there is more work to share: wake-ups chain one at a time instead of
//! stampeding (see `idle.rs`).
//!
//! # The LIFO slot cannot strand a task
//!
//! If the task running on worker A blocks its thread, the task waiting in A's LIFO slot
//! would wait with it. The slot is an atomic pointer that other workers may empty with a
//! compare-and-swap (`lifo.rs`). A searcher takes a slot's task when it sees the same task there at the start
//! and at the end of its spin (or across its sleep). And while any worker is active, the worker that sleeps in the
//! driver (the *watcher*) sleeps for at most `WATCH_INTERVAL`, then looks at the slots the
//! same way. Filling an empty slot while workers sleep and no watcher is armed wakes one.
//!
//! # Parking
//!
//! A worker with nothing to do registers as a sleeper, looks at the queues once more (the
//! other half of the no-lost-wake-up handshake in `idle.rs`), then sleeps: in the driver if
//! no other worker is in it (exactly one idle worker at a time waits on I/O and timers),
//! otherwise on its own condvar (`park::park_worker`, which the loom models
//! `loom_idle_no_lost_wakeup_*` in `scheduler/tests_loom.rs` run, as they run
//! `park::{start_searching, stop_searching}`). Waking the worker in the driver goes through
//! `Driver::unpark`. Tasks woken by driver events land in that worker's ready queue;
//! after the park it wakes one more worker if it has more than it can run at once.
//!
//! # Shutdown
//!
//! Dropping the runtime sets `shutdown` and unparks every worker. A worker checks the flag
//! before each task, so it stops after its current poll; on the way out it drops the
//! `Notified` references in its queues and slot (the tasks stay alive in the owned list)
//! and settles its batches: finished tasks of other shards are unlinked, tasks it spawned
//! are linked. Once shutdown began, spawns and releases on a worker stop batching. Once
//! all workers are joined, the runtime closes the owned list and drops every task's future
//! exactly once, then empties the injector (`Shared::shutdown`, in `shared.rs`).
//!
//! # What re-enters the worker
//!
//! `WorkerLocal` lives on the worker thread's stack and is reached again, through the
//! thread-local context (`context::with_worker`), from code the worker calls:
//!
//! - A task's poll (`task.run()` in `run_loop`): a spawn (`Shared::spawn`: `cells.alloc`,
//!   `add_pending`, `spawned`), a wake or yield (`schedule_local`, `schedule_yield`, which
//!   may `refill_from_injector`), the task completing (`release`, then `free_cell` into
//!   `cells`), a `Runtime` dropped inside the task (`Shared::shutdown`: `settle`).
//! - The driver, while `delivering` is set (`Driver::poll`, `poll_due`, a park in the
//!   driver): the wakes of fired timers and ready sockets (`schedule_local` into `ready`).
//! - Destructors run by the runtime itself: a batch's flush drops list references, and a
//!   freed cell drops a task's output, which may spawn (`add_pending` while `settle` runs:
//!   `Batches` takes no borrow across it, see `task/list.rs`).
//!
//! Hence every method takes `&self`, and the state is in `Cell`s read and written between
//! calls out, never a `RefCell` borrow held across a poll, a driver call or a destructor
//! (`lifo_seen`'s borrow spans only atomic operations on the slots). tokio routes the same
//! re-entry through one `RefCell<Option<Box<Core>>>` taken out around each poll; that shape
//! was not tried here: each access of the hot path (a spawn, a wake) would add a borrow
//! flag's check and writes, against the `Cell`s' plain loads and stores, and it would need
//! its own callgrind comparison.

use super::context;
use super::metrics::{bump, LocalStats};
use super::park;
use super::trace::{TaskSource, TraceKind, TraceLocal};
use super::{Remote, Shared, WorkerQueues};
use crate::sync::deque::Worker as LocalQueue;
use crate::task::alloc::LocalCache;
use crate::task::cell::Header;
use crate::task::list::{BatchSite, Batches};
use crate::task::Notified;
use crossbeam_utils::Backoff;
use std::cell::{Cell, RefCell};
use std::ptr::NonNull;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Consecutive polls from the LIFO slot before the queue gets a turn: past 3 ping-pong
/// gains little while a queued task's worst wait grows with it (docs/measuring.md).
const LIFO_CAP: u32 = 3;
/// Consecutive polls from the ready queue (tasks woken by timers and I/O) before the
/// queue gets a turn: events from outside go first, but a stream of them cannot starve
/// spawned and yielding tasks.
const READY_CAP: u32 = 32;
/// Slots of each local queue (`queue`, `ready`) before half of it overflows to the
/// injector; a steal takes at most half of it.
pub(super) const QUEUE_CAP: usize = 256;
/// Ticks between looks for timers that came due (`Driver::poll_due`: no lock waited for,
/// no system call, no clock read while no timer exists): a third less lateness on busy
/// workers for about 2% more instructions per poll (docs/measuring.md).
const DUE_INTERVAL: u32 = 32;
/// Ticks between maintenance passes: prime, so it does not beat in step with task patterns.
const MAINTENANCE_INTERVAL: u32 = 61;
/// How long a searcher keeps looking (spinning, then yielding the CPU between looks)
/// before it parks: about what parking and being woken costs here (spin-then-block,
/// never worse than twice the better choice; docs/measuring.md).
const SEARCH_SPIN: Duration = Duration::from_micros(30);
/// How long the watcher sleeps while other workers are active: a task stranded in the LIFO
/// slot of a blocked worker is taken at the second look that sees it, within two of these.
pub(crate) const WATCH_INTERVAL: Duration = Duration::from_millis(10);

/// A worker's own state. Lives on the worker thread's stack; reached from task code (spawn,
/// wake) through the thread-local context.
pub(crate) struct WorkerLocal {
    pub(crate) index: usize,
    pub(crate) shared: Arc<Shared>,
    pub(super) queue: LocalQueue<Notified>,
    /// Tasks the driver woke here (timers fired, I/O ready): run before `queue`.
    pub(super) ready: LocalQueue<Notified>,
    tick: Cell<u32>,
    lifo_polls: Cell<u32>,
    /// Polls in a row taken from `ready` while `queue` waited.
    ready_polls: Cell<u32>,
    /// False only when `ready` is known empty: we are its only pusher (thieves only take).
    pub(super) maybe_ready: Cell<bool>,
    pub(super) searching: Cell<bool>,
    /// The driver is delivering events on this thread (`Driver::poll`, `poll_due`, or a
    /// park in the driver): tasks woken now go to the ready queue, not the LIFO slot.
    delivering: Cell<bool>,
    /// Our last take from the injector brought a single task (see `steal_injector`).
    pub(super) injector_trickle: Cell<bool>,
    pub(super) rng: Cell<u32>,
    pub(super) stats: LocalStats,
    /// Where the task about to run was found (for the trace).
    pub(super) from: Cell<TaskSource>,
    pub(super) trace: TraceLocal,
    /// The LIFO slot content seen at the previous look, per worker.
    pub(super) lifo_seen: RefCell<Box<[*mut Header]>>,
    /// Tasks spawned here and not linked into the owned list yet, and finished tasks of
    /// other shards not unlinked yet (see `task/list.rs`).
    batches: Batches,
    /// Free task cells (see `task/alloc.rs`).
    pub(crate) cells: LocalCache,
}

/// The body of a worker thread.
pub(crate) fn run(shared: Arc<Shared>, index: usize, queues: WorkerQueues) {
    let local = WorkerLocal::new(shared, index, queues);
    // (The thread entered the runtime already: see `thread::spawn`.)
    let _worker = context::set_worker(&local);
    local.run_loop();
    local.drain();
}

impl WorkerLocal {
    /// Worker `index`'s state, around its ends of its queues (see `WorkerQueues`).
    pub(super) fn new(shared: Arc<Shared>, index: usize, queues: WorkerQueues) -> WorkerLocal {
        let n = shared.num_workers();
        let WorkerQueues { queue, ready } = queues;
        WorkerLocal {
            index,
            queue,
            ready,
            tick: Cell::new(0),
            lifo_polls: Cell::new(0),
            ready_polls: Cell::new(0),
            maybe_ready: Cell::new(false),
            searching: Cell::new(false),
            delivering: Cell::new(false),
            injector_trickle: Cell::new(false),
            rng: Cell::new(0x9E37_79B9 ^ (index as u32 + 1).wrapping_mul(0x85EB_CA6B)),
            stats: LocalStats::default(),
            from: Cell::new(TaskSource::Queue),
            trace: TraceLocal::new(index, shared.config.trace_limit, shared.config.epoch),
            lifo_seen: RefCell::new(vec![std::ptr::null_mut(); n].into_boxed_slice()),
            batches: Batches::new(index, shared.owned.num_shards()),
            cells: LocalCache::new(),
            shared,
        }
    }

    /// Gives back the worker's ends of its queues (the current-thread flavour keeps them
    /// between its `block_on` calls). The caller settled and published first.
    pub(super) fn into_queues(self) -> WorkerQueues {
        WorkerQueues {
            queue: self.queue,
            ready: self.ready,
        }
    }

    pub(super) fn remote(&self) -> &Remote {
        &self.shared.remotes[self.index]
    }

    fn run_loop(&self) {
        loop {
            if self.shared.is_shutdown() {
                return;
            }
            let task = match self.next_local() {
                Some(t) => t,
                None => match self.search() {
                    Some(t) => t,
                    None => {
                        self.park();
                        continue;
                    }
                },
            };
            if self.searching.get() {
                self.stop_searching();
            }
            self.run_task(task);
        }
    }

    /// Polls one task: the poll site of both flavours (`current_thread.rs` too).
    #[inline]
    pub(super) fn run_task(&self, task: Notified) {
        bump(&self.stats.polls, 1);
        if self.trace.on() {
            self.run_traced(task);
        } else {
            task.run();
        }
    }

    /// Polls a task and records the poll (see `trace.rs`).
    #[cold]
    #[inline(never)]
    fn run_traced(&self, task: Notified) {
        let kind = TraceKind::Poll {
            task: task.addr(),
            from: self.from.get(),
        };
        let start = Instant::now();
        task.run();
        self.trace.record(start, kind);
    }

    /// Steps 1-5 of the header comment.
    pub(super) fn next_local(&self) -> Option<Notified> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick % DUE_INTERVAL == 0 {
            // Timers that came due go to our ready queue (see `Driver::poll_due`).
            self.delivering.set(true);
            self.shared.driver.poll_due();
            self.delivering.set(false);
        }
        if tick % MAINTENANCE_INTERVAL == 0 {
            self.maintenance();
            if let Some(t) = self.steal_injector() {
                self.lifo_polls.set(0);
                self.from.set(TaskSource::Injector);
                return Some(t);
            }
        }
        if self.lifo_polls.get() < LIFO_CAP {
            if let Some(t) = self.remote().lifo.take() {
                self.lifo_polls.set(self.lifo_polls.get() + 1);
                bump(&self.stats.lifo_hits, 1);
                self.from.set(TaskSource::LifoSlot);
                return Some(t);
            }
        }
        self.lifo_polls.set(0);
        // Most ticks find the ready queue empty: a thread-local flag says so without
        // touching the queue's shared indices.
        let ready = self.maybe_ready.get();
        if ready && self.ready_polls.get() < READY_CAP {
            if let Some(t) = self.ready.pop() {
                self.ready_polls.set(self.ready_polls.get() + 1);
                self.from.set(TaskSource::Ready);
                return Some(t);
            }
            self.maybe_ready.set(false);
        }
        self.ready_polls.set(0);
        if let Some(t) = self.queue.pop() {
            self.from.set(TaskSource::Queue);
            return Some(t);
        }
        if self.maybe_ready.get() {
            if let Some(t) = self.ready.pop() {
                // Over the cap but the queue is empty.
                self.ready_polls.set(1);
                self.from.set(TaskSource::Ready);
                return Some(t);
            }
            self.maybe_ready.set(false);
        }
        if let Some(t) = self.remote().lifo.take() {
            // Over the cap but nothing else to run.
            self.lifo_polls.set(1);
            bump(&self.stats.lifo_hits, 1);
            self.from.set(TaskSource::LifoSlot);
            return Some(t);
        }
        self.from.set(TaskSource::Injector);
        self.steal_injector()
    }

    /// Lets the driver deliver what is ready, if no other worker is in it: the tasks it
    /// wakes go to our ready queue. Returns whether it could.
    fn poll_driver(&self) -> bool {
        let Some(_driver) = self.shared.driver_lock.try_lock() else {
            return false;
        };
        self.delivering.set(true);
        self.shared.driver.poll();
        self.delivering.set(false);
        true
    }

    /// `poll_driver`, then a task it woke.
    fn poll_driver_and_pop(&self) -> Option<Notified> {
        if !self.poll_driver() {
            return None;
        }
        self.from.set(TaskSource::Ready);
        self.ready.pop()
    }

    /// Hands our counters and trace events over to where other threads read them.
    pub(super) fn publish(&self) {
        self.stats.publish(&self.remote().stats);
        self.trace.publish(&self.remote().trace);
    }

    fn maintenance(&self) {
        self.publish();
        self.settle();
        self.poll_driver();
        if self.queue.len() + self.ready.len() > 1 {
            self.shared.notify_parked_local();
        }
    }

    /// Becomes a searcher and looks for work elsewhere, spinning a little.
    fn search(&self) -> Option<Notified> {
        if !park::start_searching(&self.shared.idle, &self.searching) {
            return None;
        }
        // The LIFO slots are compared with our previous look (the end of the previous
        // search, or before we slept) now, and again after a full spin: a task seen in
        // the same slot at both looks has waited at least that long behind one poll.
        if let Some(t) = self.steal_stale_lifo() {
            return Some(t);
        }
        // Events that came while we ran are the likeliest work: look at the driver first.
        if let Some(t) = self.poll_driver_and_pop() {
            return Some(t);
        }
        let backoff = Backoff::new();
        let mut since: Option<Instant> = None;
        loop {
            if let Some(t) = self.steal_round() {
                return Some(t);
            }
            if self.shared.is_shutdown() {
                return None;
            }
            if backoff.is_completed() {
                // Keep looking, yielding the CPU between looks, until as much time has
                // passed as a wake-up would cost (see `SEARCH_SPIN`). Poll the driver
                // meanwhile: nobody may be parked in it, so I/O and timers would wait.
                let start = *since.get_or_insert_with(Instant::now);
                if start.elapsed() >= SEARCH_SPIN {
                    return self.steal_stale_lifo();
                }
                if let Some(t) = self.poll_driver_and_pop() {
                    return Some(t);
                }
                std::thread::yield_now();
                continue;
            }
            backoff.snooze();
        }
    }

    pub(super) fn stop_searching(&self) {
        park::stop_searching(&*self.shared, &self.searching, || {
            !self.queue.is_empty() || !self.ready.is_empty() || !self.shared.injector.is_empty()
        });
    }

    pub(super) fn park(&self) {
        let shared = &*self.shared;
        bump(&self.stats.parks, 1);
        self.publish();
        self.settle();
        // What other workers gave back while we ran: keep a cache's worth, free the rest.
        self.cells.trim(&self.remote().free);
        let start = self.trace.on().then(Instant::now);
        // Register, look once more, sleep, unregister (see `park.rs`).
        let in_driver = park::park_worker(shared, self.index, &self.searching, &self.delivering);
        if let Some(start) = start {
            self.trace.record(start, TraceKind::Park { in_driver });
        }
        // Tasks woken by the driver landed in our ready queue; share them.
        if self.ready.len() + self.queue.len() > 1 {
            shared.notify_parked_local();
        }
    }

    /// Called for a task spawned on this worker.
    pub(crate) fn spawned(&self, task: Notified) {
        bump(&self.stats.spawned, 1);
        self.schedule_local(task);
    }

    /// Queues a task on this worker: in the LIFO slot (spawn, wake), or in the ready queue
    /// (woken while the driver delivers events).
    pub(crate) fn schedule_local(&self, task: Notified) {
        if self.delivering.get() {
            self.push_ready(task);
            return;
        }
        if let Some(prev) = self.remote().lifo.put(task) {
            self.push_back(prev);
            self.shared.notify_parked_local();
            return;
        }
        let shared = &*self.shared;
        if !shared.watcher_armed.load(SeqCst) && shared.idle.has_sleepers() {
            shared.wake_watcher();
        }
    }

    /// Queues a task that yielded: at the back of the queue, behind every task queued
    /// here, and behind a share of the injector if our queue was empty. Otherwise the task
    /// would run again at once while tasks spawned from outside wait in the injector for
    /// the next maintenance tick, 61 polls away: a task that yields in a loop would let
    /// the injector advance one batch per 61 of its polls.
    pub(crate) fn schedule_yield(&self, task: Notified) {
        if self.delivering.get() {
            self.push_ready(task);
            return;
        }
        // The injector first: nobody writes its line while it stays empty.
        if !self.shared.injector.is_empty() && self.queue.is_empty() {
            self.refill_from_injector();
        }
        self.push_back(task);
        self.shared.notify_parked_local();
    }

    /// Queues a task the driver woke: in the ready queue, which runs before the queue.
    fn push_ready(&self, task: Notified) {
        self.maybe_ready.set(true);
        self.push_capped(&self.ready, task);
    }

    fn push_back(&self, task: Notified) {
        self.push_capped(&self.queue, task);
    }

    /// Pushes onto one of our queues; when it holds `QUEUE_CAP`, half of it (the oldest)
    /// moves to the injector first.
    #[inline]
    fn push_capped(&self, queue: &LocalQueue<Notified>, task: Notified) {
        if queue.len() >= QUEUE_CAP {
            for _ in 0..QUEUE_CAP / 2 {
                match queue.pop() {
                    Some(t) => self.shared.injector.push(t),
                    None => break,
                }
            }
            bump(&self.stats.overflows, 1);
        }
        queue.push(task);
    }

    /// What our batches work against (see `task/list.rs`).
    #[inline]
    fn batch_site(&self) -> BatchSite<'_> {
        let stats = &self.remote().stats;
        BatchSite {
            list: &self.shared.owned,
            pending: &stats.pending,
            deferred: &stats.deferred,
        }
    }

    /// Takes the list's reference of a task just spawned here into the pending batch.
    pub(crate) fn add_pending(&self, task: NonNull<Header>) {
        // SAFETY: the task was just allocated by our caller for our shard and is not
        // scheduled yet.
        unsafe { self.batches.add_pending(self.batch_site(), task) }
    }

    /// A task finished here before shutdown began: unlinks it from the owned list, or
    /// batches that (see `Batches::release`). True if the caller drops the list's
    /// reference now.
    pub(crate) fn release(&self, task: NonNull<Header>) -> bool {
        // SAFETY: our caller, the task's `complete`, finishes it here and holds a
        // reference.
        unsafe { self.batches.release(self.batch_site(), task) }
    }

    /// Empties our batches into the owned list (see `Batches::settle`).
    pub(crate) fn settle(&self) {
        self.batches.settle(self.batch_site());
    }

    /// On the way out: give back the references we hold in our queue and slot.
    fn drain(&self) {
        while let Some(t) = self.queue.pop() {
            drop(t);
        }
        while let Some(t) = self.ready.pop() {
            drop(t);
        }
        drop(self.remote().lifo.take());
        self.settle();
        self.publish();
    }
}

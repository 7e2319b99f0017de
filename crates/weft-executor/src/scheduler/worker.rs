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
//!    shrinking on every burst; the ready queue's cap, `READY_QUEUE_CAP`, holds a whole
//!    harvest of a busy server's events, whose oldest would otherwise wait in the injector
//!    behind later harvests). Both local queues are stealable.
//! 5. If the queue was empty: the ready queue, then the LIFO slot, over their caps.
//! 6. The injector, taking a batch into its own queue.
//!
//! # Yielding
//!
//! A task that yields (wakes itself during its poll) goes to the back of the queue, not the
//! LIFO slot. If the queue is otherwise empty, a share of the injector goes in first: a
//! task yielding in a loop would otherwise run again at once, and tasks spawned from
//! outside would advance one batch per maintenance tick (measured: 10,000 spawns from
//! outside while every worker runs such a task took 4-12 ms instead of about 1).
//!
//! # Seeded runs
//!
//! A current-thread runtime built with a seed (`Builder::seed`) takes its tasks another
//! way: `next_ready` calls `Core::next_seeded` (`seeded.rs`) instead of steps 2-6. Steps 0
//! and 1 stay on the same ticks; then every runnable task of the worker goes into one pool
//! and the next is drawn from it by the seeded generator, and so is each poll's budget.
//! Placement (the LIFO slot, the yield to the back, the ready queue) is untouched: the draw
//! makes it irrelevant, and the multi-thread workers pay nothing for the mode (one branch
//! per task in the current-thread loop).
//!
//! # Stealing
//!
//! With nothing local, the worker becomes a *searcher* (unless half the workers already
//! are: then it goes straight to sleep). It first takes half of another worker's ready
//! queue if that worker has not ticked for `STRANDED_AFTER` (its thread lost its CPU: the
//! driver's fresh events, looked at next, would otherwise always come first),
//! then polls the driver. Its rounds then take a batch from the injector, then
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
//! # Blocking in place
//!
//! `block_in_place(f)`, called in a task's poll on a worker thread, hands the worker to a
//! new thread before `f` runs (`hand_off`): the context stops pointing at it, and a thread
//! started with it runs its loop (`run_worker`) from where it was, with everything the
//! worker holds: its queue, its ready queue, its LIFO slot (in its `Remote`, which goes by
//! the worker's index), its batches and cell cache, its counters. The driver needs no
//! hand-over: a worker holds it only around `Driver::poll` and its park, never during a
//! poll. The old thread runs `f`, then the rest of the poll as a plain thread of the
//! runtime (its spawns and wakes go through the injector); when the poll returns, its loop
//! sees it no longer owns the worker and the thread exits. Until then shutdown counts it
//! with the blocking pool's threads (`BlockingPool::adopt_thread`): it waits for it, within
//! `Runtime::shutdown_timeout`, but does not join it. Threads started by hand-offs are
//! joined like the first workers. A thread that left says so (`LeftWorker`) after its
//! `on_thread_stop` hook. Once shutdown began, or if the OS refuses a thread, there is no
//! hand-off and `f` runs in place. Nested calls and calls off the workers just run `f`, and
//! so do calls where runtime code below still holds the worker: outside a task's poll (a
//! destructor the loop runs between polls) and inside a flush of its batches
//! (`WorkerLocal::lend`: a spawn's flush frees a cell, whose join waker's drop may call
//! `block_in_place`). Only a worker `run_worker` runs moves (`HandOff::Pinned` otherwise).
//! No atomic protocol is added: the worker changes hands through the thread spawn, and the
//! new thread is recorded under `Shared::hand_offs`'s lock, the same lock shutdown takes
//! after setting its flag.
//!
//! # What re-enters the worker
//!
//! A worker's state is a `Worker` in a box, in two halves. `Core` is what only the run loop
//! touches (its tick, the counts of polls in a row from the slot and the ready queue,
//! whether it searches, the injector trickle, its random victim, where the next task came
//! from, the LIFO slots it saw): plain fields, borrowed `&mut` by the loop while it looks
//! for a task and never reachable from anywhere else. `WorkerLocal` is what the code the
//! loop calls reaches again, through the thread-local context (`context::with_worker`):
//!
//! - A task's poll (`task.run()` in `Worker::poll`): a spawn (`Shared::spawn`: `cells.alloc`,
//!   `add_pending`, `spawned`), a wake or yield (`schedule_local`, `schedule_yield`, which
//!   may `refill_from_injector`), the task completing (`release`, then `free_cell` into
//!   `cells`), a `Runtime` dropped inside the task (`Shared::shutdown`: `settle`).
//! - The driver, while `delivering` is set (`Driver::poll`, `poll_due`, a park in the
//!   driver): the wakes of fired timers and ready sockets (`schedule_local` into `ready`).
//! - Destructors run by the runtime itself: a batch's flush drops list references, and a
//!   freed cell drops a task's output, which may spawn (`add_pending` while `settle` runs:
//!   `Batches` takes no borrow across it, see `task/list.rs`).
//!
//! So `WorkerLocal` is only ever borrowed `&`: its mutable fields are two `Cell`s
//! (`maybe_ready`, `delivering`) and types that keep their own (the counters, the trace,
//! the batches, the cell cache), none borrowed across a call out. Around a poll the loop
//! holds no reference into the `Worker` at all (`Worker::next_task` returns the task and
//! its borrows end): a poll may give the whole worker away to another thread, and the loop
//! looks at the context after every poll to see whether it still owns it.
//!
//! Measured (docs/measuring.md): tokio's shape, one `RefCell<Option<Box<Core>>>` put into
//! the context before each poll and taken out after, costs a borrow flag's check and two
//! writes per access; this split costs the ownership look after each poll (a thread-local
//! load), and with the worker's own `Remote` kept as a pointer instead of looked up by
//! index, yields and spawns from a task take fewer instructions than the `Cell`s did.

use super::context;
use super::metrics::{bump, LocalStats};
use super::park;
use super::poll::PollSite;
use super::rng::Rng;
use super::seeded::Seeded;
use super::shared::LeftWorker;
use super::trace::{ParkEnd, Place, TaskSource, TraceKind, TraceLocal};
use super::{Remote, Shared, WorkerQueues};
use crate::sync::deque::Worker as LocalQueue;
use crate::task::alloc::LocalCache;
use crate::task::cell::Header;
use crate::task::list::{BatchSite, Batches};
use crate::task::Notified;
use crossbeam_utils::Backoff;
use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Consecutive polls from the LIFO slot before the queue gets a turn: past 3 ping-pong
/// gains little while a queued task's worst wait grows with it (docs/measuring.md).
const LIFO_CAP: u32 = 3;
/// Consecutive polls from the ready queue (tasks woken by timers and I/O) before the
/// queue gets a turn: events from outside go first, but a stream of them cannot starve
/// spawned and yielding tasks.
const READY_CAP: u32 = 32;
/// Slots of the local queue before half of it overflows to the injector; a steal takes
/// at most half of it.
pub(super) const QUEUE_CAP: usize = 256;
/// Slots of the ready queue before half of it overflows to the injector: a whole harvest
/// of a busy server's events fits (1,000 HTTP connections: docs/measuring.md).
const READY_QUEUE_CAP: usize = 1024;
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

/// A worker's whole state. One thread owns it at a time: the worker thread, or the thread
/// `block_in_place` hands it to (see "Blocking in place"). Boxed, so it stays put when it
/// changes hands; its loop reaches it through a raw pointer, the context too.
pub(crate) struct Worker {
    /// What only the run loop touches.
    core: Core,
    /// What the code the loop calls may reach again through the context.
    pub(crate) local: WorkerLocal,
}

// SAFETY: a worker is moved to another thread only whole, by `hand_off`, once its old
// thread has stopped reaching it (the context no longer points at it and its loop checks
// that after every poll). Its raw pointers (`lifo_seen`'s addresses, never dereferenced;
// the batches' task references; the cell cache's free cells) belong to the worker, not
// to a thread, and its `Cell`s are only ever touched by the one thread that owns it.
unsafe impl Send for Worker {}

/// The state only the run loop reads and writes: plain fields, borrowed `&mut` by the loop
/// between polls and never reachable from the context.
pub(super) struct Core {
    tick: u32,
    lifo_polls: u32,
    /// Polls in a row taken from `ready` while `queue` waited.
    ready_polls: u32,
    searching: bool,
    /// Our last take from the injector brought a single task (see `steal_injector`).
    pub(super) injector_trickle: bool,
    /// Draws steal victims; `seeded`'s generator is separate, so that the victims of a
    /// multi-thread worker and a seeded schedule never share a stream.
    pub(super) rng: Rng,
    /// Set on a seeded current-thread runtime's worker (see "Seeded runs").
    pub(super) seeded: Option<Seeded>,
    /// Where the task about to run was found (for the trace).
    pub(super) from: TaskSource,
    /// The LIFO slot content seen at the previous look, per worker.
    pub(super) lifo_seen: Box<[*mut Header]>,
    /// Per worker: its tick at our previous look, and when that look was (see
    /// `steal_stranded_ready`).
    pub(super) ticks_seen: Box<[u32]>,
    pub(super) ready_look: Option<Instant>,
}

/// The part of a worker that a poll, the driver or a destructor reaches again through the
/// thread-local context (see "What re-enters the worker"): taken by `&`, its few mutable
/// fields are `Cell`s or manage their own.
pub(crate) struct WorkerLocal {
    pub(crate) index: usize,
    pub(crate) shared: Arc<Shared>,
    /// `shared.remotes[index]`, which `shared` keeps in place: looked up on every poll
    /// and spawn, its index and bounds check cost about 1% of a yield's instructions.
    remote: NonNull<Remote>,
    pub(super) queue: LocalQueue<Notified>,
    /// Tasks the driver woke here (timers fired, I/O ready): run before `queue`.
    pub(super) ready: LocalQueue<Notified>,
    /// False only when `ready` is known empty: we are its only pusher (thieves only take).
    pub(super) maybe_ready: Cell<bool>,
    /// The driver is delivering events on this thread (`Driver::poll`, `poll_due`, or a
    /// park in the driver): tasks woken now go to the ready queue, not the LIFO slot.
    delivering: Cell<bool>,
    pub(super) stats: LocalStats,
    pub(super) trace: TraceLocal,
    /// Tasks spawned here and not linked into the owned list yet, and finished tasks of
    /// other shards not unlinked yet (see `task/list.rs`).
    batches: Batches,
    /// Free task cells (see `task/alloc.rs`).
    pub(crate) cells: LocalCache,
    /// What is done around each poll (see `poll.rs`).
    poll_site: PollSite,
    /// Set by `run_worker` for the worker it runs, and by nothing else: a worker another
    /// loop drives (the current-thread flavour's, on its `block_on` thread) is never
    /// handed off (see `hand_off`).
    hand_off_able: bool,
    /// Raised while runtime code that holds this half runs user code (`lend`: a batch's
    /// flush frees cells, dropping outputs and join wakers): `hand_off` refuses then.
    lent: Cell<bool>,
}

/// The body of a worker thread; what it returns is dropped after `on_thread_stop` (see
/// `run_worker`).
pub(crate) fn run(shared: Arc<Shared>, index: usize, queues: WorkerQueues) -> Option<LeftWorker> {
    let worker = Worker::new(shared, index, queues);
    // (The thread entered the runtime already: see `thread::spawn`.)
    // SAFETY: a fresh box, ours.
    unsafe { run_worker(Box::into_raw(worker)) }
}

/// Runs `worker`'s loop on this thread until shutdown (then frees it), or until a poll hands
/// it to another thread (`hand_off`), after which this thread never touches it again and
/// the notice returned tells shutdown it is gone once dropped (after `on_thread_stop`:
/// see `thread::spawn`).
///
/// # Safety
///
/// `worker` comes from `Box::into_raw` and this thread owns it.
unsafe fn run_worker(worker: *mut Worker) -> Option<LeftWorker> {
    // SAFETY: the caller hands us the worker and nothing borrows it yet: a plain write and
    // a clone, through place projections.
    let shared = unsafe {
        (*worker).local.hand_off_able = true;
        (*worker).local.shared.clone()
    };
    let _guard = context::set_worker(worker);
    loop {
        // Between polls no reference into the worker is held: a poll may hand it off.
        // SAFETY: this thread owns the worker: it has not handed it off (checked below
        // after every poll).
        let Some(task) = (unsafe { Worker::next_task(worker) }) else {
            break;
        };
        // SAFETY: still ours (no poll since the check), and `next_task`'s borrows ended.
        if !unsafe { Worker::poll(worker, task) } {
            // Handed off in the poll: another thread runs the worker now.
            return Some(shared.hand_off_done());
        }
    }
    // SAFETY: the loop ended without a hand-off, so the worker is still ours; `drain` may
    // re-enter through the context (a dropped reference frees a task), so the guard lives
    // until after it.
    unsafe { Worker::drain(worker) };
    drop(_guard);
    // SAFETY: ours, from `Box::into_raw`, and nothing points at it any more.
    drop(unsafe { Box::from_raw(worker) });
    None
}

/// A worker on its way to another thread.
struct SendWorker(*mut Worker);

// SAFETY: `Worker` is `Send` (see there); the pointer is its box's, handed over whole.
unsafe impl Send for SendWorker {}

impl SendWorker {
    /// Moves the whole value into a closure (not just its field, which is not `Send`).
    fn into_raw(self) -> *mut Worker {
        self.0
    }
}

/// What `hand_off` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandOff {
    /// The worker went to a new thread: this one is a plain thread of the runtime now,
    /// until its poll returns and it exits.
    Moved,
    /// Nothing changed, and `f` runs in place: no worker on this thread; or not inside a
    /// task's poll with the worker free (a runtime frame lent it out, as a spawn does
    /// while its batch's flush frees a cell, or the loop runs a destructor between polls);
    /// or shutdown began; or the OS refused a thread.
    Stayed,
    /// This thread's worker is not run by `run_worker` (the current-thread flavour's, on
    /// its `block_on` thread): it never moves.
    Pinned,
}

/// `block_in_place`: if this thread runs a worker, inside one of its task's polls, hands
/// the worker to a new thread, which runs its loop from here on, and makes this thread a
/// plain one of the runtime (see "Blocking in place").
pub(crate) fn hand_off() -> HandOff {
    let worker = context::worker_ptr();
    if worker.is_null() {
        return HandOff::Stayed;
    }
    let (shared, index) = {
        // Only the `local` half is reached, by a place projection, and only shared: during
        // a poll the loop below us holds no borrow of the worker, and a runtime frame that
        // lent it out (`context::with_worker`) holds `&WorkerLocal`, shared too.
        // SAFETY: this thread owns the worker (the context points at it), and the
        // reference ends before the worker can change hands.
        let local = unsafe { &*std::ptr::addr_of!((*worker).local) };
        if !local.hand_off_able {
            return HandOff::Pinned;
        }
        // Only the multi-thread flavour's workers are run by `run_worker`.
        debug_assert!(!local.shared.config.current_thread);
        // Only inside a task's poll (the loop below us then holds no borrow of the
        // worker: the destructors it runs while it looks for work run with no task
        // current, and futures are dropped as their task outside a poll only once
        // shutdown began, when there is no hand-off either), and not while a runtime
        // frame lent the worker out: a spawn whose batch's flush frees a cell goes on
        // using it after.
        if local.lent.get() || crate::task::try_task_id().is_none() {
            return HandOff::Stayed;
        }
        (local.shared.clone(), local.index)
    };
    // Given back if the hand-off fails or unwinds before a thread took the worker.
    let taken = TakenWorker(context::take_worker());
    let moved = SendWorker(worker);
    // SAFETY: the new thread owns the worker from its start: this one no longer reaches it
    // (the context does not point at it, and the loop below us sees that after the poll).
    let started = shared.start_hand_off(index, move || unsafe { run_worker(moved.into_raw()) });
    if !started {
        // Nothing started: the closure, holding only the pointer, is dropped; still ours.
        drop(taken);
        return HandOff::Stayed;
    }
    std::mem::forget(taken);
    HandOff::Moved
}

/// A worker `hand_off` took from the context and has not given to a thread yet: dropped,
/// it goes back to this thread, still inside its poll.
struct TakenWorker(*mut Worker);

impl Drop for TakenWorker {
    fn drop(&mut self) {
        context::restore_worker(self.0);
    }
}

impl Worker {
    /// Worker `index`'s state, around its ends of its queues.
    pub(super) fn new(shared: Arc<Shared>, index: usize, queues: WorkerQueues) -> Box<Worker> {
        let n = shared.num_workers();
        let WorkerQueues { queue, ready } = queues;
        Box::new(Worker {
            core: Core {
                tick: 0,
                lifo_polls: 0,
                ready_polls: 0,
                searching: false,
                injector_trickle: false,
                rng: Rng::new(index as u64 + 1),
                seeded: None,
                from: TaskSource::Queue,
                lifo_seen: vec![std::ptr::null_mut(); n].into_boxed_slice(),
                ticks_seen: vec![0; n].into_boxed_slice(),
                ready_look: None,
            },
            local: WorkerLocal {
                index,
                remote: NonNull::from(&*shared.remotes[index]),
                queue,
                ready,
                maybe_ready: Cell::new(false),
                delivering: Cell::new(false),
                stats: LocalStats::default(),
                trace: TraceLocal::new(index, shared.config.trace_limit, shared.config.epoch),
                batches: Batches::new(index, shared.owned.num_shards()),
                cells: LocalCache::new(),
                poll_site: PollSite::new(&shared.config, index),
                // Set by `run_worker` only.
                hand_off_able: false,
                lent: Cell::new(false),
                shared,
            },
        })
    }

    /// Makes this worker draw its schedule from `rng` (see "Seeded runs").
    pub(super) fn seed(&mut self, rng: Rng) {
        self.core.seeded = Some(Seeded::new(rng));
    }

    /// Gives back the worker's ends of its queues (the current-thread flavour keeps them
    /// between its `block_on` calls), with the tasks of a seeded worker's pool put back in
    /// its queue, and the seeded generator's state. The caller settled and published first.
    pub(super) fn into_queues(self: Box<Self>) -> (WorkerQueues, Option<Rng>) {
        let Worker { local, core } = *self;
        let rng = core.seeded.map(|mut s| {
            for t in s.take_pool() {
                local.queue.push(t);
            }
            s.rng
        });
        let queues = WorkerQueues {
            queue: local.queue,
            ready: local.ready,
        };
        (queues, rng)
    }

    /// Polls `task`, recording the poll in the trace: the poll site of both flavours
    /// (`current_thread.rs` calls it too). Returns false if the poll handed the worker to
    /// another thread, which then owns it.
    ///
    /// # Safety
    ///
    /// This thread owns `worker`.
    #[inline]
    pub(super) unsafe fn poll(worker: *mut Worker, task: Notified) -> bool {
        // SAFETY: this thread owns the worker (our contract) and nothing borrows it between
        // polls: a shared borrow of `local`, used only before the poll.
        let w = unsafe { &(*worker).local };
        // One branch for both the trace and slow-poll timing (see `PollSite::watched`).
        if w.poll_site.watched() {
            // SAFETY: this thread owns the worker (our contract), and `w` is not used again.
            return unsafe { Worker::run_watched(worker, task) };
        }
        w.poll_site.note(&task);
        task.run();
        context::worker_ptr() == worker
    }

    /// Polls `task` with the trace recording it and/or slow polls timed. Returns false if
    /// the poll handed the worker to another thread (then its slow poll is not reported:
    /// blocking in place is what it is for).
    ///
    /// # Safety
    ///
    /// This thread owns `worker`.
    #[cold]
    #[inline(never)]
    unsafe fn run_watched(worker: *mut Worker, task: Notified) -> bool {
        // SAFETY: this thread owns the worker (our contract) and nothing borrows it between
        // polls: a copy out of `core` and a shared borrow of `local`, used before the poll.
        let (from, w) = unsafe { ((*worker).core.from, &(*worker).local) };
        let traced = w.trace.on().then(|| {
            let header = task.header();
            if let (0, Some(name)) = (header.poll_stats().1, header.spawned.name()) {
                w.trace.record_name(header.id, name);
            }
            let kind = TraceKind::Poll {
                task: task.id(),
                from,
            };
            (Instant::now(), kind)
        });
        let timer = w.poll_site.begin(&task);
        task.run();
        if context::worker_ptr() != worker {
            return false;
        }
        // SAFETY: the poll did not hand the worker off (checked just above): still ours, and
        // the poll's borrows ended with it.
        let w = unsafe { &(*worker).local };
        let slow = w.poll_site.end(timer);
        if let Some((start, kind)) = traced {
            w.trace.record_poll(start, kind, slow);
        }
        true
    }

    /// For the current-thread flavour: the next task this worker has (steps 0-6 of the
    /// header, or the seeded draw), without searching or parking.
    ///
    /// # Safety
    ///
    /// This thread owns `worker`.
    #[inline]
    pub(super) unsafe fn next_ready(worker: *mut Worker) -> Option<Notified> {
        // SAFETY: the caller's; disjoint halves, as in `next_task`.
        let (core, w) = unsafe { (&mut (*worker).core, &(*worker).local) };
        let task = if core.seeded.is_some() {
            core.next_seeded(w)?
        } else {
            core.next_local(w)?
        };
        bump(&w.stats.polls, 1);
        Some(task)
    }

    /// For the current-thread flavour: parks as an idle worker does (see "Parking").
    ///
    /// # Safety
    ///
    /// This thread owns `worker`.
    pub(super) unsafe fn park_idle(worker: *mut Worker) {
        // SAFETY: the caller's; disjoint halves, as in `next_task`.
        let (core, w) = unsafe { (&mut (*worker).core, &(*worker).local) };
        core.park(w);
        if core.searching {
            // A notifier woke us as a searcher (`idle.rs`, rule 2).
            core.stop_searching(w);
        }
    }

    /// The next task to poll, after parking as long as there is none; `None` at shutdown.
    ///
    /// # Safety
    ///
    /// This thread owns `worker`.
    #[inline]
    unsafe fn next_task(worker: *mut Worker) -> Option<Notified> {
        // SAFETY: this thread owns the worker (our contract), so nobody else touches it.
        // Two borrows of disjoint halves, made by place projection: the code this calls may
        // reach `local` again through the context (shared, like ours), never `core`.
        let (core, w) = unsafe { (&mut (*worker).core, &(*worker).local) };
        loop {
            if w.shared.is_shutdown() {
                return None;
            }
            let task = match core.next_local(w) {
                Some(t) => t,
                None => match core.search(w) {
                    Some(t) => t,
                    None => {
                        core.park(w);
                        continue;
                    }
                },
            };
            if core.searching {
                core.stop_searching(w);
            }
            bump(&w.stats.polls, 1);
            return Some(task);
        }
    }

    /// On the way out: give back the references we hold in our queue and slot.
    ///
    /// # Safety
    ///
    /// This thread owns `worker`.
    unsafe fn drain(worker: *mut Worker) {
        // SAFETY: this thread owns the worker (our contract) and the loop ended: a shared
        // borrow of `local`, which the drops below may reach again, shared, through the
        // context.
        let w = unsafe { &(*worker).local };
        while let Some(t) = w.queue.pop() {
            drop(t);
        }
        while let Some(t) = w.ready.pop() {
            drop(t);
        }
        drop(w.remote().lifo.take());
        w.settle();
        w.publish();
    }
}

impl Core {
    /// Counts a tick, with steps 0 and 1 of the header comment on theirs (but 1's take from
    /// the injector, which is the caller's): true on a maintenance tick. Inlined into both
    /// callers: a call per tick cost 5.6% more instructions on `callgrind yield_many`
    /// (docs/measuring.md, "Seeded runs when there is no seed").
    #[inline(always)]
    pub(super) fn tick(&mut self, w: &WorkerLocal) -> bool {
        let tick = self.tick.wrapping_add(1);
        self.tick = tick;
        // Relaxed: a hint for searchers (`steal_stranded_ready`); a stale reading costs at
        // most one early or late steal, which the queue itself synchronizes.
        w.remote().stats.ticks.store(tick, Relaxed);
        if tick % DUE_INTERVAL == 0 {
            w.deliver_due();
        }
        let maintenance = tick % MAINTENANCE_INTERVAL == 0;
        if maintenance {
            w.maintenance();
        }
        maintenance
    }

    /// Steps 0-6 of the header comment (docs/scheduling.md numbers them the same).
    /// Inlined into both loops (`next_task`, `next_ready`): as a call it cost every poll 15
    /// instructions, the registers it saved and restored (docs/measuring.md, "The
    /// worker's loop against 1e9db2a").
    #[inline(always)]
    fn next_local(&mut self, w: &WorkerLocal) -> Option<Notified> {
        if self.tick(w) {
            if let Some(t) = self.steal_injector(w) {
                self.lifo_polls = 0;
                self.from = TaskSource::Injector;
                return Some(t);
            }
        }
        if self.lifo_polls < LIFO_CAP {
            if let Some(t) = w.remote().lifo.take() {
                self.lifo_polls += 1;
                bump(&w.stats.lifo_hits, 1);
                self.from = TaskSource::LifoSlot;
                return Some(t);
            }
        }
        self.lifo_polls = 0;
        // Most ticks find the ready queue empty: a thread-local flag says so without
        // touching the queue's shared indices.
        let ready = w.maybe_ready.get();
        if ready && self.ready_polls < READY_CAP {
            if let Some(t) = w.ready.pop() {
                self.ready_polls += 1;
                self.from = TaskSource::Ready;
                return Some(t);
            }
            w.maybe_ready.set(false);
        }
        self.ready_polls = 0;
        if let Some(t) = w.queue.pop() {
            self.from = TaskSource::Queue;
            return Some(t);
        }
        if w.maybe_ready.get() {
            if let Some(t) = w.ready.pop() {
                // Over the cap but the queue is empty.
                self.ready_polls = 1;
                self.from = TaskSource::Ready;
                return Some(t);
            }
            w.maybe_ready.set(false);
        }
        if let Some(t) = w.remote().lifo.take() {
            // Over the cap but nothing else to run.
            self.lifo_polls = 1;
            bump(&w.stats.lifo_hits, 1);
            self.from = TaskSource::LifoSlot;
            return Some(t);
        }
        self.from = TaskSource::Injector;
        self.steal_injector(w)
    }

    /// `poll_driver`, then a task it woke.
    fn poll_driver_and_pop(&mut self, w: &WorkerLocal) -> Option<Notified> {
        if !w.poll_driver() {
            return None;
        }
        self.from = TaskSource::Ready;
        w.ready.pop()
    }

    /// Becomes a searcher and looks for work elsewhere, spinning a little.
    fn search(&mut self, w: &WorkerLocal) -> Option<Notified> {
        if !park::start_searching(&w.shared.idle, &mut self.searching) {
            return None;
        }
        let start = w.trace.clock();
        let found = self.search_rounds(w);
        w.trace.span(start, || TraceKind::Search {
            found: found.is_some(),
        });
        found
    }

    /// The looks of a search (see `search`).
    fn search_rounds(&mut self, w: &WorkerLocal) -> Option<Notified> {
        // The LIFO slots are compared with our previous look (the end of the previous
        // search, or before we slept) now, and again after a full spin: a task seen in
        // the same slot at both looks has waited at least that long behind one poll.
        if let Some(t) = self.steal_stale_lifo(w) {
            return Some(t);
        }
        // Tasks the driver woke on a worker that has not run any of them for a while (its
        // thread lost its CPU) next: fresh events would otherwise always come first.
        if let Some(t) = self.steal_stranded_ready(w) {
            return Some(t);
        }
        // Events that came while we ran are the likeliest work: look at the driver.
        if let Some(t) = self.poll_driver_and_pop(w) {
            return Some(t);
        }
        let backoff = Backoff::new();
        let mut since: Option<Instant> = None;
        loop {
            if let Some(t) = self.steal_round(w) {
                return Some(t);
            }
            if w.shared.is_shutdown() {
                return None;
            }
            if backoff.is_completed() {
                // Keep looking, yielding the CPU between looks, until as much time has
                // passed as a wake-up would cost (see `SEARCH_SPIN`). Poll the driver
                // meanwhile: nobody may be parked in it, so I/O and timers would wait.
                let start = *since.get_or_insert_with(Instant::now);
                if start.elapsed() >= SEARCH_SPIN {
                    return self.steal_stale_lifo(w);
                }
                if let Some(t) = self.poll_driver_and_pop(w) {
                    return Some(t);
                }
                std::thread::yield_now();
                continue;
            }
            backoff.snooze();
        }
    }

    fn stop_searching(&mut self, w: &WorkerLocal) {
        park::stop_searching(&*w.shared, &mut self.searching, || {
            !w.queue.is_empty() || !w.ready.is_empty() || !w.shared.injector.is_empty()
        });
    }

    // Not inlined into the run loop: its trace of the park's end would grow the loop.
    #[inline(never)]
    fn park(&mut self, w: &WorkerLocal) {
        let shared = &*w.shared;
        bump(&w.stats.parks, 1);
        w.publish();
        w.settle();
        // What other workers gave back while we ran: keep a cache's worth, free the rest.
        w.cells.trim(&w.remote().free);
        let start = w.trace.clock();
        let ready_before = if start.is_some() { w.ready.len() } else { 0 };
        // Register, look once more, sleep, unregister (see `park.rs`).
        let woke = park::park_worker(shared, w.index, &mut self.searching, &w.delivering);
        w.trace
            .span(start, || w.park_end(start, ready_before, woke));
        w.poll_site.refresh_clock();
        // Tasks woken by the driver landed in our ready queue; share them.
        if w.ready.len() + w.queue.len() > 1 {
            shared.notify_parked_local();
        }
    }
}

impl WorkerLocal {
    /// Counts slow polls of local tasks run on this worker's thread (`local.rs`), for
    /// `RuntimeMetrics::worker_slow_polls`.
    pub(super) fn count_slow_polls(&self, n: u64) {
        self.poll_site.add_slow_polls(n);
    }

    #[inline]
    pub(super) fn remote(&self) -> &Remote {
        // SAFETY: it points into `self.shared.remotes`, a boxed slice that `self.shared`
        // keeps alive and never moves or changes.
        unsafe { self.remote.as_ref() }
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

    /// Hands our counters and trace events over to where other threads read them.
    pub(super) fn publish(&self) {
        self.stats.publish(&self.remote().stats);
        let slow = self.poll_site.slow_polls();
        self.remote().stats.slow_polls.store(slow, Relaxed);
        self.trace.publish(&self.remote().trace);
    }

    /// Timers that came due go to our ready queue (see `Driver::poll_due`).
    #[inline]
    fn deliver_due(&self) {
        self.delivering.set(true);
        self.shared.driver.poll_due();
        self.delivering.set(false);
    }

    fn maintenance(&self) {
        self.poll_site.refresh_clock();
        self.publish();
        self.settle();
        self.poll_driver();
        if self.queue.len() + self.ready.len() > 1 {
            self.shared.notify_parked_local();
        }
    }

    /// Why a park ended, for the trace: notified, else a task the driver woke into our
    /// ready queue, else the watcher's interval passed, else spurious.
    #[cold]
    fn park_end(&self, start: Option<Instant>, ready_before: usize, woke: park::Woke) -> TraceKind {
        let slept = start.map_or(Duration::ZERO, |s| s.elapsed());
        let why = if woke.notified {
            ParkEnd::Notified
        } else if woke.in_driver && self.ready.len() > ready_before {
            ParkEnd::DriverEvent
        } else if woke.in_driver && slept >= WATCH_INTERVAL {
            ParkEnd::WatcherTimeout
        } else {
            ParkEnd::Spurious
        };
        TraceKind::Park {
            in_driver: woke.in_driver,
            woke: why,
        }
    }

    /// Called for a task spawned on this worker.
    pub(crate) fn spawned(&self, task: Notified) {
        bump(&self.stats.spawned, 1);
        let to = || self.landing(Place::LifoSlot);
        self.trace.event(|| TraceKind::Spawn {
            task: task.id(),
            to: to(),
        });
        self.place_local(task);
    }

    /// Queues a task woken on this worker (see `place_local`).
    pub(crate) fn schedule_local(&self, task: Notified) {
        let to = || self.landing(Place::LifoSlot);
        self.trace.event(|| TraceKind::Wake {
            task: task.id(),
            to: to(),
        });
        self.place_local(task);
    }

    /// Where a task queued now goes, for the trace (recorded before it goes, so that the
    /// wake comes before any poll of the task): the ready queue while the driver delivers
    /// events, else `usual`.
    fn landing(&self, usual: Place) -> Place {
        if self.delivering.get() {
            Place::Ready
        } else {
            usual
        }
    }

    /// Queues a task on this worker: in the LIFO slot (spawn, wake), or in the ready queue
    /// (woken while the driver delivers events).
    #[inline(always)]
    fn place_local(&self, task: Notified) {
        if self.delivering.get() {
            self.push_ready(task);
            return;
        }
        if let Some(prev) = self.remote().lifo.put(task) {
            self.trace
                .event(|| TraceKind::LifoDisplaced { task: prev.id() });
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
    ///
    /// Not traced (see `TraceKind::Wake`): the hottest path of all stays as it is.
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
        self.push_capped(&self.ready, READY_QUEUE_CAP, task);
    }

    #[inline(always)]
    fn push_back(&self, task: Notified) {
        self.push_capped(&self.queue, QUEUE_CAP, task);
    }

    /// Pushes onto one of our queues; when it holds `cap`, half of it (the oldest) moves to
    /// the injector first. Inlined, with the overflow out of line: as a call it cost every
    /// yield 11 instructions (docs/measuring.md, "The worker's loop against 1e9db2a").
    #[inline(always)]
    fn push_capped(&self, queue: &LocalQueue<Notified>, cap: usize, task: Notified) {
        if queue.len() >= cap {
            self.overflow(queue, cap);
        }
        queue.push(task);
    }

    /// Moves the oldest half of a full local queue to the injector (see `push_capped`).
    #[cold]
    #[inline(never)]
    fn overflow(&self, queue: &LocalQueue<Notified>, cap: usize) {
        let mut moved = 0;
        for _ in 0..cap / 2 {
            match queue.pop() {
                Some(t) => self.shared.injector.push(t),
                None => break,
            }
            moved += 1;
        }
        bump(&self.stats.overflows, 1);
        let from = if std::ptr::eq(queue, &self.ready) {
            Place::Ready
        } else {
            Place::Queue
        };
        self.trace
            .event(|| TraceKind::Overflow { from, tasks: moved });
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
        unsafe { self.lend(|| self.batches.add_pending(self.batch_site(), task)) }
    }

    /// A task finished here before shutdown began: unlinks it from the owned list, or
    /// batches that (see `Batches::release`). True if the caller drops the list's
    /// reference now.
    pub(crate) fn release(&self, task: NonNull<Header>) -> bool {
        // SAFETY: our caller, the task's `complete`, finishes it here and holds a
        // reference.
        unsafe { self.lend(|| self.batches.release(self.batch_site(), task)) }
    }

    /// Empties our batches into the owned list (see `Batches::settle`).
    pub(crate) fn settle(&self) {
        self.lend(|| self.batches.settle(self.batch_site()));
    }

    /// Runs `f`, which may run user code (a batch's flush frees cells: outputs and join
    /// wakers are dropped) while our caller goes on holding this half after it: the
    /// worker cannot be handed off meanwhile. (`f` does not unwind: the drops a flush
    /// runs are contained, see `TaskCell::dealloc` and `shutdown_task`.)
    #[inline]
    fn lend<R>(&self, f: impl FnOnce() -> R) -> R {
        let lent = self.lent.replace(true);
        let r = f();
        self.lent.set(lent);
        r
    }
}

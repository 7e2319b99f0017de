//! The current-thread flavour: no worker threads; the tasks run on the thread that calls
//! `block_on`, between polls of the future it was given (the *main* future).
//!
//! # One worker, lent to `block_on`
//!
//! The runtime is the multi-thread one's `Shared` with a single worker slot (index 0) and
//! no thread started for it. The worker's ends of its queues (`WorkerQueues`) wait in
//! `CurrentThread::core` while no `block_on` runs; a `block_on` takes them, builds a
//! `Worker` around them, marks its thread as that worker
//! (`context::set_worker`), and gives the queues back when it returns or unwinds
//! (`CoreGuard`). So spawning, waking, yielding, the LIFO slot, the ready queue, the
//! cooperative budget, the cell caches, the metrics (one worker's worth) and the trace are
//! the worker's own code (`worker.rs`, polls through `Worker::poll`), and the next task is found as a worker finds it
//! (`Worker::next_ready`: timers due every 32 ticks, the driver and the injector
//! every 61, so both are served even when tasks are always ready). Nothing steals: there
//! is nobody to steal from.
//!
//! # The loop
//!
//! 1. If the main future was woken (`MainWaker::woken`, set by its waker), poll it, with a
//!    fresh budget; its output ends the loop.
//! 2. Run tasks one at a time until the main future is woken (but at least one task, if
//!    one is ready) or no task is left: the main future is looked at after every task, so
//!    a main future that yields in a loop and yielding tasks take turns.
//! 3. No task left (looked for again after settling the batches, whose destructors may
//!    wake or spawn) and the main future not woken (looked at again: finding no task may
//!    have let the driver deliver events, which may have woken it): park as a worker parks
//!    (`Worker::park_idle`), which sleeps in the driver, where timers and I/O wake tasks
//!    into the ready queue. From the last look at the flag until the park returns,
//!    `MainWaker::parking` is set, and a wake on this thread unparks it as a wake from
//!    another thread does.
//!
//! # Seeded runs
//!
//! Built with a seed, the worker draws its next task and each poll's budget from a
//! seeded generator instead (`seeded.rs`, and "Seeded runs" in `worker.rs`): the loop above
//! is the same, and so is the main future's place in it (polled whenever woken, between
//! two tasks), so a program run twice with one seed polls its tasks and its main future in
//! the same order. The generator's state lives in `CurrentThread::seeded` between `block_on`
//! calls, so a second `block_on` goes on with the stream instead of replaying its start;
//! the pool goes back into the queue when a `block_on` returns, and the thread's poll budget
//! back to `coop::BUDGET`.
//!
//! # Wake-ups from other threads
//!
//! A task woken or spawned on another thread (a blocking task, a foreign thread with a
//! `Handle`) goes to the injector, then `notify_parked` wakes worker 0 if it is registered
//! as asleep: the idle protocol of `idle.rs` with one worker (the loom models
//! `loom_idle_no_lost_wakeup_*` check it). The main future's waker sets `woken`, then
//! unparks worker 0's `Parker`, whose `NOTIFIED` state is not lost if it comes before the
//! park: the park after a look that saw `woken` false returns at once. On the `block_on`
//! thread itself the waker only sets the flag (the loop looks at it before it parks),
//! unless `parking` is set.
//!
//! # Another thread calling `block_on` meanwhile
//!
//! It finds `core` empty and polls its own future alone, on its own thread's waker, and
//! registers in `waiting`: the `block_on` that gives the queues back unparks every thread
//! registered, and the first to take them runs the tasks from then on (a registration
//! comes before the look at `core`, and the give-back before the look at `waiting`: one
//! of the two sees the other).
//!
//! # Shutdown
//!
//! As for the multi-thread flavour (`Shared::shutdown`): `block_on` borrows the runtime,
//! so no `block_on` runs when it drops; the queues are in `core`, and the teardown empties
//! them through their stealers after every task's future has been dropped once.

use super::context;
use super::metrics::LocalStats;
use super::rng::Rng;
use super::worker::Worker;
use super::{Shared, WorkerQueues};
use crate::coop;
use crate::task::Notified;
use parking_lot::Mutex;
use std::future::Future;
use std::pin::{pin, Pin};
use std::ptr;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// The worker slot the `block_on` thread takes.
const WORKER: usize = 0;

/// What a current-thread runtime keeps beside its `Shared`.
pub(crate) struct CurrentThread {
    shared: Arc<Shared>,
    /// The worker's ends of its queues while no `block_on` runs the tasks; `None` while one
    /// does.
    core: Mutex<Option<WorkerQueues>>,
    /// Threads in a `block_on` of their own, waiting for `core`.
    waiting: Mutex<Vec<Thread>>,
    main: Arc<MainWaker>,
    /// A seeded runtime's generator while no `block_on` runs the tasks (see "Seeded
    /// runs"); `None` when unseeded, and while one does.
    seeded: Mutex<Option<Rng>>,
}

/// The waker of the future a `block_on` runs.
struct MainWaker {
    /// Set by a wake, cleared by the loop before each poll of the main future.
    woken: AtomicBool,
    /// Set by the `block_on` thread from its last look at `woken` until its park returns:
    /// a wake on that thread meanwhile (a destructor run by the park) unparks it too.
    parking: AtomicBool,
    /// Weak: the driver may keep the waker (a timer), and the driver is in `Shared`.
    shared: Weak<Shared>,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // SeqCst, and the parker's swap after it: the loop's look at `woken` before it
        // parks either sees this store, or its park consumes the `NOTIFIED` state.
        self.woken.store(true, SeqCst);
        let here = context::with_worker(|w| {
            w.is_some_and(|w| ptr::eq(Arc::as_ptr(&w.shared), self.shared.as_ptr()))
        });
        if here && !self.parking.load(SeqCst) {
            // The loop looks at the flag before it parks.
            return;
        }
        if let Some(shared) = self.shared.upgrade() {
            shared.remotes[WORKER].parker.unpark(&*shared.driver);
        }
    }
}

impl CurrentThread {
    /// A current-thread scheduler on `shared`, which was made with one worker slot, and
    /// that worker's queues.
    pub(crate) fn new(shared: Arc<Shared>, queues: WorkerQueues) -> CurrentThread {
        debug_assert_eq!(shared.num_workers(), 1);
        CurrentThread {
            seeded: Mutex::new(shared.config.seed.map(Rng::new)),
            main: Arc::new(MainWaker {
                woken: AtomicBool::new(false),
                parking: AtomicBool::new(false),
                shared: Arc::downgrade(&shared),
            }),
            shared,
            core: Mutex::new(Some(queues)),
            waiting: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Runs `future` to completion on this thread, running the runtime's tasks meanwhile
    /// (see the header). The caller entered the runtime.
    #[track_caller]
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _blocking = context::enter_block_on();
        let mut future = pin!(future);
        loop {
            let queues = self.core.lock().take();
            if let Some(queues) = queues {
                return self.run(queues, future.as_mut());
            }
            // Another thread's `block_on` runs the tasks: poll ours alone meanwhile.
            let polled = context::with_thread_waker(|waker| {
                let mut cx = Context::from_waker(waker);
                coop::with_budget(|| future.as_mut().poll(&mut cx))
            });
            if let Poll::Ready(v) = polled {
                return v;
            }
            self.waiting.lock().push(thread::current());
            if self.core.lock().is_some() {
                continue;
            }
            // Woken by our future's waker or by the give-back of the queues.
            thread::park();
        }
    }

    fn run<F: Future>(&self, queues: WorkerQueues, mut future: Pin<&mut F>) -> F::Output {
        let mut worker = Worker::new(self.shared.clone(), WORKER, queues);
        worker.local.stats = LocalStats::resume(&self.shared.remotes[WORKER].stats);
        if let Some(rng) = self.seeded.lock().take() {
            worker.seed(rng);
        }
        let core = CoreGuard {
            rt: self,
            worker: Box::into_raw(worker),
        };
        let worker = core.worker;
        // Dropped before `core`: the thread stops being the worker, then the queues go back.
        let _worker = context::set_worker(worker);
        let waker = Waker::from(self.main.clone());
        let mut cx = Context::from_waker(&waker);
        let woken = &self.main.woken;
        woken.store(true, SeqCst);
        loop {
            if woken.swap(false, SeqCst) {
                // Each poll gets a fresh budget, as a task's does (`coop.rs`).
                if let Poll::Ready(v) = coop::with_budget(|| future.as_mut().poll(&mut cx)) {
                    return v;
                }
            }
            // This thread owns the worker from `set_worker` on, and no poll hands it off
            // (asserted after each): the unsafe calls below rely on that.
            // At least one task between two polls of the main future: one that yields in
            // a loop (woken during its own poll) must not starve the tasks.
            let mut ran = false;
            while !(ran && woken.load(SeqCst)) {
                // SAFETY: we own the worker (above).
                if let Some(task) = unsafe { Worker::next_ready(worker) } {
                    Self::poll(worker, task);
                    ran = true;
                    continue;
                }
                // The settle inside the park may run destructors (of finished tasks'
                // outputs) that wake or spawn: settle first, then look again.
                // SAFETY: we own the worker (above).
                unsafe { (*worker).local.settle() };
                // SAFETY: we own the worker (above).
                if let Some(task) = unsafe { Worker::next_ready(worker) } {
                    Self::poll(worker, task);
                    ran = true;
                    continue;
                }
                // `next_ready` may have let the driver deliver events, and one may have
                // woken the main future: on this thread that only sets the flag, unless
                // `parking` says we may be about to sleep.
                self.main.parking.store(true, SeqCst);
                if !woken.load(SeqCst) {
                    // SAFETY: we own the worker (above).
                    unsafe { Worker::park_idle(worker) };
                }
                self.main.parking.store(false, SeqCst);
                break;
            }
        }
    }

    fn poll(worker: *mut Worker, task: Notified) {
        // SAFETY: `run`'s thread owns the worker.
        let kept = unsafe { Worker::poll(worker, task) };
        assert!(
            kept,
            "a task handed the current-thread worker to another thread"
        );
    }

    /// Gives the queues back and lets the threads waiting for them look.
    fn give_back(&self, queues: WorkerQueues) {
        *self.core.lock() = Some(queues);
        let waiting = std::mem::take(&mut *self.waiting.lock());
        for t in waiting {
            t.unpark();
        }
    }
}

/// Gives the worker's queues back when `block_on` returns or unwinds.
struct CoreGuard<'a> {
    rt: &'a CurrentThread,
    /// From `Box::into_raw`; this thread owns it.
    worker: *mut Worker,
}

impl Drop for CoreGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: ours, from `Box::into_raw`; the context stopped pointing at it (its
        // guard dropped first) and no poll handed it off.
        let worker = unsafe { Box::from_raw(self.worker) };
        // Tasks spawned here go into the owned list (the next `block_on` makes a new
        // worker), and the counts and trace events are handed over.
        worker.local.settle();
        worker.local.publish();
        let (queues, rng) = worker.into_queues();
        if rng.is_some() {
            *self.rt.seeded.lock() = rng;
            coop::set_poll_budget(coop::BUDGET);
        }
        self.rt.give_back(queues);
    }
}

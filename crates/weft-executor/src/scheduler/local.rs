//! Local tasks: futures that are not `Send`, run on the one thread that owns their set.
//!
//! A set (`LocalShared`, behind the public `LocalSet`) has its own run queue, its own owned
//! list, and the waker of whoever runs it. Its tasks are cells of `task/` like any other
//! (`task::new_local_task`), so their wakers, `JoinHandle`s and `AbortHandle`s work from
//! any thread: a wake from anywhere queues the task here and wakes the runner; only the
//! runner, on the owner thread, pops and polls (`run_some`), and only the owner shuts the
//! set down (`shutdown`, from the `LocalSet`'s drop, which is `!Send`). That is the
//! contract `new_local_task` asks for.
//!
//! The runner is a future (`LocalSet::run_until`, or the set awaited itself) polled by some
//! executor on the owner thread: each poll registers its waker, then runs at most
//! `LOCAL_BUDGET` tasks and, if some are still queued, wakes itself and returns, so the
//! executor's other work and its driver get their turn.
//!
//! `CURRENT` names the set `spawn_local` spawns onto: the one being run on this thread (or,
//! on a current-thread runtime, the one `block_on` made for its whole call).
//!
//! A set made inside a seeded runtime (`Builder::seed`, see `seeded.rs`) draws the next
//! task among its queued ones and each poll's budget from a generator seeded from the
//! runtime's seed, instead of taking them first-in first-out: the set is one future to the
//! scheduler, and its tasks would otherwise keep one order whatever the seed.
//!
//! No runtime lock is held while user code runs: the queue's lock is taken only to push
//! or pop; a rejected task and the runner's waker are dropped or woken after it is let go.

use super::config::Config;
use super::context;
use super::poll::PollSite;
use super::rng::Rng;
use super::seeded;
use crate::task::{self, JoinHandle, Notified, Schedule};
use parking_lot::Mutex;
use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::Waker;

use crate::task::cell::Header;
use crate::task::list::OwnedTasks;
use crate::task::spawned::Spawned;

/// Local tasks a runner polls before it lets its executor run something else: as many as
/// a worker's maintenance interval (`worker.rs`), so a busy set does not hold the thread
/// longer than a busy worker holds off its driver.
pub(crate) const LOCAL_BUDGET: usize = 61;

struct Queue {
    tasks: VecDeque<Notified>,
    /// Set once, by `shutdown`: tasks woken after it are dropped, not queued.
    closed: bool,
    /// Made inside a seeded runtime: draws the next task (see the header).
    rng: Option<Rng>,
}

/// Mixed into the runtime's seed for a set's generator (any constant: it only has to
/// differ from the worker's).
const LOCAL_STREAM: u64 = 0x10CA_1000_5EED_0001;

impl Queue {
    /// The next task to run: the first, or one drawn by a seeded set (which draws its
    /// poll's budget too).
    fn pop(&mut self) -> Option<Notified> {
        let Some(rng) = &mut self.rng else {
            return self.tasks.pop_front();
        };
        if self.tasks.is_empty() {
            return None;
        }
        let i = rng.below(self.tasks.len());
        crate::coop::set_poll_budget(seeded::draw_budget(rng));
        self.tasks.swap_remove_back(i)
    }
}

/// The state of one set of local tasks.
pub(crate) struct LocalShared {
    queue: Mutex<Queue>,
    /// In an `Arc` so that the runtime the set was made in can list its tasks in a dump
    /// (`Shared::register_local_tasks`).
    owned: Arc<OwnedTasks>,
    /// The waker of the future running the set; taken by the first wake after it was
    /// registered.
    runner: Mutex<Option<Waker>>,
    /// The settings of the runtime the set was made in, whose dumps list its tasks: each
    /// run of the set polls them through a poll site of its own (`poll.rs`), so their
    /// polls are stamped on its clock and, on a worker's thread, timed against its
    /// slow-poll threshold.
    config: Option<Arc<Config>>,
}

thread_local! {
    /// The set `spawn_local` spawns onto here.
    static CURRENT: RefCell<Option<Arc<LocalShared>>> = const { RefCell::new(None) };
}

/// Makes `set` the current one on this thread until dropped.
pub(crate) struct EnterLocal {
    previous: Option<Arc<LocalShared>>,
}

impl Drop for EnterLocal {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let left = CURRENT.try_with(|c| c.replace(previous)).ok().flatten();
        // Outside the borrow: this may be the last reference to a set.
        drop(left);
    }
}

impl LocalShared {
    pub(crate) fn new() -> Arc<LocalShared> {
        let owned = Arc::new(OwnedTasks::new(1));
        let (seed, config) = context::with_current(|s| match s {
            Some(s) => {
                s.register_local_tasks(Arc::downgrade(&owned));
                (s.config.seed, Some(s.config.clone()))
            }
            None => (None, None),
        });
        Arc::new(LocalShared {
            queue: Mutex::new(Queue {
                tasks: VecDeque::new(),
                closed: false,
                // Another stream than the worker's, which starts from the seed itself.
                rng: seed.map(|s| Rng::new(s ^ LOCAL_STREAM)),
            }),
            owned,
            runner: Mutex::new(None),
            config,
        })
    }

    /// Makes this set the one `spawn_local` uses on this thread, until the guard drops.
    pub(crate) fn enter(self: &Arc<Self>) -> EnterLocal {
        let previous = CURRENT.with(|c| c.replace(Some(self.clone())));
        EnterLocal { previous }
    }

    /// The set current on this thread, if any.
    pub(crate) fn current() -> Option<Arc<LocalShared>> {
        CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
    }

    /// Spawns a local task, spawned where and as `spawned` says. Called on the owner
    /// thread (the set is reached through the `!Send` `LocalSet` or through `CURRENT`).
    pub(crate) fn spawn<F>(self: &Arc<Self>, future: F, spawned: Spawned) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        // SAFETY: tasks run only in `run_some`, shut down only in `shutdown`, both on the
        // owner thread (see the header); the owned list keeps its reference until then.
        let (notified, join, raw) =
            unsafe { task::new_local_task(future, self.clone(), 0, spawned) };
        if !self.owned.insert(raw) {
            // Shut down: the task is cancelled before it ever runs.
            drop(notified);
            task::shutdown_task(raw);
            return join;
        }
        self.push(notified);
        join
    }

    fn push(&self, task: Notified) {
        let rejected = {
            let mut q = self.queue.lock();
            if q.closed {
                Some(task)
            } else {
                q.tasks.push_back(task);
                None
            }
        };
        // Outside the lock: dropping the last reference frees the cell.
        drop(rejected);
        let runner = self.runner.lock().take();
        if let Some(w) = runner {
            crate::unwind::contain("a local set's runner waker", || w.wake());
        }
    }

    /// Registers the waker of the future running the set.
    pub(crate) fn register(&self, waker: &Waker) {
        let new = waker.clone();
        let old = self.runner.lock().replace(new);
        drop(old);
    }

    /// Runs up to `LOCAL_BUDGET` queued tasks; returns whether some are still queued. On
    /// the owner thread only.
    pub(crate) fn run_some(&self) -> bool {
        // The thread's worker, if it is one (a current-thread runtime's `block_on`): a
        // slow local poll holds it as a slow task poll does. A multi-thread runtime's
        // `block_on` thread holds none, so nothing is timed there (its main future's
        // polls are not either).
        let worker = context::with_worker(|w| w.map(|w| w.index));
        let site = self.config.as_ref().map(|c| PollSite::for_local(c, worker));
        let more = self.run_tasks(site.as_ref());
        if let Some(slow) = site.as_ref().map(PollSite::slow_polls).filter(|&n| n > 0) {
            context::with_worker(|w| {
                if let Some(w) = w {
                    w.count_slow_polls(slow);
                }
            });
        }
        more
    }

    /// `run_some`'s loop, around each poll what `site` does (nothing for a set made
    /// outside any runtime).
    fn run_tasks(&self, site: Option<&PollSite>) -> bool {
        for _ in 0..LOCAL_BUDGET {
            let next = self.queue.lock().pop();
            let Some(t) = next else {
                return false;
            };
            match site {
                None => t.run(),
                Some(site) if !site.watched() => {
                    site.note(&t);
                    t.run();
                }
                Some(site) => {
                    let timer = site.begin(&t);
                    t.run();
                    site.end(timer);
                }
            }
        }
        !self.queue.lock().tasks.is_empty()
    }

    /// Local tasks not finished yet.
    pub(crate) fn alive(&self) -> usize {
        self.owned.len()
    }

    /// Drops every task's future (on the owner thread, from the `LocalSet`'s drop): their
    /// `JoinHandle`s resolve to cancelled errors.
    pub(crate) fn shutdown(&self) {
        self.queue.lock().closed = true;
        for t in self.owned.close_and_take_all() {
            task::shutdown_task(t);
        }
        let queued = std::mem::take(&mut self.queue.lock().tasks);
        drop(queued);
        let runner = self.runner.lock().take();
        drop(runner);
    }
}

impl Schedule for Arc<LocalShared> {
    fn schedule(&self, task: Notified) {
        self.push(task)
    }

    fn yield_now(&self, task: Notified) {
        self.push(task)
    }

    fn release(&self, task: NonNull<Header>) -> bool {
        self.owned.remove(task)
    }

    fn unhandled_panic(&self, task: &Header, payload: Box<dyn Any + Send>) {
        // The hook of the runtime entered here, if any.
        let hook = context::with_current(|s| s.and_then(|s| s.config.on_task_panic.clone()));
        task::report_unhandled_panic(hook.as_ref(), "local task", task, payload);
    }
}

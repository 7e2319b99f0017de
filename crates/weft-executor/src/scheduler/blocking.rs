//! The blocking pool: threads for work that would block a worker (file I/O, CPU-heavy
//! calls, blocking libraries).
//!
//! A closure becomes a task like any other (same cell, same `JoinHandle`), whose future
//! runs the closure in one poll; its scheduler is this pool instead of the workers. Threads
//! are started on demand, up to `max_blocking_threads`; a thread idle for
//! `blocking_keep_alive` exits. A thread that just ran a task looks at the queue for a
//! while before it sleeps (`BLOCKING_SPIN`, see `spin.rs`); while it looks it is counted
//! in `spinning`, and `schedule` leaves it one task (`spin_claims`) instead of waking an
//! idle thread, all under the one lock, so no task waits for a thread that is already
//! taken. At shutdown, tasks not yet started are cancelled; running
//! ones are waited for (bounded by `Runtime::shutdown_timeout`).
//!
//! The pool keeps its tasks in an owned-task list of its own (`task/list.rs`, one shard,
//! no batches), from spawn until they finish, so `Handle::dump` can list them: a lock to
//! link and one to unlink per blocking task, beside the pool's own lock and a thread
//! wake-up that every blocking task costs anyway. Shutdown closes it last and gives up
//! the references of the tasks still in it (still running past the timeout).

use super::config::Config;
use super::spin::Spin;
use super::{thread, Shared};
use crate::task::cell::Header;
use crate::task::list::OwnedTasks;
use crate::task::spawned::Spawned;
use crate::task::{self, JoinHandle, Notified, Schedule};
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, Write};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// How long a pool thread that just ran a task looks for the next one before it sleeps:
/// more than a sequential caller takes to be woken and queue its next call (20 us does
/// as well as 50 or 100 here; 0 is 2.7x slower on `fs::read` in a loop:
/// docs/measuring.md).
const BLOCKING_SPIN: Duration = Duration::from_micros(50);

#[derive(Clone)]
pub(crate) struct BlockingPool {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<PoolState>,
    /// Signalled when a task is queued or at shutdown.
    work: Condvar,
    /// Signalled when a thread exits.
    exited: Condvar,
    /// The runtime's settings (`max_blocking_threads`, `blocking_keep_alive`, the thread
    /// settings and hooks, `on_task_panic`): the same `Arc` as `Shared::config`.
    config: Arc<Config>,
    /// The runtime the pool belongs to, which its threads enter. Weak: the runtime owns
    /// the pool.
    runtime: Weak<Shared>,
    /// The pool's live tasks, queued or running (see the module comment).
    owned: OwnedTasks,
}

struct PoolState {
    queue: VecDeque<Notified>,
    threads: usize,
    /// Worker threads that handed their worker off (`block_in_place`) and still finish
    /// their task's poll: shutdown waits for them as for its own threads.
    adopted: usize,
    idle: usize,
    /// Wake-ups sent to idle threads not yet consumed.
    pending_wakeups: usize,
    /// Threads that just ran a task and look for the next one before sleeping
    /// (`Inner::spin`).
    spinning: usize,
    /// Queued tasks left for a spinning thread to take, instead of a wake-up: at most
    /// `spinning`.
    spin_claims: usize,
    shutdown: bool,
    next_id: usize,
}

struct Scheduler(Arc<Inner>);

thread_local! {
    /// On a pool thread, or a thread it adopted: its pool. (Shutdown must not wait for the
    /// thread it runs on.)
    static THIS_POOL: std::cell::Cell<*const Inner> = const { std::cell::Cell::new(std::ptr::null()) };
}

/// Runs the closure when polled.
struct BlockingTask<F>(Option<F>);

impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self
            .0
            .take()
            .expect("a blocking task was polled after it completed");
        Poll::Ready(f())
    }
}

impl BlockingPool {
    /// The pool of the runtime `runtime` (being built: see `Shared::new`).
    pub(crate) fn new(config: Arc<Config>, runtime: Weak<Shared>) -> BlockingPool {
        BlockingPool {
            inner: Arc::new(Inner {
                state: Mutex::new(PoolState {
                    queue: VecDeque::new(),
                    threads: 0,
                    adopted: 0,
                    idle: 0,
                    pending_wakeups: 0,
                    spinning: 0,
                    spin_claims: 0,
                    shutdown: false,
                    next_id: 0,
                }),
                work: Condvar::new(),
                exited: Condvar::new(),
                config,
                runtime,
                owned: OwnedTasks::new(1),
            }),
        }
    }

    pub(crate) fn spawn<F, R>(&self, f: F, spawned: Spawned) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (notified, join, list_ref) = task::new_task_in(
            BlockingTask(Some(f)),
            Scheduler(self.inner.clone()),
            0,
            spawned,
            task::alloc::alloc_global,
        );
        if !self.inner.owned.insert(list_ref) {
            // Shut down: the task is cancelled as it is scheduled.
            Header::ref_dec(list_ref);
        }
        self.inner.schedule(notified);
        join
    }

    /// Calls `f` on the header of every task of the pool (queued or running), under the
    /// list's lock: `f` must only read the header (see `OwnedTasks::inspect`).
    pub(crate) fn inspect<T>(&self, f: impl FnMut(&Header) -> T) -> Vec<T> {
        self.inner.owned.inspect(f)
    }

    /// Number of threads alive (running or idle).
    pub(crate) fn num_threads(&self) -> usize {
        self.inner.state.lock().threads
    }

    /// True while a blocking task is queued or running (for paused time: the runtime is
    /// not idle while one is in flight).
    pub(crate) fn busy(&self) -> bool {
        let st = self.inner.state.lock();
        // A spinning thread has finished its task.
        !st.queue.is_empty() || st.threads > st.idle + st.spinning
    }

    /// Tasks queued and not yet started.
    pub(crate) fn queue_depth(&self) -> usize {
        self.inner.state.lock().queue.len()
    }

    /// Cancels queued tasks and waits (up to `timeout`) for running ones. Returns true if
    /// every thread exited in time.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) -> bool {
        let all_exited = self.stop_threads(timeout);
        // Last, so every task that ran to its end left the list itself: what is left runs
        // past the timeout (or is the caller's own task), and keeps running; the list's
        // reference goes (`shutdown_task` only marks a running task cancelled).
        for task in self.inner.owned.close_and_take_all() {
            task::shutdown_task(task);
        }
        all_exited
    }

    /// Cancels queued tasks and waits (up to `timeout`) for running ones. Returns true if
    /// every thread exited in time.
    fn stop_threads(&self, timeout: Option<Duration>) -> bool {
        let queued: Vec<Notified> = {
            let mut st = self.inner.state.lock();
            st.shutdown = true;
            st.queue.drain(..).collect()
        };
        self.inner.work.notify_all();
        for t in queued {
            // Takes the task's future (it never ran) and completes it as cancelled.
            task::shutdown_task(t.into_raw());
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        // Called from a blocking task (dropping the runtime there): that thread cannot exit
        // before we return, so do not wait for it.
        let me = Arc::as_ptr(&self.inner);
        let on_pool = THIS_POOL.try_with(|p| p.get() == me).unwrap_or(false);
        let others = usize::from(on_pool);
        let mut st = self.inner.state.lock();
        while st.threads + st.adopted > others {
            match deadline {
                Some(d) => {
                    if self.inner.exited.wait_until(&mut st, d).timed_out() {
                        return st.threads + st.adopted <= others;
                    }
                }
                None => self.inner.exited.wait(&mut st),
            }
        }
        true
    }
}

impl BlockingPool {
    /// Counts the calling thread, a worker thread that just handed its worker off, as
    /// one that shutdown waits for, until `release_thread`. Not one of the pool's threads:
    /// it runs no blocking task and does not count against `max_blocking_threads`.
    pub(crate) fn adopt_thread(&self) {
        self.inner.state.lock().adopted += 1;
        // A worker thread is no pool thread: nothing to restore after.
        THIS_POOL.with(|p| p.set(Arc::as_ptr(&self.inner)));
    }

    /// The adopted thread's poll returned: it exits now.
    pub(crate) fn release_thread(&self) {
        THIS_POOL.with(|p| p.set(std::ptr::null()));
        self.inner.state.lock().adopted -= 1;
        self.inner.exited.notify_all();
    }
}

impl Inner {
    fn schedule(self: &Arc<Self>, task: Notified) {
        let mut st = self.state.lock();
        if st.shutdown {
            drop(st);
            task::shutdown_task(task.into_raw());
            return;
        }
        st.queue.push_back(task);
        if st.spinning > st.spin_claims {
            // A thread that just finished a task is looking: no wake-up needed.
            st.spin_claims += 1;
        } else if st.idle > st.pending_wakeups {
            st.pending_wakeups += 1;
            drop(st);
            self.work.notify_one();
        } else if st.threads < self.config.max_blocking_threads {
            let id = st.next_id;
            st.next_id += 1;
            st.threads += 1;
            drop(st);
            if let Err(e) = self.start_thread(id) {
                let stranded: Vec<Notified> = {
                    let mut st = self.state.lock();
                    st.threads -= 1;
                    if st.threads == 0 {
                        st.queue.drain(..).collect()
                    } else {
                        Vec::new() // a live thread will run the queue
                    }
                };
                if !stranded.is_empty() {
                    // Nothing would ever run them: cancel them (their JoinHandles resolve
                    // to a cancelled error) rather than let their awaiters hang, and say
                    // why. The OS refused a thread: no panic in the spawner.
                    let _ = writeln!(
                        std::io::stderr().lock(),
                        "weft: could not start a blocking-pool thread ({e}): cancelled {} \
                         blocking task(s)",
                        stranded.len()
                    );
                    for t in stranded {
                        task::shutdown_task(t.into_raw());
                    }
                }
            }
        }
        // Otherwise every thread is busy and at the limit: the task waits its turn.
    }

    fn start_thread(self: &Arc<Self>, id: usize) -> io::Result<()> {
        let name = format!("{}-blocking-{id}", self.config.thread_name);
        let inner = self.clone();
        thread::spawn(&self.config, name, self.runtime.clone(), move || {
            inner.thread_main()
        })
        .map(drop)
    }

    /// The body of a pool thread. The returned notice, dropped after `on_thread_stop`,
    /// tells `shutdown` the thread is gone.
    fn thread_main(self: Arc<Self>) -> Exited {
        THIS_POOL.with(|p| p.set(Arc::as_ptr(&self)));
        let mut spin = Spin::new(BLOCKING_SPIN);
        let mut st = self.state.lock();
        loop {
            if let Some(task) = st.queue.pop_front() {
                drop(st);
                // For `Handle::dump` (a clock read is nothing beside a blocking task).
                let now = super::poll::stamp(self.config.epoch, Instant::now());
                task.header().note_poll(now);
                task.run();
                st = self.spin(self.state.lock(), &mut spin);
                continue;
            }
            if st.shutdown {
                break;
            }
            st.idle += 1;
            let since = Instant::now();
            let timed_out = self
                .work
                .wait_for(&mut st, self.config.blocking_keep_alive)
                .timed_out();
            spin.slept(since);
            st.idle -= 1;
            if st.pending_wakeups > 0 {
                st.pending_wakeups -= 1;
            } else if timed_out && st.queue.is_empty() {
                break;
            }
        }
        st.threads -= 1;
        drop(st);
        Exited(self)
    }
}

impl Inner {
    /// Called by a thread that just ran a task: looks for the next one for a while
    /// (`BLOCKING_SPIN`, when this thread's waits have been short: see `spin.rs`) before
    /// the thread sleeps, so that a caller that awaits one blocking call and then makes
    /// the next (`fs::read` in a loop) hands it over without a wake-up on either side.
    /// Returns the lock with a task queued, shutdown begun, or the time up.
    fn spin<'a>(
        &'a self,
        mut st: MutexGuard<'a, PoolState>,
        spin: &mut Spin,
    ) -> MutexGuard<'a, PoolState> {
        if !st.queue.is_empty() || st.shutdown {
            return st;
        }
        // Counted while it looks, so that `schedule` leaves it the next task.
        st.spinning += 1;
        drop(st);
        spin.spin(|| {
            let st = self.state.lock();
            !st.queue.is_empty() || st.shutdown
        });
        let mut st = self.state.lock();
        st.spinning -= 1;
        if !st.queue.is_empty() {
            // The task this thread was left, or another: it takes one.
            st.spin_claims = st.spin_claims.saturating_sub(1);
        }
        st.spin_claims = st.spin_claims.min(st.spinning);
        st
    }
}

/// Signals, when dropped, that a pool thread has exited.
struct Exited(Arc<Inner>);

impl Drop for Exited {
    fn drop(&mut self) {
        self.0.exited.notify_all();
    }
}

impl Schedule for Scheduler {
    fn schedule(&self, task: Notified) {
        self.0.schedule(task)
    }
    fn yield_now(&self, task: Notified) {
        self.0.schedule(task)
    }
    fn release(&self, task: NonNull<Header>) -> bool {
        self.0.owned.remove(task)
    }
    fn unhandled_panic(&self, task: &Header, payload: Box<dyn Any + Send>) {
        task::report_unhandled_panic(
            self.0.config.on_task_panic.as_ref(),
            "blocking task",
            task,
            payload,
        );
    }
}

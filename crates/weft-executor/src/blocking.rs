//! The blocking pool: threads for work that would block a worker (file I/O, CPU-heavy
//! calls, blocking libraries).
//!
//! A closure becomes a task like any other (same cell, same `JoinHandle`), whose future
//! runs the closure in one poll; its scheduler is this pool instead of the workers. Threads
//! are started on demand, up to `max_threads`; a thread idle for `keep_alive` exits. At
//! shutdown, tasks not yet started are cancelled; running ones are waited for (bounded by
//! `Runtime::shutdown_timeout`).

use crate::task::cell::Header;
use crate::task::{self, JoinHandle, Notified, Schedule};
use parking_lot::{Condvar, Mutex};
use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, Write};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

type Hook = Arc<dyn Fn() + Send + Sync>;
use crate::task::PanicHook;

pub(crate) struct BlockingConfig {
    pub(crate) max_threads: usize,
    pub(crate) keep_alive: Duration,
    pub(crate) thread_name: String,
    pub(crate) stack_size: Option<usize>,
    pub(crate) on_thread_start: Option<Hook>,
    pub(crate) on_thread_stop: Option<Hook>,
    pub(crate) on_task_panic: Option<PanicHook>,
}

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
    config: BlockingConfig,
    /// Set by the runtime after it is built, so threads can enter it.
    handle: Mutex<Option<crate::runtime::WeakHandle>>,
}

struct PoolState {
    queue: VecDeque<Notified>,
    threads: usize,
    idle: usize,
    /// Wake-ups sent to idle threads not yet consumed.
    pending_wakeups: usize,
    shutdown: bool,
    next_id: usize,
}

struct Scheduler(Arc<Inner>);

thread_local! {
    /// On a pool thread: its pool. (Shutdown must not wait for the thread it runs on.)
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
    pub(crate) fn new(config: BlockingConfig) -> BlockingPool {
        BlockingPool {
            inner: Arc::new(Inner {
                state: Mutex::new(PoolState {
                    queue: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    pending_wakeups: 0,
                    shutdown: false,
                    next_id: 0,
                }),
                work: Condvar::new(),
                exited: Condvar::new(),
                config,
                handle: Mutex::new(None),
            }),
        }
    }

    pub(crate) fn set_handle(&self, handle: crate::runtime::WeakHandle) {
        *self.inner.handle.lock() = Some(handle);
    }

    pub(crate) fn spawn<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (notified, join, list_ref) =
            task::new_task(BlockingTask(Some(f)), Scheduler(self.inner.clone()), 0);
        // Blocking tasks are not in the owned list: give its reference back.
        Header::ref_dec(list_ref);
        self.inner.schedule(notified);
        join
    }

    /// Number of threads alive (running or idle).
    pub(crate) fn num_threads(&self) -> usize {
        self.inner.state.lock().threads
    }

    /// Tasks queued and not yet started.
    pub(crate) fn queue_depth(&self) -> usize {
        self.inner.state.lock().queue.len()
    }

    /// Cancels queued tasks and waits (up to `timeout`) for running ones. Returns true if
    /// every thread exited in time.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) -> bool {
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
        while st.threads > others {
            match deadline {
                Some(d) => {
                    if self.inner.exited.wait_until(&mut st, d).timed_out() {
                        return st.threads <= others;
                    }
                }
                None => self.inner.exited.wait(&mut st),
            }
        }
        true
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
        if st.idle > st.pending_wakeups {
            st.pending_wakeups += 1;
            drop(st);
            self.work.notify_one();
        } else if st.threads < self.config.max_threads {
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
        let mut b =
            std::thread::Builder::new().name(format!("{}-blocking-{id}", self.config.thread_name));
        if let Some(s) = self.config.stack_size {
            b = b.stack_size(s);
        }
        let inner = self.clone();
        b.spawn(move || inner.thread_main()).map(drop)
    }

    fn thread_main(self: Arc<Self>) {
        THIS_POOL.with(|p| p.set(Arc::as_ptr(&self)));
        let handle = self.handle.lock().as_ref().and_then(|h| h.upgrade());
        let _enter = handle.map(crate::context::enter);
        if let Some(f) = &self.config.on_thread_start {
            crate::unwind::contain("the on_thread_start hook", || f());
        }
        let mut st = self.state.lock();
        loop {
            if let Some(task) = st.queue.pop_front() {
                drop(st);
                task.run();
                st = self.state.lock();
                continue;
            }
            if st.shutdown {
                break;
            }
            st.idle += 1;
            let timed_out = self
                .work
                .wait_for(&mut st, self.config.keep_alive)
                .timed_out();
            st.idle -= 1;
            if st.pending_wakeups > 0 {
                st.pending_wakeups -= 1;
            } else if timed_out && st.queue.is_empty() {
                break;
            }
        }
        st.threads -= 1;
        drop(st);
        if let Some(f) = &self.config.on_thread_stop {
            crate::unwind::contain("the on_thread_stop hook", || f());
        }
        self.exited.notify_all();
    }
}

impl Schedule for Scheduler {
    fn schedule(&self, task: Notified) {
        self.0.schedule(task)
    }
    fn yield_now(&self, task: Notified) {
        self.0.schedule(task)
    }
    fn release(&self, _task: NonNull<Header>) -> bool {
        false
    }
    fn unhandled_panic(&self, payload: Box<dyn Any + Send>) {
        task::report_unhandled_panic(
            self.0.config.on_task_panic.as_ref(),
            "blocking task",
            payload,
        );
    }
}

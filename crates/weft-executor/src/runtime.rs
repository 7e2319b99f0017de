//! `Runtime`: the owner of a runtime's threads, which shuts it down when dropped.

use crate::builder::Builder;
use crate::handle::{EnterGuard, Handle};
use crate::local_set::LocalSet;
use crate::metrics::RuntimeMetrics;
use crate::scheduler::context;
use crate::scheduler::current_thread::CurrentThread;
use crate::scheduler::thread::join_all_but_current;
use crate::scheduler::Shared;
use crate::task::JoinHandle;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// An async runtime: multi-threaded and work-stealing ([`Builder::new`]), or running its
/// tasks on the thread in `block_on` ([`Builder::new_current_thread`]).
///
/// Dropping it shuts it down: workers stop after their current poll, every task still
/// alive is dropped (its future's destructor runs once, its `JoinHandle` resolves to a
/// cancelled [`JoinError`](crate::JoinError)), threads are joined, and blocking tasks
/// already running are waited for (use [`shutdown_timeout`](Runtime::shutdown_timeout) to
/// bound that wait).
///
/// # Examples
///
/// ```
/// let rt = weft_executor::Runtime::new().unwrap();
/// let out = rt.block_on(async {
///     let h = weft_executor::spawn(async { "hello from a task" });
///     h.await.unwrap()
/// });
/// assert_eq!(out, "hello from a task");
/// ```
pub struct Runtime {
    handle: Handle,
    threads: Vec<thread::JoinHandle<()>>,
    /// The current-thread flavour's scheduler (`Builder::new_current_thread`).
    current_thread: Option<CurrentThread>,
}

impl Runtime {
    /// The runtime of `shared`, before its `workers` threads are started.
    pub(crate) fn from_shared(shared: Arc<Shared>, workers: usize) -> Runtime {
        Runtime {
            handle: Handle::from_shared(shared),
            threads: Vec::with_capacity(workers),
            current_thread: None,
        }
    }

    /// A current-thread runtime (no threads to start).
    pub(crate) fn current_thread(scheduler: CurrentThread) -> Runtime {
        Runtime {
            handle: Handle::from_shared(scheduler.shared().clone()),
            threads: Vec::new(),
            current_thread: Some(scheduler),
        }
    }

    /// Keeps a started worker thread, to join at shutdown.
    pub(crate) fn push_thread(&mut self, thread: thread::JoinHandle<()>) {
        self.threads.push(thread);
    }

    /// A runtime with the default settings (see [`Builder::new`]).
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// Runs `future` to completion on the calling thread, with the runtime entered (so it
    /// can [`spawn`](crate::spawn)), and returns its output. On a current-thread runtime
    /// ([`Builder::new_current_thread`]) this thread runs the runtime's tasks meanwhile,
    /// and [`spawn_local`](crate::spawn_local) spawns local tasks that live as long as
    /// this call (those still running when it returns are dropped: their handles resolve
    /// to cancelled errors).
    ///
    /// # Panics
    ///
    /// On a worker thread or inside another `block_on`: `.await` the future instead.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = context::enter(self.handle.shared.clone());
        match &self.current_thread {
            Some(scheduler) => {
                // The set `spawn_local` spawns onto: its tasks live as long as this call.
                let local = LocalSet::new();
                let _local = local.enter();
                scheduler.block_on(local.run_until(future))
            }
            None => crate::block_on(future),
        }
    }

    /// Spawns a task on this runtime. See [`Handle::spawn`].
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs a blocking closure on the blocking pool. See [`Handle::spawn_blocking`].
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// A handle to this runtime, which can spawn onto it from anywhere.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Enters the runtime on this thread (see [`Handle::enter`]).
    pub fn enter(&self) -> EnterGuard<'_> {
        self.handle.enter()
    }

    /// The runtime's counters.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// Shuts down like dropping the runtime, but waits at most `timeout` for blocking
    /// tasks that are still running (they are left to finish on their own).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = weft_executor::Runtime::new().unwrap();
    /// rt.spawn_blocking(|| std::thread::sleep(Duration::from_millis(200)));
    /// rt.shutdown_timeout(Duration::from_millis(10)); // does not wait 200 ms
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Some(timeout));
    }

    fn shutdown(&mut self, blocking_timeout: Option<Duration>) {
        let shared = &self.handle.shared;
        if !shared.begin_shutdown() {
            return;
        }
        // Threads that handed their worker off (`block_in_place`) are waited for with the
        // blocking tasks, within the timeout; those that took a worker over are joined.
        let hand_offs = shared.take_hand_offs();
        let threads = self.threads.drain(..).chain(hand_offs.started);
        join_all_but_current(threads.filter(|t| !hand_offs.left.contains(&t.thread().id())));
        shared.shutdown(blocking_timeout);
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flavor = match self.current_thread {
            Some(_) => "current_thread",
            None => "multi_thread",
        };
        f.debug_struct("Runtime")
            .field("flavor", &flavor)
            .field("workers", &self.handle.shared.num_workers())
            .finish_non_exhaustive()
    }
}

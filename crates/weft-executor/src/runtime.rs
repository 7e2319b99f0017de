//! `Builder`, `Runtime` and `Handle`: making a runtime, entering it, shutting it down.

use crate::blocking::{BlockingConfig, BlockingPool};
use crate::context;
use crate::driver::{Driver, ParkDriver};
use crate::scheduler::{worker, Shared};
use crate::sync::deque::Worker;
use crate::task::{self, JoinHandle};
use std::any::{Any, TypeId};
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::{Arc, Weak};
use std::thread;
use std::time::Duration;

type Hook = Arc<dyn Fn() + Send + Sync>;
use crate::task::PanicHook;

/// The environment variable that sets the default number of worker threads.
pub const WORKER_THREADS_ENV: &str = "WEFT_WORKER_THREADS";

/// The most worker threads a runtime can have: a task records the shard of the owned-task
/// list it belongs to in 16 bits, and there is a shard per worker plus a few for spawns
/// from outside.
pub const MAX_WORKER_THREADS: usize = crate::scheduler::MAX_WORKERS;

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Settings a running runtime keeps.
pub(crate) struct Config {
    pub(crate) on_task_panic: Option<PanicHook>,
    /// Services plugged into the runtime (the timer, the reactor), found by type.
    pub(crate) extensions: Vec<(TypeId, Arc<dyn Any + Send + Sync>)>,
    /// Events each worker may record (0: tracing off), and the instant traces count from.
    pub(crate) trace_limit: usize,
    pub(crate) epoch: std::time::Instant,
}

/// Configures and builds a [`Runtime`].
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let started = Arc::new(AtomicUsize::new(0));
/// let s = started.clone();
/// let rt = weft_executor::Builder::new()
///     .worker_threads(2)
///     .thread_name("my-app")
///     .on_thread_start(move || { s.fetch_add(1, Ordering::SeqCst); })
///     .build()
///     .unwrap();
/// assert_eq!(rt.block_on(async { 6 * 7 }), 42);
/// drop(rt);
/// assert_eq!(started.load(Ordering::SeqCst), 2);
/// ```
pub struct Builder {
    worker_threads: Option<usize>,
    thread_name: String,
    stack_size: Option<usize>,
    on_thread_start: Option<Hook>,
    on_thread_stop: Option<Hook>,
    max_blocking_threads: usize,
    blocking_keep_alive: Duration,
    on_task_panic: Option<PanicHook>,
    driver: Option<Arc<dyn Driver>>,
    extensions: Vec<(TypeId, Arc<dyn Any + Send + Sync>)>,
    trace_limit: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A builder with the defaults: one worker per CPU (or `WEFT_WORKER_THREADS`), up to
    /// 512 blocking threads that exit after 10 s idle, and the condvar driver.
    pub fn new() -> Builder {
        Builder {
            worker_threads: None,
            thread_name: "weft".to_string(),
            stack_size: None,
            on_thread_start: None,
            on_thread_stop: None,
            max_blocking_threads: 512,
            blocking_keep_alive: Duration::from_secs(10),
            on_task_panic: None,
            driver: None,
            extensions: Vec::new(),
            trace_limit: 0,
        }
    }

    /// The number of worker threads. Overrides `WEFT_WORKER_THREADS`.
    ///
    /// # Panics
    ///
    /// If `n` is 0. (A count above [`MAX_WORKER_THREADS`] is refused by
    /// [`build`](Builder::build).)
    #[track_caller]
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        assert!(
            n > 0,
            "a runtime needs at least one worker thread: pass 1 or more to worker_threads"
        );
        self.worker_threads = Some(n);
        self
    }

    /// The prefix of thread names: workers are `NAME-worker-I`, blocking threads
    /// `NAME-blocking-I`. Default `weft`.
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.thread_name = name.into();
        self
    }

    /// The stack size of worker and blocking threads, in bytes (the platform may round
    /// it up to its minimum). 0 is refused by [`build`](Builder::build).
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Runs `f` on every worker and blocking thread when it starts.
    pub fn on_thread_start(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs `f` on every worker and blocking thread before it exits.
    pub fn on_thread_stop(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// The most threads the blocking pool starts (default 512).
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    #[track_caller]
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        assert!(
            n > 0,
            "the blocking pool needs at least one thread: pass 1 or more to max_blocking_threads"
        );
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking thread waits for work before it exits (default 10 s).
    pub fn thread_keep_alive(&mut self, d: Duration) -> &mut Self {
        self.blocking_keep_alive = d;
        self
    }

    /// Called with the payload of every task panic that no `JoinHandle` observes (the
    /// handle was dropped, or dropped without being awaited). Replaces the default, which
    /// prints one line on stderr. The process's panic hook still runs at the panic itself,
    /// as for any panic.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// let (tx, rx) = mpsc::channel();
    /// let tx = std::sync::Mutex::new(tx);
    /// let rt = weft_executor::Builder::new()
    ///     .on_task_panic(move |_payload| { tx.lock().unwrap().send(()).unwrap(); })
    ///     .build()
    ///     .unwrap();
    /// drop(rt.spawn(async { panic!("nobody is listening") }));
    /// rx.recv().unwrap();
    /// ```
    pub fn on_task_panic(
        &mut self,
        hook: impl Fn(Box<dyn Any + Send>) + Send + Sync + 'static,
    ) -> &mut Self {
        self.on_task_panic = Some(Arc::new(hook));
        self
    }

    /// The driver idle workers park on (a reactor, a timer, or both). Default: a
    /// [`ParkDriver`], which only sleeps. See [`Driver`].
    pub fn driver(&mut self, driver: Arc<dyn Driver>) -> &mut Self {
        self.driver = Some(driver);
        self
    }

    /// Plugs a service into the runtime, for code running inside it to find by type with
    /// [`Handle::extension`]. This is how a timer or a reactor that drives the runtime
    /// (see [`driver`](Builder::driver)) lets its futures reach it. A second value of the
    /// same type replaces the first.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// #[derive(Debug)]
    /// struct Config { greeting: &'static str }
    ///
    /// let rt = weft_executor::Builder::new()
    ///     .extension(Arc::new(Config { greeting: "hello" }))
    ///     .build()
    ///     .unwrap();
    /// let g = rt.block_on(async {
    ///     weft_executor::Handle::current().extension::<Config>().unwrap().greeting
    /// });
    /// assert_eq!(g, "hello");
    /// ```
    pub fn extension<T: Any + Send + Sync>(&mut self, value: Arc<T>) -> &mut Self {
        let id = TypeId::of::<T>();
        self.extensions.retain(|(t, _)| *t != id);
        self.extensions.push((id, value));
        self
    }

    /// Records what each worker does (every poll, with the task and where the worker
    /// found it; every sleep; every steal), up to `events_per_worker` events per worker
    /// (a poll is one event; 64 bytes each). Off by default (0); a poll then costs a
    /// branch and a byte store more. Read the events with [`Handle::take_trace`]; see [`Trace`] for an
    /// example and for the JSON that Perfetto displays.
    ///
    /// [`Trace`]: crate::Trace
    pub fn trace(&mut self, events_per_worker: usize) -> &mut Self {
        self.trace_limit = events_per_worker;
        self
    }

    fn num_workers(&self) -> io::Result<usize> {
        let n = match (self.worker_threads, std::env::var(WORKER_THREADS_ENV)) {
            (Some(n), _) => n,
            (None, Ok(v)) => match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(invalid(format!(
                        "{WORKER_THREADS_ENV}={v:?}: expected a whole number of threads above 0"
                    )))
                }
            },
            (None, Err(_)) => num_cpus::get().max(1),
        };
        if n > MAX_WORKER_THREADS {
            return Err(invalid(format!(
                "{n} worker threads: a runtime holds at most {MAX_WORKER_THREADS}"
            )));
        }
        Ok(n)
    }

    /// Refuses the settings the runtime cannot hold.
    fn check(&self) -> io::Result<()> {
        if self.stack_size == Some(0) {
            return Err(invalid(
                "a thread stack size of 0 bytes: leave it unset for the default".into(),
            ));
        }
        if self.thread_name.contains('\0') {
            return Err(invalid(format!(
                "thread name {:?} contains a NUL byte, which thread names cannot hold",
                self.thread_name
            )));
        }
        Ok(())
    }

    /// Starts the worker threads and returns the runtime.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a setting the runtime cannot hold: more than
    /// [`MAX_WORKER_THREADS`] workers, `WEFT_WORKER_THREADS` set to something other than
    /// a positive number, a stack size of 0, a thread name with a NUL byte. Otherwise the
    /// error of a thread that could not be started.
    ///
    /// ```
    /// let err = weft_executor::Builder::new().thread_stack_size(0).build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn build(&mut self) -> io::Result<Runtime> {
        self.check()?;
        let n = self.num_workers()?;
        // Per worker: its queue, and its queue of tasks woken by the driver (see worker.rs).
        let queues: Vec<(Worker<task::Notified>, Worker<task::Notified>)> = (0..n)
            .map(|_| (Worker::new_fifo(), Worker::new_fifo()))
            .collect();
        let blocking = BlockingPool::new(BlockingConfig {
            max_threads: self.max_blocking_threads,
            keep_alive: self.blocking_keep_alive,
            thread_name: self.thread_name.clone(),
            stack_size: self.stack_size,
            on_thread_start: self.on_thread_start.clone(),
            on_thread_stop: self.on_thread_stop.clone(),
            on_task_panic: self.on_task_panic.clone(),
        });
        let driver = self
            .driver
            .clone()
            .unwrap_or_else(|| Arc::new(ParkDriver::new()));
        let shared = Arc::new(Shared::new(
            queues
                .iter()
                .map(|(q, r)| (q.stealer(), r.stealer()))
                .collect(),
            driver,
            blocking.clone(),
            Config {
                on_task_panic: self.on_task_panic.clone(),
                extensions: self.extensions.clone(),
                trace_limit: self.trace_limit,
                epoch: std::time::Instant::now(),
            },
        ));
        blocking.set_handle(WeakHandle(Arc::downgrade(&shared)));
        let mut rt = Runtime {
            handle: Handle { shared },
            threads: Vec::with_capacity(n),
        };
        for (i, (queue, ready)) in queues.into_iter().enumerate() {
            let mut b = thread::Builder::new().name(format!("{}-worker-{i}", self.thread_name));
            if let Some(s) = self.stack_size {
                b = b.stack_size(s);
            }
            let shared = rt.handle.shared.clone();
            let start = self.on_thread_start.clone();
            let stop = self.on_thread_stop.clone();
            // On error, `rt` drops here and shuts down the workers already started.
            rt.threads.push(b.spawn(move || {
                // A hook that panics is reported and the worker runs anyway: a worker
                // that never started would strand the tasks queued on it.
                if let Some(f) = start {
                    crate::unwind::contain("the on_thread_start hook", || f());
                }
                worker::run(shared, i, queue, ready);
                if let Some(f) = stop {
                    crate::unwind::contain("the on_thread_stop hook", || f());
                }
            })?);
        }
        Ok(rt)
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("worker_threads", &self.worker_threads)
            .field("thread_name", &self.thread_name)
            .field("thread_stack_size", &self.stack_size)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("thread_keep_alive", &self.blocking_keep_alive)
            .finish_non_exhaustive()
    }
}

/// A multi-threaded, work-stealing async runtime.
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
}

impl Runtime {
    /// A runtime with the default settings (see [`Builder::new`]).
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// Runs `future` to completion on the calling thread, with the runtime entered (so it
    /// can [`spawn`](crate::spawn)), and returns its output.
    ///
    /// # Panics
    ///
    /// On a worker thread or inside another `block_on`: `.await` the future instead.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = context::enter(self.handle.clone());
        crate::block_on(future)
    }

    /// Spawns a task on this runtime. See [`Handle::spawn`].
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs a blocking closure on the blocking pool. See [`Handle::spawn_blocking`].
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
        if shared.shutdown.swap(true, SeqCst) {
            return;
        }
        for r in shared.remotes.iter() {
            r.parker.unpark(&*shared.driver);
        }
        let me = thread::current().id();
        for t in self.threads.drain(..) {
            // A worker dropping the runtime (from inside a task) cannot join itself.
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
        // A worker dropping the runtime from inside a task: its batches must be settled
        // before the list closes (the other workers settled theirs on the way out): the
        // tasks spawned and not linked yet go into the list, and the finished tasks of
        // other shards it holds are unlinked while the list's references still keep them
        // alive.
        crate::context::with_worker(|w| {
            if let Some(w) = w.filter(|w| Arc::ptr_eq(&w.shared, &self.handle.shared)) {
                w.settle();
            }
        });
        // Every task still alive, running or not: drop its future. Their destructors may
        // wake or spawn: a spawn now fails (the list is closed; spawns on a worker stop
        // batching once `shutdown` is set) and a wake lands in the injector, which is
        // emptied after.
        for t in shared.owned.close_and_take_all() {
            task::shutdown_task(t);
        }
        shared.drain_injector();
        for r in shared.remotes.iter() {
            while let Some(t) = r.stealer.steal().success() {
                drop(t);
            }
            while let Some(t) = r.ready_stealer.steal().success() {
                drop(t);
            }
            drop(r.lifo.take());
        }
        shared.blocking.shutdown(blocking_timeout);
        shared.driver.shutdown();
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.handle.shared.num_workers())
            .finish_non_exhaustive()
    }
}

/// A cheap, cloneable reference to a runtime: spawn onto it from any thread.
///
/// # Examples
///
/// ```
/// let rt = weft_executor::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let from_thread = std::thread::spawn(move || {
///     weft_executor::block_on(handle.spawn(async { 7 })).unwrap()
/// });
/// assert_eq!(from_thread.join().unwrap(), 7);
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

const NO_RUNTIME: &str = "there is no weft runtime on this thread: call this from inside \
`weft::run` / `Runtime::block_on` or a task spawned on a runtime, or enter one with \
`Handle::enter`";

/// The error of [`Handle::try_current`] outside a runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NO_RUNTIME)
    }
}

impl std::error::Error for TryCurrentError {}

impl Handle {
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Handle {
        Handle { shared }
    }

    /// The runtime this thread is in.
    ///
    /// # Panics
    ///
    /// Outside a runtime, with a message that says how to enter one. Use
    /// [`try_current`](Handle::try_current) to check instead.
    #[track_caller]
    pub fn current() -> Handle {
        match context::current_handle() {
            Some(h) => h,
            None => panic!("{NO_RUNTIME}"),
        }
    }

    /// The runtime this thread is in, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_executor::Handle::try_current().is_err());
    /// let rt = weft_executor::Runtime::new().unwrap();
    /// rt.block_on(async { assert!(weft_executor::Handle::try_current().is_ok()) });
    /// ```
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::current_handle().ok_or(TryCurrentError(()))
    }

    /// Spawns a task. Called on one of this runtime's workers it goes to that worker's
    /// LIFO slot; from elsewhere to the global injector, waking a worker if none is awake
    /// to take it. If the runtime has shut down, the task is dropped at once and its
    /// handle resolves to a cancelled error.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.spawn(future)
    }

    /// Runs `f` on the blocking pool and returns a handle to its result. `abort` cancels
    /// it only if it has not started.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft_executor::Runtime::new().unwrap();
    /// let n = rt.block_on(async {
    ///     weft_executor::spawn_blocking(|| std::fs::read_dir(".").unwrap().count())
    ///         .await
    ///         .unwrap()
    /// });
    /// assert!(n > 0);
    /// ```
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.shared.blocking.spawn(f)
    }

    /// Makes this runtime the current one on this thread until the guard drops, so
    /// [`spawn`](crate::spawn) and [`Handle::current`] work here.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft_executor::Runtime::new().unwrap();
    /// let _guard = rt.handle().enter();
    /// let h = weft_executor::spawn(async { 1 });
    /// drop(_guard);
    /// assert_eq!(rt.block_on(h).unwrap(), 1);
    /// ```
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            _guard: context::enter(self.clone()),
            _handle: std::marker::PhantomData,
        }
    }

    /// The service of type `T` plugged in with [`Builder::extension`], if any.
    pub fn extension<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.shared
            .config
            .extensions
            .iter()
            .find(|(t, _)| *t == TypeId::of::<T>())
            .and_then(|(_, e)| e.clone().downcast::<T>().ok())
    }

    /// Like `Handle::current().extension::<T>()`, without cloning the handle: `None`
    /// outside a runtime or if the runtime has no such service.
    pub fn current_extension<T: Any + Send + Sync>() -> Option<Arc<T>> {
        context::with_handle(|h| h.and_then(|h| h.extension::<T>()))
    }

    /// The runtime's counters.
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics {
            shared: self.shared.clone(),
        }
    }

    /// Takes the trace events the workers have handed over so far (they do every 61
    /// polls, before they sleep and when they stop: a busy worker's last few events come
    /// later). Empty unless the runtime was built with [`Builder::trace`]; see
    /// [`Trace`](crate::Trace) for an example.
    pub fn take_trace(&self) -> crate::Trace {
        crate::scheduler::trace::take(self.shared.remotes.iter().map(|r| &r.trace))
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.shared.num_workers())
            .finish_non_exhaustive()
    }
}

/// A handle that does not keep the runtime alive (held by blocking threads).
#[derive(Clone)]
pub(crate) struct WeakHandle(Weak<Shared>);

impl WeakHandle {
    pub(crate) fn upgrade(&self) -> Option<Handle> {
        self.0.upgrade().map(Handle::from_shared)
    }
}

/// Returned by [`Handle::enter`]; leaves the runtime when dropped.
///
/// It is not `Send`: it changes the thread it was made on, so it is dropped there. Guards
/// of several runtimes may be dropped in any order: the runtime current afterwards is the
/// one entered last among the guards still alive, and none once all are gone.
///
/// ```compile_fail
/// let rt = weft_executor::Runtime::new().unwrap();
/// let guard = rt.enter();
/// std::thread::spawn(move || drop(guard)); // error: `EnterGuard` is not `Send`
/// ```
pub struct EnterGuard<'a> {
    _guard: context::HandleGuard,
    _handle: std::marker::PhantomData<&'a Handle>,
}

impl fmt::Debug for EnterGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnterGuard")
    }
}

/// Counters of a runtime, read on demand.
///
/// Per-worker counters are published by each worker every 61 scheduler ticks and before it
/// parks, so a reading may lag a busy worker by a few dozen polls.
///
/// # Examples
///
/// ```
/// let rt = weft_executor::Builder::new().worker_threads(2).build().unwrap();
/// rt.block_on(async {
///     for _ in 0..100 {
///         weft_executor::spawn(async {}).await.unwrap();
///     }
/// });
/// let m = rt.metrics();
/// assert_eq!(m.num_workers(), 2);
/// assert_eq!(m.spawned_tasks(), 100);
/// assert_eq!(m.alive_tasks(), 0);
/// ```
#[derive(Clone)]
pub struct RuntimeMetrics {
    shared: Arc<Shared>,
}

impl RuntimeMetrics {
    fn w(&self, i: usize) -> &crate::scheduler::metrics::WorkerStats {
        &self.shared.remotes[i].stats
    }

    /// Number of worker threads.
    pub fn num_workers(&self) -> usize {
        self.shared.num_workers()
    }

    /// Tasks worker `i` has polled.
    pub fn worker_polls(&self, i: usize) -> u64 {
        self.w(i).polls.load(Relaxed)
    }

    /// Tasks worker `i` took from other workers or the injector while searching.
    pub fn worker_steal_count(&self, i: usize) -> u64 {
        self.w(i).stolen.load(Relaxed)
    }

    /// Successful steal operations of worker `i` (each moves one batch).
    pub fn worker_steal_operations(&self, i: usize) -> u64 {
        self.w(i).steal_ops.load(Relaxed)
    }

    /// Times worker `i` went to sleep.
    pub fn worker_park_count(&self, i: usize) -> u64 {
        self.w(i).parks.load(Relaxed)
    }

    /// Polls of worker `i` whose task came from its LIFO slot.
    pub fn worker_lifo_hits(&self, i: usize) -> u64 {
        self.w(i).lifo_hits.load(Relaxed)
    }

    /// Times worker `i`'s local queue was full and moved half its tasks to the injector.
    pub fn worker_overflow_count(&self, i: usize) -> u64 {
        self.w(i).overflows.load(Relaxed)
    }

    /// Tasks now in worker `i`'s local queue (and its LIFO slot).
    pub fn worker_local_queue_depth(&self, i: usize) -> usize {
        let r = &self.shared.remotes[i];
        r.stealer.len() + r.ready_stealer.len() + usize::from(!r.lifo.is_empty())
    }

    /// Tasks now in the global injector.
    pub fn injector_depth(&self) -> usize {
        self.shared.injector.len()
    }

    /// Tasks spawned so far (not counting `spawn_blocking`).
    pub fn spawned_tasks(&self) -> u64 {
        let local: u64 = (0..self.num_workers())
            .map(|i| self.w(i).spawned.load(Relaxed))
            .sum();
        local + self.shared.remote_spawned.load(Relaxed)
    }

    /// Tasks spawned and not yet finished. Exact when the runtime is at rest; while tasks
    /// finish on other threads it may be off by the few being finished at that instant.
    pub fn alive_tasks(&self) -> usize {
        // Linked, plus spawned on a worker and not linked yet, minus finished and not
        // unlinked yet (see `task/list.rs`).
        let (deferred, pending) = (0..self.num_workers()).fold((0u64, 0u64), |(d, p), i| {
            let w = self.w(i);
            (d + w.deferred.load(Relaxed), p + w.pending.load(Relaxed))
        });
        (self.shared.owned.len() + pending as usize).saturating_sub(deferred as usize)
    }

    /// Threads of the blocking pool now alive.
    pub fn blocking_threads(&self) -> usize {
        self.shared.blocking.num_threads()
    }

    /// Blocking tasks waiting for a thread.
    pub fn blocking_queue_depth(&self) -> usize {
        self.shared.blocking.queue_depth()
    }
}

impl fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RuntimeMetrics");
        d.field("num_workers", &self.num_workers())
            .field("spawned_tasks", &self.spawned_tasks())
            .field("alive_tasks", &self.alive_tasks())
            .field("injector_depth", &self.injector_depth());
        let polls: Vec<u64> = (0..self.num_workers())
            .map(|i| self.worker_polls(i))
            .collect();
        d.field("worker_polls", &polls).finish()
    }
}

/// Spawns a task on the current runtime.
///
/// # Panics
///
/// Outside a runtime: use `Runtime::block_on`, `Handle::enter`, or `Handle::spawn`.
///
/// # Examples
///
/// ```
/// let rt = weft_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let h = weft_executor::spawn(async { 2 + 2 });
///     assert_eq!(h.await.unwrap(), 4);
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // Borrow the current handle rather than clone it: no reference-count traffic. (The
    // panic is outside the closure, so that it reports the caller's location.)
    let mut future = Some(future);
    match context::with_handle(|h| h.map(|h| h.spawn(future.take().unwrap()))) {
        Some(join) => join,
        None => panic!("weft_executor::spawn: {NO_RUNTIME}"),
    }
}

/// Runs a blocking closure on the current runtime's blocking pool.
///
/// # Panics
///
/// Outside a runtime, like [`spawn`].
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let mut f = Some(f);
    match context::with_handle(|h| h.map(|h| h.spawn_blocking(f.take().unwrap()))) {
        Some(join) => join,
        None => panic!("weft_executor::spawn_blocking: {NO_RUNTIME}"),
    }
}

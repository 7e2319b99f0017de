//! `Builder`: the settings of a runtime, checked, and the runtime built from them.

use crate::driver::{Driver, ParkDriver};
use crate::runtime::Runtime;
use crate::scheduler::config::{Config, Hook};
use crate::scheduler::current_thread::CurrentThread;
use crate::scheduler::poll::{SlowPoll, SlowPollHook};
use crate::scheduler::Shared;
use crate::task::PanicHook;
use std::any::{Any, TypeId};
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// The environment variable that sets the default number of worker threads.
pub const WORKER_THREADS_ENV: &str = "WEFT_WORKER_THREADS";

/// The most worker threads a runtime can have: a task records the shard of the owned-task
/// list it belongs to in 16 bits, and there is a shard per worker plus a few for spawns
/// from outside.
pub const MAX_WORKER_THREADS: usize = crate::scheduler::MAX_WORKERS;

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
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
    flavor: Flavor,
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
    slow_poll_threshold: Option<Duration>,
    on_slow_poll: Option<SlowPollHook>,
    seed: Option<u64>,
}

/// Which scheduler a [`Builder`] builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    /// Worker threads that steal from each other.
    MultiThread,
    /// No worker threads: the tasks run on the thread in `block_on`.
    CurrentThread,
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
            flavor: Flavor::MultiThread,
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
            slow_poll_threshold: None,
            on_slow_poll: None,
            seed: None,
        }
    }

    /// A builder for the multi-thread runtime: the same as [`Builder::new`], by its
    /// explicit name.
    pub fn new_multi_thread() -> Builder {
        Builder::new()
    }

    /// A builder for the current-thread runtime: no worker threads; the tasks run on the
    /// thread that calls [`Runtime::block_on`], while it waits for its future, and wait
    /// while no `block_on` runs (spawns from other threads queue up, and wake the thread
    /// in `block_on`). The timer, the reactor (through the [`driver`](Builder::driver),
    /// which the `block_on` thread sleeps in when it has nothing to run), the blocking
    /// pool, the metrics (one worker's) and the trace are the multi-thread runtime's.
    /// [`worker_threads`](Builder::worker_threads) is ignored.
    ///
    /// If a second thread calls `block_on` while one runs the tasks, it polls only its own
    /// future until the first returns, then takes over.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft_executor::Builder::new_current_thread().build().unwrap();
    /// let here = std::thread::current().id();
    /// let ran_on = rt.block_on(async {
    ///     weft_executor::spawn(async { std::thread::current().id() }).await.unwrap()
    /// });
    /// assert_eq!(ran_on, here);
    /// assert_eq!(rt.metrics().num_workers(), 1);
    /// ```
    pub fn new_current_thread() -> Builder {
        Builder {
            flavor: Flavor::CurrentThread,
            ..Builder::new()
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
    /// [`Handle::extension`]: crate::Handle::extension
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
    /// found it; every sleep and why it ended; every search; every steal and what it took
    /// from; every wake, spawn and unpark, and where the task landed; LIFO-slot
    /// displacements and queue overflows), and the spawns, wakes and unparks of threads
    /// outside the workers, up to `events_per_worker` events per worker and as many again
    /// for all threads outside together; the rest are counted as dropped. An event takes
    /// 80 bytes (a poll and its wake are two), so the trace holds at most
    /// `(workers + 1) * events_per_worker * 80` bytes: 200,000 events on 2 workers,
    /// 48 MB. Off by default (0); each recording site then costs one predictable branch
    /// (measured in docs/measuring.md). Read the events with [`Handle::take_trace`]; see
    /// [`Trace`] for an example and for the JSON that Perfetto displays.
    ///
    /// [`Handle::take_trace`]: crate::Handle::take_trace
    /// [`Trace`]: crate::Trace
    pub fn trace(&mut self, events_per_worker: usize) -> &mut Self {
        self.trace_limit = events_per_worker;
        self
    }

    /// Reports every poll that holds a worker at least `threshold`: a task that blocks
    /// its thread (a blocking call, a long computation) stalls every task queued behind
    /// it. Each such poll is reported once, with the task's id, name and spawn location and
    /// the poll's duration, in one line on stderr or to [`on_slow_poll`](Builder::on_slow_poll),
    /// and counted in [`RuntimeMetrics::worker_slow_polls`](crate::RuntimeMetrics::worker_slow_polls).
    /// Off by default: with it, every poll reads the clock twice (docs/measuring.md has
    /// the cost).
    ///
    /// See [`SlowPoll`](crate::SlowPoll) for an example.
    pub fn slow_poll_threshold(&mut self, threshold: Duration) -> &mut Self {
        self.slow_poll_threshold = Some(threshold);
        self
    }

    /// Receives each slow poll (see [`slow_poll_threshold`](Builder::slow_poll_threshold))
    /// instead of the default line on stderr. It runs on the worker, right after the
    /// poll: keep it short. A panic in it is reported and contained (the worker goes on).
    pub fn on_slow_poll(&mut self, hook: impl Fn(&SlowPoll) + Send + Sync + 'static) -> &mut Self {
        self.on_slow_poll = Some(Arc::new(hook));
        self
    }

    /// Runs the tasks in an order drawn from `seed`, for tests that look for bugs of
    /// ordering: current-thread runtime only ([`build`](Builder::build) refuses it on the
    /// multi-thread one with `InvalidInput`: there the threads' timing decides the order,
    /// and no seed could make it repeat).
    ///
    /// Each time the runtime picks a task to poll, it draws it from every task ready to run
    /// (instead of first-in first-out with a preference for the task just woken), and each
    /// poll's [cooperative budget](crate::coop) is drawn between 1 and
    /// [`BUDGET`](crate::coop::BUDGET) (so the yields a budget forces land at different
    /// awaits). The same program, with the same seed, polls its tasks in exactly the same
    /// order; another seed explores another order. Timers and sockets only keep that
    /// promise when the clock is paused and nothing comes from outside: wakes from other
    /// threads (the blocking pool, a [`Handle`](crate::Handle) used elsewhere) and I/O
    /// readiness arrive when they arrive. `docs/testing.md` says what is deterministic and
    /// how to search for a failing seed; the facade's `#[weft::test]` reads one from
    /// `WEFT_SEED` and prints it when the test fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// // The order in which three tasks run, under one seed.
    /// fn order(seed: u64) -> Vec<u32> {
    ///     let rt = weft_executor::Builder::new_current_thread().seed(seed).build().unwrap();
    ///     let log = Arc::new(Mutex::new(Vec::new()));
    ///     rt.block_on(async {
    ///         let hs: Vec<_> = (0..3)
    ///             .map(|i| {
    ///                 let log = log.clone();
    ///                 weft_executor::spawn(async move { log.lock().unwrap().push(i) })
    ///             })
    ///             .collect();
    ///         for h in hs {
    ///             h.await.unwrap();
    ///         }
    ///     });
    ///     let order = log.lock().unwrap().clone();
    ///     order
    /// }
    /// assert_eq!(order(7), order(7));
    /// // Some seed runs them in another order than seed 7 does.
    /// assert!((0..100).any(|seed| order(seed) != order(7)));
    ///
    /// let err = weft_executor::Builder::new_multi_thread().seed(7).build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn seed(&mut self, seed: u64) -> &mut Self {
        self.seed = Some(seed);
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
        if let (Some(seed), Flavor::MultiThread) = (self.seed, self.flavor) {
            return Err(invalid(format!(
                "seed({seed}) on the multi-thread runtime, whose threads' timing decides the \
                 order of polls: seeded runs need `Builder::new_current_thread()`"
            )));
        }
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
    /// a positive number, a stack size of 0, a thread name with a NUL byte, a
    /// [`seed`](Builder::seed) on the multi-thread runtime. Otherwise the
    /// error of a thread that could not be started.
    ///
    /// ```
    /// let err = weft_executor::Builder::new().thread_stack_size(0).build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn build(&mut self) -> io::Result<Runtime> {
        self.check()?;
        let n = match self.flavor {
            Flavor::MultiThread => self.num_workers()?,
            // One worker slot, taken by the thread in `block_on`.
            Flavor::CurrentThread => 1,
        };
        let driver = self
            .driver
            .clone()
            .unwrap_or_else(|| Arc::new(ParkDriver::new()));
        let (shared, queues) = Shared::new(
            n,
            driver,
            Config {
                thread_name: self.thread_name.clone(),
                stack_size: self.stack_size,
                on_thread_start: self.on_thread_start.clone(),
                on_thread_stop: self.on_thread_stop.clone(),
                on_task_panic: self.on_task_panic.clone(),
                max_blocking_threads: self.max_blocking_threads,
                blocking_keep_alive: self.blocking_keep_alive,
                extensions: self.extensions.clone(),
                trace_limit: self.trace_limit,
                epoch: std::time::Instant::now(),
                slow_poll_threshold: self.slow_poll_threshold,
                on_slow_poll: self.on_slow_poll.clone(),
                current_thread: self.flavor == Flavor::CurrentThread,
                seed: self.seed,
            },
        );
        if self.flavor == Flavor::CurrentThread {
            let queues = queues.into_iter().next().expect("one worker slot");
            return Ok(Runtime::current_thread(CurrentThread::new(shared, queues)));
        }
        let mut rt = Runtime::from_shared(shared.clone(), n);
        for (i, queues) in queues.into_iter().enumerate() {
            // On error, `rt` drops here and shuts down the workers already started.
            let thread = shared.spawn_worker(i, queues)?;
            rt.push_thread(thread);
        }
        Ok(rt)
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("flavor", &self.flavor)
            .field("worker_threads", &self.worker_threads)
            .field("thread_name", &self.thread_name)
            .field("thread_stack_size", &self.stack_size)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("thread_keep_alive", &self.blocking_keep_alive)
            .field("slow_poll_threshold", &self.slow_poll_threshold)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

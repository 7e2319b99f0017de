//! The runtime the facade builds: the executor with the reactor and the timer stacked into
//! its driver.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use weft_executor::{Driver, EnterGuard, Handle, JoinHandle, RuntimeMetrics};

/// Configures and builds a [`Runtime`] with the timer and the reactor wired in (as the
/// enabled features allow).
///
/// # Examples
///
/// ```
/// let rt = weft::Builder::new().worker_threads(2).thread_name("app").build().unwrap();
/// let v = rt.block_on(async {
///     weft::time::sleep(std::time::Duration::from_millis(1)).await;
///     weft::spawn(async { 7 }).await.unwrap()
/// });
/// assert_eq!(v, 7);
/// ```
#[derive(Debug, Default)]
pub struct Builder {
    inner: weft_executor::Builder,
    /// Made by `new_current_thread`: the flavour whose time can be paused.
    current_thread: bool,
    start_paused: bool,
}

macro_rules! forward {
    ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $t:ty),*);)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $name(&mut self, $($arg: $t),*) -> &mut Self {
            self.inner.$name($($arg),*);
            self
        }
    )*};
}

impl Builder {
    /// A builder with the defaults (see [`weft_executor::Builder::new`]).
    pub fn new() -> Builder {
        Builder::default()
    }

    /// A builder for the multi-thread runtime: [`Builder::new`] by its explicit name.
    pub fn new_multi_thread() -> Builder {
        Builder::default()
    }

    /// A builder for the current-thread runtime: no worker threads; tasks run on the
    /// thread in [`Runtime::block_on`], which sleeps in the reactor and the timer when it
    /// has nothing to run (see [`weft_executor::Builder::new_current_thread`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft::Builder::new_current_thread().build().unwrap();
    /// let here = std::thread::current().id();
    /// let v = rt.block_on(async move {
    ///     weft::time::sleep(std::time::Duration::from_millis(1)).await;
    ///     weft::spawn(async move { std::thread::current().id() == here }).await.unwrap()
    /// });
    /// assert!(v);
    /// ```
    pub fn new_current_thread() -> Builder {
        Builder {
            inner: weft_executor::Builder::new_current_thread(),
            current_thread: true,
            start_paused: false,
        }
    }

    forward! {
        /// The number of worker threads (default: one per CPU, or `WEFT_WORKER_THREADS`).
        fn worker_threads(n: usize);
        /// The prefix of thread names (default `weft`).
        fn thread_name(name: impl Into<String>);
        /// The stack size of worker and blocking threads.
        fn thread_stack_size(bytes: usize);
        /// The most threads of the blocking pool (default 512).
        fn max_blocking_threads(n: usize);
        /// How long an idle blocking thread lingers (default 10 s).
        fn thread_keep_alive(d: Duration);
        /// Records what each worker does, up to this many events per worker (default 0:
        /// off); read them with [`Handle::take_trace`](crate::Handle::take_trace). See
        /// [`weft_executor::Builder::trace`] and the `trace` example.
        fn trace(events_per_worker: usize);
        /// Reports polls that hold a worker at least this long (default: off); see
        /// [`weft_executor::Builder::slow_poll_threshold`].
        fn slow_poll_threshold(threshold: Duration);
    }

    /// Receives each slow poll instead of the default line on stderr (see
    /// [`weft_executor::Builder::on_slow_poll`]).
    pub fn on_slow_poll(
        &mut self,
        hook: impl Fn(&weft_executor::SlowPoll) + Send + Sync + 'static,
    ) -> &mut Self {
        self.inner.on_slow_poll(hook);
        self
    }

    /// Runs `f` on every runtime thread when it starts.
    pub fn on_thread_start(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.inner.on_thread_start(f);
        self
    }

    /// Runs `f` on every runtime thread before it exits.
    pub fn on_thread_stop(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.inner.on_thread_stop(f);
        self
    }

    /// Handles panics of tasks nobody awaits (default: one line on stderr).
    pub fn on_task_panic(
        &mut self,
        hook: impl Fn(Box<dyn std::any::Any + Send>) + Send + Sync + 'static,
    ) -> &mut Self {
        self.inner.on_task_panic(hook);
        self
    }

    /// Starts the runtime with its clock paused (default: not): timers fire as soon as
    /// every task is idle, the clock jumping straight to their deadline, so a test of an
    /// hour of timeouts runs in microseconds, the same every run. See
    /// [`weft::time::pause`](crate::time::pause) for the rules, and `docs/testing.md`.
    ///
    /// Only the current-thread runtime pauses ([`Builder::new_current_thread`]); `build`
    /// refuses it on the multi-thread one with `InvalidInput`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::time::{sleep, Instant};
    ///
    /// let rt = weft::Builder::new_current_thread().start_paused(true).build().unwrap();
    /// let real = std::time::Instant::now();
    /// rt.block_on(async {
    ///     let start = Instant::now();
    ///     sleep(Duration::from_secs(3600)).await;
    ///     assert_eq!(start.elapsed(), Duration::from_secs(3600));
    /// });
    /// assert!(real.elapsed() < Duration::from_secs(3600));
    /// ```
    #[cfg(feature = "time")]
    pub fn start_paused(&mut self, paused: bool) -> &mut Self {
        self.start_paused = paused;
        self
    }

    /// Runs the tasks in an order drawn from `seed` (current-thread runtime only; `build`
    /// refuses it on the multi-thread one with `InvalidInput`): the same program with the
    /// same seed polls its tasks in exactly the same order, and each seed explores another
    /// order, each poll's cooperative budget drawn too. With
    /// [`start_paused(true)`](Builder::start_paused), timers take part in the replay; what
    /// comes from other threads or sockets does not (see
    /// [`weft_executor::Builder::seed`] and `docs/testing.md`). `#[weft::test]` takes its
    /// seed from `WEFT_SEED` (or `seed = N`), and prints it when the test fails.
    ///
    /// # Examples
    ///
    /// A check-then-act race: two withdrawals each look at the balance, then take from it
    /// after an await. First-in first-out, the first runs to the end before the second
    /// looks; some seed cuts the first one's poll between its look and its take.
    /// (`consume_budget` stands for any resource that is ready at once, a socket with data
    /// waiting, a channel with a message: each spends a unit of the poll's budget.)
    ///
    /// ```
    /// use std::sync::Arc;
    /// use weft::sync::Mutex;
    ///
    /// /// False if it overdrew the account.
    /// async fn withdraw(account: Arc<Mutex<i64>>, amount: i64) -> bool {
    ///     weft::task::consume_budget().await; // reads the request
    ///     let enough = *account.lock().await >= amount; // the lock is released here
    ///     weft::task::consume_budget().await; // writes a log line
    ///     if enough {
    ///         let mut balance = account.lock().await;
    ///         *balance -= amount;
    ///         return *balance >= 0;
    ///     }
    ///     true
    /// }
    ///
    /// /// Whether two withdrawals of 80 from 100 overdraw, under `seed` (`None`: FIFO).
    /// fn overdraws(seed: Option<u64>) -> bool {
    ///     let mut b = weft::Builder::new_current_thread();
    ///     b.start_paused(true);
    ///     if let Some(s) = seed {
    ///         b.seed(s);
    ///     }
    ///     b.build().unwrap().block_on(async {
    ///         let account = Arc::new(Mutex::new(100));
    ///         let a = weft::spawn(withdraw(account.clone(), 80));
    ///         let b = weft::spawn(withdraw(account.clone(), 80));
    ///         !(a.await.unwrap() & b.await.unwrap())
    ///     })
    /// }
    ///
    /// assert!(!overdraws(None));
    /// let failing = (0..1_000).find(|&s| overdraws(Some(s))).expect("no seed found the race");
    /// assert!(overdraws(Some(failing)), "seed {failing} replays the failure");
    /// ```
    pub fn seed(&mut self, seed: u64) -> &mut Self {
        self.inner.seed(seed);
        self
    }

    /// Starts the runtime: workers, and the reactor and timer in their driver.
    ///
    /// # Errors
    ///
    /// If the poller cannot be created, a thread cannot start, or a setting is one the
    /// runtime cannot hold (`InvalidInput`, see [`weft_executor::Builder::build`]; also
    /// `start_paused(true)` or a `seed` on the multi-thread runtime).
    pub fn build(&mut self) -> io::Result<Runtime> {
        if self.start_paused && !self.current_thread {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "start_paused(true) on the multi-thread runtime: paused time needs the \
                 current-thread one, `weft::Builder::new_current_thread()`",
            ));
        }
        #[cfg(feature = "net")]
        let base: Arc<dyn Driver> = {
            let reactor = weft_reactor::ReactorDriver::new()?;
            self.inner.extension(reactor.reactor());
            Arc::new(reactor)
        };
        #[cfg(not(feature = "net"))]
        let base: Arc<dyn Driver> = Arc::new(weft_executor::ParkDriver::new());
        #[cfg(feature = "time")]
        let driver: Arc<dyn Driver> = {
            let timer = weft_timer::TimerDriver::new(base);
            if self.current_thread {
                // Its executor reports when every task is idle: auto-advance can work.
                timer.allow_pause();
                if self.start_paused {
                    timer.timer().pause();
                }
            }
            self.inner.extension(timer.timer());
            Arc::new(timer)
        };
        #[cfg(not(feature = "time"))]
        let driver = base;
        Ok(Runtime {
            inner: self.inner.driver(driver).build()?,
        })
    }
}

/// A weft runtime: the executor's workers, with the reactor and the timer in their
/// driver. Dropping it shuts it down (see [`weft_executor::Runtime`]).
///
/// # Examples
///
/// ```
/// let rt = weft::Runtime::new().unwrap();
/// rt.block_on(async {
///     weft::time::sleep(std::time::Duration::from_millis(1)).await;
/// });
/// ```
#[derive(Debug)]
pub struct Runtime {
    inner: weft_executor::Runtime,
}

impl Runtime {
    /// A runtime with the default settings (see [`Builder`]).
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// Runs `future` to completion on this thread, with the runtime entered.
    ///
    /// # Panics
    ///
    /// Inside a runtime (a task, or another `block_on`): `.await` the future instead.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.inner.block_on(future)
    }

    /// Spawns a task on this runtime.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.spawn(future)
    }

    /// Runs a blocking closure on the blocking pool.
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.inner.spawn_blocking(f)
    }

    /// A handle to this runtime, which can spawn onto it from anywhere.
    pub fn handle(&self) -> &Handle {
        self.inner.handle()
    }

    /// Enters the runtime on this thread until the guard drops.
    pub fn enter(&self) -> EnterGuard<'_> {
        self.inner.enter()
    }

    /// The runtime's counters.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.inner.metrics()
    }

    /// Shuts down, waiting at most `timeout` for blocking tasks still running.
    pub fn shutdown_timeout(self, timeout: Duration) {
        self.inner.shutdown_timeout(timeout)
    }
}

/// Runs a future to completion on a new runtime, then shuts the runtime down (dropping
/// the tasks still alive) and returns the output: `asyncio.run`.
///
/// # Panics
///
/// If called inside a runtime (a task, or another `run` or `block_on`): `.await` the
/// future instead, or `spawn` it. Also if the runtime cannot start.
///
/// # Examples
///
/// ```
/// async fn fetch_data() -> &'static str {
///     weft::time::sleep(std::time::Duration::from_millis(10)).await;
///     "data"
/// }
/// assert_eq!(weft::run(fetch_data()), "data");
/// ```
#[track_caller]
pub fn run<F: Future>(future: F) -> F::Output {
    if Handle::try_current().is_ok() {
        panic!(
            "weft::run was called inside a weft runtime, where it would block a thread the \
             runtime needs: `.await` the future instead, or `weft::spawn` it"
        );
    }
    let rt = match Builder::new().build() {
        Ok(rt) => rt,
        Err(e) => panic!("weft::run could not start a runtime: {e}"),
    };
    rt.block_on(future)
}

/// The environment variable `#[weft::test]` takes its seed from (see [`Builder::seed`]).
pub const SEED_ENV: &str = "WEFT_SEED";

/// What `#[weft::test]` expands to calls; not an API.
#[doc(hidden)]
pub mod __private {
    use std::io::Write;

    /// The seed a current-thread `#[weft::test]` runs with: its `seed = N` if it names one,
    /// else `WEFT_SEED`, else none (first-in first-out, as unseeded runtimes run).
    #[track_caller]
    pub fn test_seed(pinned: Option<u64>) -> Option<u64> {
        if pinned.is_some() {
            return pinned;
        }
        let v = std::env::var_os(super::SEED_ENV)?;
        let text = v.to_string_lossy();
        match text.trim().parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => panic!(
                "{}={text:?}: expected a whole number from 0 to 2^64-1 (the seed a failing \
                 test printed), or unset it to run in first-in first-out order",
                super::SEED_ENV
            ),
        }
    }

    /// Prints the seed when the test panics or returns an `Err`, so the failure can be
    /// replayed.
    #[derive(Debug)]
    pub struct SeedReport(pub Option<u64>);

    impl SeedReport {
        /// The test's body returned `out`: an `Err` is a failure too.
        pub fn returned<T: TestOutcome>(&self, out: &T) {
            if out.failed() {
                self.print();
            }
        }

        fn print(&self) {
            if let Some(seed) = self.0 {
                // The test harness names each test's thread after the test.
                let thread = std::thread::current();
                let test = thread.name().unwrap_or("this test");
                let _ = writeln!(
                    std::io::stderr(),
                    "weft: {test} ran with seed {seed}; replay it with {}={seed}",
                    super::SEED_ENV
                );
            }
        }
    }

    impl Drop for SeedReport {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.print();
            }
        }
    }

    /// What a test function may return, as far as telling a failure goes: `()`, or a
    /// `Result` (an `Err` fails the test).
    pub trait TestOutcome {
        /// Whether the test failed by returning this.
        fn failed(&self) -> bool;
    }

    impl TestOutcome for () {
        fn failed(&self) -> bool {
            false
        }
    }

    impl<T, E> TestOutcome for Result<T, E> {
        fn failed(&self) -> bool {
            self.is_err()
        }
    }
}

//! The poll site: what a scheduler does around every poll of a task, written once for
//! every flavour of scheduler: a loop calls [`PollSite::note`] before a poll, or, when the
//! site is [`watched`](PollSite::watched) (slow polls timed, or a trace on),
//! [`PollSite::begin`] before it and [`PollSite::end`] after it (the workers' loop only if
//! it still owns the worker: a poll may hand it to another thread). A set of local tasks
//! (`local.rs`) makes one for each run of its tasks (`PollSite::for_local`), which times
//! them only on a worker's thread and adds what it counted to that worker's site.
//!
//! - It stores the time the poll began in the task's header (`Header::note_poll`; the
//!   state word counts the poll itself), for `Handle::dump`. The time comes from a coarse
//!   clock: milliseconds since the runtime's epoch, read when the site is told to (`refresh_clock`: a worker does at
//!   each maintenance pass, every 61 ticks, and after each sleep), and at every poll while
//!   slow polls are watched. So without a threshold a poll reads no clock, and a task's
//!   last-poll time may be early by up to 61 polls' time.
//! - With a slow-poll threshold ([`Builder::slow_poll_threshold`](crate::Builder::slow_poll_threshold)),
//!   it times the poll and reports one that held the thread at least that long, as a
//!   [`SlowPoll`], to the hook or in one line on stderr, and counts it (published in
//!   `RuntimeMetrics::worker_slow_polls`). The hook runs contained (see `unwind.rs`).

use super::config::Config;
use crate::task::{Id, Notified};
use std::cell::Cell;
use std::fmt;
use std::io::Write;
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The hook for slow polls (`Builder::on_slow_poll`).
pub(crate) type SlowPollHook = Arc<dyn Fn(&SlowPoll) + Send + Sync>;

/// A poll that held a worker longer than the runtime's
/// [`slow_poll_threshold`](crate::Builder::slow_poll_threshold): what
/// [`Builder::on_slow_poll`](crate::Builder::on_slow_poll)'s hook receives. Its `Display`
/// is the line weft writes on stderr without a hook.
///
/// # Examples
///
/// ```
/// use std::sync::{mpsc, Mutex};
/// use std::time::Duration;
///
/// let (tx, rx) = mpsc::channel();
/// let tx = Mutex::new(tx);
/// let rt = weft_executor::Builder::new()
///     .slow_poll_threshold(Duration::from_millis(50))
///     .on_slow_poll(move |slow| tx.lock().unwrap().send(slow.to_string()).unwrap())
///     .build()
///     .unwrap();
/// let h = weft_executor::TaskBuilder::new()
///     .name("sleeper")
///     .spawn_on(async { std::thread::sleep(Duration::from_millis(100)) }, rt.handle())
///     .unwrap();
/// rt.block_on(h).unwrap();
/// let line = rx.recv().unwrap();
/// assert!(line.contains("\"sleeper\""), "{line}");
/// ```
#[derive(Debug, Clone)]
pub struct SlowPoll {
    id: Id,
    name: Option<Arc<str>>,
    location: &'static Location<'static>,
    duration: Duration,
    worker: usize,
    threshold: Duration,
}

impl SlowPoll {
    /// The task's id.
    pub fn id(&self) -> Id {
        self.id
    }

    /// The task's name, if it was given one ([`TaskBuilder::name`](crate::TaskBuilder::name)).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where the task was spawned.
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// How long the poll held the thread.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The index of the worker it held.
    pub fn worker(&self) -> usize {
        self.worker
    }
}

impl fmt::Display for SlowPoll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} held worker {} for {:?} in one poll (slow_poll_threshold {:?}): move blocking \
             work to spawn_blocking",
            crate::task::describe("task", self.id, self.name(), self.location),
            self.worker,
            self.duration,
            self.threshold
        )
    }
}

/// A timed poll in progress (see [`PollSite::begin`]).
pub(crate) struct PollTimer {
    start: Instant,
    threshold: Duration,
    id: Id,
    name: Option<Arc<str>>,
    location: &'static Location<'static>,
}

/// One poll site's state (see the module comment). Lives with its thread's loop.
pub(crate) struct PollSite {
    worker: usize,
    epoch: Instant,
    /// The clock as of the last refresh, as `Header::note_poll` takes it (see `stamp`).
    coarse: Cell<u32>,
    threshold: Option<Duration>,
    hook: Option<SlowPollHook>,
    slow_polls: Cell<u64>,
    /// Polls are timed or traced: the loop takes its cold path (`begin`/`end`) for every
    /// poll, and the plain `note` otherwise.
    watched: bool,
}

/// 1 + milliseconds from `epoch` to `t`, wrapping at 2^32 (about 49 days) and skipping
/// 0, which means "never polled" in a header.
pub(crate) fn stamp(epoch: Instant, t: Instant) -> u32 {
    match (t.saturating_duration_since(epoch).as_millis() as u32).wrapping_add(1) {
        0 => 1,
        n => n,
    }
}

/// The milliseconds since the epoch that a header's `last_poll` (never 0) stands for.
pub(crate) fn unstamp(last_poll: u32) -> u32 {
    last_poll.wrapping_sub(1)
}

impl PollSite {
    pub(crate) fn new(config: &Config, worker: usize) -> PollSite {
        PollSite {
            worker,
            epoch: config.epoch,
            coarse: Cell::new(stamp(config.epoch, Instant::now())),
            threshold: config.slow_poll_threshold,
            hook: config.on_slow_poll.clone(),
            slow_polls: Cell::new(0),
            watched: config.slow_poll_threshold.is_some() || config.trace_limit != 0,
        }
    }

    /// The site of one run of a set of local tasks (`local.rs`), on `worker`'s thread if
    /// it is one: its polls are timed against the threshold only there (elsewhere they
    /// hold no worker), and always stamped for the dump.
    pub(crate) fn for_local(config: &Config, worker: Option<usize>) -> PollSite {
        let mut site = PollSite::new(config, worker.unwrap_or(0));
        if worker.is_none() {
            site.threshold = None;
            site.watched = false;
        }
        site
    }

    /// Adds slow polls another site saw on this site's thread (a run of local tasks).
    pub(crate) fn add_slow_polls(&self, n: u64) {
        self.slow_polls.set(self.slow_polls.get() + n);
    }

    /// Reads the clock for the polls to come (see the module comment).
    pub(crate) fn refresh_clock(&self) {
        self.coarse.set(stamp(self.epoch, Instant::now()));
    }

    /// Slow polls seen here so far.
    pub(crate) fn slow_polls(&self) -> u64 {
        self.slow_polls.get()
    }

    /// The loop must use `begin` and `end` (polls are timed, or traced by the loop); if
    /// false, `note` is all a poll needs.
    #[inline(always)]
    pub(crate) fn watched(&self) -> bool {
        self.watched
    }

    /// Before `task`'s poll when not `watched`: counts it in the task's header.
    #[inline(always)]
    pub(crate) fn note(&self, task: &Notified) {
        task.header().note_poll(self.coarse.get());
    }

    /// Before `task`'s poll: counts it in the task's header, and if polls are timed,
    /// starts the clock. What it returns owns everything the report needs (the poll may
    /// free the task), and borrows nothing: a worker handed to another thread during the
    /// poll (`block_in_place`) drops it instead of passing it to `end`.
    #[inline]
    pub(crate) fn begin(&self, task: &Notified) -> Option<PollTimer> {
        match self.threshold {
            None => {
                task.header().note_poll(self.coarse.get());
                None
            }
            Some(threshold) => Some(self.begin_timed(task, threshold)),
        }
    }

    #[cold]
    #[inline(never)]
    fn begin_timed(&self, task: &Notified, threshold: Duration) -> PollTimer {
        let header = task.header();
        let start = Instant::now();
        header.note_poll(stamp(self.epoch, start));
        PollTimer {
            start,
            threshold,
            id: header.id,
            name: header.spawned.name().cloned(),
            location: header.spawned.location(),
        }
    }

    /// After the poll `begin` started, on the thread that owns this site: reports it if
    /// it was slow, and says whether it was (for the trace's `TraceKind::SlowPoll`).
    #[inline]
    pub(crate) fn end(&self, timer: Option<PollTimer>) -> bool {
        match timer {
            Some(timer) => self.end_timed(timer),
            None => false,
        }
    }

    #[cold]
    #[inline(never)]
    fn end_timed(&self, t: PollTimer) -> bool {
        let end = Instant::now();
        self.coarse.set(stamp(self.epoch, end));
        let duration = end.saturating_duration_since(t.start);
        if duration >= t.threshold {
            self.slow_polls.set(self.slow_polls.get() + 1);
            self.report(SlowPoll {
                id: t.id,
                name: t.name,
                location: t.location,
                duration,
                worker: self.worker,
                threshold: t.threshold,
            });
            return true;
        }
        false
    }

    fn report(&self, slow: SlowPoll) {
        match &self.hook {
            Some(hook) => {
                crate::unwind::contain("the on_slow_poll hook", || hook(&slow));
            }
            None => {
                let _ = writeln!(std::io::stderr().lock(), "weft: {slow}");
            }
        }
    }
}

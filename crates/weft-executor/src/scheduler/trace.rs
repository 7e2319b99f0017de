//! Scheduler traces: what each worker did, and when. For people learning how the
//! scheduler works, and for finding out why a program is slow.
//!
//! Off by default, and then a poll costs one predictable branch more. Turned on with
//! [`Builder::trace`](crate::Builder::trace), each worker records its polls (which task,
//! found where, for how long), its sleeps and its steals into a plain vector of its own
//! (no atomic operation per event), and hands them over to a buffer other threads can
//! read when it publishes its metrics: every 61 ticks, before it parks and when it stops.
//! [`Handle::take_trace`](crate::Handle::take_trace) collects what was handed over. A
//! worker records at most the number of events it was given and counts the rest as
//! dropped, so a trace shows a program's beginning, and its memory is bounded.
//!
//! [`Trace::write_chrome_json`] writes the Trace Event Format that Perfetto
//! (<https://ui.perfetto.dev>) and `chrome://tracing` display: one row per worker, a bar
//! per poll and per sleep.

use crate::task::Id;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// Where a worker found the task it polled (see `worker.rs` for the order it looks in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskSource {
    /// Its LIFO slot: the task it spawned or woke last.
    LifoSlot,
    /// Its ready queue: a task the driver woke (a timer fired, a socket became ready).
    Ready,
    /// Its own queue.
    Queue,
    /// The global injector: tasks spawned or woken outside the workers.
    Injector,
    /// Another worker: its queue, its ready queue or its LIFO slot.
    Stolen,
}

impl TaskSource {
    /// A short lowercase name (`"lifo"`, `"ready"`, `"queue"`, `"injector"`, `"stolen"`).
    pub fn name(self) -> &'static str {
        match self {
            TaskSource::LifoSlot => "lifo",
            TaskSource::Ready => "ready",
            TaskSource::Queue => "queue",
            TaskSource::Injector => "injector",
            TaskSource::Stolen => "stolen",
        }
    }
}

/// What a worker did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceKind {
    /// Polled a task once.
    Poll {
        /// The task's id (never reused, see [`TaskId`](crate::TaskId)).
        task: Id,
        /// Where the worker found it.
        from: TaskSource,
    },
    /// Slept, having found no work.
    Park {
        /// In the driver (waiting for I/O and timers), rather than on its own condvar.
        in_driver: bool,
    },
    /// While searching for work, took tasks from elsewhere into its own queues (an
    /// instant: the duration is zero). The batches a busy worker takes from the injector
    /// (every 61 ticks, or when its queue runs dry) are not steals: their tasks show as
    /// polls found in the injector, then in the queue.
    Steal {
        /// The worker robbed, or `None` for the global injector.
        victim: Option<usize>,
        /// How many tasks it took, counting the one it runs first.
        tasks: usize,
    },
}

/// One event of a [`Trace`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceEvent {
    /// The worker's index.
    pub worker: usize,
    /// When it began, since the runtime was built.
    pub start: Duration,
    /// How long it lasted.
    pub duration: Duration,
    /// What happened.
    pub kind: TraceKind,
}

/// Events recorded by a runtime's workers, ordered by start time. See
/// [`Builder::trace`](crate::Builder::trace).
///
/// # Examples
///
/// ```
/// use weft_executor::{Builder, TraceKind};
///
/// let rt = Builder::new().worker_threads(2).trace(10_000).build().unwrap();
/// rt.block_on(async {
///     let tasks: Vec<_> = (0..100).map(|i| weft_executor::spawn(async move { i })).collect();
///     for t in tasks {
///         t.await.unwrap();
///     }
/// });
/// let handle = rt.handle().clone();
/// drop(rt); // the workers hand over their last events as they stop
/// let trace = handle.take_trace();
/// let polls = trace
///     .events()
///     .iter()
///     .filter(|e| matches!(e.kind, TraceKind::Poll { .. }))
///     .count();
/// assert!(polls >= 100);
/// let mut json = Vec::new();
/// trace.write_chrome_json(&mut json).unwrap();
/// assert!(json.starts_with(b"{\"traceEvents\":["));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Trace {
    events: Vec<TraceEvent>,
    dropped: u64,
}

impl Trace {
    /// The events, ordered by start time.
    pub fn events(&self) -> &[TraceEvent] {
        &self.events
    }

    /// Events not recorded because a worker had recorded as many as it was allowed.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Writes the trace in the Trace Event Format (JSON), which Perfetto
    /// (<https://ui.perfetto.dev>) and `chrome://tracing` open: one row per worker.
    pub fn write_chrome_json(&self, mut out: impl Write) -> io::Result<()> {
        out.write_all(b"{\"traceEvents\":[")?;
        let workers = self.events.iter().map(|e| e.worker + 1).max().unwrap_or(0);
        let mut first = true;
        let mut sep = |out: &mut dyn Write| -> io::Result<()> {
            if !std::mem::take(&mut first) {
                out.write_all(b",\n")?;
            }
            Ok(())
        };
        for w in 0..workers {
            sep(&mut out)?;
            write!(
                out,
                "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{w},\
                 \"args\":{{\"name\":\"worker {w}\"}}}}"
            )?;
        }
        for e in &self.events {
            sep(&mut out)?;
            let ts = micros(e.start);
            let tid = e.worker;
            match e.kind {
                TraceKind::Poll { task, from } => write!(
                    out,
                    "{{\"name\":\"poll\",\"cat\":\"{}\",\"ph\":\"X\",\"pid\":1,\"tid\":{tid},\
                     \"ts\":{ts},\"dur\":{},\"args\":{{\"task\":{task},\"from\":\"{}\"}}}}",
                    from.name(),
                    micros(e.duration),
                    from.name()
                )?,
                TraceKind::Park { in_driver } => write!(
                    out,
                    "{{\"name\":\"{}\",\"cat\":\"park\",\"ph\":\"X\",\"pid\":1,\"tid\":{tid},\
                     \"ts\":{ts},\"dur\":{}}}",
                    if in_driver { "park (driver)" } else { "park" },
                    micros(e.duration)
                )?,
                TraceKind::Steal { victim, tasks } => {
                    write!(
                        out,
                        "{{\"name\":\"steal\",\"cat\":\"steal\",\"ph\":\"i\",\"s\":\"t\",\
                         \"pid\":1,\"tid\":{tid},\"ts\":{ts},\"args\":{{\"from\":\""
                    )?;
                    match victim {
                        Some(v) => write!(out, "worker {v}")?,
                        None => out.write_all(b"injector")?,
                    }
                    write!(out, "\",\"tasks\":{tasks}}}}}")?
                }
            }
        }
        out.write_all(b"],\"displayTimeUnit\":\"ns\"}\n")
    }
}

/// Microseconds with three decimals, as the format wants.
fn micros(d: Duration) -> impl fmt::Display {
    struct Micros(Duration);
    impl fmt::Display for Micros {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{}.{:03}", self.0.as_micros(), self.0.as_nanos() % 1_000)
        }
    }
    Micros(d)
}

/// What other threads can read of one worker's trace.
#[derive(Default)]
pub(crate) struct TraceBuffer {
    events: Vec<TraceEvent>,
    dropped: u64,
}

/// A worker's recorder. `limit == 0`: tracing is off.
pub(crate) struct TraceLocal {
    worker: usize,
    limit: usize,
    /// Events recorded so far, handed over or not.
    recorded: Cell<usize>,
    dropped: Cell<u64>,
    pending: RefCell<Vec<TraceEvent>>,
    epoch: Instant,
}

impl TraceLocal {
    pub(crate) fn new(worker: usize, limit: usize, epoch: Instant) -> TraceLocal {
        TraceLocal {
            worker,
            limit,
            recorded: Cell::new(0),
            dropped: Cell::new(0),
            pending: RefCell::new(Vec::new()),
            epoch,
        }
    }

    #[inline(always)]
    pub(crate) fn on(&self) -> bool {
        self.limit != 0
    }

    /// Records an event that began at `start` and ends now.
    pub(crate) fn record(&self, start: Instant, kind: TraceKind) {
        self.push(start, Instant::now().saturating_duration_since(start), kind);
    }

    /// Records an event of no duration, now.
    pub(crate) fn record_instant(&self, kind: TraceKind) {
        self.push(Instant::now(), Duration::ZERO, kind);
    }

    fn push(&self, start: Instant, duration: Duration, kind: TraceKind) {
        if self.recorded.get() >= self.limit {
            self.dropped.set(self.dropped.get() + 1);
            return;
        }
        self.recorded.set(self.recorded.get() + 1);
        self.pending.borrow_mut().push(TraceEvent {
            worker: self.worker,
            start: start.saturating_duration_since(self.epoch),
            duration,
            kind,
        });
    }

    /// Hands the events recorded since the last call over to `to`.
    pub(crate) fn publish(&self, to: &parking_lot::Mutex<TraceBuffer>) {
        if !self.on() {
            return;
        }
        let mut pending = self.pending.borrow_mut();
        let mut buffer = to.lock();
        buffer.events.append(&mut pending);
        buffer.dropped += self.dropped.replace(0);
    }
}

/// Collects and empties the buffers of all workers.
pub(crate) fn take<'a>(
    buffers: impl Iterator<Item = &'a parking_lot::Mutex<TraceBuffer>>,
) -> Trace {
    let mut trace = Trace::default();
    for b in buffers {
        let mut b = b.lock();
        trace.events.append(&mut b.events);
        trace.dropped += std::mem::take(&mut b.dropped);
    }
    trace.events.sort_by_key(|e| e.start);
    trace
}

#[cfg(test)]
impl Trace {
    /// A trace made of given events, for tests of what reads traces.
    pub(crate) fn from_events(mut events: Vec<TraceEvent>) -> Trace {
        events.sort_by_key(|e| e.start);
        Trace { events, dropped: 0 }
    }
}

//! Scheduler traces: what each worker did, and when. For people learning how the
//! scheduler works, and for finding out why a program is slow.
//!
//! Off by default, and then each recording site costs one predictable branch
//! (`TraceLocal::event`: the event is not even built). Turned on with
//! [`Builder::trace`](crate::Builder::trace), each worker records its polls (which task,
//! found where, for how long), sleeps (and why they ended), searches, steals (from which
//! worker's which queue), wakes and spawns (of which task, into which queue), unparks, LIFO
//! slot displacements and overflows into a plain vector of its own (no atomic operation per
//! event), and hands them over to a buffer other threads can read when it publishes its
//! metrics: every 61 ticks, before it parks and when it stops. Threads outside the workers
//! (the "outside" lane: `block_on`'s thread, blocking threads, other runtimes) record their
//! spawns, wakes and unparks into one shared buffer behind a lock (`OutsideTrace`), taken
//! only while tracing is on and only for one push. [`Handle::take_trace`](crate::Handle::take_trace)
//! collects what was handed over. A worker, and the outside lane, records at most the
//! number of events it was given and counts the rest as dropped, so a trace shows a
//! program's beginning, and its memory is bounded (80 bytes an event).
//!
//! [`Trace::write_chrome_json`] writes the Trace Event Format that Perfetto
//! (<https://ui.perfetto.dev>) and `chrome://tracing` display: one row per worker and one for
//! outside, a slice per poll (named by where the task was found), sleep and search, and flow
//! arrows from each wake to the poll it caused and from each steal's victim to its thief.
//! `Trace::write_svg` (in `trace_svg.rs`) draws the same without a browser.
//!
//! Tasks are named by their id, never reused: a wake is paired with the next poll of the
//! same task (`Trace::wake_pairs`).

use crate::task::Id;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;
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
    /// Another worker: its queue, its ready queue or its LIFO slot (the [`TraceKind::Steal`]
    /// just before says which).
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

/// A place where a task waits to be polled: where a wake or a spawn put it, or what a
/// steal took it from. `LifoSlot`, `Ready` and `Queue` are a worker's own: the worker that
/// recorded the event, or for a steal its victim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Place {
    /// A worker's LIFO slot.
    LifoSlot,
    /// A worker's ready queue (tasks woken by timers and I/O).
    Ready,
    /// A worker's FIFO queue.
    Queue,
    /// The global injector.
    Injector,
}

impl Place {
    /// A short lowercase name (`"lifo"`, `"ready"`, `"queue"`, `"injector"`).
    pub fn name(self) -> &'static str {
        match self {
            Place::LifoSlot => "lifo",
            Place::Ready => "ready",
            Place::Queue => "queue",
            Place::Injector => "injector",
        }
    }
}

/// Why a worker's sleep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParkEnd {
    /// Another thread woke it ([`TraceKind::Unpark`]), or had before it fell asleep.
    Notified,
    /// In the driver, which woke tasks (a timer fired, a socket became ready) into its ready
    /// queue.
    DriverEvent,
    /// In the driver as the *watcher*: its watch interval passed (it looks at the other
    /// workers' LIFO slots next).
    WatcherTimeout,
    /// Nothing of the above: the driver returned with no task woken, before the watch
    /// interval.
    Spurious,
}

impl ParkEnd {
    /// A short lowercase name (`"notified"`, `"driver event"`, `"watcher timeout"`,
    /// `"spurious"`).
    pub fn name(self) -> &'static str {
        match self {
            ParkEnd::Notified => "notified",
            ParkEnd::DriverEvent => "driver event",
            ParkEnd::WatcherTimeout => "watcher timeout",
            ParkEnd::Spurious => "spurious",
        }
    }
}

/// What a worker (or a thread outside the runtime) did.
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
        /// Why it woke.
        woke: ParkEnd,
    },
    /// Looked for work elsewhere, as a *searcher*: the other workers' LIFO slots, the
    /// driver, the injector, the other workers' queues (see `worker.rs`), from the start of
    /// the search to its end.
    Search {
        /// It found a task (else it went to sleep next).
        found: bool,
    },
    /// While searching for work, took tasks from elsewhere into its own queues (an
    /// instant: the duration is zero). The batches a busy worker takes from the injector
    /// (every 61 ticks, or when its queue runs dry) are not steals: their tasks show as
    /// polls found in the injector, then in the queue.
    Steal {
        /// The worker robbed, or `None` for the global injector.
        victim: Option<usize>,
        /// What it took them from: the victim's queue, ready queue or LIFO slot, or the
        /// injector.
        from: Place,
        /// How many tasks it took, counting the one it runs first.
        tasks: usize,
    },
    /// Woke a task (an instant): the task is queued at `to`, of the worker that recorded
    /// the event (`Injector` when the waker is outside the runtime). A task that yields
    /// (and goes to the back of the queue) is not recorded: its next poll follows its last
    /// with no wake between (recording it would cost every yield a branch while tracing
    /// is off, docs/measuring.md).
    Wake {
        /// The task, as in [`TraceKind::Poll`].
        task: Id,
        /// Where it was put.
        to: Place,
    },
    /// Spawned a task (an instant), put at `to` as for [`TraceKind::Wake`].
    Spawn {
        /// The new task, as in [`TraceKind::Poll`].
        task: Id,
        /// Where it was put.
        to: Place,
    },
    /// Woke the sleeping worker `worker` (an instant): a sleeper was needed for work just
    /// made visible, or to watch the LIFO slots.
    Unpark {
        /// The worker woken.
        worker: usize,
    },
    /// A wake or spawn into the LIFO slot pushed the task that was there to the back of the
    /// worker's queue (an instant).
    LifoDisplaced {
        /// The task pushed out, as in [`TraceKind::Poll`].
        task: Id,
    },
    /// One of the worker's queues was full: its oldest half moved to the injector (an
    /// instant).
    Overflow {
        /// The queue that overflowed (`Queue` or `Ready`).
        from: Place,
        /// How many tasks moved.
        tasks: usize,
    },
    /// The poll just before it (a [`TraceKind::Poll`] of the same task, with the same start
    /// and duration) held the worker at least the runtime's
    /// [`slow_poll_threshold`](crate::Builder::slow_poll_threshold): the poll that was
    /// reported as a [`SlowPoll`](crate::SlowPoll). Only with a threshold set.
    SlowPoll {
        /// The task, as in [`TraceKind::Poll`].
        task: Id,
    },
}

/// One event of a [`Trace`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceEvent {
    /// The worker's index, or `None` for a thread outside the runtime's workers (a spawn or a
    /// wake from the thread in `block_on`, a blocking thread, another runtime): the
    /// "outside" lane of the pictures.
    pub worker: Option<usize>,
    /// When it began, since the runtime was built.
    pub start: Duration,
    /// How long it lasted (zero for an instant).
    pub duration: Duration,
    /// What happened.
    pub kind: TraceKind,
}

/// Events recorded by a runtime's workers, and by threads outside them that spawned or woke
/// its tasks, ordered by start time. See [`Builder::trace`](crate::Builder::trace).
///
/// Each thread reads its own CPU's clock, and two CPUs' clocks can disagree by a fraction
/// of a microsecond: a wake that the clocks put just after the poll it caused on another
/// worker (within 5 µs, with no other wake of the task pending) is moved to that poll's
/// start, before it.
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
    /// The names of the named tasks whose first poll was recorded.
    names: HashMap<Id, Arc<str>>,
    workers: usize,
}

impl Trace {
    /// The events, ordered by start time.
    pub fn events(&self) -> &[TraceEvent] {
        &self.events
    }

    /// Events not recorded because a worker (or the outside lane) had recorded as many as
    /// it was allowed.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The name of task `id` (see [`TaskBuilder::name`](crate::TaskBuilder::name)), if it
    /// has one and its first poll is in the trace.
    pub fn task_name(&self, id: Id) -> Option<&str> {
        self.names.get(&id).map(|n| &**n)
    }

    /// The number of workers of the runtime traced.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Pairs each poll with the wake or spawn that queued it: `(wake, poll)` indices into
    /// [`events`](Trace::events). The wake is the task's last wake or spawn that began
    /// before the poll did, with no poll of the task between them.
    pub(crate) fn wake_pairs(&self) -> Vec<(usize, usize)> {
        let mut waiting: std::collections::HashMap<Id, usize> = Default::default();
        let mut pairs = Vec::new();
        for (i, e) in self.events.iter().enumerate() {
            match e.kind {
                TraceKind::Wake { task, .. } | TraceKind::Spawn { task, .. } => {
                    waiting.insert(task, i);
                }
                TraceKind::Poll { task, .. } => {
                    if let Some(w) = waiting.remove(&task) {
                        pairs.push((w, i));
                    }
                }
                _ => {}
            }
        }
        pairs
    }

    /// Writes the trace in the Trace Event Format (JSON), which Perfetto
    /// (<https://ui.perfetto.dev>) and `chrome://tracing` open: one row per worker and one,
    /// "outside", for threads outside the runtime.
    ///
    /// Polls are slices named by where the task was found (`poll lifo`, `poll queue`, ...:
    /// the viewers colour slices by name), sleeps and searches are slices too, and the
    /// instants (wakes, spawns, steals, unparks, overflows) are slices of no duration. Flow
    /// arrows (`"ph":"s"` then `"ph":"f"` with `"bp":"e"`, each bound to the slice written
    /// just before it) go from each wake or spawn to the poll it led to, and from the victim
    /// of a steal (a `robbed` mark on its row) to the thief.
    pub fn write_chrome_json(&self, mut out: impl Write) -> io::Result<()> {
        out.write_all(b"{\"traceEvents\":[")?;
        let outside = self.workers;
        let tid = |w: Option<usize>| w.unwrap_or(outside);
        let mut first = true;
        let mut sep = |out: &mut dyn Write| -> io::Result<()> {
            if !std::mem::take(&mut first) {
                out.write_all(b",\n")?;
            }
            Ok(())
        };
        for w in 0..=self.workers {
            sep(&mut out)?;
            let name = if w == outside {
                "outside".to_owned()
            } else {
                format!("worker {w}")
            };
            write!(
                out,
                "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{w},\
                 \"args\":{{\"name\":\"{name}\"}}}},\n\
                 {{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":{w},\
                 \"args\":{{\"sort_index\":{w}}}}}"
            )?;
        }
        // Flow ids: the wake's index for wake-to-poll arrows (a wake leads to one poll at
        // most), the steal's index plus the number of events for steals.
        let mut flow_into: std::collections::HashMap<usize, usize> = Default::default();
        let mut flow_from = std::collections::HashSet::new();
        for (w, p) in self.wake_pairs() {
            flow_into.insert(p, w);
            flow_from.insert(w);
        }
        let steal_id = |i: usize| self.events.len() + i;
        for (i, e) in self.events.iter().enumerate() {
            sep(&mut out)?;
            let ts = micros(e.start);
            let tid = tid(e.worker);
            let slice = |out: &mut dyn Write, name: &str, cat: &str, args: &str| {
                write!(
                    out,
                    "{{\"name\":\"{name}\",\"cat\":\"{cat}\",\"ph\":\"X\",\"pid\":1,\"tid\":{tid},\
                     \"ts\":{ts},\"dur\":{},\"args\":{{{args}}}}}",
                    micros(e.duration)
                )
            };
            match e.kind {
                TraceKind::Poll { task, from } => {
                    let name = format!("poll {}", from.name());
                    slice(
                        &mut out,
                        &name,
                        from.name(),
                        &match self.task_name(task) {
                            Some(n) => format!(
                                "\"task\":{task},\"from\":\"{}\",\"task_name\":\"{}\"",
                                from.name(),
                                JsonStr(n)
                            ),
                            None => format!("\"task\":{task},\"from\":\"{}\"", from.name()),
                        },
                    )?;
                    if let Some(w) = flow_into.get(&i) {
                        write!(
                            out,
                            ",\n{{\"name\":\"wake\",\"cat\":\"wake\",\"ph\":\"f\",\"bp\":\"e\",\
                             \"id\":{w},\"pid\":1,\"tid\":{tid},\"ts\":{ts}}}"
                        )?;
                    }
                }
                TraceKind::Park { in_driver, woke } => slice(
                    &mut out,
                    if in_driver { "park (driver)" } else { "park" },
                    "park",
                    &format!("\"woke\":\"{}\"", woke.name()),
                )?,
                TraceKind::Search { found } => {
                    slice(&mut out, "search", "search", &format!("\"found\":{found}"))?
                }
                TraceKind::Steal {
                    victim,
                    from,
                    tasks,
                } => {
                    let what = match victim {
                        Some(v) => format!("worker {v}'s {}", from.name()),
                        None => "the injector".to_owned(),
                    };
                    if let Some(v) = victim {
                        // The victim's end of the arrow.
                        write!(
                            out,
                            "{{\"name\":\"robbed\",\"cat\":\"steal\",\"ph\":\"X\",\"pid\":1,\
                             \"tid\":{v},\"ts\":{ts},\"dur\":0,\"args\":{{\"from\":\"{}\",\
                             \"tasks\":{tasks},\"by\":{tid}}}}},\n\
                             {{\"name\":\"steal\",\"cat\":\"steal\",\"ph\":\"s\",\"id\":{},\
                             \"pid\":1,\"tid\":{v},\"ts\":{ts}}},\n",
                            from.name(),
                            steal_id(i)
                        )?;
                    }
                    slice(
                        &mut out,
                        &format!("steal {}", from.name()),
                        "steal",
                        &format!("\"from\":\"{what}\",\"tasks\":{tasks}"),
                    )?;
                    if victim.is_some() {
                        write!(
                            out,
                            ",\n{{\"name\":\"steal\",\"cat\":\"steal\",\"ph\":\"f\",\"bp\":\"e\",\
                             \"id\":{},\"pid\":1,\"tid\":{tid},\"ts\":{ts}}}",
                            steal_id(i)
                        )?;
                    }
                }
                TraceKind::Wake { task, to } | TraceKind::Spawn { task, to } => {
                    let verb = if matches!(e.kind, TraceKind::Wake { .. }) {
                        "wake"
                    } else {
                        "spawn"
                    };
                    slice(
                        &mut out,
                        &format!("{verb} to {}", to.name()),
                        verb,
                        &format!("\"task\":{task},\"to\":\"{}\"", to.name()),
                    )?;
                    if flow_from.contains(&i) {
                        write!(
                            out,
                            ",\n{{\"name\":\"wake\",\"cat\":\"wake\",\"ph\":\"s\",\"id\":{i},\
                             \"pid\":1,\"tid\":{tid},\"ts\":{ts}}}"
                        )?;
                    }
                }
                TraceKind::Unpark { worker } => slice(
                    &mut out,
                    "unpark",
                    "unpark",
                    &format!("\"worker\":{worker}"),
                )?,
                TraceKind::LifoDisplaced { task } => slice(
                    &mut out,
                    "lifo displaced",
                    "lifo",
                    &format!("\"task\":{task},\"to\":\"queue\""),
                )?,
                TraceKind::Overflow { from, tasks } => slice(
                    &mut out,
                    "overflow",
                    "overflow",
                    &format!("\"from\":\"{}\",\"tasks\":{tasks}", from.name()),
                )?,
                // Same start and duration as its poll, after it: Perfetto nests it under
                // the poll, in the trace format's red.
                TraceKind::SlowPoll { task } => write!(
                    out,
                    "{{\"name\":\"slow poll\",\"cat\":\"slow_poll\",\"ph\":\"X\",\"pid\":1,\
                     \"tid\":{tid},\"ts\":{ts},\"dur\":{},\"cname\":\"terrible\",\
                     \"args\":{{\"task\":{task}{}}}}}",
                    micros(e.duration),
                    match self.task_name(task) {
                        Some(n) => format!(",\"task_name\":\"{}\"", JsonStr(n)),
                        None => String::new(),
                    }
                )?,
            }
        }
        out.write_all(b"],\"displayTimeUnit\":\"ns\"}\n")
    }
}

/// A string's characters as a JSON string literal's contents.
struct JsonStr<'a>(&'a str);

impl fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
                c => write!(f, "{c}")?,
            }
        }
        Ok(())
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
    names: Vec<(Id, Arc<str>)>,
}

/// A worker's recorder. `limit == 0`: tracing is off.
pub(crate) struct TraceLocal {
    worker: usize,
    limit: usize,
    /// Events recorded so far, handed over or not.
    recorded: Cell<usize>,
    dropped: Cell<u64>,
    pending: RefCell<Vec<TraceEvent>>,
    /// Names of named tasks first polled here, not handed over yet.
    names: RefCell<Vec<(Id, Arc<str>)>>,
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
            names: RefCell::new(Vec::new()),
            epoch,
        }
    }

    #[inline(always)]
    pub(crate) fn on(&self) -> bool {
        self.limit != 0
    }

    /// The start of an event that lasts: `None` when tracing is off.
    #[inline(always)]
    pub(crate) fn clock(&self) -> Option<Instant> {
        if self.on() {
            Some(Instant::now())
        } else {
            None
        }
    }

    /// Records an instant, if tracing is on: the one branch an emission site costs when off
    /// (`kind` is not even built).
    #[inline(always)]
    pub(crate) fn event(&self, kind: impl FnOnce() -> TraceKind) {
        if self.on() {
            self.event_cold(kind);
        }
    }

    /// `event`'s recording, out of line: building the event inline would give its caller
    /// a stack frame (two instructions more per wake when tracing is off).
    #[cold]
    #[inline(never)]
    fn event_cold(&self, kind: impl FnOnce() -> TraceKind) {
        self.record_instant(kind());
    }

    /// Records an event begun at `start` (from [`clock`](Self::clock)) and ending now.
    #[inline(always)]
    pub(crate) fn span(&self, start: Option<Instant>, kind: impl FnOnce() -> TraceKind) {
        if let Some(start) = start {
            self.record(start, kind());
        }
    }

    /// Records an event that began at `start` and ends now.
    pub(crate) fn record(&self, start: Instant, kind: TraceKind) {
        self.push(start, Instant::now().saturating_duration_since(start), kind);
    }

    /// Records a poll that began at `start` and ended now, and if it was `slow` (see
    /// `PollSite::end`), the [`TraceKind::SlowPoll`] mark with the same span.
    pub(crate) fn record_poll(&self, start: Instant, kind: TraceKind, slow: bool) {
        let duration = Instant::now().saturating_duration_since(start);
        self.push(start, duration, kind);
        if let (true, TraceKind::Poll { task, .. }) = (slow, kind) {
            self.push(start, duration, TraceKind::SlowPoll { task });
        }
    }

    /// Records the name of a task about to be polled for the first time (while events
    /// are still recorded: the names are bounded as the events are).
    pub(crate) fn record_name(&self, id: Id, name: &Arc<str>) {
        if self.recorded.get() < self.limit {
            self.names.borrow_mut().push((id, name.clone()));
        }
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
            worker: Some(self.worker),
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
        buffer.names.append(&mut self.names.borrow_mut());
    }
}

/// The recorder of threads outside the workers (the "outside" lane): a buffer behind a
/// lock, taken only when tracing is on, for the time of one push (no user code runs under
/// it). Holds at most `limit` events, like a worker.
pub(crate) struct OutsideTrace {
    limit: usize,
    epoch: Instant,
    buffer: parking_lot::Mutex<(TraceBuffer, usize)>,
}

impl OutsideTrace {
    pub(crate) fn new(limit: usize, epoch: Instant) -> OutsideTrace {
        OutsideTrace {
            limit,
            epoch,
            buffer: parking_lot::Mutex::new((TraceBuffer::default(), 0)),
        }
    }

    #[inline(always)]
    pub(crate) fn on(&self) -> bool {
        self.limit != 0
    }

    /// Records an instant, if tracing is on.
    #[inline(always)]
    pub(crate) fn event(&self, kind: impl FnOnce() -> TraceKind) {
        if self.on() {
            self.record_instant(kind());
        }
    }

    #[cold]
    fn record_instant(&self, kind: TraceKind) {
        let start = Instant::now().saturating_duration_since(self.epoch);
        let mut guard = self.buffer.lock();
        let (buffer, recorded) = &mut *guard;
        if *recorded >= self.limit {
            buffer.dropped += 1;
            return;
        }
        *recorded += 1;
        buffer.events.push(TraceEvent {
            worker: None,
            start,
            duration: Duration::ZERO,
            kind,
        });
    }
}

/// Collects and empties the buffers of all workers and of the outside lane.
pub(crate) fn take<'a>(
    buffers: impl ExactSizeIterator<Item = &'a parking_lot::Mutex<TraceBuffer>>,
    outside: &OutsideTrace,
) -> Trace {
    let mut trace = Trace {
        workers: buffers.len(),
        ..Trace::default()
    };
    for b in buffers {
        let mut b = b.lock();
        trace.events.append(&mut b.events);
        trace.dropped += std::mem::take(&mut b.dropped);
        trace.names.extend(b.names.drain(..));
    }
    {
        let mut b = outside.buffer.lock();
        trace.events.append(&mut b.0.events);
        trace.dropped += std::mem::take(&mut b.0.dropped);
    }
    order(&mut trace.events);
    trace
}

/// How far two CPUs' clocks may disagree: a wake recorded on one worker and the poll it
/// caused on another, a fraction of a microsecond later, can carry times in the wrong
/// order (see `order`).
const CLOCK_SKEW: Duration = Duration::from_micros(5);

/// Sorts `events` by start, then puts back a wake (or spawn) that the clocks placed just
/// after the poll it caused: a poll of a task with no wake or spawn of it since its last
/// poll, followed within `CLOCK_SKEW` by a wake of that task on another lane, is taken to
/// follow that wake, which moves to the poll's start. (If the poll was really a yield's
/// and the wake came during it, the pairing moves by one poll: every poll is still paired
/// with at most one wake.)
fn order(events: &mut [TraceEvent]) {
    events.sort_by_key(|e| e.start);
    let mut pending: HashSet<Id> = HashSet::new();
    let mut i = 0;
    while i < events.len() {
        match events[i].kind {
            TraceKind::Wake { task, .. } | TraceKind::Spawn { task, .. } => {
                pending.insert(task);
            }
            TraceKind::Poll { task, .. } if !pending.remove(&task) => {
                let (start, lane) = (events[i].start, events[i].worker);
                let late = events[i + 1..]
                    .iter()
                    .take_while(|e| e.start <= start + CLOCK_SKEW)
                    .position(|e| {
                        e.worker != lane
                            && matches!(e.kind, TraceKind::Wake { task: t, .. }
                                | TraceKind::Spawn { task: t, .. } if t == task)
                    });
                if let Some(k) = late {
                    // The wake goes just before the poll, at its start: still sorted.
                    events[i..=i + 1 + k].rotate_right(1);
                    events[i].start = start;
                    // Look at the wake, then the poll, again.
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
}

#[cfg(test)]
impl Trace {
    /// A trace made of given events, for tests of what reads traces.
    pub(crate) fn from_events(mut events: Vec<TraceEvent>) -> Trace {
        order(&mut events);
        let workers = events
            .iter()
            .filter_map(|e| e.worker)
            .map(|w| w + 1)
            .max()
            .unwrap_or(0);
        Trace {
            events,
            dropped: 0,
            names: HashMap::new(),
            workers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(worker: Option<usize>, start_us: u64, dur_us: u64, kind: TraceKind) -> TraceEvent {
        TraceEvent {
            worker,
            start: Duration::from_micros(start_us),
            duration: Duration::from_micros(dur_us),
            kind,
        }
    }

    #[test]
    fn a_wake_the_clocks_put_just_after_the_poll_it_caused_goes_back_before_it() {
        let at = |ns| Duration::from_nanos(ns);
        let ev = |worker, start, kind| TraceEvent {
            worker: Some(worker),
            start: at(start),
            duration: Duration::ZERO,
            kind,
        };
        let t = Id::for_test(7);
        let poll = TraceKind::Poll {
            task: t,
            from: TaskSource::Queue,
        };
        let wake = TraceKind::Wake {
            task: t,
            to: Place::Queue,
        };
        // Worker 1 woke the task at 100.3 us by its clock; worker 0 polled it at 100.1 us
        // by its own (200 ns apart: the CPUs' clocks disagree).
        let trace = Trace::from_events(vec![
            ev(0, 50_000, poll),
            ev(0, 100_100, poll),
            ev(1, 100_300, wake),
        ]);
        let kinds: Vec<_> = trace.events().iter().map(|e| (e.worker, e.kind)).collect();
        assert_eq!(
            kinds,
            vec![(Some(0), poll), (Some(1), wake), (Some(0), poll)],
            "{:?}",
            trace.events()
        );
        assert_eq!(trace.events()[1].start, at(100_100));
        assert_eq!(trace.wake_pairs(), vec![(1, 2)]);
        // Far apart, or on the poll's own lane, or with a wake pending: left where it is.
        for events in [
            vec![ev(0, 100_100, poll), ev(1, 200_000, wake)],
            vec![ev(0, 100_100, poll), ev(0, 100_300, wake)],
            vec![
                ev(1, 90_000, wake),
                ev(0, 100_100, poll),
                ev(1, 100_300, wake),
            ],
        ] {
            let before: Vec<_> = events.iter().map(|e| (e.worker, e.start)).collect();
            let trace = Trace::from_events(events);
            let after: Vec<_> = trace.events().iter().map(|e| (e.worker, e.start)).collect();
            assert_eq!(after, before);
        }
    }

    #[test]
    fn the_json_parses_and_every_flow_has_its_start_and_finish() {
        let poll = |task, from| TraceKind::Poll {
            task: Id::for_test(task),
            from,
        };
        let trace = Trace::from_events(vec![
            event(
                None,
                0,
                0,
                TraceKind::Spawn {
                    task: Id::for_test(1),
                    to: Place::Injector,
                },
            ),
            event(Some(0), 1, 20, poll(1, TaskSource::Injector)),
            event(
                Some(0),
                2,
                0,
                TraceKind::Spawn {
                    task: Id::for_test(2),
                    to: Place::LifoSlot,
                },
            ),
            event(
                Some(0),
                3,
                0,
                TraceKind::Wake {
                    task: Id::for_test(3),
                    to: Place::LifoSlot,
                },
            ),
            event(
                Some(0),
                3,
                0,
                TraceKind::LifoDisplaced {
                    task: Id::for_test(2),
                },
            ),
            event(Some(0), 4, 0, TraceKind::Unpark { worker: 1 }),
            event(
                Some(1),
                0,
                5,
                TraceKind::Park {
                    in_driver: true,
                    woke: ParkEnd::Notified,
                },
            ),
            event(Some(1), 5, 3, TraceKind::Search { found: true }),
            event(
                Some(1),
                8,
                0,
                TraceKind::Steal {
                    victim: Some(0),
                    from: Place::Queue,
                    tasks: 1,
                },
            ),
            event(Some(1), 9, 4, poll(2, TaskSource::Stolen)),
            event(Some(0), 22, 4, poll(3, TaskSource::LifoSlot)),
            event(
                Some(0),
                23,
                0,
                TraceKind::Overflow {
                    from: Place::Queue,
                    tasks: 128,
                },
            ),
            // Woken, never polled: a start with no finish would be wrong, so no flow.
            event(
                Some(0),
                24,
                0,
                TraceKind::Wake {
                    task: Id::for_test(4),
                    to: Place::LifoSlot,
                },
            ),
        ]);
        let mut out = Vec::new();
        trace.write_chrome_json(&mut out).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).expect("well-formed JSON");
        let events = json["traceEvents"].as_array().unwrap();
        let names: Vec<&str> = events
            .iter()
            .filter(|e| e["name"] == "thread_name")
            .map(|e| e["args"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["worker 0", "worker 1", "outside"]);
        // Polls are named by where the task was found.
        for name in ["poll injector", "poll stolen", "poll lifo"] {
            assert!(
                events.iter().any(|e| e["name"] == name),
                "no {name:?} slice"
            );
        }
        let flows = |ph: &str, cat: &str| -> Vec<(u64, u64)> {
            let mut v: Vec<_> = events
                .iter()
                .filter(|e| e["ph"] == ph && e["cat"] == cat)
                .map(|e| (e["id"].as_u64().unwrap(), e["tid"].as_u64().unwrap()))
                .collect();
            v.sort();
            v
        };
        // Wakes: spawn 1 (outside, tid 2) -> worker 0; spawn 2 (worker 0) -> worker 1; wake 3
        // (worker 0) -> worker 0.
        let (starts, ends) = (flows("s", "wake"), flows("f", "wake"));
        assert_eq!(starts.len(), 3);
        let ids = |v: &[(u64, u64)]| v.iter().map(|p| p.0).collect::<Vec<_>>();
        assert_eq!(
            ids(&starts),
            ids(&ends),
            "each flow starts and finishes once"
        );
        let mut lanes: Vec<_> = starts.iter().zip(&ends).map(|(s, f)| (s.1, f.1)).collect();
        lanes.sort();
        assert_eq!(lanes, [(0, 0), (0, 1), (2, 0)]);
        // The steal: from the victim's row to the thief's, bound to the slice before it.
        let (starts, ends) = (flows("s", "steal"), flows("f", "steal"));
        assert_eq!(starts.len(), 1);
        assert_eq!(ids(&starts), ids(&ends));
        assert_eq!((starts[0].1, ends[0].1), (0, 1));
        for e in events.iter().filter(|e| e["ph"] == "f") {
            assert_eq!(e["bp"], "e");
        }
        // Every flow event sits at the time of a slice on its row (what it binds to).
        for f in events.iter().filter(|e| e["ph"] == "s" || e["ph"] == "f") {
            assert!(
                events
                    .iter()
                    .any(|e| e["ph"] == "X" && e["tid"] == f["tid"] && e["ts"] == f["ts"]),
                "{f} binds to no slice"
            );
        }
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn an_event_costs_what_the_docs_say() {
        // Builder::trace and docs/measuring.md give this size.
        assert_eq!(std::mem::size_of::<TraceEvent>(), 80);
    }
}

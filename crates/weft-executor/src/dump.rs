//! `TaskDump`: the list of a runtime's live tasks, for debugging (`Handle::dump`).

use crate::scheduler::Shared;
use crate::task::cell::Header;
use crate::task::state::{self, Snapshot};
use crate::task::Id;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a task was doing when the dump was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskState {
    /// Waiting for a wake-up (it returned `Pending` and nobody woke it since).
    Idle,
    /// Woken or just spawned, waiting in a queue for a worker.
    Scheduled,
    /// Being polled by a worker right now.
    Running,
    /// A blocking task ([`spawn_blocking`](crate::spawn_blocking)) whose closure is running
    /// on a blocking-pool thread. (One still queued for a thread is `Scheduled`.)
    Blocking,
}

impl TaskState {
    fn of(s: Snapshot, blocking: bool) -> TaskState {
        if s.has(state::RUNNING) && blocking {
            TaskState::Blocking
        } else if s.has(state::RUNNING) {
            TaskState::Running
        } else if s.has(state::NOTIFIED) {
            TaskState::Scheduled
        } else {
            TaskState::Idle
        }
    }

    /// A lowercase name: `"idle"`, `"scheduled"`, `"running"`, `"blocking"`.
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Idle => "idle",
            TaskState::Scheduled => "scheduled",
            TaskState::Running => "running",
            TaskState::Blocking => "blocking",
        }
    }
}

/// One live task of a [`TaskDump`].
#[derive(Debug, Clone)]
pub struct TaskInfo {
    id: Id,
    name: Option<Arc<str>>,
    location: &'static Location<'static>,
    state: TaskState,
    blocking: bool,
    local: bool,
    cancelled: bool,
    polls: u32,
    last_poll_ms: Option<u32>,
    now_ms: u32,
}

impl TaskInfo {
    /// The task's id.
    pub fn id(&self) -> Id {
        self.id
    }

    /// Its name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where it was spawned.
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// What it was doing.
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// It is a blocking task ([`spawn_blocking`](crate::spawn_blocking)), queued or
    /// running on the blocking pool.
    pub fn is_blocking(&self) -> bool {
        self.blocking
    }

    /// It is a local task ([`spawn_local`](crate::spawn_local), or spawned on a
    /// [`LocalSet`](crate::LocalSet)): it runs only on the thread that owns its set.
    pub fn is_local(&self) -> bool {
        self.local
    }

    /// It was aborted, and is dropped at its next turn.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// Polls so far, counted modulo 2^26 in the task's state word (by the step every poll
    /// takes anyway, so counting costs nothing), and always 0 on 32-bit targets.
    pub fn polls(&self) -> u32 {
        self.polls
    }

    /// How long ago its last poll began, to the millisecond and from a coarse clock: a
    /// busy worker reads the clock every 61 polls and after each sleep, so this may be
    /// long by up to 61 polls' time (exact with a
    /// [`slow_poll_threshold`](crate::Builder::slow_poll_threshold)). `None` if it was
    /// never polled.
    pub fn since_last_poll(&self) -> Option<Duration> {
        self.last_poll_ms
            .map(|t| Duration::from_millis(u64::from(self.now_ms.wrapping_sub(t))))
    }
}

/// The live tasks of a runtime, taken by [`Handle::dump`](crate::Handle::dump).
///
/// Its `Display` is one line per task: id, name, spawn location, state, polls and time
/// since the last poll.
///
/// Blocking tasks ([`spawn_blocking`](crate::spawn_blocking)) are listed too, marked
/// [`is_blocking`](TaskInfo::is_blocking): `Scheduled` while queued for a thread,
/// `Blocking` while their closure runs. So are local tasks
/// ([`spawn_local`](crate::spawn_local), [`LocalSet`](crate::LocalSet)), marked
/// [`is_local`](TaskInfo::is_local), of every set made while this runtime was entered (a
/// set made outside any runtime belongs to none: no dump lists its tasks).
///
/// Not seen, and why (each would cost every task something the dump does not pay for):
///
/// - Tasks spawned on a worker in the last moments. They wait in that worker's *pending
///   batch* (`task/list.rs`), a vector only its thread touches, and join the runtime's
///   list under one lock per batch, at the worker's next maintenance (within 61 polls)
///   or before it sleeps. Making the batch readable from the dump's thread would take a
///   lock or an atomic publication per spawn: the very cost the batch removes (four
///   atomic read-modify-writes per task, a fifth of a short task's life). A task that
///   stays alive longer than that is listed.
/// - Finished tasks whose `JoinHandle` has not read the output. A task leaves the list as
///   it finishes, before its `JoinHandle` can see the output, so that
///   `RuntimeMetrics::alive_tasks` never counts a task whose result is already out; to
///   list it until it is joined, the list would keep its reference until the
///   `JoinHandle` drops, and that drop would take a shard lock for every task.
///
/// # Examples
///
/// ```
/// use weft_executor::{Runtime, TaskBuilder, TaskState};
///
/// let rt = Runtime::new().unwrap();
/// let h = TaskBuilder::new()
///     .name("forever")
///     .spawn_on(std::future::pending::<()>(), rt.handle())
///     .unwrap();
/// let dump = rt.handle().dump();
/// let task = dump.tasks().iter().find(|t| t.id() == h.id()).unwrap();
/// assert_eq!(task.name(), Some("forever"));
/// assert!(matches!(task.state(), TaskState::Scheduled | TaskState::Running | TaskState::Idle));
/// println!("{dump}");
/// ```
#[derive(Debug, Clone)]
pub struct TaskDump {
    tasks: Vec<TaskInfo>,
}

impl TaskDump {
    /// Takes the dump: walks the runtime's owned-task list, one shard's lock at a time,
    /// reading each task's header (no user code runs under the locks).
    pub(crate) fn take(shared: &Shared) -> TaskDump {
        let epoch = shared.config.epoch;
        let now_ms = Instant::now().saturating_duration_since(epoch).as_millis() as u32;
        let info = |blocking: bool, local: bool| {
            move |h: &Header| {
                let s = h.state.load();
                let (polls, last_poll) = h.poll_stats();
                (!s.has(state::COMPLETE)).then(|| TaskInfo {
                    id: h.id,
                    name: h.spawned.name().cloned(),
                    location: h.spawned.location(),
                    state: TaskState::of(s, blocking),
                    blocking,
                    local,
                    cancelled: s.has(state::CANCELLED),
                    polls,
                    last_poll_ms: (last_poll != 0)
                        .then(|| crate::scheduler::poll::unstamp(last_poll)),
                    now_ms,
                })
            }
        };
        let mut tasks = shared.owned.inspect(info(false, false));
        tasks.extend(shared.blocking.inspect(info(true, false)));
        // The local sets made inside this runtime: taken out under the registry's lock,
        // walked after it is let go (each walk takes its own list's shard lock).
        for list in shared.local_task_lists() {
            tasks.extend(list.inspect(info(false, true)));
        }
        let mut tasks: Vec<TaskInfo> = tasks.into_iter().flatten().collect();
        tasks.sort_by_key(|t| t.id);
        TaskDump { tasks }
    }

    /// The tasks, by id.
    pub fn tasks(&self) -> &[TaskInfo] {
        &self.tasks
    }
}

impl fmt::Display for TaskInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.blocking {
            "blocking task"
        } else if self.local {
            "local task"
        } else {
            "task"
        };
        let task = crate::task::describe(kind, self.id, self.name(), self.location);
        write!(f, "{task}: {}", self.state.name())?;
        if self.cancelled {
            f.write_str(" (cancelled)")?;
        }
        match self.since_last_poll() {
            Some(d) => write!(f, ", {} polls, last {} ms ago", self.polls, d.as_millis()),
            None => f.write_str(", never polled"),
        }
    }
}

impl fmt::Display for TaskDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} live tasks", self.tasks.len())?;
        for t in &self.tasks {
            writeln!(f, "{t}")?;
        }
        Ok(())
    }
}

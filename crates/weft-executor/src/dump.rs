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
}

impl TaskState {
    fn of(s: Snapshot) -> TaskState {
        if s.has(state::RUNNING) {
            TaskState::Running
        } else if s.has(state::NOTIFIED) {
            TaskState::Scheduled
        } else {
            TaskState::Idle
        }
    }

    /// A lowercase name: `"idle"`, `"scheduled"`, `"running"`.
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Idle => "idle",
            TaskState::Scheduled => "scheduled",
            TaskState::Running => "running",
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

    /// It was aborted, and is dropped at its next turn.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// Polls so far (counted modulo 2^32: a poll costs one load and one store).
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
/// Not seen: tasks spawned on a worker in the last moments, which join the runtime's list
/// in a batch at the worker's next maintenance (within 61 polls) or before it sleeps;
/// blocking tasks; and finished tasks (a task leaves the list as it finishes, before its
/// `JoinHandle` can read the output, so "finished but not joined" is never listed).
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
        let mut tasks: Vec<TaskInfo> = shared
            .owned
            .inspect(|h: &Header| {
                let s = h.state.load();
                let (polls, last_poll_ms) = h.poll_stats();
                (!s.has(state::COMPLETE)).then(|| TaskInfo {
                    id: h.id,
                    name: h.spawned.name().cloned(),
                    location: h.spawned.location(),
                    state: TaskState::of(s),
                    cancelled: s.has(state::CANCELLED),
                    polls,
                    last_poll_ms: (polls > 0).then_some(last_poll_ms),
                    now_ms,
                })
            })
            .into_iter()
            .flatten()
            .collect();
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
        let task = crate::task::describe("task", self.id, self.name(), self.location);
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

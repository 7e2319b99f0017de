//! The settings a running runtime keeps, read by the workers, the blocking pool and the
//! handles. Built once by the builder, held in one `Arc` by `Shared` and the blocking pool.

use super::poll::SlowPollHook;
use crate::task::PanicHook;
use std::any::{Any, TypeId};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A hook run on each runtime thread (`on_thread_start`, `on_thread_stop`).
pub(crate) type Hook = Arc<dyn Fn() + Send + Sync>;

pub(crate) struct Config {
    /// The prefix of thread names (`NAME-worker-I`, `NAME-blocking-I`).
    pub(crate) thread_name: String,
    pub(crate) stack_size: Option<usize>,
    pub(crate) on_thread_start: Option<Hook>,
    pub(crate) on_thread_stop: Option<Hook>,
    /// For panics no `JoinHandle` observes, of tasks and of blocking tasks alike.
    pub(crate) on_task_panic: Option<PanicHook>,
    /// The most threads the blocking pool starts.
    pub(crate) max_blocking_threads: usize,
    /// How long an idle blocking thread waits for work before it exits.
    pub(crate) blocking_keep_alive: Duration,
    /// Services plugged into the runtime (the timer, the reactor), found by type.
    pub(crate) extensions: Vec<(TypeId, Arc<dyn Any + Send + Sync>)>,
    /// Events each worker may record (0: tracing off), and the instant traces count from.
    pub(crate) trace_limit: usize,
    pub(crate) epoch: Instant,
    /// Polls at least this long are reported (see `poll.rs`); `None`: not timed.
    pub(crate) slow_poll_threshold: Option<Duration>,
    pub(crate) on_slow_poll: Option<SlowPollHook>,
    /// The current-thread flavour: its one worker is all there is, so finding no work
    /// there means the runtime is idle (its parks in the driver are idle ones).
    pub(crate) current_thread: bool,
    /// The seed of a seeded current-thread runtime (see `seeded.rs`); `None`: FIFO order.
    pub(crate) seed: Option<u64>,
}

impl Config {
    /// The service of type `T` plugged into the runtime, if any.
    pub(crate) fn extension<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.extension_entry::<T>()
            .and_then(|e| e.clone().downcast::<T>().ok())
    }

    /// The service of type `T`, borrowed: no reference count is touched.
    #[inline]
    pub(crate) fn extension_ref<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.extension_entry::<T>()
            .and_then(|e| e.downcast_ref::<T>())
    }

    #[inline]
    fn extension_entry<T: Any + Send + Sync>(&self) -> Option<&Arc<dyn Any + Send + Sync>> {
        self.extensions
            .iter()
            .find(|(t, _)| *t == TypeId::of::<T>())
            .map(|(_, e)| e)
    }
}

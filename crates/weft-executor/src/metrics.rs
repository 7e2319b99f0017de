//! `RuntimeMetrics`: a runtime's counters, read on demand.

use crate::scheduler::metrics::WorkerStats;
use crate::scheduler::Shared;
use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

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
    pub(crate) fn new(shared: Arc<Shared>) -> RuntimeMetrics {
        RuntimeMetrics { shared }
    }

    fn w(&self, i: usize) -> &WorkerStats {
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

    /// Polls on worker `i` that took at least the
    /// [`slow_poll_threshold`](crate::Builder::slow_poll_threshold) (0 without one).
    pub fn worker_slow_polls(&self, i: usize) -> u64 {
        self.w(i).slow_polls.load(Relaxed)
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

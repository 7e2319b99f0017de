//! Runtime metrics: per-worker counters that cost nothing shared on the hot path.
//!
//! Each worker counts in plain thread-local cells and publishes them into its own
//! cache-padded block of relaxed atomics every 61 ticks, before it parks and when it stops
//! (and the count of deferred releases as it changes). So a reading lags a busy worker by
//! at most 61 polls, and no other thread writes the lines a worker publishes to.

use std::cell::Cell;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU32, AtomicU64};

/// The published counters of one worker.
#[derive(Default)]
pub(crate) struct WorkerStats {
    pub(crate) polls: AtomicU64,
    pub(crate) stolen: AtomicU64,
    pub(crate) steal_ops: AtomicU64,
    pub(crate) parks: AtomicU64,
    pub(crate) lifo_hits: AtomicU64,
    pub(crate) overflows: AtomicU64,
    pub(crate) spawned: AtomicU64,
    /// Polls longer than the slow-poll threshold (see `poll.rs`).
    pub(crate) slow_polls: AtomicU64,
    /// Finished tasks this worker holds for batched unlinking (see `worker.rs`); kept
    /// exact, so `alive_tasks` can subtract them.
    pub(crate) deferred: AtomicU64,
    /// Tasks spawned here and not linked into the owned list yet (see `task/list.rs`);
    /// kept exact the same way, so `alive_tasks` can add them.
    pub(crate) pending: AtomicU64,
    /// The worker's tick, stored at every tick (not with the counters above): ticks that
    /// stand still say the worker polls nothing (its thread lost its CPU, or one poll runs
    /// long), which is when a searcher takes its ready queue (`steal_stranded_ready`).
    /// Only the worker writes it, to its own line; searchers read it at most every
    /// `STRANDED_AFTER`.
    pub(crate) ticks: AtomicU32,
}

/// The worker's own running counts.
#[derive(Default)]
pub(crate) struct LocalStats {
    pub(crate) polls: Cell<u64>,
    pub(crate) stolen: Cell<u64>,
    pub(crate) steal_ops: Cell<u64>,
    pub(crate) parks: Cell<u64>,
    pub(crate) lifo_hits: Cell<u64>,
    pub(crate) overflows: Cell<u64>,
    pub(crate) spawned: Cell<u64>,
}

pub(crate) fn bump(c: &Cell<u64>, n: u64) {
    c.set(c.get() + n);
}

impl LocalStats {
    /// Counts that go on from what was published (the current-thread flavour makes a new
    /// `WorkerLocal` for each `block_on`).
    pub(crate) fn resume(from: &WorkerStats) -> LocalStats {
        LocalStats {
            polls: Cell::new(from.polls.load(Relaxed)),
            stolen: Cell::new(from.stolen.load(Relaxed)),
            steal_ops: Cell::new(from.steal_ops.load(Relaxed)),
            parks: Cell::new(from.parks.load(Relaxed)),
            lifo_hits: Cell::new(from.lifo_hits.load(Relaxed)),
            overflows: Cell::new(from.overflows.load(Relaxed)),
            spawned: Cell::new(from.spawned.load(Relaxed)),
        }
    }

    pub(crate) fn publish(&self, to: &WorkerStats) {
        to.polls.store(self.polls.get(), Relaxed);
        to.stolen.store(self.stolen.get(), Relaxed);
        to.steal_ops.store(self.steal_ops.get(), Relaxed);
        to.parks.store(self.parks.get(), Relaxed);
        to.lifo_hits.store(self.lifo_hits.get(), Relaxed);
        to.overflows.store(self.overflows.get(), Relaxed);
        to.spawned.store(self.spawned.get(), Relaxed);
    }
}

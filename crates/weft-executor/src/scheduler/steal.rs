//! Stealing: how a worker takes work from the global injector and from other workers
//! (the protocol is in `worker.rs`'s header, sections "Stealing" and "The LIFO slot cannot
//! strand a task").

use super::trace::{TaskSource, TraceKind};
use super::worker::{Core, WorkerLocal, QUEUE_CAP};
use crate::scheduler::metrics::bump;
use crate::sync::deque::{Steal, Stealer, Worker as LocalQueue};
use crate::task::Notified;
use std::time::{Duration, Instant};

/// Below this many tasks in the injector, a worker whose last take from it brought a
/// single task (and which has not found it empty since) waits `TRICKLE_WAIT` before
/// taking again, so the next take is a batch and the spawner and the worker stop sharing
/// a cache line per task (docs/measuring.md).
const INJECTOR_TRICKLE: usize = 4;
/// See `INJECTOR_TRICKLE`.
const TRICKLE_WAIT: Duration = Duration::from_micros(2);

impl Core {
    pub(super) fn steal_injector(&mut self, w: &WorkerLocal) -> Option<Notified> {
        let injector = &w.shared.injector;
        if injector.is_empty() {
            // Drained: whoever feeds it is not outpacing us (a lone task spawned from
            // outside later is taken at once).
            self.injector_trickle = false;
            return None;
        }
        let mut len = injector.len();
        let waited = len < INJECTOR_TRICKLE && self.injector_trickle;
        if waited {
            // Our last take found a single task: we are keeping pace with a thread that
            // spawns from outside, one task at a time, both of us on the same injector
            // block (a cache miss each, per task). Let it get ahead a moment, so we take
            // a batch and it writes lines we are not reading.
            let until = Instant::now() + TRICKLE_WAIT;
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            len = injector.len();
        }
        let limit = w.injector_share(len, waited);
        let before = w.queue.len();
        loop {
            match injector.steal_batch_with_limit_and_pop(&w.queue, limit) {
                Steal::Success(t) => {
                    self.injector_trickle = w.queue.len() == before;
                    return Some(t);
                }
                Steal::Empty => return None,
                Steal::Retry => {}
            }
        }
    }

    pub(super) fn steal_round(&mut self, w: &WorkerLocal) -> Option<Notified> {
        if let Some(t) = self.steal_injector(w) {
            w.note_steal(None, 1 + w.queue.len());
            self.from = TaskSource::Injector;
            return Some(t);
        }
        let remotes = &w.shared.remotes;
        let n = remotes.len();
        let start = self.next_rand() as usize % n;
        for i in 0..n {
            let v = (start + i) % n;
            if v == w.index {
                continue;
            }
            // Its driver-woken tasks first, into our own ready queue.
            let r = &remotes[v];
            if let Some(t) = self.steal_half(w, &r.ready_stealer, &w.ready, v) {
                w.maybe_ready.set(true); // the rest of the batch is in our ready queue
                return Some(t);
            }
            if let Some(t) = self.steal_half(w, &r.stealer, &w.queue, v) {
                return Some(t);
            }
        }
        None
    }

    /// Takes up to half of `from` (worker `victim`'s) into `into` and returns one task of it.
    fn steal_half(
        &mut self,
        w: &WorkerLocal,
        from: &Stealer<Notified>,
        into: &LocalQueue<Notified>,
        victim: usize,
    ) -> Option<Notified> {
        if from.is_empty() {
            return None;
        }
        loop {
            match from.steal_batch_with_limit_and_pop(into, QUEUE_CAP / 2) {
                Steal::Success(t) => {
                    w.note_steal(Some(victim), 1 + into.len());
                    self.from = TaskSource::Stolen;
                    return Some(t);
                }
                Steal::Empty => return None,
                Steal::Retry => {}
            }
        }
    }

    /// Takes a task that sat in another worker's LIFO slot since our previous look.
    pub(super) fn steal_stale_lifo(&mut self, w: &WorkerLocal) -> Option<Notified> {
        let seen = &mut self.lifo_seen;
        for (v, remote) in w.shared.remotes.iter().enumerate() {
            if v == w.index {
                continue;
            }
            let now = remote.lifo.peek();
            if !now.is_null() && now == seen[v] {
                if let Some(t) = remote.lifo.take_if(now) {
                    seen[v] = std::ptr::null_mut();
                    w.note_steal(Some(v), 1);
                    self.from = TaskSource::Stolen;
                    return Some(t);
                }
            }
            seen[v] = now;
        }
        None
    }

    fn next_rand(&mut self) -> u32 {
        // xorshift32: cheap, and good enough to spread victims.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x
    }
}

impl WorkerLocal {
    /// Counts a steal (of `tasks`, from worker `victim` or the injector) and traces it.
    fn note_steal(&self, victim: Option<usize>, tasks: usize) {
        bump(&self.stats.steal_ops, 1);
        bump(&self.stats.stolen, tasks as u64);
        if self.trace.on() {
            self.trace
                .record_instant(TraceKind::Steal { victim, tasks });
        }
    }

    /// Moves a share of the injector into our empty queue, without waiting for a trickle
    /// to grow (see `steal_injector`).
    #[cold]
    #[inline(never)]
    pub(super) fn refill_from_injector(&self) {
        let injector = &self.shared.injector;
        let limit = self.injector_share(injector.len(), false);
        while let Steal::Retry = injector.steal_batch_with_limit(&self.queue, limit) {}
    }

    /// How many tasks to take from the injector holding `len`: a fair share (all of
    /// them after a trickle wait: a share of a handful would again be a single task),
    /// but never past our own queue's capacity: a refill that overfilled it would push its
    /// oldest tasks (often ones just woken by a timer or I/O) back to the end of the
    /// injector, behind everything queued there.
    pub(super) fn injector_share(&self, len: usize, waited: bool) -> usize {
        let room = QUEUE_CAP.saturating_sub(self.queue.len());
        let share = if waited {
            len
        } else {
            len / self.shared.num_workers()
        };
        share.min(QUEUE_CAP / 2).min(room).max(1)
    }
}

//! Stealing: how a worker takes work from the global injector and from other workers
//! (the protocol is in `worker.rs`'s header, sections "Stealing" and "The LIFO slot cannot
//! strand a task").

use super::trace::{Place, TaskSource, TraceKind};
use super::worker::{Core, WorkerLocal, QUEUE_CAP};
use crate::scheduler::metrics::bump;
use crate::sync::deque::{Steal, Stealer, Worker as LocalQueue};
use crate::task::Notified;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Below this many tasks in the injector, a worker whose last take from it brought a
/// single task (and which has not found it empty since) waits `TRICKLE_WAIT` before
/// taking again, so the next take is a batch and the spawner and the worker stop sharing
/// a cache line per task (docs/measuring.md).
const INJECTOR_TRICKLE: usize = 4;
/// See `INJECTOR_TRICKLE`.
const TRICKLE_WAIT: Duration = Duration::from_micros(2);
/// How long a worker's ready queue may go without shrinking before a searcher takes half
/// of it ahead of the driver's fresh events (see `steal_stranded_ready`).
const STRANDED_AFTER: Duration = Duration::from_micros(20);

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
            w.note_steal(None, Place::Injector, 1 + w.queue.len());
            self.from = TaskSource::Injector;
            return Some(t);
        }
        let remotes = &w.shared.remotes;
        let n = remotes.len();
        let start = self.rng.below(n);
        for i in 0..n {
            let v = (start + i) % n;
            if v == w.index {
                continue;
            }
            // Its driver-woken tasks first, into our own ready queue.
            let r = &remotes[v];
            if let Some(t) = self.steal_half(w, &r.ready_stealer, &w.ready, v, Place::Ready) {
                w.maybe_ready.set(true); // the rest of the batch is in our ready queue
                return Some(t);
            }
            if let Some(t) = self.steal_half(w, &r.stealer, &w.queue, v, Place::Queue) {
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
        place: Place,
    ) -> Option<Notified> {
        if from.is_empty() {
            return None;
        }
        loop {
            match from.steal_batch_with_limit_and_pop(into, QUEUE_CAP / 2) {
                Steal::Success(t) => {
                    w.note_steal(Some(victim), place, 1 + into.len());
                    self.from = TaskSource::Stolen;
                    return Some(t);
                }
                Steal::Empty => return None,
                Steal::Retry => {}
            }
        }
    }

    /// Takes half the ready queue of a worker that has not ticked (polled anything) since
    /// our previous look, at least `STRANDED_AFTER` ago. A worker whose thread the kernel
    /// preempted holds the tasks the driver woke for it until it runs again, milliseconds
    /// on a busy machine, while the other workers, finding fresh events in the driver at
    /// every search, would never reach them. A worker that ticks is running and will reach
    /// its ready queue itself: taking from it then would only move its tasks (session 7
    /// judged by the queue's length instead, which stands still too while its worker runs
    /// its LIFO slot and local queue, and the extra steals cost compare's tcp_echo about
    /// 4%: docs/measuring.md). Looks come at most every `STRANDED_AFTER`: each reads a
    /// line per other worker, which its owner writes at every tick.
    pub(super) fn steal_stranded_ready(&mut self, w: &WorkerLocal) -> Option<Notified> {
        let now = Instant::now();
        if self
            .ready_look
            .is_some_and(|at| now.duration_since(at) < STRANDED_AFTER)
        {
            return None;
        }
        self.ready_look = Some(now);
        for (v, r) in w.shared.remotes.iter().enumerate() {
            if v == w.index {
                continue;
            }
            // Relaxed: see `Core::tick`.
            let ticks = r.stats.ticks.load(Relaxed);
            let seen = std::mem::replace(&mut self.ticks_seen[v], ticks);
            if ticks == seen {
                if let Some(t) = self.steal_half(w, &r.ready_stealer, &w.ready, v, Place::Ready) {
                    w.maybe_ready.set(true); // the rest of the batch is in our ready queue
                    return Some(t);
                }
            }
        }
        None
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
                    w.note_steal(Some(v), Place::LifoSlot, 1);
                    self.from = TaskSource::Stolen;
                    return Some(t);
                }
            }
            seen[v] = now;
        }
        None
    }
}

impl WorkerLocal {
    /// Counts a steal (of `tasks`, from `from` of worker `victim`, or the injector) and
    /// traces it.
    fn note_steal(&self, victim: Option<usize>, from: Place, tasks: usize) {
        bump(&self.stats.steal_ops, 1);
        bump(&self.stats.stolen, tasks as u64);
        self.trace.event(|| TraceKind::Steal {
            victim,
            from,
            tasks,
        });
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

/// What one take brings, which `steal_injector`, `steal_half` and docs/scheduling.md count
/// on: crossbeam's batch steals take about half of what is queued, at most the limit; from
/// the injector, never past the end of the 63-slot block its head is in, whatever the
/// limit. (If crossbeam changes this, these fail and the docs must change with them.)
#[cfg(all(test, not(weft_loom)))]
mod tests {
    use crate::sync::deque::{Injector, Steal, Worker};

    /// Tasks one `steal_batch_with_limit_and_pop` from `injector` brings, counting the one
    /// it returns.
    fn take_from_injector(injector: &Injector<u32>, limit: usize) -> usize {
        let queue = Worker::new_fifo();
        match injector.steal_batch_with_limit_and_pop(&queue, limit) {
            Steal::Success(_) => 1 + queue.len(),
            Steal::Empty => 0,
            Steal::Retry => panic!("no other thread takes from this injector"),
        }
    }

    fn injector_of(n: u32) -> Injector<u32> {
        let injector = Injector::new();
        (0..n).for_each(|i| injector.push(i));
        injector
    }

    #[test]
    fn an_injector_take_brings_about_half_and_never_crosses_a_block() {
        // Within one block: half, rounded up, even when the limit would allow all of them
        // (as after a trickle wait, whose limit is everything queued).
        assert_eq!(take_from_injector(&injector_of(3), 3), 2);
        let ten = injector_of(10);
        assert_eq!(take_from_injector(&ten, 128), 5);
        // The limit caps it.
        assert_eq!(take_from_injector(&ten, 2), 2);
        // 200 queued fill blocks of 63: each take ends at a block's end, so a take brings
        // at most 63 whatever the limit, and half only once the rest fits in one block.
        let many = injector_of(200);
        let takes: Vec<usize> = (0..5).map(|_| take_from_injector(&many, 128)).collect();
        assert_eq!(takes, [63, 63, 63, 6, 3]);
        // A take that starts inside a block brings only the rest of that block.
        let hundred = injector_of(100);
        assert_eq!(take_from_injector(&hundred, 10), 10);
        assert_eq!(take_from_injector(&hundred, 128), 53);
    }

    #[test]
    fn a_queue_steal_brings_half_rounded_up_at_most_the_limit() {
        let steal = |n: u32, limit: usize| {
            let victim = Worker::new_fifo();
            (0..n).for_each(|i| victim.push(i));
            let thief = Worker::new_fifo();
            match victim
                .stealer()
                .steal_batch_with_limit_and_pop(&thief, limit)
            {
                Steal::Success(_) => 1 + thief.len(),
                _ => 0,
            }
        };
        assert_eq!(steal(1, 128), 1);
        assert_eq!(steal(10, 128), 5);
        assert_eq!(steal(200, 128), 100);
        // A full queue (`QUEUE_CAP`) with the thieves' limit, half of it: 128.
        assert_eq!(steal(256, 128), 128);
        assert_eq!(steal(256, 16), 16);
    }
}

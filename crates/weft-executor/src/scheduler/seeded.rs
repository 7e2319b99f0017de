//! Seeded runs: a current-thread runtime built with `Builder::seed` draws its schedule
//! from a seeded generator instead of following its queues' order.
//!
//! # The pool and the pick
//!
//! The worker's placement code is left as it is (a spawn or a wake goes to the LIFO slot,
//! displacing the slot's task to the queue; a yield to the back of the queue; a wake by
//! the driver to the ready queue; an overflow to the injector). What changes is the
//! taking: each time the loop needs a task (`Core::next_seeded`, in place of the
//! `next_local` of the worker's header), every runnable task of the worker (the LIFO
//! slot's, the ready queue's, the queue's, and the injector's, which holds the wakes from
//! other threads and the overflows) is moved into one pool, and the task to poll is drawn
//! uniformly from it. So where a task was placed no longer decides when it runs: the LIFO
//! slot's preference, the ready queue's precedence and a yield's place at the back are
//! all replaced by the draw, and any order of the runnable tasks can come out.
//!
//! Each poll also draws its cooperative budget (`coop::set_poll_budget`), between 1 and
//! `coop::BUDGET` units, log-uniformly (an exponent, then a value below its power of two):
//! a poll is often cut after its first few ready resources and sometimes runs to the full
//! budget, so the yields a budget forces land at different awaits from one seed to the
//! next (an await that always completes at once in a FIFO run is a preemption point here).
//!
//! # Why it is reproducible
//!
//! Everything the pick depends on is a function of the seed and of what the tasks did
//! before: the pool's order is the order in which its tasks were gathered (one thread
//! pushes and pops every queue), the timer is looked at and the driver polled on the same
//! ticks as unseeded (`Core::tick`), counted in picks. With paused time the
//! timers fire by the paused clock, so the same program with the same seed polls its tasks
//! in the same order. What comes from other threads (a blocking task's completion, a wake
//! or spawn through a `Handle`, a socket's readiness) arrives when it arrives, and enters
//! the draw from then on: `docs/testing.md` lists what is and is not deterministic.
//!
//! A `LocalSet` made inside the runtime (the one `block_on` makes for `spawn_local`
//! among them) draws its own tasks the same way, from a stream of its own (`local.rs`).
//!
//! Tasks in the pool are taken out of the queues; when `block_on` returns the pool goes
//! back to the queue (`Worker::into_queues`), and the generator's state is kept for the
//! next `block_on` (`CurrentThread::seeded`).

use super::rng::Rng;
use super::trace::TaskSource;
use super::worker::{Core, WorkerLocal};
use crate::coop;
use crate::sync::deque::Steal;
use crate::task::Notified;

/// A seeded worker's generator and its pool of runnable tasks.
pub(crate) struct Seeded {
    pub(super) rng: Rng,
    /// Each with where it was found, for the trace's poll events.
    pool: Vec<(Notified, TaskSource)>,
}

impl Seeded {
    pub(super) fn new(rng: Rng) -> Seeded {
        Seeded {
            rng,
            pool: Vec::new(),
        }
    }

    /// Empties the pool, for the queue to keep the tasks (see the header).
    pub(super) fn take_pool(&mut self) -> impl Iterator<Item = Notified> + '_ {
        self.pool.drain(..).map(|(t, _)| t)
    }

    /// Moves every runnable task of the worker into the pool.
    fn gather(&mut self, w: &WorkerLocal) {
        if let Some(t) = w.remote().lifo.take() {
            self.pool.push((t, TaskSource::LifoSlot));
        }
        while let Some(t) = w.ready.pop() {
            self.pool.push((t, TaskSource::Ready));
        }
        w.maybe_ready.set(false);
        while let Some(t) = w.queue.pop() {
            self.pool.push((t, TaskSource::Queue));
        }
        loop {
            match w.shared.injector.steal() {
                Steal::Success(t) => self.pool.push((t, TaskSource::Injector)),
                Steal::Empty => break,
                Steal::Retry => {}
            }
        }
    }
}

/// A poll's budget: an exponent `e` in 0..=7, then 1..=2^e units (see the header).
pub(super) fn draw_budget(rng: &mut Rng) -> u8 {
    let e = rng.below(8);
    let units = 1 + rng.below(1 << e);
    // 2^7 = `BUDGET`: the draw never exceeds the unseeded budget.
    units.min(usize::from(coop::BUDGET)) as u8
}

impl Core {
    /// The seeded counterpart of `next_local` (see the header): the timer and driver looks
    /// on the same ticks, then a draw among every runnable task. `None` if there is none.
    pub(super) fn next_seeded(&mut self, w: &WorkerLocal) -> Option<Notified> {
        // Its look at the injector is the gathering's.
        self.tick(w);
        let seeded = self
            .seeded
            .as_mut()
            .expect("next_seeded on a seeded worker");
        seeded.gather(w);
        if seeded.pool.is_empty() {
            return None;
        }
        let i = seeded.rng.below(seeded.pool.len());
        let (task, from) = seeded.pool.swap_remove(i);
        coop::set_poll_budget(draw_budget(&mut seeded.rng));
        self.from = from;
        Some(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_cover_the_range_and_favour_short_polls() {
        let mut rng = Rng::new(3);
        let draws: Vec<u8> = (0..10_000).map(|_| draw_budget(&mut rng)).collect();
        assert!(draws.iter().all(|&b| (1..=coop::BUDGET).contains(&b)));
        assert!(draws.contains(&1) && draws.contains(&coop::BUDGET));
        // P(b <= 4) is above 1/3 (exponents 0-2 always give it); uniform would give 1/32.
        let short = draws.iter().filter(|&&b| b <= 4).count();
        assert!(short > draws.len() / 3, "{short} of {}", draws.len());
    }
}

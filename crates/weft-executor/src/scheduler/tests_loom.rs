//! Loom model of the idle/park protocol: work pushed while every worker goes to sleep is
//! always run.
//!
//! The workers here look for a job, become searchers, stop searching and go to sleep
//! through the worker's own code (`park::{start_searching, stop_searching,
//! park_worker}`, which `worker.rs` calls too), with the real `Idle` and `Parker`, against
//! a pool whose only queue is the loom stand-in for crossbeam's injector. What is the
//! model's own: finding a job is one pop of that queue (the worker's LIFO slot, local
//! queues, stealing and spinning are not modelled), the driver is a latching condvar, and
//! the driver's watcher bookkeeping (`Sleep::enter_driver`) is left out. If a wake-up
//! were lost, every worker would be parked with a job still queued: loom reports that as
//! a deadlock.

use super::idle::Idle;
use super::park::{self, Parker, Sleep};
use crate::driver::Driver;
use crate::sync::atomic::AtomicUsize;
use crate::sync::deque::Injector;
use crate::sync::{Arc, Condvar, Mutex};
use loom::thread;
use std::cell::Cell;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

/// A latching driver on loom primitives.
struct LoomDriver {
    notified: Mutex<bool>,
    condvar: Condvar,
}

impl Driver for LoomDriver {
    fn park(&self, _timeout: Option<Duration>) {
        let mut n = self.notified.lock();
        while !*n {
            self.condvar.wait(&mut n);
        }
        *n = false;
    }
    fn unpark(&self) {
        *self.notified.lock() = true;
        self.condvar.notify_one();
    }
}

struct Pool {
    /// The loom stand-in for crossbeam's injector.
    queue: Injector<usize>,
    idle: Idle,
    parkers: Vec<Parker>,
    driver: LoomDriver,
    driver_lock: Mutex<()>,
    done: AtomicUsize,
    total: usize,
}

impl Sleep for Pool {
    fn idle(&self) -> &Idle {
        &self.idle
    }
    fn parker(&self, worker: usize) -> &Parker {
        &self.parkers[worker]
    }
    fn driver(&self) -> &dyn Driver {
        &self.driver
    }
    fn driver_lock(&self) -> &Mutex<()> {
        &self.driver_lock
    }
    fn work_visible(&self) -> bool {
        !self.queue.is_empty()
    }
    fn enter_driver(&self, _worker: usize) -> Option<Duration> {
        None
    }
    fn leave_driver(&self) {}
}

impl Pool {
    /// As `Shared::schedule_remote`: push, then rule 1.
    fn push(&self, job: usize) {
        self.queue.push(job);
        self.notify_parked();
    }

    fn finished(&self) -> bool {
        self.done.load(SeqCst) == self.total
    }

    fn run_job(&self) -> bool {
        let job = self.queue.steal().success();
        match job {
            Some(_) => {
                if self.done.fetch_add(1, SeqCst) + 1 == self.total {
                    // Last job: wake everyone so the model can end.
                    for p in &self.parkers {
                        p.unpark(&self.driver);
                    }
                }
                true
            }
            None => false,
        }
    }

    /// The shape of `Worker::next_task`: a job, else a search, else a sleep.
    fn worker(&self, me: usize) {
        let mut searching = false;
        let delivering = Cell::new(false);
        loop {
            if self.finished() {
                break;
            }
            if self.run_job() {
                if searching {
                    park::stop_searching(self, &mut searching, || !self.queue.is_empty());
                }
                continue;
            }
            if !searching && park::start_searching(&self.idle, &mut searching) {
                continue; // one search round: look at the queue again
            }
            // The last job unparks every parker, and a parker keeps the notification for
            // its next park: a worker going to sleep after that returns at once.
            park::park_worker(self, me, &mut searching, &delivering);
        }
        if searching {
            self.idle.stop_searching();
        }
    }
}

fn model(workers: usize, jobs: usize) {
    loom::model(move || {
        let pool = Arc::new(Pool {
            queue: Injector::new(),
            idle: Idle::new(workers),
            parkers: (0..workers).map(|_| Parker::new()).collect(),
            driver: LoomDriver {
                notified: Mutex::new(false),
                condvar: Condvar::new(),
            },
            driver_lock: Mutex::new(()),
            done: AtomicUsize::new(0),
            total: jobs,
        });
        let threads: Vec<_> = (0..workers)
            .map(|i| {
                let p = pool.clone();
                thread::spawn(move || p.worker(i))
            })
            .collect();
        for j in 0..jobs {
            pool.push(j);
        }
        for t in threads {
            t.join().unwrap();
        }
        assert!(pool.finished());
        assert_eq!(pool.idle.num_searching(), 0);
    });
}

#[test]
fn loom_idle_no_lost_wakeup_one_worker() {
    model(1, 2);
}

#[test]
fn loom_idle_no_lost_wakeup_two_workers() {
    model(2, 1);
}

#[test]
fn loom_idle_no_lost_wakeup_two_workers_two_jobs() {
    model(2, 2);
}

/// The LIFO slot (`lifo.rs`): the owner taking its task races a thief: exactly one gets
/// it. (Its task comes from the task models' scheduler stand-in.)
mod lifo {
    use crate::scheduler::lifo::LifoSlot;
    use crate::sync::Arc;
    use crate::task::tests_loom::{probe, Sched};
    use loom::thread;
    use std::sync::atomic::Ordering::SeqCst;

    #[test]
    fn loom_lifo_slot_owner_and_thief() {
        loom::model(|| {
            let s = Sched::new();
            let (p, c) = probe(1);
            let join = s.spawn(p);
            let task = s.0.queue.lock().pop_front().unwrap();
            let slot = Arc::new(LifoSlot::new());
            let seen = {
                assert!(slot.put(task).is_none());
                slot.peek()
            };
            let slot2 = slot.clone();
            let thief = thread::spawn(move || slot2.take_if(seen).map(|t| t.run()).is_some());
            let owner = slot.take().map(|t| t.run()).is_some();
            let thief = thief.join().unwrap();
            assert!(owner ^ thief, "owner {owner}, thief {thief}");
            assert_eq!(c.polls.load(SeqCst), 1);
            assert_eq!(loom::future::block_on(join).unwrap(), 1);
            c.waker.lock().take();
            s.shutdown();
        });
    }
}

//! Loom model of the idle/park protocol: work pushed while every worker goes to sleep is
//! always run.
//!
//! The workers here run the same decision sequence as `worker.rs` (look, search, register
//! as sleeper, look again, park in the driver or on the condvar) with the real `Idle` and
//! `Parker`, over a loom-backed queue. If a wake-up were lost, every worker would be
//! parked with a job still queued: loom reports that as a deadlock.

use super::idle::Idle;
use super::park::Parker;
use crate::driver::Driver;
use crate::sync::atomic::AtomicUsize;
use crate::sync::deque::Injector;
use crate::sync::{Arc, Condvar, Mutex};
use loom::thread;
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

impl Pool {
    fn notify(&self) {
        if let Some(w) = self.idle.worker_to_notify() {
            self.parkers[w].unpark(&self.driver);
        }
    }

    fn push(&self, job: usize) {
        self.queue.push(job);
        self.notify();
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

    fn worker(&self, me: usize) {
        let mut searching = false;
        loop {
            if self.finished() {
                break;
            }
            if self.run_job() {
                if searching {
                    searching = false;
                    if self.idle.stop_searching() && !self.queue.is_empty() {
                        self.notify();
                    }
                }
                continue;
            }
            if !searching && self.idle.try_start_searching() {
                searching = true;
                continue; // one search round: look at the queue again
            }
            self.idle.transition_to_parked(me, searching);
            if !self.queue.is_empty() {
                self.notify();
            }
            if !self.finished() {
                match self.driver_lock.try_lock() {
                    Some(_g) => self.parkers[me].park(Some(&self.driver), None),
                    None => self.parkers[me].park(None, None),
                }
            }
            searching = self.idle.transition_from_parked(me);
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

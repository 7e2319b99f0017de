//! Parking one worker: on the driver (when it holds it) or on its own condvar.
//!
//! Each worker has a `Parker` with a small state machine. `unpark` can come before,
//! during or after `park`; a notification is never lost, because it is a state (`NOTIFIED`)
//! that the next `park` consumes, not just a signal.

use crate::driver::Driver;
use crate::sync::atomic::AtomicUsize;
use crate::sync::{Condvar, Mutex};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

/// Not parked, no notification pending.
const EMPTY: usize = 0;
/// Asleep on the condvar; `unpark` must lock the mutex and signal it.
const PARKED_CONDVAR: usize = 1;
/// Asleep in the driver; `unpark` must go through `Driver::unpark`.
const PARKED_DRIVER: usize = 2;
/// An `unpark` happened that no `park` has consumed yet.
const NOTIFIED: usize = 3;

pub(crate) struct Parker {
    state: AtomicUsize,
    mutex: Mutex<()>,
    condvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker {
            state: AtomicUsize::new(EMPTY),
            mutex: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }

    /// Sleeps until `unpark`. With `driver`, sleeps in it (and returns also on its own
    /// events or after `timeout`); without, on the condvar (no timeout: only `unpark` ends
    /// it). May return spuriously.
    pub(crate) fn park(&self, driver: Option<&dyn Driver>, timeout: Option<Duration>) {
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return;
        }
        match driver {
            Some(driver) => {
                if self
                    .state
                    .compare_exchange(EMPTY, PARKED_DRIVER, SeqCst, SeqCst)
                    .is_err()
                {
                    // Notified in between.
                    self.state.swap(EMPTY, SeqCst);
                    return;
                }
                driver.park(timeout);
                // Consumes a NOTIFIED that arrived during the driver's park, too. A swap,
                // not a store: reading the unparker's write synchronises with it, so
                // whatever it published before unparking (a shutdown flag, a finished
                // job) is visible to us now, even if the driver woke us for another
                // reason. (loom found the store version losing exactly that.)
                self.state.swap(EMPTY, SeqCst);
            }
            None => {
                let mut guard = self.mutex.lock();
                if self
                    .state
                    .compare_exchange(EMPTY, PARKED_CONDVAR, SeqCst, SeqCst)
                    .is_err()
                {
                    self.state.swap(EMPTY, SeqCst);
                    return;
                }
                loop {
                    self.condvar.wait(&mut guard);
                    if self
                        .state
                        .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
                        .is_ok()
                    {
                        return;
                    }
                }
            }
        }
    }

    /// Wakes the parked worker, or makes its next `park` return at once.
    pub(crate) fn unpark(&self, driver: &dyn Driver) {
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // Taking the lock orders us after the parker's check-then-wait.
                drop(self.mutex.lock());
                self.condvar.notify_one();
            }
            PARKED_DRIVER => driver.unpark(),
            _ => unreachable!(),
        }
    }
}

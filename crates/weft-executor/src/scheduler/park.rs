//! Parking one worker: on the driver (when it holds it) or on its own condvar.
//!
//! Each worker has a `Parker` with a small state machine. `unpark` can come before,
//! during or after `park`; a notification is never lost, because it is a state (`NOTIFIED`)
//! that the next `park` consumes, not just a signal.
//!
//! Below it, the worker's side of the idle protocol of `idle.rs`, written once for the
//! worker (`worker.rs`, against `Shared`) and for the loom models `loom_idle_no_lost_wakeup_*`
//! (`tests_loom.rs`, against its own pool): becoming a searcher (`start_searching`),
//! stopping (`stop_searching`, rule 2), and going to sleep (`park_worker`, rule 3).

use super::idle::Idle;
use crate::driver::Driver;
use crate::sync::atomic::AtomicUsize;
use crate::sync::{Condvar, Mutex};
use std::cell::Cell;
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

    /// Sleeps in `driver` until `unpark`, the driver's own events, or `timeout`. May
    /// return spuriously. With `idle`, the runtime is idle and the park is an idle one
    /// (`Driver::park_idle`), `idle` telling whether it still is. Returns whether it
    /// consumed an `unpark` (for the trace).
    pub(crate) fn park_in_driver(
        &self,
        driver: &dyn Driver,
        timeout: Option<Duration>,
        idle: Option<&dyn Fn() -> bool>,
    ) -> bool {
        if self.take_notification() {
            return true;
        }
        if self
            .state
            .compare_exchange(EMPTY, PARKED_DRIVER, SeqCst, SeqCst)
            .is_err()
        {
            // Notified in between.
            self.state.swap(EMPTY, SeqCst);
            return true;
        }
        match idle {
            Some(idle) => driver.park_idle(timeout, &|| !self.is_notified() && idle()),
            None => driver.park(timeout),
        }
        // Consumes a NOTIFIED that arrived during the driver's park, too. A swap, not a
        // store: reading the unparker's write synchronises with it, so whatever it
        // published before unparking (a shutdown flag, a finished job) is visible to us
        // now, even if the driver woke us for another reason. (loom found the store
        // version losing exactly that.)
        self.state.swap(EMPTY, SeqCst) == NOTIFIED
    }

    /// Sleeps on the condvar until `unpark`: no timeout (a worker off the driver has no
    /// deadline of its own; the watcher in the driver looks after its LIFO slot).
    pub(crate) fn park(&self) {
        if self.take_notification() {
            return;
        }
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
            if self.take_notification() {
                return;
            }
        }
    }

    /// True if an `unpark` came that no `park` consumed yet (it came during this one).
    fn is_notified(&self) -> bool {
        self.state.load(SeqCst) == NOTIFIED
    }

    /// Consumes a pending `unpark`, if there is one.
    fn take_notification(&self) -> bool {
        self.state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
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

/// The state a worker sleeps against: the runtime's `Shared`, or the loom model's pool.
pub(crate) trait Sleep {
    fn idle(&self) -> &Idle;
    fn parker(&self, worker: usize) -> &Parker;
    fn driver(&self) -> &dyn Driver;
    /// Held by the one worker parked in (or polling) the driver.
    fn driver_lock(&self) -> &Mutex<()>;
    /// Work some worker could pick up: the look of rule 3.
    fn work_visible(&self) -> bool;
    /// Called holding the driver lock, just before `worker` parks in the driver; returns
    /// the park's timeout.
    fn enter_driver(&self, worker: usize) -> Option<Duration>;
    /// Called after that park returns, still holding the lock.
    fn leave_driver(&self);
    /// Whether this runtime's one worker is all there is (the current-thread flavour),
    /// so that finding no work means the runtime is idle: then its parks in the driver
    /// are idle ones (`Driver::park_idle`, how paused time advances by itself).
    fn reports_idle(&self) -> bool {
        false
    }
    /// A blocking task is queued or running: the runtime is not idle.
    fn blocking_busy(&self) -> bool {
        false
    }

    /// Told that the caller is about to unpark `worker` (for the trace).
    #[inline(always)]
    fn on_unpark(&self, _worker: usize) {}

    /// Wakes one sleeping worker if work needs one (rule 1 of `idle.rs`).
    #[inline]
    fn notify_parked(&self) {
        if let Some(w) = self.idle().worker_to_notify() {
            self.on_unpark(w);
            self.parker(w).unpark(self.driver());
        }
    }

    /// Wakes one sleeping worker to share work in the calling worker's own queue (a
    /// hint, no fence: see `idle.rs`). Inlined, with only the locked part of the hint
    /// out of line: every yield and spawn calls it, and the call cost a yield 8
    /// instructions (docs/measuring.md, "The worker's loop against 1e9db2a").
    #[inline(always)]
    fn notify_parked_local(&self) {
        if let Some(w) = self.idle().worker_to_notify_hint() {
            self.on_unpark(w);
            self.parker(w).unpark(self.driver());
        }
    }
}

/// Makes the calling worker a searcher unless it is one (`searching`) or half the
/// workers already are (rule 4). Returns whether it is a searcher now.
#[inline]
pub(crate) fn start_searching(idle: &Idle, searching: &mut bool) -> bool {
    if !*searching {
        if !idle.try_start_searching() {
            return false;
        }
        *searching = true;
    }
    true
}

/// A searcher found work: it stops searching, and if it was the last searcher and
/// `more_work` says there is more to share, it wakes the next worker (rule 2).
#[inline]
pub(crate) fn stop_searching<S: Sleep>(
    site: &S,
    searching: &mut bool,
    more_work: impl FnOnce() -> bool,
) {
    *searching = false;
    if site.idle().stop_searching() && more_work() {
        site.notify_parked_local();
    }
}

/// Puts worker `worker` to sleep: registers it as a sleeper, looks for work once more
/// (rule 3: the other half of the no-lost-wake-up handshake), sleeps in the driver if no
/// other worker is in it, else on its own parker, and unregisters. Afterwards `searching`
/// says whether a notifier woke it as a searcher; `delivering` is set while it sleeps in
/// the driver. Returns whether it slept in the driver, and whether an `unpark` woke it.
pub(crate) fn park_worker<S: Sleep>(
    site: &S,
    worker: usize,
    searching: &mut bool,
    delivering: &Cell<bool>,
) -> Woke {
    let idle = site.idle();
    idle.transition_to_parked(worker, std::mem::take(searching));
    // Rule 3: look once more now that we are registered as asleep.
    if site.work_visible() {
        site.notify_parked();
    }
    let parker = site.parker(worker);
    let woke = match site.driver_lock().try_lock() {
        Some(_driver) => {
            let timeout = site.enter_driver(worker);
            delivering.set(true);
            // Idle: nothing visible to run, no blocking task in flight, nobody else
            // working; and after the driver polled, still nothing woken (`Parker`'s
            // notification covers a wake from outside, and of the `block_on` future).
            let still_idle = || !site.work_visible() && !site.blocking_busy();
            let idle_park = site.reports_idle() && still_idle();
            let notified = parker.park_in_driver(
                site.driver(),
                timeout,
                idle_park.then_some(&still_idle as &dyn Fn() -> bool),
            );
            delivering.set(false);
            site.leave_driver();
            Woke {
                in_driver: true,
                notified,
            }
        }
        None => {
            // On the condvar only an `unpark` wakes it.
            parker.park();
            Woke {
                in_driver: false,
                notified: true,
            }
        }
    };
    *searching = idle.transition_from_parked(worker);
    woke
}

/// How a `park_worker` went.
#[derive(Clone, Copy)]
pub(crate) struct Woke {
    /// It slept in the driver (else on its condvar).
    pub(crate) in_driver: bool,
    /// An `unpark` ended the sleep (or came before it).
    pub(crate) notified: bool,
}

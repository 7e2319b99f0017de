//! The driver hook: how the executor's idle path lets a reactor or a timer in.
//!
//! The executor knows nothing of sockets or timers. It is built with one [`Driver`]; when
//! a worker runs out of work, exactly one idle worker at a time parks *in the driver*
//! (the others park on their own condvar). The driver blocks until an event, its own next
//! deadline, the timeout the executor asks for, or [`Driver::unpark`]. Events wake tasks
//! through their wakers, from the worker thread that was parked: the tasks land in that
//! worker's queue, with no extra thread hop. When no worker is idle, a busy worker calls
//! [`Driver::poll`] every 61 scheduler ticks so events are not starved by CPU-bound tasks.

use parking_lot::{Condvar, Mutex};
use std::fmt;
use std::time::Duration;

/// Wakes `waker` for a driver: a panic in its `wake` (or its drop) is reported on stderr
/// and goes no further, so the worker running the driver goes on and the wakers after
/// it in the same batch are still woken.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::task::{Wake, Waker};
///
/// struct Panics;
/// impl Wake for Panics {
///     fn wake(self: Arc<Self>) { panic!("a hostile waker") }
/// }
/// weft_executor::wake_contained(Waker::from(Arc::new(Panics))); // reported, not unwound
/// ```
pub fn wake_contained(waker: std::task::Waker) {
    crate::unwind::contain("a waker woken by the driver", move || waker.wake());
}

/// A source of events the executor parks on: a reactor, a timer, or both stacked.
///
/// # Contract
///
/// - `park` (and `park_idle`, which is a `park`) is called by one thread at a time. It returns after `unpark`, after its own
///   events (having woken their tasks), after `timeout`, or spuriously.
/// - `unpark` may be called from any thread at any time. If no thread is parked, the
///   next `park` must return at once (the notification is latched, not lost).
/// - `poll` processes ready events without blocking; it is never called during `park`.
/// - `poll_due` may be called from any worker at any time, also during `park`.
/// - None of them may unwind: they run on a worker, outside any task's poll. Wake the
///   wakers of ready events with [`wake_contained`], which reports a panicking waker
///   (another executor's, a combinator's) instead of letting it end the worker, and wake
///   them after releasing the driver's own locks.
///
/// # Examples
///
/// A driver that counts how often the runtime parked on it, delegating to the default:
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use weft_executor::{Builder, Driver, ParkDriver};
///
/// #[derive(Debug, Default)]
/// struct Counting { inner: ParkDriver, parks: AtomicUsize }
///
/// impl Driver for Counting {
///     fn park(&self, timeout: Option<Duration>) {
///         self.parks.fetch_add(1, Ordering::Relaxed);
///         self.inner.park(timeout)
///     }
///     fn unpark(&self) { self.inner.unpark() }
/// }
///
/// let driver = Arc::new(Counting::default());
/// let rt = Builder::new().worker_threads(1).driver(driver.clone()).build().unwrap();
/// // With nothing to do, the worker parks in the driver.
/// while driver.parks.load(Ordering::Relaxed) == 0 {
///     std::thread::yield_now();
/// }
/// // Work from outside wakes it through `unpark`.
/// assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
/// ```
pub trait Driver: Send + Sync + 'static {
    /// Blocks the calling worker until [`unpark`](Driver::unpark), an event, `timeout`
    /// (`None`: no limit), or spuriously.
    fn park(&self, timeout: Option<Duration>);

    /// Parks as [`park`](Driver::park), when the runtime is *idle*: no task is runnable
    /// and no blocking task is in flight, so nothing will happen but what this driver or
    /// another thread brings. `idle` tells whether that is still so (after the driver
    /// processed ready events without blocking, say: a woken task makes it false).
    ///
    /// This is how paused time advances by itself: the timer, while its clock is
    /// paused, polls its inner driver, and if the runtime is still idle, moves the clock
    /// to the next deadline instead of sleeping. The default parks.
    ///
    /// Only an executor that can tell calls it (the current-thread runtime); the others
    /// always call `park`.
    fn park_idle(&self, timeout: Option<Duration>, idle: &dyn Fn() -> bool) {
        let _ = idle;
        self.park(timeout)
    }

    /// Wakes the thread in [`park`](Driver::park), or makes the next one return at once.
    fn unpark(&self);

    /// Processes ready events without blocking. The default does nothing.
    fn poll(&self) {}

    /// Processes what is due without blocking, without system calls and without waiting
    /// for a lock (timers whose deadline passed), cheaply enough that busy workers call it
    /// every few polls, several at once, even while another thread is in `park`. The
    /// default does nothing.
    fn poll_due(&self) {}

    /// Called once when the runtime shuts down, after every task was dropped.
    fn shutdown(&self) {}
}

/// The default driver: parks on a condition variable, with nothing else to drive.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_executor::{Driver, ParkDriver};
///
/// let d = ParkDriver::default();
/// d.unpark();
/// d.park(None); // returns at once: the unpark was latched
/// d.park(Some(Duration::from_millis(1))); // times out
/// ```
#[derive(Default)]
pub struct ParkDriver {
    notified: Mutex<bool>,
    condvar: Condvar,
}

impl ParkDriver {
    /// A new driver with no pending notification.
    pub fn new() -> ParkDriver {
        ParkDriver::default()
    }
}

impl Driver for ParkDriver {
    fn park(&self, timeout: Option<Duration>) {
        let mut notified = self.notified.lock();
        if !*notified {
            match timeout {
                Some(t) => {
                    let _ = self.condvar.wait_for(&mut notified, t);
                }
                None => {
                    while !*notified {
                        self.condvar.wait(&mut notified);
                    }
                }
            }
        }
        *notified = false;
    }

    fn unpark(&self) {
        *self.notified.lock() = true;
        self.condvar.notify_one();
    }
}

impl fmt::Debug for ParkDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParkDriver")
            .field("notified", &*self.notified.lock())
            .finish()
    }
}

//! `sleep` and `sleep_until`: the `await asyncio.sleep(...)` of weft.

use crate::clock;
use crate::driver::Timer;
use crate::driver::TimerKey;
use crate::Instant;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use weft_executor::Handle;

const NO_TIMER: &str = "a weft timer (sleep, timeout, interval) was polled outside a weft \
runtime with a timer: run it inside `weft::run` or `Runtime::block_on` of a runtime built \
with the timer (the `weft` crate's runtimes always have one; with `weft-executor` alone, \
install `weft_timer::TimerDriver` as the driver and its `timer()` as an extension)";

const SHUT_DOWN: &str = "a weft timer was polled after its runtime shut down";

/// Waits until `duration` has elapsed.
///
/// The sleep completes when its exact deadline has passed, never before. Nothing is
/// registered until the first poll, and dropping it cancels its timer at once.
///
/// Completing spends a unit of the task's cooperative budget (see
/// [`weft_executor::coop`]), also for a zero or past deadline: when the budget is spent,
/// a due sleep wakes its task and returns `Pending` once, so a loop over due timers does
/// not hold its worker.
///
/// # Panics
///
/// When polled outside a runtime that has a timer (see [`Sleep`]), unless the duration is
/// zero.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_timer::Instant;
/// # let rt = weft_timer::install(&mut weft_executor::Builder::new()).build().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     weft_timer::sleep(Duration::from_millis(20)).await;
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(deadline_after(Instant::now(), duration))
}

/// Waits until `deadline`. A deadline in the past completes on the first poll, without
/// registering a timer.
///
/// (Reading the clock costs about as much as registering the timer, so a first poll
/// takes a deadline more than a millisecond after this thread's latest timer reading
/// for ahead without reading it. Should such a deadline have passed already, because
/// this thread read no timer clock for that long, the sleep completes at the timer's
/// next turn, a moment later: never early.)
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_timer::Instant;
/// # let rt = weft_timer::install(&mut weft_executor::Builder::new()).build().unwrap();
/// rt.block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(5);
///     weft_timer::sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// ```
pub fn sleep_until(deadline: impl Into<Instant>) -> Sleep {
    Sleep {
        deadline: deadline.into().into_std(),
        registration: None,
    }
}

/// `start + duration`, or a far-future instant if that overflows `Instant`: a sleep that
/// long never completes in practice, and must not panic.
pub(crate) fn deadline_after(start: Instant, duration: Duration) -> Instant {
    start
        .checked_add(duration)
        .unwrap_or_else(|| far_future(start))
}

fn far_future(start: Instant) -> Instant {
    // About 30 years; `Instant` cannot always hold more.
    let mut d = Duration::from_secs(60 * 60 * 24 * 365 * 30);
    loop {
        if let Some(t) = start.checked_add(d) {
            return t;
        }
        d /= 2;
    }
}

struct Registration {
    timer: Arc<Timer>,
    key: TimerKey,
    /// The waker given to the timer, to tell cheaply whether a new poll brings a new one.
    waker: Waker,
}

/// A future that completes at a deadline. Made by [`sleep`] and [`sleep_until`].
///
/// It is `Unpin`: it can be polled, reset and stored without pinning.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: std::time::Instant,
    registration: Option<Registration>,
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.registration.is_some())
            .finish()
    }
}

impl Sleep {
    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        Instant::from_std(self.deadline)
    }

    /// True once the deadline has passed (by the runtime's clock).
    pub fn is_elapsed(&self) -> bool {
        match &self.registration {
            Some(r) => r.timer.now() >= self.deadline,
            None => crate::clock::now() >= self.deadline,
        }
    }

    /// Moves the deadline, earlier or later, even after the sleep completed (it then waits
    /// again). A registered timer is moved in place.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft_timer::Instant;
    /// # let rt = weft_timer::install(&mut weft_executor::Builder::new()).build().unwrap();
    /// rt.block_on(async {
    ///     let mut s = weft_timer::sleep(Duration::from_secs(3600));
    ///     s.reset(Instant::now() + Duration::from_millis(1));
    ///     s.await;
    /// });
    /// ```
    pub fn reset(&mut self, deadline: impl Into<Instant>) {
        let deadline = deadline.into().into_std();
        self.deadline = deadline;
        if let Some(r) = &mut self.registration {
            r.key = r.timer.reset(r.key, deadline, &r.waker);
        }
    }

    /// The deadline has passed: completes, spending a unit of the task's budget.
    fn complete(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // A due timer spends a unit of the task's budget, so a loop over due timers takes
        // turns with the other tasks (when the budget is spent, this wakes the task and
        // returns `Pending`; the entry stays as it is).
        std::task::ready!(weft_executor::coop::poll_proceed(cx)).made_progress();
        // Usually the wheel fired the entry (that is what woke us). If not, it is due and
        // goes at the wheel's next advance: either way, no need to take its lock here.
        self.registration = None;
        Poll::Ready(())
    }

    fn deregister(&mut self) {
        if let Some(r) = self.registration.take() {
            Timer::cancel_returning(r.timer, r.key);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // The clock decides, not the wheel: a sleep is never early, whoever woke it. This
        // thread's latest clock reading is asked first (see `clock.rs`): once registered,
        // it saves a reading when the wheel woke us; before, when the deadline is far.
        let passed = if let Some(r) = &self.registration {
            clock::passed(self.deadline) || r.timer.now() >= self.deadline
        } else {
            clock::passed_at_first_poll(self.deadline)
        };
        if passed {
            return self.complete(cx);
        }
        let deadline = self.deadline;
        match &mut self.registration {
            None => {
                // Cloned before, and handed back unused: the lookup below borrows the
                // thread's runtime context, and a waker's clone or drop may run any code.
                let waker = cx.waker().clone();
                let registered = Handle::with_current_extension(|t: Option<&Timer>| match t {
                    Some(t) if !t.is_shut_down() => Ok(t.register_leased(deadline, waker)),
                    t => Err((t.is_some(), waker)),
                });
                let (timer, key) = match registered {
                    Ok(r) => r,
                    Err((shut_down, unused)) => {
                        drop(unused);
                        // Without a working timer only a deadline that has passed can
                        // complete (the latest reading may have been too old to tell).
                        if clock::now() >= deadline {
                            return self.complete(cx);
                        }
                        if shut_down {
                            panic!("{SHUT_DOWN}");
                        }
                        panic!("{NO_TIMER}");
                    }
                };
                self.registration = Some(Registration {
                    timer,
                    key,
                    waker: cx.waker().clone(),
                });
            }
            Some(r) => {
                if r.timer.is_shut_down() {
                    panic!("{SHUT_DOWN}");
                }
                if !r.waker.will_wake(cx.waker()) {
                    r.waker = cx.waker().clone();
                    if !r.timer.update_waker(r.key, &r.waker) {
                        // Fired, yet the deadline has not passed (clock skew between the
                        // check above and the wheel's): register again.
                        r.key = r.timer.register(deadline, r.waker.clone());
                    }
                }
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}

//! `timeout` and `timeout_at`: bound how long a future may take.

use crate::sleep::{deadline_after, sleep_until, Sleep};
use crate::Instant;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use weft_executor::coop;

/// The error of a [`timeout`] whose deadline passed before the future completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// Runs `future`, giving up after `duration`.
///
/// The future is polled before the timer at every wake-up, so a future that is ready at
/// the deadline still wins. On timeout the future is dropped (cancelled) with the
/// `Timeout`. The deadline is checked even when the future spends the task's whole
/// cooperative budget at every poll (see [`weft_executor::coop`]).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_timer::{sleep, timeout};
/// # let rt = weft_timer::install(&mut weft_executor::Builder::new()).build().unwrap();
/// rt.block_on(async {
///     let fast = timeout(Duration::from_secs(5), async { 1 }).await;
///     assert_eq!(fast, Ok(1));
///     let slow = timeout(Duration::from_millis(5), sleep(Duration::from_secs(5))).await;
///     assert!(slow.is_err());
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    timeout_at(deadline_after(Instant::now(), duration), future)
}

/// Runs `future`, giving up at `deadline`. See [`timeout`].
pub fn timeout_at<F: Future>(deadline: impl Into<Instant>, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

pin_project_lite::pin_project! {
    /// A future with a deadline. Made by [`timeout`] and [`timeout_at`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.sleep.deadline()
    }

    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// Gives the future back, without its deadline.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: fmt::Debug> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("future", &self.future)
            .field("deadline", &self.sleep.deadline())
            .finish()
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let had_budget = coop::has_budget_remaining();
        if let Poll::Ready(v) = this.future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        // If the future spent the rest of the budget, the deadline is looked at without
        // it: a future that spends the whole budget at every poll would otherwise never
        // time out. (It already woke the task when its budget ran out.)
        let elapsed = if had_budget && !coop::has_budget_remaining() {
            Pin::new(&mut coop::unconstrained(this.sleep)).poll(cx)
        } else {
            Pin::new(this.sleep).poll(cx)
        };
        elapsed.map(|()| Err(Elapsed(())))
    }
}

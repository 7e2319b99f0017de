//! `interval`: ticks at a fixed period, as an async method and as a `Stream`.

use crate::sleep::{deadline_after, sleep_until, Sleep};
use crate::Instant;
use futures_core::Stream;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// What an [`Interval`] does when ticks were missed (the consumer was busy for longer than
/// a period).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks at once, one per call, until caught up; the schedule stays
    /// on the original grid (`start + n * period`). The default.
    #[default]
    Burst,
    /// Start a new schedule: the next tick is one period after the late one was taken.
    Delay,
    /// Drop the missed ticks: the next tick is the next point of the original grid that is
    /// still in the future.
    Skip,
}

/// Ticks every `period`, the first tick completing at once.
///
/// # Panics
///
/// If `period` is zero.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_timer::Instant;
/// # let rt = weft_timer::install(&mut weft_executor::Builder::new()).build().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     let mut every = weft_timer::interval(Duration::from_millis(10));
///     for _ in 0..3 {
///         every.tick().await; // at 0, 10 and 20 ms
///     }
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Panics
///
/// If `period` is zero.
pub fn interval_at(start: impl Into<Instant>, period: Duration) -> Interval {
    assert!(
        period > Duration::ZERO,
        "an interval's period must be above zero"
    );
    Interval {
        sleep: sleep_until(start),
        period,
        missed: MissedTickBehavior::default(),
    }
}

/// A schedule of ticks. Made by [`interval`] and [`interval_at`].
///
/// It is also a [`Stream`] of tick instants: asyncio's async generators become streams in
/// Rust, and this is the simplest one.
///
/// A due tick spends a unit of the task's cooperative budget, like a due [`Sleep`]: a
/// loop over ticks that are already due (a burst after missed ticks) takes turns with
/// the other tasks.
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let scheduled = self.sleep.deadline();
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let now = Instant::now();
        let next = match self.missed {
            MissedTickBehavior::Burst => deadline_after(scheduled, self.period),
            MissedTickBehavior::Delay => {
                if now > deadline_after(scheduled, self.period) {
                    deadline_after(now, self.period)
                } else {
                    deadline_after(scheduled, self.period)
                }
            }
            MissedTickBehavior::Skip => {
                let behind = now.saturating_duration_since(scheduled).as_nanos();
                let periods = behind / self.period.as_nanos() + 1;
                let skip = u32::try_from(periods).unwrap_or(u32::MAX);
                deadline_after(scheduled, self.period.saturating_mul(skip))
            }
        };
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.sleep
            .reset(deadline_after(Instant::now(), self.period));
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// What happens to missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Sets what happens to missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }
}

impl Stream for Interval {
    type Item = Instant;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.poll_tick(cx).map(Some)
    }
}

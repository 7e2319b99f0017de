//! Paused time: `pause`, `resume` and `advance`, on the current runtime's clock.

use crate::driver::Timer;
use crate::sleep::deadline_after;
use std::sync::Arc;
use std::time::Duration;

#[track_caller]
fn current_timer(what: &str) -> Arc<Timer> {
    match weft_executor::Handle::current_extension::<Timer>() {
        Some(t) => t,
        None => panic!(
            "`weft::time::{what}` was called outside a weft runtime with a timer: call it \
             inside `block_on` or a task of a current-thread runtime"
        ),
    }
}

/// Stops the current runtime's clock.
///
/// While paused, the clock moves only by [`advance`], or by itself when every task is
/// idle: then it jumps straight to the earliest timer's deadline and fires it
/// (*auto-advance*). So a program that sleeps for an hour runs in microseconds, its
/// timers firing in deadline order, the same every run.
///
/// What reads the runtime's clock (and so stands still with it): [`Instant::now`] and
/// [`Instant::elapsed`], [`sleep`](crate::sleep), [`timeout`](crate::timeout) and
/// [`interval`](crate::interval) (each measures from the clock's reading when it is
/// made), [`Sleep::is_elapsed`](crate::Sleep::is_elapsed), [`Interval::reset`] and the
/// missed-tick behaviours of [`Interval`]. What does not: `std::time::Instant::now`,
/// `SystemTime`, and whatever other threads measure.
///
/// Auto-advance waits while the runtime has work: a runnable task, a blocking task in
/// flight (`spawn_blocking`, and the file system calls, which run on the blocking pool),
/// or I/O that is ready: before moving the clock the driver polls the reactor without
/// blocking, and advances only if that woke no task. I/O that is not ready yet at that
/// moment (a reply still on its way from another process) does not hold the clock: a
/// timeout around it can fire first.
///
/// [`Instant::now`]: crate::Instant::now
/// [`Instant::elapsed`]: crate::Instant::elapsed
/// [`Interval::reset`]: crate::Interval::reset
/// [`Interval`]: crate::Interval
///
/// # Panics
///
/// Outside a runtime with a timer; on a runtime whose timer may not pause (the
/// multi-thread runtime: pausing needs the current-thread flavour, which tells the timer
/// when every task is idle); if time is paused already.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_executor::Builder;
/// use weft_timer::{Instant, TimerDriver};
///
/// // (With the `weft` facade: `weft::Builder::new_current_thread().start_paused(true)`.)
/// let driver = TimerDriver::new(std::sync::Arc::new(weft_executor::ParkDriver::new()));
/// driver.allow_pause();
/// let rt = Builder::new()
///     .worker_threads(1)
///     .driver(std::sync::Arc::new(driver.clone()))
///     .extension(driver.timer())
///     .build()
///     .unwrap();
/// rt.block_on(async {
///     weft_timer::pause();
///     let start = Instant::now();
///     let real = std::time::Instant::now();
///     weft_timer::advance(Duration::from_secs(3600)).await;
///     assert_eq!(start.elapsed(), Duration::from_secs(3600));
///     assert!(real.elapsed() < Duration::from_secs(3600));
///     weft_timer::resume();
/// });
/// ```
#[track_caller]
pub fn pause() {
    current_timer("pause").pause();
}

/// Lets the current runtime's clock run again, at the real clock's pace, from where it
/// stands: it never jumps back, and stays ahead of the real clock by however far it was
/// advanced.
///
/// # Panics
///
/// Outside a runtime with a timer, or if time is not paused.
#[track_caller]
pub fn resume() {
    current_timer("resume").resume();
}

/// Moves the current runtime's paused clock forward by `duration`, firing the timers
/// due on the way in deadline order.
///
/// The clock moves in steps, one deadline at a time: at each it fires the timers due
/// then and yields, so the tasks they woke run (and see [`Instant::now`] at their
/// deadline) before the clock moves on, and the timers those tasks set within
/// `duration` fire too. The clock ends at exactly `duration` later (a timer due
/// after that stays pending).
///
/// [`Instant::now`]: crate::Instant::now
///
/// # Panics
///
/// Outside a runtime with a timer, or if time is not paused.
///
/// # Examples
///
/// See [`pause`].
pub async fn advance(duration: Duration) {
    let timer = current_timer("advance");
    if !timer.is_paused() {
        panic!(
            "`weft::time::advance` needs paused time: call `weft::time::pause` first, or \
             build the runtime with `start_paused(true)`"
        );
    }
    let target = deadline_after(crate::Instant::from_std(timer.now()), duration).into_std();
    while let Some(d) = timer.next_deadline().filter(|&d| d <= target) {
        if !timer.step_to(d) {
            return; // resumed meanwhile: the clock runs by itself now
        }
        weft_executor::yield_now().await;
    }
    timer.step_to(target);
}

//! The timer of weft: `sleep`, `timeout` and `interval` on a hierarchical timing wheel.
//!
//! ```
//! use std::time::Duration;
//! use weft_timer::Instant;
//! let rt = weft_timer::install(&mut weft_executor::Builder::new()).build().unwrap();
//! rt.block_on(async {
//!     let start = Instant::now();
//!     weft_timer::sleep(Duration::from_millis(50)).await;
//!     assert!(start.elapsed() >= Duration::from_millis(50));
//! });
//! ```
//!
//! - [`wheel`]: the timing wheel itself, a plain data structure (6 levels of 64 slots,
//!   1 ms to about 2.2 years, amortised O(1) insert and cancel, exact deadlines).
//! - [`TimerDriver`]: the wheel as the executor's driver: idle workers park until the exact
//!   next deadline; busy workers fire due timers every 32 scheduler ticks
//!   (`Driver::poll_due`), and poll the reactor too every 61 (`Driver::poll`).
//! - [`sleep`], [`sleep_until`], [`timeout`], [`timeout_at`], [`interval`], [`interval_at`].
//! - [`Instant`]: a moment of the runtime's clock; [`pause`], [`resume`] and [`advance`]
//!   stop and move that clock (paused time, for tests: an hour of timers in microseconds,
//!   in the same order every run).
//!
//! The weft facade crate installs the timer in every runtime it builds. Using a timer
//! future outside a runtime that has one panics, with a message that says so (a sleep of
//! zero, or to a past deadline, completes without needing one).

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations)]
#![cfg_attr(weft_loom, allow(dead_code, unused_imports))]

mod clock;
mod driver;
mod instant;
#[cfg(not(weft_loom))]
mod interval;
#[cfg(not(weft_loom))]
mod pause;
#[cfg(not(weft_loom))]
mod sleep;
#[cfg(not(weft_loom))]
mod timeout;
pub mod wheel;

pub use driver::{Timer, TimerDriver};
pub use instant::Instant;
#[cfg(not(weft_loom))]
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
#[cfg(not(weft_loom))]
pub use pause::{advance, pause, resume};
#[cfg(not(weft_loom))]
pub use sleep::{sleep, sleep_until, Sleep};
#[cfg(not(weft_loom))]
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};

/// Installs a timer in a runtime being built: a [`TimerDriver`] over the plain
/// [`ParkDriver`](weft_executor::ParkDriver), and its [`Timer`] as an extension.
///
/// This replaces the builder's driver. To stack the timer on a reactor, build a
/// [`TimerDriver`] on it yourself (the `weft` crate does).
#[cfg(not(weft_loom))]
pub fn install(builder: &mut weft_executor::Builder) -> &mut weft_executor::Builder {
    let driver = TimerDriver::new(std::sync::Arc::new(weft_executor::ParkDriver::new()));
    builder
        .driver(std::sync::Arc::new(driver.clone()))
        .extension(driver.timer())
}

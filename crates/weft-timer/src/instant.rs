//! `Instant`: a moment of the runtime's clock, which paused time can stop and move.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// A moment on the clock of the runtime the current thread is in: the clock that
/// [`sleep`](crate::sleep), [`timeout`](crate::timeout) and [`interval`](crate::interval)
/// measure by.
///
/// It is [`std::time::Instant`] with [`now`](Instant::now) reading that clock: the real
/// clock outside a runtime, and in a runtime whose time was never paused; the paused,
/// or advanced, clock of one whose time was (see [`pause`](crate::pause)). Everything
/// else (arithmetic, comparisons) is std's. [`from_std`](Instant::from_std) and
/// [`into_std`](Instant::into_std) convert without changing the moment.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_timer::Instant;
/// # let rt = weft_timer::install(&mut weft_executor::Builder::new()).build().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     weft_timer::sleep(Duration::from_millis(5)).await;
///     assert!(start.elapsed() >= Duration::from_millis(5));
///     let later = start + Duration::from_secs(1);
///     assert_eq!(later.duration_since(start), Duration::from_secs(1));
///     assert_eq!(later.checked_sub(Duration::from_secs(1)), Some(start));
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(std::time::Instant);

impl Instant {
    /// The current moment of the runtime's clock (the real clock outside a runtime).
    pub fn now() -> Instant {
        Instant(crate::clock::now())
    }

    /// The same moment as `std`'s.
    pub fn from_std(std: std::time::Instant) -> Instant {
        Instant(std)
    }

    /// The same moment as `std`'s `Instant` (compare it with `std`'s `now` only when
    /// time was never paused).
    pub fn into_std(self) -> std::time::Instant {
        self.0
    }

    /// The time from `earlier` to this instant, or zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// The time from `earlier` to this instant, or `None` if `earlier` is later.
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.0.checked_duration_since(earlier.0)
    }

    /// The time from `earlier` to this instant, or zero if `earlier` is later.
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// The time since this instant by the runtime's clock (zero if it lies ahead).
    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(*self)
    }

    /// This instant plus `duration`, or `None` if that cannot be represented.
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_add(duration).map(Instant)
    }

    /// This instant minus `duration`, or `None` if that cannot be represented.
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_sub(duration).map(Instant)
    }
}

impl From<std::time::Instant> for Instant {
    fn from(std: std::time::Instant) -> Instant {
        Instant(std)
    }
}

impl From<Instant> for std::time::Instant {
    fn from(i: Instant) -> std::time::Instant {
        i.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// # Panics
    ///
    /// If the result cannot be represented (as `std`'s); see [`Instant::checked_add`].
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0 + rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        self.0 += rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    /// # Panics
    ///
    /// If the result cannot be represented (as `std`'s); see [`Instant::checked_sub`].
    fn sub(self, rhs: Duration) -> Instant {
        Instant(self.0 - rhs)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        self.0 -= rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// The time from `rhs` to this instant, or zero if `rhs` is later (as `std`'s).
    fn sub(self, rhs: Instant) -> Duration {
        self.duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

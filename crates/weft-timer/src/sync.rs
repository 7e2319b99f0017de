//! The few primitives of the timer's park/register protocol, swapped for loom's when built
//! with `--cfg weft_loom` (see `driver.rs`'s model).

#[cfg(not(weft_loom))]
pub(crate) use parking_lot::Mutex;
#[cfg(not(weft_loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU64};

#[cfg(weft_loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU64};

/// loom's mutex behind parking_lot's API.
#[cfg(weft_loom)]
#[derive(Debug)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

#[cfg(weft_loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

#[cfg(weft_loom)]
impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex(loom::sync::Mutex::new(value))
    }
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap()
    }
    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.0.try_lock().ok()
    }
}

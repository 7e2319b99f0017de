//! The primitives of the readiness protocol, swapped for loom's with `--cfg weft_loom`.

#[cfg(not(weft_loom))]
pub(crate) use parking_lot::Mutex;
#[cfg(not(weft_loom))]
pub(crate) use std::sync::atomic::AtomicUsize;

#[cfg(weft_loom)]
pub(crate) use loom::sync::atomic::AtomicUsize;

/// loom's mutex behind parking_lot's API.
#[cfg(weft_loom)]
#[derive(Debug)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

#[cfg(weft_loom)]
impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex(loom::sync::Mutex::new(value))
    }
    pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
        self.0.lock().unwrap()
    }
}

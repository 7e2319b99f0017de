//! The loom shim: locks, atomics and cells with one API, backed by parking_lot and std in
//! production and by loom's types under `--cfg weft_loom`.
//!
//! Every atomic protocol of weft (task state, idle and parking, the LIFO slot, the
//! timer's park/register handshake, the reactor's readiness) is written against these,
//! so its loom model runs the real code. The loom versions are thin wrappers giving
//! loom's types parking_lot's API (`lock` returns the guard directly).

#[cfg(not(weft_loom))]
mod imp {
    /// Atomics: std's, or loom's under `--cfg weft_loom`.
    pub mod atomic {
        pub use std::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
        };
    }

    pub use parking_lot::{Mutex, MutexGuard};
    pub use std::sync::Arc;

    /// A mutex that never calls `sched_yield` while it waits: it spins briefly, then sleeps
    /// on a futex until the holder wakes it (std's). parking_lot's mutex yields the CPU
    /// between spins, and when the holder is a thread preempted on the same CPU, the
    /// scheduler (EEVDF) hands that CPU back to the holder for the rest of its slice: one
    /// contended lock then costs the waiter a whole scheduler tick (4 ms here). For locks
    /// a thread outside the runtime contends for with workers (the owned-task list).
    #[derive(Debug, Default)]
    pub struct FutexMutex<T>(std::sync::Mutex<T>);

    impl<T> FutexMutex<T> {
        /// A mutex holding `value`.
        pub const fn new(value: T) -> Self {
            FutexMutex(std::sync::Mutex::new(value))
        }
        /// Locks; a poisoned lock is taken anyway (the data it guards stays consistent
        /// at every unwind point: no code under it panics).
        #[inline]
        pub fn lock(&self) -> std::sync::MutexGuard<'_, T> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }

    /// A `parking_lot` condition variable.
    #[derive(Debug, Default)]
    pub struct Condvar(parking_lot::Condvar);

    impl Condvar {
        /// A condition variable nobody waits on.
        pub fn new() -> Self {
            Condvar(parking_lot::Condvar::new())
        }
        /// Releases the guard's lock, waits for a notification, takes the lock again.
        pub fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            self.0.wait(guard);
        }
        /// Wakes one waiter, if any.
        pub fn notify_one(&self) {
            self.0.notify_one();
        }
    }

    /// An `UnsafeCell` with loom's closure-based access API.
    #[derive(Debug)]
    pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        /// A cell holding `value`.
        pub const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }
        /// Runs `f` with a pointer for reading.
        #[inline(always)]
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }
        /// Runs `f` with a pointer for writing.
        #[inline(always)]
        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[cfg(weft_loom)]
mod imp {
    /// Atomics: std's, or loom's under `--cfg weft_loom`.
    pub mod atomic {
        pub use loom::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
        };
    }
    pub use loom::cell::UnsafeCell;
    pub use loom::sync::Arc;
    /// Under loom, one mutex type serves both.
    pub use Mutex as FutexMutex;

    /// loom's mutex behind parking_lot's API.
    #[derive(Debug)]
    pub struct Mutex<T>(loom::sync::Mutex<T>);
    /// The guard of a locked [`Mutex`].
    pub type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        /// A mutex holding `value`.
        pub fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }
        /// Locks, waiting for the holder.
        pub fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
        /// Locks if nobody holds the lock.
        pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok()
        }
    }

    /// loom's condition variable behind parking_lot's API.
    #[derive(Debug)]
    pub struct Condvar(loom::sync::Condvar);

    impl Condvar {
        /// A condition variable nobody waits on.
        pub fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }
        /// Releases the guard's lock, waits for a notification, takes the lock again.
        pub fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            // loom's wait takes the guard by value; swap it through a raw read/write.
            // SAFETY: `guard` is valid; we move it out, hand it to `wait`, and write the
            // returned guard back before anyone can observe the moved-from place.
            unsafe {
                let g = std::ptr::read(guard);
                let g = self.0.wait(g).unwrap();
                std::ptr::write(guard, g);
            }
        }
        /// Wakes one waiter, if any.
        pub fn notify_one(&self) {
            self.0.notify_one();
        }
    }
}

pub use imp::*;

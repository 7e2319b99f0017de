//! Synchronisation primitives, swapped for loom's when built with `--cfg weft_loom`.
//!
//! Every atomic protocol of the executor (task state, idle/parking, the LIFO slot) is
//! written against this module, so the same code runs in production and under the loom
//! model checker. parking_lot and std are used normally; loom's types stand in for them in
//! model runs, behind thin wrappers that give both the same API.

#[cfg(not(weft_loom))]
mod imp {
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{fence, AtomicPtr, AtomicUsize};
    }

    /// A `parking_lot` mutex; `lock` returns the guard directly.
    pub(crate) type Mutex<T> = parking_lot::Mutex<T>;
    pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;

    /// A mutex that never calls `sched_yield` while it waits: it spins briefly, then sleeps
    /// on a futex until the holder wakes it (std's). parking_lot's mutex yields the CPU
    /// between spins, and when the holder is a thread preempted on the same CPU, the
    /// scheduler (EEVDF) hands that CPU back to the holder for the rest of its slice: one
    /// contended lock then costs the waiter a whole scheduler tick (4 ms here). Used where
    /// a thread outside the runtime contends with workers (the owned-task list).
    #[derive(Debug, Default)]
    pub(crate) struct FutexMutex<T>(std::sync::Mutex<T>);

    impl<T> FutexMutex<T> {
        pub(crate) const fn new(value: T) -> Self {
            FutexMutex(std::sync::Mutex::new(value))
        }
        /// Locks; a poisoned lock is taken anyway (the data it guards stays consistent
        /// at every unwind point: no code under it panics).
        #[inline]
        pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, T> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }

    /// A `parking_lot` condition variable.
    #[derive(Debug, Default)]
    pub(crate) struct Condvar(parking_lot::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Condvar(parking_lot::Condvar::new())
        }
        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            self.0.wait(guard);
        }
        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
    }

    /// An `UnsafeCell` with loom's closure-based access API.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }

    pub(crate) mod deque {
        pub(crate) use crossbeam_deque::{Injector, Steal, Stealer, Worker};
    }
}

#[cfg(weft_loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{fence, AtomicPtr, AtomicUsize};
    }
    pub(crate) use loom::sync::Arc;
    /// Under loom, one mutex type serves both.
    pub(crate) use Mutex as FutexMutex;

    /// loom's mutex behind parking_lot's API.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);
    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

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

    /// loom's condition variable behind parking_lot's API.
    #[derive(Debug)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }
        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            // loom's wait takes the guard by value; swap it through a raw read/write.
            // SAFETY: `guard` is valid; we move it out, hand it to `wait`, and write the
            // returned guard back before anyone can observe the moved-from place.
            unsafe {
                let g = std::ptr::read(guard);
                let g = self.0.wait(g).unwrap();
                std::ptr::write(guard, g);
            }
        }
        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
    }

    pub(crate) mod deque {
        //! A loom-backed stand-in for the parts of crossbeam-deque the executor uses:
        //! same names and semantics, a mutex-protected `VecDeque` inside.
        use super::{Arc, Mutex};
        use std::collections::VecDeque;

        /// Result of a steal.
        #[derive(Debug)]
        pub(crate) enum Steal<T> {
            Empty,
            Success(T),
            #[allow(dead_code)]
            Retry,
        }

        impl<T> Steal<T> {
            pub(crate) fn success(self) -> Option<T> {
                match self {
                    Steal::Success(t) => Some(t),
                    _ => None,
                }
            }
            pub(crate) fn is_retry(&self) -> bool {
                matches!(self, Steal::Retry)
            }
        }

        #[derive(Debug)]
        pub(crate) struct Worker<T>(Arc<Mutex<VecDeque<T>>>);
        #[derive(Debug)]
        pub(crate) struct Stealer<T>(Arc<Mutex<VecDeque<T>>>);
        impl<T> Clone for Stealer<T> {
            fn clone(&self) -> Self {
                Stealer(self.0.clone())
            }
        }
        #[derive(Debug)]
        pub(crate) struct Injector<T>(Mutex<VecDeque<T>>);

        impl<T> Worker<T> {
            pub(crate) fn new_fifo() -> Self {
                Worker(Arc::new(Mutex::new(VecDeque::new())))
            }
            pub(crate) fn stealer(&self) -> Stealer<T> {
                Stealer(self.0.clone())
            }
            pub(crate) fn push(&self, t: T) {
                self.0.lock().push_back(t)
            }
            pub(crate) fn pop(&self) -> Option<T> {
                self.0.lock().pop_front()
            }
            pub(crate) fn len(&self) -> usize {
                self.0.lock().len()
            }
            pub(crate) fn is_empty(&self) -> bool {
                self.0.lock().is_empty()
            }
        }
        impl<T> Stealer<T> {
            pub(crate) fn is_empty(&self) -> bool {
                self.0.lock().is_empty()
            }
            pub(crate) fn len(&self) -> usize {
                self.0.lock().len()
            }
            pub(crate) fn steal_batch_with_limit_and_pop(
                &self,
                dest: &Worker<T>,
                limit: usize,
            ) -> Steal<T> {
                // Like crossbeam: a thief takes about half.
                take_batch(&self.0, dest, |len| (len / 2).min(limit.saturating_sub(1)))
            }
        }
        impl<T> Injector<T> {
            pub(crate) fn new() -> Self {
                Injector(Mutex::new(VecDeque::new()))
            }
            pub(crate) fn push(&self, t: T) {
                self.0.lock().push_back(t)
            }
            pub(crate) fn is_empty(&self) -> bool {
                self.0.lock().is_empty()
            }
            pub(crate) fn len(&self) -> usize {
                self.0.lock().len()
            }
            pub(crate) fn steal(&self) -> Steal<T> {
                match self.0.lock().pop_front() {
                    Some(t) => Steal::Success(t),
                    None => Steal::Empty,
                }
            }
            pub(crate) fn steal_batch_with_limit_and_pop(
                &self,
                dest: &Worker<T>,
                limit: usize,
            ) -> Steal<T> {
                take_batch(&self.0, dest, |len| len.min(limit.saturating_sub(1)))
            }
            pub(crate) fn steal_batch_with_limit(
                &self,
                dest: &Worker<T>,
                limit: usize,
            ) -> Steal<()> {
                let mut src = self.0.lock();
                if src.is_empty() {
                    return Steal::Empty;
                }
                let n = src.len().min(limit);
                let moved: Vec<T> = src.drain(..n).collect();
                drop(src);
                dest.0.lock().extend(moved);
                Steal::Success(())
            }
        }

        /// Pops the first task of `src` to return, and moves `count(what is left)` more
        /// into `dest` (one lock at a time, as crossbeam never holds two).
        fn take_batch<T>(
            src: &Mutex<VecDeque<T>>,
            dest: &Worker<T>,
            count: impl FnOnce(usize) -> usize,
        ) -> Steal<T> {
            let mut src = src.lock();
            let Some(first) = src.pop_front() else {
                return Steal::Empty;
            };
            let n = count(src.len());
            let moved: Vec<T> = src.drain(..n).collect();
            drop(src);
            dest.0.lock().extend(moved);
            Steal::Success(first)
        }
    }
}

pub(crate) use imp::*;

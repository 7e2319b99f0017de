//! Synchronisation primitives, swapped for loom's when built with `--cfg weft_loom`.
//!
//! Every atomic protocol of the executor (task state, idle/parking, the LIFO slot) is
//! written against this module, so the same code runs in production and under the loom
//! model checker. The locks, atomics and cells are the shim shared by every weft crate
//! (`weft-sync`); only the work-stealing queues, which no other crate uses, have their
//! stand-in here.

pub(crate) use weft_sync::atomic;
#[cfg(weft_loom)]
pub(crate) use weft_sync::Arc;
pub(crate) use weft_sync::{Condvar, FutexMutex, Mutex, UnsafeCell};

/// crossbeam-deque's queues, or a loom-backed stand-in with the same API.
#[cfg(not(weft_loom))]
pub(crate) mod deque {
    pub(crate) use crossbeam_deque::{Injector, Steal, Stealer, Worker};
}

#[cfg(weft_loom)]
pub(crate) mod deque {
    //! A loom-backed stand-in for the parts of crossbeam-deque the executor uses:
    //! same names and semantics, a mutex-protected `VecDeque` inside.
    use std::collections::VecDeque;
    use weft_sync::{Arc, Mutex};

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
        pub(crate) fn steal_batch_with_limit(&self, dest: &Worker<T>, limit: usize) -> Steal<()> {
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

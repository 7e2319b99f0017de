//! The LIFO slot: one task a worker will run next, which other workers may take.
//!
//! The task a worker most recently spawned or woke goes here, so a message passed from
//! one task to the next is handled while its data is still in cache. Unlike a plain field
//! of the worker, the slot is an atomic pointer: the owner fills and empties it with
//! `swap`, and an idle worker can take the task out with a compare-and-swap (`take_if`).
//! So if the owner's current poll blocks its thread, the task in the slot is not
//! stranded: a searching (or watching) worker that sees the same task sitting there
//! across two looks takes it.

use crate::sync::atomic::AtomicPtr;
use crate::task::Notified;
use std::ptr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};

pub(crate) struct LifoSlot(AtomicPtr<crate::task::cell::Header>);

impl LifoSlot {
    pub(crate) fn new() -> LifoSlot {
        LifoSlot(AtomicPtr::new(ptr::null_mut()))
    }

    /// Puts `task` in the slot; returns the task it displaced, if any.
    pub(crate) fn put(&self, task: Notified) -> Option<Notified> {
        let prev = self.0.swap(task.into_raw().as_ptr(), AcqRel);
        ptr::NonNull::new(prev).map(Notified::from_raw)
    }

    /// Takes the task out, if there is one: the owner, and shutdown. (Thieves use
    /// `take_if`.)
    pub(crate) fn take(&self) -> Option<Notified> {
        if self.0.load(Relaxed).is_null() {
            return None;
        }
        let prev = self.0.swap(ptr::null_mut(), AcqRel);
        ptr::NonNull::new(prev).map(Notified::from_raw)
    }

    /// Takes the task out only if it is `seen`, the one observed at an earlier look.
    pub(crate) fn take_if(&self, seen: *mut crate::task::cell::Header) -> Option<Notified> {
        if seen.is_null() {
            return None;
        }
        self.0
            .compare_exchange(seen, ptr::null_mut(), AcqRel, Relaxed)
            .ok()
            .and_then(ptr::NonNull::new)
            .map(Notified::from_raw)
    }

    /// The task now in the slot, for staleness checks; never dereferenced.
    pub(crate) fn peek(&self) -> *mut crate::task::cell::Header {
        self.0.load(Acquire)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.load(Relaxed).is_null()
    }
}

impl Drop for LifoSlot {
    fn drop(&mut self) {
        drop(self.take());
    }
}

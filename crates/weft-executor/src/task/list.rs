//! The runtime's list of live tasks, so shutdown can find and drop every one of them,
//! including tasks that sit idle waiting on a waker nobody will ever call.
//!
//! Each shard, behind its own mutex, is a slab: a vector of task pointers with a free list
//! of its empty slots, and each task's header remembers its slot. Linking or unlinking a
//! task touches the shard and that task, never a neighbour: with an intrusive linked list
//! every insert wrote the previous head's links, a line that often sat in the cache of
//! the worker running that task (measured: a cache miss per spawn from outside the
//! runtime). A task stays in the shard it was spawned into: a worker spawns into its own
//! shard, so the lock is uncontended unless the task completes on another worker.
//!
//! # Batches instead of a lock per task
//!
//! Taking a shard's lock once to link a task and once to unlink it costs four atomic
//! read-modify-writes per task, a fifth of a short task's whole life. So workers batch:
//!
//! - A task spawned on a worker is first *pending*: it sits in that worker's batch, not
//!   in the list, and the batch is linked under one lock when it is full, at maintenance,
//!   before the worker parks and when it stops (`flush_pending` in `worker.rs`). A task
//!   that finishes while pending is never linked at all: a chain of tasks each spawning
//!   the next takes the lock once per batch, not twice per task.
//! - A task finished on another worker is unlinked in batches by that worker
//!   (`defer_release`).
//!
//! Shutdown joins the workers first, and each flushes its batch on the way out, so every
//! task is in the list when the list is closed. A worker that drops the runtime from
//! inside a task flushes its own batch before the list is closed (`Runtime::shutdown`);
//! a task spawned into a closed shard is shut down by the flush.
//!
//! A header's `membership` is one of the constants below. It is written under the shard's
//! lock, with one exception: the worker that owns a pending task's batch may mark it
//! done without the lock, when it is that worker that finished it (`finish_pending`).
//! Nobody else touches a pending task's membership then: another worker only does so
//! when *it* finished the task, and a task finishes once.

use super::cell::Header;
use crate::sync::FutexMutex as Mutex;
use crossbeam_utils::CachePadded;
use std::collections::VecDeque;
use std::ptr::NonNull;

/// Not in the list, and not going to be: never linked, unlinked, or shut down.
pub(crate) const UNLINKED: u8 = 0;
/// In the slab of its shard, at the slot its header names.
pub(crate) const LINKED: u8 = 1;
/// Spawned on the worker owning its shard and held in that worker's batch, which holds
/// the list's reference; linked at the batch's flush.
pub(crate) const PENDING: u8 = 2;
/// Finished while pending: the batch's flush drops the list's reference instead of
/// linking it.
pub(crate) const PENDING_DONE: u8 = 3;

/// A shard whose slab grew past this many slots frees it when it empties.
const SHRINK_ABOVE: usize = 1024;

pub(crate) struct OwnedTasks {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
}

struct Shard {
    /// Slot `i` holds the task whose header says `slot == i`, or nothing.
    slots: Vec<Option<NonNull<Header>>>,
    /// The empty slots, in the order they were emptied, reused oldest first: the slot a
    /// worker emptied a moment ago sits on a cache line that worker just wrote, and a
    /// spawning thread reusing it at once would take a cache miss per spawn. (Measured
    /// with 10k spawns from outside while every worker is busy: 8 ms with newest-first
    /// reuse, 4 ms with oldest-first.)
    free: VecDeque<u32>,
    len: usize,
    closed: bool,
}

// SAFETY: the raw pointers are counted references to Send + Sync headers; their `slot`
// fields are only touched under this shard's mutex.
unsafe impl Send for Shard {}

impl OwnedTasks {
    pub(crate) fn new(shards: usize) -> OwnedTasks {
        let shards = (0..shards.max(1))
            .map(|_| {
                CachePadded::new(Mutex::new(Shard {
                    slots: Vec::new(),
                    free: VecDeque::new(),
                    len: 0,
                    closed: false,
                }))
            })
            .collect();
        OwnedTasks { shards }
    }

    /// Links a new task (taking over its list reference). Returns false if the list is
    /// closed (shutdown began): the caller must then shut the task down itself.
    pub(crate) fn insert(&self, ptr: NonNull<Header>) -> bool {
        // SAFETY: the caller holds the list reference of a live task.
        let header = unsafe { ptr.as_ref() };
        let mut shard = self.shards[header.shard as usize].lock();
        if shard.closed {
            return false;
        }
        shard.link(ptr);
        true
    }

    /// Unlinks a task if it is linked. Returns true if it was.
    pub(crate) fn remove(&self, ptr: NonNull<Header>) -> bool {
        // SAFETY: the caller holds a reference.
        let shard = unsafe { ptr.as_ref() }.shard as usize;
        self.shards[shard].lock().unlink_if_linked(ptr)
    }

    /// Unlinks a batch of tasks of one shard under one lock. Keeps in `tasks` only those
    /// that were linked (whose list references the caller must now drop).
    pub(crate) fn remove_many(&self, shard: usize, tasks: &mut Vec<NonNull<Header>>) {
        let mut shard = self.shards[shard].lock();
        tasks.retain(|&ptr| shard.unlink_if_linked(ptr));
    }

    /// Links a worker's batch of pending tasks of `shard` under one lock. Keeps in
    /// `batch` the tasks whose list reference the caller must now give up: those that
    /// finished while pending. If the shard is closed (shutdown), none is linked, all are
    /// kept, and it returns true: the caller then shuts them down (`shutdown_task` also
    /// just drops the reference of a finished one).
    pub(crate) fn link_pending(&self, shard: usize, batch: &mut Vec<NonNull<Header>>) -> bool {
        let mut shard = self.shards[shard].lock();
        if shard.closed {
            for &ptr in batch.iter() {
                // SAFETY: the batch holds the list's reference; shard lock held.
                unsafe { ptr.as_ref() }
                    .membership
                    .with_mut(|l| unsafe { *l = UNLINKED });
            }
            return true;
        }
        batch.retain(|&ptr| {
            // SAFETY: as above.
            let header = unsafe { ptr.as_ref() };
            // SAFETY: shard lock held.
            match header.membership.with(|l| unsafe { *l }) {
                PENDING => {
                    shard.link(ptr);
                    false
                }
                _ => true, // PENDING_DONE
            }
        });
        false
    }

    /// Marks a task just allocated, which no other thread has seen yet, as pending.
    ///
    /// # Safety
    ///
    /// The caller holds the list's reference, and the task is not yet shared with any
    /// other thread (not scheduled, no waker out).
    pub(crate) unsafe fn mark_pending(ptr: NonNull<Header>) {
        // SAFETY: nobody else can reach the task yet.
        unsafe { ptr.as_ref() }
            .membership
            .with_mut(|l| unsafe { *l = PENDING });
    }

    /// Marks a pending task that its worker took out of its batch as no longer pending:
    /// the caller drops the list's reference.
    ///
    /// # Safety
    ///
    /// As for [`finish_if_pending`](Self::finish_if_pending), and the task was pending.
    pub(crate) unsafe fn forget_pending(ptr: NonNull<Header>) {
        // SAFETY: by the contract, no other thread reads or writes it now.
        unsafe { ptr.as_ref() }
            .membership
            .with_mut(|l| unsafe { *l = UNLINKED });
    }

    /// Marks a pending task finished, without the lock, if it is pending; returns
    /// whether it was (its batch then drops the list's reference).
    ///
    /// # Safety
    ///
    /// Only the worker owning the task's shard may call it, for a task it is finishing
    /// itself (see the module comment), holding a reference.
    pub(crate) unsafe fn finish_if_pending(ptr: NonNull<Header>) -> bool {
        // SAFETY: the caller holds a reference; by the contract above, no other thread
        // reads or writes this task's membership now.
        let header = unsafe { ptr.as_ref() };
        // SAFETY: as above.
        let pending = header.membership.with(|l| unsafe { *l }) == PENDING;
        if pending {
            // SAFETY: as above.
            header.membership.with_mut(|l| unsafe { *l = PENDING_DONE });
        }
        pending
    }

    pub(crate) fn num_shards(&self) -> usize {
        self.shards.len()
    }

    /// Closes every shard (later inserts fail) and returns all tasks that were linked,
    /// with their list references.
    pub(crate) fn close_and_take_all(&self) -> Vec<NonNull<Header>> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            shard.closed = true;
            for ptr in std::mem::take(&mut shard.slots).into_iter().flatten() {
                // SAFETY: linked tasks are alive; shard lock held.
                unsafe { ptr.as_ref() }
                    .membership
                    .with_mut(|l| unsafe { *l = UNLINKED });
                all.push(ptr);
            }
            shard.free = VecDeque::new();
            shard.len = 0;
        }
        all
    }

    /// Number of tasks alive (linked), summed over the shards.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len).sum()
    }
}

impl Shard {
    /// With this shard's lock held (`&mut self`): puts `ptr` in a free slot.
    fn link(&mut self, ptr: NonNull<Header>) {
        // SAFETY: the caller holds the list reference of a live task of this shard.
        let header = unsafe { ptr.as_ref() };
        let slot = match self.free.pop_front() {
            Some(i) => {
                self.slots[i as usize] = Some(ptr);
                i
            }
            None => {
                let i = u32::try_from(self.slots.len()).expect("more than 4 billion tasks");
                self.slots.push(Some(ptr));
                i
            }
        };
        // SAFETY: we hold the shard lock, which guards the slot fields of its tasks.
        header.slot.with_mut(|l| unsafe { *l = slot });
        // SAFETY: shard lock held.
        header.membership.with_mut(|l| unsafe { *l = LINKED });
        self.len += 1;
    }

    /// With this shard's lock held (`&mut self`), for a task that finished: unlinks it if
    /// it is linked here (true: the caller drops the list's reference), or marks it done
    /// if it is still pending (its batch's flush drops the reference).
    fn unlink_if_linked(&mut self, ptr: NonNull<Header>) -> bool {
        // SAFETY: the caller holds a reference to the task, and the shard lock.
        let header = unsafe { ptr.as_ref() };
        // SAFETY: shard lock held.
        match header.membership.with(|l| unsafe { *l }) {
            LINKED => {
                // SAFETY: shard lock held.
                let slot = header.slot.with(|l| unsafe { *l });
                self.slots[slot as usize] = None;
                self.free.push_back(slot);
                // SAFETY: shard lock held.
                header.membership.with_mut(|l| unsafe { *l = UNLINKED });
                self.len -= 1;
                if self.len == 0 && self.slots.len() > SHRINK_ABOVE {
                    // A burst is over: give its memory back.
                    self.slots = Vec::new();
                    self.free = VecDeque::new();
                }
                true
            }
            PENDING => {
                // SAFETY: shard lock held.
                header.membership.with_mut(|l| unsafe { *l = PENDING_DONE });
                false
            }
            _ => false,
        }
    }
}

//! The runtime's list of live tasks, so shutdown can find and drop every one of them,
//! including tasks that sit idle waiting on a waker nobody will ever call.
//!
//! Each shard, behind its own mutex, is a slab: a vector of task pointers with a free list
//! of its empty slots, and each task's header remembers its slot. Linking or unlinking a
//! task touches the shard and that task, never a neighbour: with an intrusive linked list
//! every insert wrote the previous head's links, a line that often sat in the cache of
//! the worker running that task: a cache miss per spawn from outside the runtime. A task stays in the shard it was spawned into: a worker spawns into its own
//! shard, so the lock is uncontended unless the task completes on another worker.
//!
//! # Batches instead of a lock per task
//!
//! Taking a shard's lock once to link a task and once to unlink it costs four atomic
//! read-modify-writes per task, a fifth of a short task's whole life. So each worker keeps
//! [`Batches`]:
//!
//! - A task spawned on a worker is first *pending*: it sits in that worker's batch, not
//!   in the list, and the batch is linked under one lock when it is full and whenever the
//!   worker settles (`Batches::settle`: at maintenance, before it parks, when it stops). A
//!   task that finishes while pending is never linked at all: a chain of tasks each
//!   spawning the next takes the lock once per batch, not twice per task.
//! - A task of another worker's shard finished here is *released*: kept in a batch per
//!   shard and unlinked under one lock when that batch is full or the worker settles. A
//!   released pointer holds no reference of its own: the list's reference (in the list,
//!   or in the owner's pending batch) keeps the task alive until the unlinking.
//!
//! The owner's flush and another worker's release of the same pending task meet under the
//! shard's lock, in either order: the release marks it `PENDING_DONE` and the flush drops
//! its reference, or the flush links it and the release unlinks it.
//!
//! Shutdown joins the workers first, and each settles on the way out, so every task is in
//! the list, and no released pointer is left, when the list is closed. A worker that drops
//! the runtime from inside a task settles before the list is closed (`Shared::shutdown`);
//! once shutdown began no worker batches (spawns link at once, releases unlink at once).
//! A pending task flushed into a closed shard is shut down by the flush.
//!
//! The loom models in `tests_loom/batches.rs` run these batches and this list against real
//! task cells finishing on another thread, through both shutdown paths.
//!
//! A header's `place` says where the task stands: its slot in the shard's slab while
//! linked, or one of the constants below (slots stop short of them), so the slot and the
//! membership share 4 bytes of the header. It is written under the shard's lock, with one
//! exception: the worker that owns a pending task's batch may mark it done without the
//! lock, when it is that worker that finished it (`finish_if_pending`). Nobody else
//! touches a pending task's place then: another worker only does so when *it* finished
//! the task, and a task finishes once.

use super::cell::Header;
use crate::sync::FutexMutex as Mutex;
use crossbeam_utils::CachePadded;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// Not in the list, and not going to be: never linked, unlinked, or shut down.
pub(crate) const UNLINKED: u32 = u32::MAX;
/// Spawned on the worker owning its shard and held in that worker's batch, which holds
/// the list's reference; linked at the batch's flush.
pub(crate) const PENDING: u32 = u32::MAX - 1;
/// Finished while pending: the batch's flush drops the list's reference instead of
/// linking it.
pub(crate) const PENDING_DONE: u32 = u32::MAX - 2;
/// Any place below this is a slot: the task is linked there.
const SLOTS: u32 = PENDING_DONE;

/// A shard whose slab grew past this many slots frees it when it empties.
const SHRINK_ABOVE: usize = 1024;

/// Finished tasks of another worker's shard kept before unlinking them in one batch.
/// (Small under loom, so the models reach the full-batch flush.)
#[cfg(not(weft_loom))]
const RELEASE_BATCH: usize = 64;
#[cfg(weft_loom)]
const RELEASE_BATCH: usize = 2;
/// Tasks spawned here kept before linking them into the owned list in one batch.
#[cfg(not(weft_loom))]
const PENDING_BATCH: usize = 64;
#[cfg(weft_loom)]
const PENDING_BATCH: usize = 4;
/// How far from the end of the pending batch a task finishing here is looked for: a
/// chain of tasks each spawning the next finds its own task there. (One under loom, so
/// the models reach both the take-out and `finish_if_pending`.)
#[cfg(not(weft_loom))]
const RECENT: usize = 4;
#[cfg(weft_loom)]
const RECENT: usize = 1;

pub(crate) struct OwnedTasks {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
}

struct Shard {
    /// Slot `i` holds the task whose header says `slot == i`, or nothing.
    slots: Vec<Option<NonNull<Header>>>,
    /// The empty slots, in the order they were emptied, reused oldest first: the slot a
    /// worker emptied a moment ago sits on a cache line that worker just wrote, and a
    /// spawning thread reusing it at once would take a cache miss per spawn (measured:
    /// docs/measuring.md).
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
        let mut shard = self.shards[header.spawned.shard() as usize].lock();
        if shard.closed {
            return false;
        }
        shard.link(ptr);
        true
    }

    /// Unlinks a task if it is linked. Returns true if it was.
    pub(crate) fn remove(&self, ptr: NonNull<Header>) -> bool {
        // SAFETY: the caller holds a reference.
        let shard = Header::shard_of(ptr);
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
                    .place
                    .with_mut(|l| unsafe { *l = UNLINKED });
            }
            return true;
        }
        batch.retain(|&ptr| {
            // SAFETY: each entry of the batch holds the list's reference: the task is alive.
            let header = unsafe { ptr.as_ref() };
            // SAFETY: shard lock held.
            match header.place.with(|l| unsafe { *l }) {
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
            .place
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
            .place
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
        // reads or writes this task's place now.
        let header = unsafe { ptr.as_ref() };
        // SAFETY: by the contract above, no other thread writes this place now: a read
        // without the lock cannot race.
        let pending = header.place.with(|l| unsafe { *l }) == PENDING;
        if pending {
            // SAFETY: a pending task's place is written by its owner (we are) or under the
            // lock by a worker that finished it; we are the one finishing it, so nobody
            // else writes or reads it now.
            header.place.with_mut(|l| unsafe { *l = PENDING_DONE });
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
                    .place
                    .with_mut(|l| unsafe { *l = UNLINKED });
                all.push(ptr);
            }
            shard.free = VecDeque::new();
            shard.len = 0;
        }
        all
    }

    /// Calls `f` on the header of every linked task, one shard's lock at a time, and
    /// collects what it returns. `f` runs under the lock: it must only read the header
    /// (no waker, no user value: see the guide's rule on locks). Tasks still pending in a
    /// worker's batch are not linked yet, so not seen.
    pub(crate) fn inspect<T>(&self, mut f: impl FnMut(&Header) -> T) -> Vec<T> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for ptr in shard.slots.iter().flatten() {
                // SAFETY: a linked task is alive: the list holds a reference, which only
                // an unlink (under this lock, which we hold) gives up.
                out.push(f(unsafe { ptr.as_ref() }));
            }
        }
        out
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
                let i = u32::try_from(self.slots.len())
                    .ok()
                    .filter(|&i| i < SLOTS)
                    .expect("more than 4 billion tasks in one shard of the owned list");
                self.slots.push(Some(ptr));
                i
            }
        };
        // SAFETY: we hold the shard lock, which guards the places of its tasks.
        header.place.with_mut(|l| unsafe { *l = slot });
        self.len += 1;
    }

    /// With this shard's lock held (`&mut self`), for a task that finished: unlinks it if
    /// it is linked here (true: the caller drops the list's reference), or marks it done
    /// if it is still pending (its batch's flush drops the reference).
    fn unlink_if_linked(&mut self, ptr: NonNull<Header>) -> bool {
        // SAFETY: the caller holds a reference to the task, and the shard lock.
        let header = unsafe { ptr.as_ref() };
        // SAFETY: shard lock held.
        match header.place.with(|l| unsafe { *l }) {
            slot if slot < SLOTS => {
                self.slots[slot as usize] = None;
                self.free.push_back(slot);
                // SAFETY: shard lock held.
                header.place.with_mut(|l| unsafe { *l = UNLINKED });
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
                header.place.with_mut(|l| unsafe { *l = PENDING_DONE });
                false
            }
            _ => false,
        }
    }
}

/// What a worker's [`Batches`] work against: the list, and the two gauges through which
/// other threads read how many tasks the batches hold (`RuntimeMetrics::alive_tasks`
/// adds the pending ones and subtracts the released ones). Only the owning worker writes
/// the gauges, so each change is a relaxed load and store, no read-modify-write.
#[derive(Clone, Copy)]
pub(crate) struct BatchSite<'a> {
    pub(crate) list: &'a OwnedTasks,
    /// Tasks in the pending batch.
    pub(crate) pending: &'a AtomicU64,
    /// Tasks in the released batches.
    pub(crate) deferred: &'a AtomicU64,
}

/// One worker's batches (see the module comment). Only that worker's thread touches them;
/// each entry is a task pointer.
pub(crate) struct Batches {
    /// The worker's own shard of the list, which its spawns go into.
    shard: usize,
    /// Tasks spawned here and not linked yet; each entry holds the list's reference, and
    /// its task's place is `PENDING` or `PENDING_DONE`.
    pending: RefCell<Vec<NonNull<Header>>>,
    /// Per shard, tasks of that shard finished here and not unlinked yet; an entry holds
    /// no reference (see the module comment).
    released: RefCell<Box<[Vec<NonNull<Header>>]>>,
}

impl Batches {
    /// The batches of the worker owning shard `shard` of a list of `shards` shards.
    pub(crate) fn new(shard: usize, shards: usize) -> Batches {
        Batches {
            shard,
            pending: RefCell::new(Vec::with_capacity(PENDING_BATCH)),
            released: RefCell::new((0..shards).map(|_| Vec::new()).collect()),
        }
    }

    /// Takes the list's reference of a task just spawned here, into our shard, into the
    /// pending batch.
    ///
    /// # Safety
    ///
    /// As for [`OwnedTasks::mark_pending`], and the task belongs to our shard.
    pub(crate) unsafe fn add_pending(&self, site: BatchSite<'_>, task: NonNull<Header>) {
        debug_assert_eq!(Header::shard_of(task), self.shard);
        // SAFETY: the caller's guarantee.
        unsafe { OwnedTasks::mark_pending(task) };
        let full = {
            let mut pending = self.pending.borrow_mut();
            pending.push(task);
            pending.len() >= PENDING_BATCH
        };
        site.pending.store(site.pending.load(Relaxed) + 1, Relaxed);
        if full {
            self.flush_pending(site);
        }
    }

    /// A task finished on this worker, before shutdown began. Returns true if the caller
    /// drops the list's reference now, false if a flush (ours or its owner's) will.
    ///
    /// # Safety
    ///
    /// The caller finishes the task itself and holds a reference.
    #[inline]
    pub(crate) unsafe fn release(&self, site: BatchSite<'_>, task: NonNull<Header>) -> bool {
        let shard = Header::shard_of(task);
        if shard == self.shard {
            self.release_own(site, task)
        } else {
            // Batch the unlinking, so workers do not fight over each other's list locks
            // once per task.
            self.defer_release(site, task, shard);
            false
        }
    }

    /// A task of our own shard finished here. True if the caller drops the list's
    /// reference: the task was linked and is unlinked now, or was pending among the last
    /// few of the batch and leaves it; false if our pending flush will.
    fn release_own(&self, site: BatchSite<'_>, task: NonNull<Header>) -> bool {
        {
            // A task spawned moments ago (a chain, each task spawning the next) is near
            // the end of the batch: take it out, and the list's reference goes now, so
            // its memory is reused at once instead of when the batch is flushed.
            let mut pending = self.pending.borrow_mut();
            let from = pending.len().saturating_sub(RECENT);
            if let Some(i) = pending[from..].iter().rposition(|&p| p == task) {
                pending.swap_remove(from + i);
                // SAFETY: our shard, and we are finishing the task ourselves.
                unsafe { OwnedTasks::forget_pending(task) };
                site.pending.store(site.pending.load(Relaxed) - 1, Relaxed);
                return true;
            }
        }
        // SAFETY: our shard, and we are finishing the task ourselves.
        if unsafe { OwnedTasks::finish_if_pending(task) } {
            site.pending.store(site.pending.load(Relaxed) - 1, Relaxed);
            return false;
        }
        site.list.remove(task)
    }

    /// Keeps a finished task of another shard for batched unlinking.
    fn defer_release(&self, site: BatchSite<'_>, task: NonNull<Header>, shard: usize) {
        let full = {
            let mut released = self.released.borrow_mut();
            released[shard].push(task);
            released[shard].len() >= RELEASE_BATCH
        };
        site.deferred
            .store(site.deferred.load(Relaxed) + 1, Relaxed);
        if full {
            self.flush_shard(site, shard);
        }
    }

    /// Empties every batch: unlinks the released tasks of every shard, then links the
    /// pending ones. Every flush site calls this (maintenance, park, the worker's exit,
    /// `Shared::shutdown` on a worker). Released first: unlinking may free a cell, and
    /// the output's destructor may spawn, into the pending batch flushed right after.
    /// (Flushing pending tasks never adds a release: it drops references and, in a closed
    /// list, cancels tasks, whose release then goes straight to the list.)
    pub(crate) fn settle(&self, site: BatchSite<'_>) {
        for shard in 0..site.list.num_shards() {
            self.flush_shard(site, shard);
        }
        self.flush_pending(site);
    }

    /// Links the pending batch into our shard under one lock, and gives up the list's
    /// references of the tasks that finished meanwhile (or, after shutdown closed the
    /// list, shuts every one of them down).
    fn flush_pending(&self, site: BatchSite<'_>) {
        if self.pending.borrow().is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut *self.pending.borrow_mut());
        let closed = site.list.link_pending(self.shard, &mut batch);
        site.pending.store(0, Relaxed);
        // Outside any borrow: freeing a cell runs the output's destructor, shutting a task
        // down drops its future; either may spawn.
        for &task in &batch {
            if closed {
                super::shutdown_task(task);
            } else {
                Header::ref_dec(task);
            }
        }
        batch.clear();
        let mut pending = self.pending.borrow_mut();
        if pending.is_empty() {
            *pending = batch; // keep the allocation
        }
    }

    /// Unlinks the released batch of `shard` under one lock, and drops the list's
    /// references of those that were linked (the others were pending: their owner's
    /// flush drops them).
    fn flush_shard(&self, site: BatchSite<'_>, shard: usize) {
        if self.released.borrow()[shard].is_empty() {
            return; // (taking it would throw its capacity away)
        }
        let mut batch = std::mem::take(&mut self.released.borrow_mut()[shard]);
        let n = batch.len() as u64;
        site.list.remove_many(shard, &mut batch);
        site.deferred
            .store(site.deferred.load(Relaxed) - n, Relaxed);
        // Outside any borrow: freeing a cell runs the output's destructor.
        for &task in &batch {
            Header::ref_dec(task);
        }
        batch.clear();
        let mut released = self.released.borrow_mut();
        if released[shard].is_empty() {
            released[shard] = batch; // keep the allocation
        }
    }
}

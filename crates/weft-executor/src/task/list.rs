//! The runtime's list of live tasks, so shutdown can find and drop every one of them,
//! including tasks that sit idle waiting on a waker nobody will ever call.
//!
//! An intrusive doubly linked list (the links live in each task's header, so inserting
//! allocates nothing), split into shards each behind its own mutex. A task stays in the
//! shard it was spawned into: a worker spawns into its own shard, so the lock is
//! uncontended unless the task completes on another worker.

use super::cell::Header;
use crate::sync::Mutex;
use crossbeam_utils::CachePadded;
use std::ptr::NonNull;

pub(crate) struct OwnedTasks {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
}

struct Shard {
    head: Option<NonNull<Header>>,
    len: usize,
    closed: bool,
}

// SAFETY: the raw pointers are counted references to Send + Sync headers; the links they
// reach are only touched under this shard's mutex.
unsafe impl Send for Shard {}

impl OwnedTasks {
    pub(crate) fn new(shards: usize) -> OwnedTasks {
        let shards = (0..shards.max(1))
            .map(|_| {
                CachePadded::new(Mutex::new(Shard {
                    head: None,
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
        let old_head = shard.head;
        // SAFETY: we hold the shard lock, which guards the links of all its tasks.
        header.links.with_mut(|l| unsafe {
            (*l).prev = None;
            (*l).next = old_head;
        });
        // SAFETY: shard lock held.
        header.linked.with_mut(|l| unsafe { *l = true });
        if let Some(old) = old_head {
            // SAFETY: as above; `old` is linked in this shard, so alive.
            unsafe { old.as_ref() }
                .links
                .with_mut(|l| unsafe { (*l).prev = Some(ptr) });
        }
        shard.head = Some(ptr);
        shard.len += 1;
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
            while let Some(ptr) = shard.head {
                // SAFETY: linked tasks are alive; shard lock held.
                let next = unsafe { ptr.as_ref() }.links.with(|l| unsafe { (*l).next });
                shard.unlink(ptr, None, next);
                all.push(ptr);
            }
        }
        all
    }

    /// Number of tasks alive (linked), summed over the shards.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len).sum()
    }
}

impl Shard {
    /// With this shard's lock held (`&mut self`): unlinks `ptr` if it is linked here.
    fn unlink_if_linked(&mut self, ptr: NonNull<Header>) -> bool {
        // SAFETY: the caller holds a reference to the task, and the shard lock.
        let header = unsafe { ptr.as_ref() };
        // SAFETY: shard lock held.
        let linked = header.linked.with(|l| unsafe { *l });
        if linked {
            // SAFETY: shard lock held.
            let (prev, next) = header.links.with(|l| unsafe { ((*l).prev, (*l).next) });
            self.unlink(ptr, prev, next);
        }
        linked
    }

    fn unlink(
        &mut self,
        ptr: NonNull<Header>,
        prev: Option<NonNull<Header>>,
        next: Option<NonNull<Header>>,
    ) {
        // The shard lock is held by our caller (`&mut self` came from its guard), and
        // linked neighbours are alive, so their links are ours to write.
        let set = |p: NonNull<Header>, f: &dyn Fn(&mut super::cell::Links)| {
            // SAFETY: see above.
            unsafe { p.as_ref() }
                .links
                .with_mut(|l| f(unsafe { &mut *l }));
        };
        match prev {
            Some(p) => set(p, &|l| l.next = next),
            None => self.head = next,
        }
        if let Some(n) = next {
            set(n, &|l| l.prev = prev);
        }
        set(ptr, &|l| {
            l.prev = None;
            l.next = None;
        });
        // SAFETY: shard lock held (see above).
        unsafe { ptr.as_ref() }
            .linked
            .with_mut(|l| unsafe { *l = false });
        self.len -= 1;
    }
}

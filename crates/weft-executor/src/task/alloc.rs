//! Per-worker caches of task cells, so spawning a task rarely calls the allocator.
//!
//! Profiles of spawn-heavy loads with two workers spent about a quarter of their time in
//! glibc's malloc and free: tasks are allocated on the worker that spawns them and often
//! freed on another, whose `free` then takes the first thread's arena lock. So each worker
//! keeps free cells itself:
//!
//! - Cells come in *size classes* of 16-byte steps up to `MAX_CACHED` bytes (alignment at
//!   most 16), each 8 bytes short of a multiple of 16: 8, 24, 40, ... 504. glibc's malloc
//!   puts an 8-byte size word before each chunk and rounds chunks up to 16 bytes, so a
//!   request of 16k - 8 bytes fills a 16k-byte chunk exactly, while a request of 16k
//!   takes 16k + 16: with classes at multiples of 16, every cell paid 16 bytes more than
//!   it needed (the idle task of the `compare` benchmark, a 120-byte cell, took 144;
//!   docs/measuring.md). Allocators with power-of-two-ish classes (jemalloc, mimalloc)
//!   round these sizes to the same classes as before. A cell of a class is always
//!   allocated with the class's layout, whoever allocates it, so any cache can hold any
//!   cell of that class. Larger or over-aligned cells go straight to the global
//!   allocator.
//! - [`LocalCache`]: a worker's own free lists, one per class, touched only by its thread:
//!   a spawn pops, a free on that worker pushes, with no atomic operation. At most
//!   `WORKER_CACHE_CELLS` cells per class.
//! - [`RemoteFree`]: per worker, a lock-free stack per class that other threads push the
//!   cells they free onto when their own list is full (or when they are not workers), so
//!   memory flows back to the worker that spawns. Only the owner takes from it, and only
//!   the whole stack at once (a swap with null): a node is never popped singly, so the
//!   ABA problem of a Treiber stack cannot arise. The owner takes it when its own list is
//!   empty, and before parking, when it also trims its lists to `IDLE_CAP` cells per class
//!   and frees the rest. A stack holds at most about `REMOTE_CAP` cells per class
//!   (pushers count; beyond it they free to the allocator), so a burst freed while its
//!   spawner sleeps does not stay cached.
//!
//! A free cell's first 8 bytes hold the next pointer of whichever list it is on.

use crate::sync::atomic::{AtomicPtr, AtomicUsize};
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cell::Cell;
use std::ptr::{self, NonNull};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// Step between size classes (and the largest alignment a cached cell may need).
const GRANULE: usize = 16;
/// How far short of a multiple of `GRANULE` each class's size stops: glibc's chunk
/// header (see the module comment).
const CHUNK_HEADER: usize = 8;
/// The largest cell kept in the caches.
const MAX_CACHED: usize = 512 - CHUNK_HEADER;
/// Number of size classes.
pub(crate) const CLASSES: usize = (MAX_CACHED + CHUNK_HEADER) / GRANULE;
/// Free cells a working worker keeps per class, of cells spawned on workers; a burst that
/// frees more gives them back to the allocator. Large enough for a burst of 10,000 spawns
/// to come back whole, sparing glibc's malloc and free (docs/measuring.md).
pub(crate) const WORKER_CACHE_CELLS: usize = 8192;
/// A cell spawned outside the workers goes onto a worker's list only while that list
/// holds fewer cells than this (whatever their origin); otherwise back to the allocator.
/// Kept small: such cells would otherwise pile up on a busy worker while the spawning
/// thread's malloc could not reuse them (docs/measuring.md).
pub(crate) const FOREIGN_CAP: usize = 256;
/// Free cells a worker keeps per class once it goes to sleep (`trim`): a burst's memory
/// goes back to the allocator when the work is done.
pub(crate) const IDLE_CAP: usize = 256;
/// Cells a remote stack holds per class, about (the count is kept loosely: pushes racing
/// the owner's take may be counted after it).
const REMOTE_CAP: usize = 1024;

/// Where a cell being freed on a worker was spawned.
#[derive(Clone, Copy)]
pub(crate) enum Origin<'a> {
    /// On this worker.
    Here,
    /// On another worker: its remote stack takes the cell when our list is full.
    Worker(&'a RemoteFree),
    /// Outside the workers (see `FOREIGN_CAP`).
    Outside,
}

/// What a free cell holds.
struct FreeNode {
    next: *mut FreeNode,
}

/// The size class a cell of `layout` belongs to, or `None` if it is not cached.
#[inline]
pub(crate) fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > GRANULE || layout.size() > MAX_CACHED || layout.size() == 0 {
        return None;
    }
    Some((layout.size() + CHUNK_HEADER).div_ceil(GRANULE) - 1)
}

/// The layout every cell of `class` is allocated with.
#[inline]
fn class_layout(class: usize) -> Layout {
    // A non-zero size, with the 16-byte alignment every cached cell fits in (a layout's
    // size need not be a multiple of its alignment).
    Layout::from_size_align((class + 1) * GRANULE - CHUNK_HEADER, GRANULE)
        .expect("valid class layout")
}

/// The layout a cell of `layout` is really allocated with: its class's, if it has one.
#[inline]
fn real_layout(layout: Layout) -> Layout {
    class_of(layout).map_or(layout, class_layout)
}

/// Allocates memory for a cell of `layout` from the global allocator (with its class's
/// layout if it has one, so it may later enter any cache).
pub(crate) fn alloc_global(layout: Layout) -> NonNull<u8> {
    let real = real_layout(layout);
    // SAFETY: cell layouts are never zero-sized (the header alone is 40 bytes).
    let p = unsafe { alloc(real) };
    NonNull::new(p).unwrap_or_else(|| handle_alloc_error(real))
}

/// Frees a cell of `layout` to the global allocator.
///
/// # Safety
///
/// `ptr` came from [`alloc_global`] or a cache with the same `layout`, and is not used
/// any more.
pub(crate) unsafe fn free_global(ptr: NonNull<u8>, layout: Layout) {
    // SAFETY: allocated with exactly this real layout (see `alloc_global`).
    unsafe { dealloc(ptr.as_ptr(), real_layout(layout)) }
}

/// One class's list in a [`LocalCache`].
struct List {
    head: Cell<*mut FreeNode>,
    len: Cell<usize>,
}

/// A worker's own free cells, per class. Not `Sync`: only its thread touches it.
pub(crate) struct LocalCache {
    lists: [List; CLASSES],
}

impl LocalCache {
    pub(crate) fn new() -> LocalCache {
        LocalCache {
            lists: std::array::from_fn(|_| List {
                head: Cell::new(ptr::null_mut()),
                len: Cell::new(0),
            }),
        }
    }

    /// Memory for a cell of `layout`: from our list, else from what others gave back to
    /// us (`remote`, our own stack), else from the global allocator.
    pub(crate) fn alloc(&self, layout: Layout, remote: &RemoteFree) -> NonNull<u8> {
        let Some(class) = class_of(layout) else {
            return alloc_global(layout);
        };
        let list = &self.lists[class];
        if list.head.get().is_null() {
            self.refill(class, remote);
        }
        let head = list.head.get();
        match NonNull::new(head) {
            Some(node) => {
                // SAFETY: nodes on our list are free cells only we can reach.
                list.head.set(unsafe { (*head).next });
                list.len.set(list.len.get() - 1);
                node.cast()
            }
            None => alloc_global(layout),
        }
    }

    /// Frees a cell of `layout` spawned at `origin`: onto our list if it has room
    /// (`WORKER_CACHE_CELLS`, or `FOREIGN_CAP` for a cell spawned outside the workers), else onto
    /// the stack of the other worker that spawned it, else to the global allocator.
    ///
    /// # Safety
    ///
    /// `ptr` is a cell of `layout` from `alloc`/`alloc_global`, not used any more.
    pub(crate) unsafe fn free(&self, ptr: NonNull<u8>, layout: Layout, origin: Origin<'_>) {
        let Some(class) = class_of(layout) else {
            // SAFETY: the caller's guarantee.
            return unsafe { free_global(ptr, layout) };
        };
        let list = &self.lists[class];
        let cap = match origin {
            Origin::Outside => FOREIGN_CAP,
            Origin::Here | Origin::Worker(_) => WORKER_CACHE_CELLS,
        };
        if list.len.get() < cap {
            let node = ptr.cast::<FreeNode>().as_ptr();
            // SAFETY: the cell is free and at least 8 bytes, 16-aligned: a node fits.
            unsafe {
                node.write(FreeNode {
                    next: list.head.get(),
                })
            };
            list.head.set(node);
            list.len.set(list.len.get() + 1);
            return;
        }
        match origin {
            // SAFETY: the caller's guarantee.
            Origin::Worker(home) => unsafe { home.push(class, ptr) },
            // SAFETY: the caller's guarantee.
            Origin::Here | Origin::Outside => unsafe { free_global(ptr, layout) },
        }
    }

    /// Moves what others gave back to us (our `remote` stack) onto our lists, then frees
    /// all but `IDLE_CAP` cells per class. Called before parking, so a burst's memory
    /// does not stay with an idle worker.
    pub(crate) fn trim(&self, remote: &RemoteFree) {
        for class in 0..CLASSES {
            if !remote.heads[class].load(Relaxed).is_null() {
                self.refill(class, remote);
            }
            let list = &self.lists[class];
            while list.len.get() > IDLE_CAP {
                let node = list.head.get();
                // SAFETY: nodes on our list are free cells of this class only we can reach.
                unsafe {
                    list.head.set((*node).next);
                    dealloc(node.cast(), class_layout(class));
                }
                list.len.set(list.len.get() - 1);
            }
        }
    }

    /// Takes our whole `remote` stack of `class` onto our list, up to the cap; frees the
    /// rest.
    fn refill(&self, class: usize, remote: &RemoteFree) {
        let mut node = remote.take(class);
        let list = &self.lists[class];
        while !node.is_null() {
            // SAFETY: the taken stack is ours alone now; its nodes are free cells.
            let next = unsafe { (*node).next };
            if list.len.get() < WORKER_CACHE_CELLS {
                // SAFETY: the node is a free cell of the stack we took, reachable by nobody
                // else: writing its link moves it onto our list.
                unsafe { (*node).next = list.head.get() };
                list.head.set(node);
                list.len.set(list.len.get() + 1);
            } else {
                // SAFETY: a free cell of this class, allocated with its layout.
                unsafe { dealloc(node.cast(), class_layout(class)) };
            }
            node = next;
        }
    }
}

impl Drop for LocalCache {
    fn drop(&mut self) {
        for (class, list) in self.lists.iter().enumerate() {
            // SAFETY: our list holds free cells of this class.
            unsafe { free_chain(list.head.replace(ptr::null_mut()), class) };
        }
    }
}

impl std::fmt::Debug for LocalCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cached: usize = self.lists.iter().map(|l| l.len.get()).sum();
        f.debug_struct("LocalCache")
            .field("cached", &cached)
            .finish()
    }
}

/// Frees a chain of free cells of `class`.
///
/// # Safety
///
/// Every node of the chain is a free cell of `class` that nobody else can reach.
unsafe fn free_chain(mut node: *mut FreeNode, class: usize) {
    while !node.is_null() {
        // SAFETY: the caller's guarantee.
        let next = unsafe { (*node).next };
        // SAFETY: the caller's guarantee: a free cell of `class`, allocated with that
        // class's layout, which nobody reaches any more (its link was read above).
        unsafe { dealloc(node.cast(), class_layout(class)) };
        node = next;
    }
}

/// Cells given back to one worker by other threads: a lock-free stack per class. Any
/// thread pushes; only the owning worker (or the drop at the end) takes, and always the
/// whole stack.
pub(crate) struct RemoteFree {
    heads: [AtomicPtr<FreeNode>; CLASSES],
    /// Cells pushed since the owner last took, per class (see `REMOTE_CAP`).
    counts: [AtomicUsize; CLASSES],
}

// SAFETY: the raw nodes are free memory handed over through the atomics (release on push,
// acquire on take); nobody touches a node while it is on the stack.
unsafe impl Send for RemoteFree {}
// SAFETY: shared, it offers only `push` (any thread, a release CAS) and `take` (a swap with
// acquire): the nodes change hands through the atomics, never touched in place.
unsafe impl Sync for RemoteFree {}

impl RemoteFree {
    pub(crate) fn new() -> RemoteFree {
        RemoteFree {
            heads: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            counts: std::array::from_fn(|_| AtomicUsize::new(0)),
        }
    }

    /// Gives a free cell of `class` to the owner.
    ///
    /// # Safety
    ///
    /// `ptr` is a free cell of `class` (allocated with its layout) that the caller owns
    /// and will not touch again.
    pub(crate) unsafe fn push(&self, class: usize, ptr: NonNull<u8>) {
        if self.counts[class].fetch_add(1, Relaxed) >= REMOTE_CAP {
            self.counts[class].fetch_sub(1, Relaxed);
            // SAFETY: the caller's guarantee: a free cell of this class, ours to free.
            return unsafe { dealloc(ptr.as_ptr(), class_layout(class)) };
        }
        let node = ptr.cast::<FreeNode>().as_ptr();
        let head = &self.heads[class];
        let mut cur = head.load(Relaxed);
        loop {
            // SAFETY: the node is ours until the exchange below publishes it.
            unsafe { node.write(FreeNode { next: cur }) };
            // Release: the owner, taking the stack with acquire, sees our write of `next`
            // (and that we are done with the cell).
            match head.compare_exchange_weak(cur, node, Release, Relaxed) {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }

    /// Takes the whole stack of `class`: the caller owns every node of the chain.
    fn take(&self, class: usize) -> *mut FreeNode {
        if self.heads[class].load(Relaxed).is_null() {
            return ptr::null_mut();
        }
        let chain = self.heads[class].swap(ptr::null_mut(), Acquire);
        self.counts[class].store(0, Relaxed);
        chain
    }
}

impl Drop for RemoteFree {
    fn drop(&mut self) {
        for class in 0..CLASSES {
            let chain = self.take(class);
            // SAFETY: dropping: nobody pushes any more; the chain holds free cells.
            unsafe { free_chain(chain, class) };
        }
    }
}

impl std::fmt::Debug for RemoteFree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteFree").finish_non_exhaustive()
    }
}

#[cfg(all(test, not(weft_loom)))]
mod tests {
    use super::*;

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 8).unwrap()
    }

    /// Takes a remote stack's chain of `class`, frees it, and counts it.
    fn take_and_free(remote: &RemoteFree, class: usize) -> usize {
        let chain = remote.take(class);
        let mut n = 0;
        let mut node = chain;
        while !node.is_null() {
            n += 1;
            // SAFETY: a taken chain is ours; we only read the links here.
            node = unsafe { (*node).next };
        }
        // SAFETY: free cells of this class, reachable by nobody else.
        unsafe { free_chain(chain, class) };
        n
    }

    #[test]
    fn classes_stop_eight_bytes_short_of_sixteen_and_at_the_limit() {
        assert_eq!(class_of(layout(1)), Some(0));
        assert_eq!(class_of(layout(8)), Some(0));
        assert_eq!(class_of(layout(9)), Some(1));
        assert_eq!(class_layout(1).size(), 24);
        // The compare benchmark's idle task: a 120-byte cell fills a 128-byte chunk.
        assert_eq!(class_layout(class_of(layout(120)).unwrap()).size(), 120);
        assert_eq!(class_layout(class_of(layout(121)).unwrap()).size(), 136);
        assert_eq!(class_of(layout(504)), Some(CLASSES - 1));
        assert_eq!(class_of(layout(505)), None);
        assert_eq!(class_of(Layout::from_size_align(64, 32).unwrap()), None);
    }

    #[test]
    fn a_freed_cell_is_reused_and_the_cap_holds() {
        let cache = LocalCache::new();
        let remote = RemoteFree::new();
        let l = layout(100);
        let a = cache.alloc(l, &remote);
        // SAFETY: `a` came from this cache with this layout.
        unsafe { cache.free(a, l, Origin::Here) };
        assert_eq!(cache.alloc(l, &remote), a, "LIFO reuse of the same cell");
        // Cells spawned outside the workers fill the list up to the small cap only; the
        // excess goes back to the allocator.
        let cells: Vec<_> = (0..WORKER_CACHE_CELLS + 20)
            .map(|_| cache.alloc(l, &remote))
            .collect();
        for &c in &cells[..FOREIGN_CAP + 10] {
            // SAFETY: `c` came from this cache with layout `l` and is freed once.
            unsafe { cache.free(c, l, Origin::Outside) };
        }
        let class = class_of(l).unwrap();
        assert_eq!(cache.lists[class].len.get(), FOREIGN_CAP);
        // Cells spawned on another worker fill it up to the large cap; the excess goes
        // to that worker's stack.
        let other = RemoteFree::new();
        for &c in &cells[FOREIGN_CAP + 10..] {
            // SAFETY: `c` came from this cache with layout `l` and is freed once (the first
            // loop freed the other cells).
            unsafe { cache.free(c, l, Origin::Worker(&other)) };
        }
        assert_eq!(take_and_free(&other, class), 10);
        assert_eq!(cache.lists[class].len.get(), WORKER_CACHE_CELLS);
        // SAFETY: `a` is a live allocation of this layout we no longer use.
        unsafe { free_global(a, l) };
    }

    #[test]
    fn a_remote_stack_holds_at_most_its_cap() {
        let remote = RemoteFree::new();
        let l = layout(64);
        let class = class_of(l).unwrap();
        for _ in 0..REMOTE_CAP + 100 {
            // SAFETY: a fresh cell of this layout, given away.
            unsafe { remote.push(class, alloc_global(l)) };
        }
        assert_eq!(
            take_and_free(&remote, class),
            REMOTE_CAP,
            "the excess went back to the allocator"
        );
        // After a take, it fills again.
        // SAFETY: a fresh cell of this class's layout, given away to the stack.
        unsafe { remote.push(class, alloc_global(l)) };
        assert!(!remote.heads[class].load(Relaxed).is_null());
    }

    #[test]
    fn trim_keeps_the_idle_cap_and_frees_the_rest() {
        let cache = LocalCache::new();
        let remote = RemoteFree::new();
        let l = layout(48);
        let class = class_of(l).unwrap();
        for _ in 0..IDLE_CAP + 50 {
            // SAFETY: a fresh cell of this layout, given away.
            unsafe { remote.push(class, alloc_global(l)) };
        }
        cache.trim(&remote);
        assert_eq!(cache.lists[class].len.get(), IDLE_CAP);
        assert!(remote.heads[class].load(Relaxed).is_null());
        // A burst freed on the worker itself is trimmed too.
        let cells: Vec<_> = (0..IDLE_CAP * 3).map(|_| cache.alloc(l, &remote)).collect();
        for &c in &cells {
            // SAFETY: cells of this cache and layout, no longer used.
            unsafe { cache.free(c, l, Origin::Here) };
        }
        assert_eq!(cache.lists[class].len.get(), IDLE_CAP * 3);
        cache.trim(&remote);
        assert_eq!(cache.lists[class].len.get(), IDLE_CAP);
    }
}

#[cfg(all(test, weft_loom))]
mod tests_loom {
    //! The remote stack: threads pushing while the owner takes the whole stack. Every cell
    //! pushed is taken exactly once, whatever the interleaving.

    use super::*;
    use loom::thread;
    use std::sync::Arc;

    fn chain_to_vec(mut node: *mut FreeNode) -> Vec<usize> {
        let mut out = Vec::new();
        while !node.is_null() {
            out.push(node as usize);
            // SAFETY: a taken chain is ours.
            node = unsafe { (*node).next };
        }
        out
    }

    #[test]
    fn loom_pushes_racing_a_take_lose_nothing() {
        loom::model(|| {
            let l = Layout::from_size_align(32, 8).unwrap();
            let class = class_of(l).unwrap();
            let remote = Arc::new(RemoteFree::new());
            let cells: Vec<usize> = (0..3).map(|_| alloc_global(l).as_ptr() as usize).collect();
            let pushers: Vec<_> = cells[..2]
                .iter()
                .map(|&c| {
                    let r = remote.clone();
                    thread::spawn(move || {
                        // SAFETY: a fresh cell of this class, given away.
                        unsafe { r.push(class, NonNull::new(c as *mut u8).unwrap()) }
                    })
                })
                .collect();
            // SAFETY: `cells[2]` is a fresh cell of this class that no pusher was given.
            unsafe { remote.push(class, NonNull::new(cells[2] as *mut u8).unwrap()) };
            let mut got = chain_to_vec(remote.take(class));
            for p in pushers {
                p.join().unwrap();
            }
            got.extend(chain_to_vec(remote.take(class)));
            got.sort_unstable();
            let mut want = cells.clone();
            want.sort_unstable();
            assert_eq!(got, want, "every cell taken exactly once");
            for c in cells {
                // SAFETY: all taken back; each was allocated with this layout.
                unsafe { free_global(NonNull::new(c as *mut u8).unwrap(), l) };
            }
        });
    }
}

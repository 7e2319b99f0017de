//! The task cell: one heap allocation per task holding the header, the scheduler hook,
//! the join waker slot and the future (later its output), and the type-erased functions
//! that drive it.
//!
//! Layout (`#[repr(C)]`, so a `*Header` is a `*TaskCell`):
//!
//! ```text
//! +--------------------------------------------+
//! | Header: state word | vtable | id | spawned + shard | last poll | list place |  <- wakers and queues point here
//! | scheduler hook (S)                         |
//! | join waker slot: Option<Waker>             |
//! | stage: Running(F) | Finished(output) | Consumed
//! +--------------------------------------------+
//! ```
//!
//! Who may touch what is decided by the state word (see `state.rs`): `RUNNING` grants the
//! stage while not complete; after `COMPLETE` the stage belongs to the `JoinHandle` (or,
//! without one, to the completing thread); `JOIN_WAKER` decides who owns the waker slot.
//!
//! Every task pays for the header, so it is packed into 40 bytes: the state word also
//! counts polls (`state.rs`), the spawn location shares a word with the list shard
//! (`spawned.rs`), and the list slot and membership share a `u32` (`list.rs`). The cell
//! allocator's size classes (`alloc.rs`) are what make those bytes matter: the idle task
//! of the `compare` benchmark is a 120-byte cell, a 128-byte chunk of glibc's malloc,
//! where a 48-byte header made it 128 bytes, a 144-byte chunk.

use super::error::JoinError;
use super::id::Id;
use super::spawned::Spawned;
use super::state::{self, Snapshot, State, ToIdle, ToRunning, Wake};
use super::waker::{enter_drop, enter_poll, leave_poll, waker_ref};
use super::{Notified, Schedule};
use crate::sync::UnsafeCell;
use std::alloc::Layout;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::{self, NonNull};
// std's, not the loom shim's: the last poll's time is statistics no protocol depends on.
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll, Waker};

/// Type-erased operations on a cell, one static table per `(future, scheduler)` type.
pub(crate) struct Vtable {
    /// Consume a `Notified` reference: poll the task (or cancel it, or just drop the ref).
    pub(crate) run: unsafe fn(NonNull<Header>),
    /// Hand a freshly notified task (its reference already counted) to its scheduler.
    pub(crate) schedule: unsafe fn(NonNull<Header>),
    /// Free the cell. Only after the reference count reached zero.
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    /// `JoinHandle::poll`: write `Poll<Result<T, JoinError>>` through the pointer if done,
    /// or register the waker.
    pub(crate) try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    /// `JoinHandle::drop`.
    pub(crate) drop_join_handle: unsafe fn(NonNull<Header>),
    /// Runtime shutdown: cancel the task if nobody is running it. Consumes the reference
    /// of the owned-task list.
    pub(crate) shutdown: unsafe fn(NonNull<Header>),
}

/// The part of the cell every task has in the same place.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    pub(crate) vtable: &'static Vtable,
    /// The task's id (see `id.rs`). Fixed at spawn.
    pub(crate) id: Id,
    /// Where it was spawned, its name, and which shard of the owned-task list it belongs
    /// to (see `spawned.rs`). Fixed at spawn.
    pub(crate) spawned: Spawned,
    /// When the last poll began, for `Handle::dump`: 0 if never, else a poll site's coarse
    /// clock (`PollSite`: 1 + milliseconds since the runtime's epoch, wrapping after 49
    /// days and skipping 0). A store per poll by the holder of the task's one `Notified`,
    /// no read-modify-write. (The count of polls is in the state word.)
    pub(crate) last_poll: AtomicU32,
    /// Where the task stands with the owned list: its slot in its shard while linked, or
    /// `list::{UNLINKED, PENDING, PENDING_DONE}`; guarded as `list.rs` explains.
    pub(crate) place: UnsafeCell<u32>,
}

// SAFETY: the header is shared between threads by design; every field is either atomic,
// immutable after creation, or guarded (`place` as `list.rs` says).
unsafe impl Send for Header {}
// SAFETY: shared, a header is read through atomics (the state), fields written once
// before it is shared (`vtable`, `id`, `spawned`), an atomic (`last_poll`), or a field
// guarded by the owned list's shard lock or its owner's protocol (`place`: see `list.rs`).
unsafe impl Sync for Header {}

pub(crate) enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
pub(crate) struct TaskCell<F: Future, S> {
    header: Header,
    scheduler: S,
    join_waker: UnsafeCell<Option<Waker>>,
    stage: UnsafeCell<Stage<F>>,
}

// No `Send` bound here: a local task's future and output need not be `Send` (see
// `task::new_local_task`, whose caller keeps them on one thread).
impl<F, S> TaskCell<F, S>
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    const VTABLE: Vtable = Vtable {
        run: Self::run,
        schedule: Self::schedule,
        dealloc: Self::dealloc,
        try_read_output: Self::try_read_output,
        drop_join_handle: Self::drop_join_handle,
        shutdown: Self::shutdown,
    };

    /// Allocates a new task. The returned pointer carries the three initial references
    /// (see `state::INITIAL`): the caller turns them into a `Notified`, a `JoinHandle`
    /// and the owned-list entry.
    pub(crate) fn allocate(
        future: F,
        scheduler: S,
        id: Id,
        spawned: Spawned,
        shard: u16,
        memory: impl FnOnce(Layout) -> NonNull<u8>,
    ) -> NonNull<Header> {
        let mem = memory(Layout::new::<Self>()).cast::<Self>();
        let cell = TaskCell {
            header: Header {
                state: State::new(),
                vtable: &Self::VTABLE,
                id,
                spawned: spawned.in_shard(shard),
                last_poll: AtomicU32::new(0),
                place: UnsafeCell::new(super::list::UNLINKED),
            },
            scheduler,
            join_waker: UnsafeCell::new(None),
            stage: UnsafeCell::new(Stage::Running(future)),
        };
        // SAFETY: `memory` returned memory for a `Self` (a cache or the global allocator,
        // both for this layout), which we now initialise.
        unsafe { mem.as_ptr().write(cell) };
        mem.cast()
    }

    /// # Safety
    /// `ptr` points at a live `TaskCell<F, S>`.
    #[inline]
    unsafe fn from_header<'a>(ptr: NonNull<Header>) -> &'a Self {
        // SAFETY: the header is the first field of a `repr(C)` cell of this type (the
        // vtable that called us is this type's), and the caller holds a reference.
        unsafe { ptr.cast::<Self>().as_ref() }
    }

    unsafe fn run(ptr: NonNull<Header>) {
        // SAFETY: the caller hands us a `Notified` reference, so the cell is alive.
        let cell = unsafe { Self::from_header(ptr) };
        match cell.header.state.transition_to_running() {
            ToRunning::Poll => {}
            ToRunning::Cancel => return Self::release(ptr, cell.cancel()),
            ToRunning::Stale => return Self::release(ptr, 1),
        }
        let waker = waker_ref(ptr);
        let mut cx = Context::from_waker(&waker);
        let outer = enter_poll(ptr);
        let res = catch_unwind(AssertUnwindSafe(|| {
            // If the poll panics, the future is dropped while the panic unwinds (by this
            // guard), so its destructors see `std::thread::panicking()`: a guard that
            // commits unless the thread panics must not commit half-done work.
            let drop_on_unwind = DropFutureOnUnwind(cell);
            let poll = crate::coop::with_budget(|| {
                cell.stage.with_mut(|stage| {
                    // SAFETY: we hold RUNNING, so the stage is ours and holds the future,
                    // which never moves out of the cell while running.
                    match unsafe { &mut *stage } {
                        // SAFETY: the future is pinned in the cell: it stays at this address
                        // until it is dropped in place.
                        Stage::Running(fut) => unsafe { Pin::new_unchecked(fut) }.poll(&mut cx),
                        _ => unreachable!("a task in a run queue with no future"),
                    }
                })
            });
            std::mem::forget(drop_on_unwind);
            poll
        }));
        let yielded = leave_poll(outer);
        // `cell` is not used past `complete`/`cancel`: the references they return are
        // released through the raw pointer, so no `&Self` is alive if the cell is freed.
        let refs = match res {
            Ok(Poll::Pending) => match cell.header.state.transition_to_idle(yielded) {
                ToIdle::Idle => return,
                ToIdle::Notified => {
                    return cell.scheduler.yield_now(Notified::from_raw(ptr));
                }
                ToIdle::Cancel => cell.cancel(),
            },
            Ok(Poll::Ready(out)) => {
                // Dropping the finished future may itself panic (a combinator dropping a
                // pending branch, say): that panic is the task's result, not the worker's.
                match catch_unwind(AssertUnwindSafe(|| cell.set_stage(Stage::Consumed))) {
                    Ok(()) => cell.complete(Ok(out)),
                    Err(panic) => {
                        if let Err(p) = catch_unwind(AssertUnwindSafe(move || drop(out))) {
                            crate::unwind::drop_payload(p);
                        }
                        cell.complete(Err(JoinError::panic(cell.header.id, panic)))
                    }
                }
            }
            // The future was dropped during the unwind (`DropFutureOnUnwind`).
            Err(panic) => cell.complete(Err(JoinError::panic(cell.header.id, panic))),
        };
        Self::release(ptr, refs);
    }

    /// Replaces the stage, dropping the old one.
    ///
    /// Only by the thread that owns the stage (holds RUNNING, or the output after COMPLETE).
    fn set_stage(&self, stage: Stage<F>) {
        // SAFETY: per the caller's ownership of the stage.
        self.stage.with_mut(|p| unsafe { *p = stage });
    }

    fn take_output(&self) -> Result<F::Output, JoinError> {
        // SAFETY: only called by the owner of the stage after COMPLETE.
        self.stage.with_mut(
            |p| match std::mem::replace(unsafe { &mut *p }, Stage::Consumed) {
                Stage::Finished(out) => out,
                _ => unreachable!("the output of a task was taken twice"),
            },
        )
    }

    /// With RUNNING held: drop the future and complete with `Cancelled`. Returns the
    /// references to release (see `complete`).
    #[must_use]
    fn cancel(&self) -> usize {
        // The future's destructor runs as the task: `task_id()` works there too.
        let outer = enter_drop(NonNull::from(&self.header));
        let res = catch_unwind(AssertUnwindSafe(|| self.set_stage(Stage::Consumed)));
        let _ = leave_poll(outer);
        let err = match res {
            Ok(()) => JoinError::cancelled(self.header.id),
            Err(panic) => JoinError::panic(self.header.id, panic),
        };
        self.complete(Err(err))
    }

    /// With RUNNING held and the future already dropped: store the output, leave the owned
    /// list (or hand the unlinking to the worker's batch), publish COMPLETE, tell the
    /// JoinHandle. Returns how many references the caller must release with
    /// [`release`](Self::release) once it holds no `&Self` any more: the runner's, and the
    /// list's if it was unlinked here.
    #[must_use]
    fn complete(&self, output: Result<F::Output, JoinError>) -> usize {
        self.set_stage(Stage::Finished(output));
        // Leave the owned list (or be counted as leaving it, when another worker's shard
        // unlinks in batches) before anyone can see the task complete, so that once a
        // JoinHandle has the output the runtime no longer counts the task as alive.
        let from_list = self.scheduler.release(NonNull::from(&self.header));
        let prev = self.header.state.transition_to_complete();
        if !prev.has(state::JOIN_INTEREST) {
            // Nobody will read it: the output is ours to drop.
            self.drop_unread_output();
        } else if prev.has(state::JOIN_WAKER) {
            // SAFETY: JOIN_WAKER and COMPLETE are both set, so the JoinHandle cannot write
            // the slot any more; reading it here is shared with at most other readers.
            self.join_waker.with(|w| {
                // SAFETY: JOIN_WAKER and COMPLETE are set, so the JoinHandle never writes the
                // slot again: a shared read cannot race a write.
                if let Some(w) = unsafe { &*w } {
                    // Any waker (another executor's, a combinator's): its wake must not
                    // unwind into the worker that completed the task.
                    crate::unwind::contain("a JoinHandle's waker", || w.wake_by_ref());
                }
            });
        }
        1 + usize::from(from_list)
    }

    /// Drops an output no JoinHandle will read; an unobserved panic goes to the hook.
    /// (The JoinHandle may have read it already: then there is nothing left to drop.)
    fn drop_unread_output(&self) {
        // SAFETY: called by the owner of the stage after COMPLETE.
        let stage = self
            .stage
            .with_mut(|p| std::mem::replace(unsafe { &mut *p }, Stage::Consumed));
        let res = catch_unwind(AssertUnwindSafe(move || match stage {
            Stage::Finished(Err(e)) => e.try_into_panic().ok(),
            other => {
                drop(other);
                None
            }
        }));
        let panic = match res {
            Ok(Some(payload)) => payload,
            Ok(None) => return,
            Err(payload) => payload,
        };
        self.scheduler.unhandled_panic(&self.header, panic);
    }

    /// Drops `n` references, freeing the cell if they were the last. Takes the raw pointer,
    /// not `&self`: no reference into the cell may be alive while it is freed.
    fn release(ptr: NonNull<Header>, n: usize) {
        // SAFETY: the caller holds `n` references; the temporary `&Header` ends before the
        // cell may be freed.
        let last = unsafe { ptr.as_ref() }.state.ref_dec(n);
        if last {
            // SAFETY: that was the last reference.
            unsafe { Self::dealloc(ptr) }
        }
    }

    unsafe fn schedule(ptr: NonNull<Header>) {
        // SAFETY: the caller holds the new `Notified` reference.
        let cell = unsafe { Self::from_header(ptr) };
        cell.scheduler.schedule(Notified::from_raw(ptr));
    }

    unsafe fn dealloc(ptr: NonNull<Header>) {
        let cell = ptr.cast::<Self>().as_ptr();
        // The scheduler is moved out first so that it (and the runtime it keeps alive)
        // outlives the handing back of the memory; every other field is dropped in place,
        // once.
        // SAFETY: the count reached zero: nobody else can reach the cell, which
        // `allocate` initialised.
        let (scheduler, home) = unsafe {
            let scheduler = ptr::read(&(*cell).scheduler);
            let home = (*cell).header.spawned.shard();
            ptr::drop_in_place(&mut (*cell).header);
            (scheduler, home)
        };
        // The waker and the stage (an output or future left in it) are user values: the
        // last reference may be dropped by a worker or at shutdown, where a panic must
        // not unwind. (A panicking drop leaks what it had not dropped yet.)
        // SAFETY: the count reached zero, so nobody else reaches the cell; the waker slot
        // was initialised by `allocate` and is dropped once, here.
        crate::unwind::contain("dropping a task's waker", || unsafe {
            ptr::drop_in_place(&mut (*cell).join_waker)
        });
        // SAFETY: as for the waker: nobody else reaches the cell; the stage is dropped once,
        // here (a panicking drop leaks it instead of dropping it twice).
        crate::unwind::contain("dropping a task's output", || unsafe {
            ptr::drop_in_place(&mut (*cell).stage)
        });
        // SAFETY: the memory came from `allocate` with this layout and is dead now.
        unsafe { scheduler.free_cell(ptr.cast(), Layout::new::<Self>(), home) };
        drop(scheduler);
    }

    unsafe fn try_read_output(ptr: NonNull<Header>, dst: *mut (), waker: &Waker) {
        // SAFETY: the JoinHandle holds a reference.
        let cell = unsafe { Self::from_header(ptr) };
        if cell.poll_join(waker) {
            let out = cell.take_output();
            // SAFETY: the JoinHandle<F::Output> passes a pointer to its
            // `Poll<Result<F::Output, JoinError>>`.
            unsafe { *dst.cast::<Poll<Result<F::Output, JoinError>>>() = Poll::Ready(out) };
        }
    }

    /// Returns true if the output is ready to take; otherwise makes sure `waker` is
    /// registered.
    fn poll_join(&self, waker: &Waker) -> bool {
        let snap = self.header.state.load();
        if snap.has(state::COMPLETE) {
            return true;
        }
        if snap.has(state::JOIN_WAKER) {
            // SAFETY: with JOIN_WAKER set only readers touch the slot.
            let same = self.join_waker.with(|w| match unsafe { &*w } {
                Some(w) => w.will_wake(waker),
                None => false,
            });
            if same {
                return false;
            }
            if self.header.state.unset_join_waker().is_err() {
                return true;
            }
        }
        // JOIN_WAKER is clear and the task not complete: the slot is ours.
        // SAFETY: with JOIN_WAKER clear, the completing thread does not read the slot, and
        // only this JoinHandle writes it: no access races this write.
        self.join_waker
            .with_mut(|w| unsafe { *w = Some(waker.clone()) });
        match self.header.state.set_join_waker() {
            Ok(()) => false,
            Err(s) => {
                debug_assert!(s.has(state::COMPLETE));
                true
            }
        }
    }

    unsafe fn drop_join_handle(ptr: NonNull<Header>) {
        // SAFETY: the JoinHandle holds a reference until the end of this function.
        let cell = unsafe { Self::from_header(ptr) };
        if cell.header.state.drop_join_handle_fast() {
            return;
        }
        let prev: Snapshot = cell.header.state.drop_join_interest();
        if prev.has(state::COMPLETE) {
            // The completing thread saw JOIN_INTEREST and left the output to us.
            cell.drop_unread_output();
        } else {
            // We cleared JOIN_WAKER too, so the slot is ours: release the waker now rather
            // than keep the awaiting task alive until this one ends.
            // SAFETY: JOIN_WAKER is clear and the task not complete: the completing thread
            // will not read the slot, and the JoinHandle (us) is its only writer.
            let old = cell.join_waker.with_mut(|w| unsafe { (*w).take() });
            drop(old);
        }
        Self::release(ptr, 1);
    }

    unsafe fn shutdown(ptr: NonNull<Header>) {
        // SAFETY: the caller hands over the owned list's reference.
        let cell = unsafe { Self::from_header(ptr) };
        let refs = if cell.header.state.transition_to_shutdown() {
            // We own the future, and the list's reference serves as the runner's: the
            // entry is already unlinked, so `complete` counts just that one.
            cell.cancel()
        } else {
            1
        };
        Self::release(ptr, refs);
    }
}

/// Drops a task's future if dropped itself, which happens only while a panic of the
/// future's poll unwinds (the runner forgets it after a poll that returned). A destructor
/// that panics then aborts the process, as any panic during an unwind does.
struct DropFutureOnUnwind<'a, F: Future, S>(&'a TaskCell<F, S>);

impl<F: Future, S> Drop for DropFutureOnUnwind<'_, F, S> {
    fn drop(&mut self) {
        // SAFETY: the runner holds RUNNING, so the stage is ours.
        self.0.stage.with_mut(|p| unsafe { *p = Stage::Consumed });
    }
}

/// A typed handle on a cell for the `JoinHandle`.
pub(crate) struct RawTask<T> {
    pub(crate) ptr: NonNull<Header>,
    _output: PhantomData<T>,
}

impl<T> RawTask<T> {
    pub(crate) fn new(ptr: NonNull<Header>) -> Self {
        RawTask {
            ptr,
            _output: PhantomData,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: a RawTask holds a reference.
        unsafe { self.ptr.as_ref() }
    }

    pub(crate) fn try_read_output(&self, dst: &mut Poll<Result<T, JoinError>>, waker: &Waker) {
        // SAFETY: the vtable belongs to this cell, whose output type is `T`.
        unsafe {
            (self.header().vtable.try_read_output)(self.ptr, (dst as *mut Poll<_>).cast(), waker)
        }
    }

    pub(crate) fn drop_join_handle(&self) {
        // SAFETY: called once, from JoinHandle's drop, with its reference.
        unsafe { (self.header().vtable.drop_join_handle)(self.ptr) }
    }
}

/// Operations on any cell through its header.
impl Header {
    /// Records that a poll begins at `now` (a poll site's coarse clock, never 0: see
    /// `last_poll`). By the holder of the task's `Notified`, before it runs it.
    #[inline]
    pub(crate) fn note_poll(&self, now: u32) {
        self.last_poll.store(now, Relaxed);
    }

    /// Polls so far (modulo 2^26, from the state word), and the `last_poll` clock (0 if
    /// never polled).
    pub(crate) fn poll_stats(&self) -> (u32, u32) {
        (self.state.load().polls(), self.last_poll.load(Relaxed))
    }

    pub(crate) fn abort(ptr: NonNull<Header>) {
        // SAFETY: the caller holds a reference.
        let header = unsafe { ptr.as_ref() };
        if header.state.transition_to_cancelled() == Wake::Submit {
            // SAFETY: the transition counted the new Notified reference.
            unsafe { (header.vtable.schedule)(ptr) }
        }
    }

    pub(crate) fn is_complete(ptr: NonNull<Header>) -> bool {
        // SAFETY: the caller holds a reference.
        unsafe { ptr.as_ref() }.state.load().has(state::COMPLETE)
    }

    /// The task's id.
    pub(crate) fn id_of(ptr: NonNull<Header>) -> Id {
        // SAFETY: the caller holds a reference.
        unsafe { ptr.as_ref() }.id
    }

    /// The owned-list shard the task belongs to.
    pub(crate) fn shard_of(ptr: NonNull<Header>) -> usize {
        // SAFETY: the caller holds a reference.
        unsafe { ptr.as_ref() }.spawned.shard() as usize
    }

    pub(crate) fn ref_inc(ptr: NonNull<Header>) {
        // SAFETY: the caller holds a reference.
        unsafe { ptr.as_ref() }.state.ref_inc()
    }

    /// Drops one reference, freeing the cell if it was the last.
    pub(crate) fn ref_dec(ptr: NonNull<Header>) {
        // SAFETY: the caller holds a reference, which it gives up here.
        let header = unsafe { ptr.as_ref() };
        if header.state.ref_dec(1) {
            // SAFETY: it was the last reference.
            unsafe { (header.vtable.dealloc)(ptr) }
        }
    }
}

#[cfg(all(test, not(weft_loom), target_pointer_width = "64"))]
mod tests {
    #[test]
    fn the_header_is_forty_bytes() {
        // Every task pays for it: keep it packed (see the module comment).
        assert_eq!(std::mem::size_of::<super::Header>(), 40);
    }
}

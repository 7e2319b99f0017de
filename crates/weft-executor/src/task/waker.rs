//! Wakers that point straight at the task cell.
//!
//! A task's `Waker` is the cell's header pointer plus one static vtable: `clone` adds a
//! reference, `drop` removes one, and neither allocates. `wake_by_ref` is one
//! compare-and-swap on the state word, plus a push to a run queue when the task was idle.

use super::cell::Header;
use super::id::Id;
use super::state::Wake;
use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_waker, wake_by_val, wake_by_ref, drop_waker);

fn header<'a>(data: *const ()) -> &'a Header {
    // SAFETY: every waker built with WAKER_VTABLE holds a reference on the cell whose
    // header `data` points at (or, for `waker_ref`, borrows the runner's).
    unsafe { &*data.cast::<Header>() }
}

fn ptr(data: *const ()) -> NonNull<Header> {
    // SAFETY: `data` came from a NonNull<Header>.
    unsafe { NonNull::new_unchecked(data as *mut Header) }
}

// The yield fast path's thread-local (loom's under the models: its threads are
// coroutines on one OS thread): the task this thread is polling right now (its header),
// or null. `request_yield` sets the pointer's low bit (headers are 8-aligned), so a marked
// pointer at the end of a poll means the task asked to yield; `task_id()` reads the id
// through the pointer, marked or not.
#[cfg(not(weft_loom))]
std::thread_local! {
    static POLLING: Cell<*const ()> = const { Cell::new(std::ptr::null()) };
}
#[cfg(weft_loom)]
loom::thread_local! {
    static POLLING: Cell<*const ()> = Cell::new(std::ptr::null());
}

/// The mark `request_yield` puts on `POLLING`'s pointer.
const YIELD_MARK: usize = 1;
const _: () = assert!(std::mem::align_of::<Header>() > YIELD_MARK);

/// Marks the start of a poll of `ptr` on this thread. Returns what it replaces (the task
/// whose poll this one is nested in, or null), for `leave_poll` to put back.
#[inline]
pub(crate) fn enter_poll(ptr: NonNull<Header>) -> *const () {
    POLLING.with(|p| p.replace(ptr.as_ptr() as *const ()))
}

/// Marks the end of a poll, given what `enter_poll` returned; returns whether the task
/// asked to yield during it.
#[inline]
pub(crate) fn leave_poll(outer: *const ()) -> bool {
    POLLING.with(|p| p.replace(outer)) as usize & YIELD_MARK != 0
}

/// Makes `ptr`'s task the current one on this thread outside a poll (while its future is
/// dropped), so `task_id()` works in its destructor; returns what it replaced, to put back
/// with [`leave_poll`].
pub(crate) fn enter_drop(ptr: NonNull<Header>) -> *const () {
    POLLING
        .try_with(|p| p.replace(ptr.as_ptr() as *const ()))
        .unwrap_or(std::ptr::null())
}

/// The id of the task this thread is polling (or whose future it is dropping), if any.
pub(crate) fn current_id() -> Option<Id> {
    let p = POLLING.try_with(|p| p.get()).ok()?;
    let header = (p as usize & !YIELD_MARK) as *const Header;
    // SAFETY: a non-null `POLLING` is the header of the task being polled (or dropped) on
    // this thread, whose runner holds a reference until it puts the pointer back.
    unsafe { header.as_ref() }.map(|h| h.id)
}

/// Called by `yield_now` with the waker it was polled with. If that is the waker of the
/// task this thread is polling, records the request and returns true: the runner then
/// requeues the task as it marks it idle, one compare-and-swap on the state word instead
/// of two (the wake, then the transition). Any other waker (a combinator's, another
/// executor's), or a second yield in the same poll, is left to the caller to wake.
#[inline]
pub(crate) fn request_yield(waker: &Waker) -> bool {
    std::ptr::eq(waker.vtable(), &WAKER_VTABLE)
        && POLLING.with(|p| {
            let ours = p.get() == waker.data();
            if ours {
                p.set((waker.data() as usize | YIELD_MARK) as *const ());
            }
            ours
        })
}

unsafe fn clone_waker(data: *const ()) -> RawWaker {
    header(data).state.ref_inc();
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn wake_by_ref(data: *const ()) {
    let h = header(data);
    if h.state.transition_to_notified_by_ref() == Wake::Submit {
        // SAFETY: the transition counted a reference for the new Notified.
        unsafe { (h.vtable.schedule)(ptr(data)) }
    }
}

unsafe fn wake_by_val(data: *const ()) {
    let h = header(data);
    match h.state.transition_to_notified_by_val() {
        // SAFETY: the waker's own reference became the Notified's.
        Wake::Submit => unsafe { (h.vtable.schedule)(ptr(data)) },
        // SAFETY: that was the last reference.
        Wake::Dealloc => unsafe { (h.vtable.dealloc)(ptr(data)) },
        Wake::Nothing => {}
    }
}

unsafe fn drop_waker(data: *const ()) {
    Header::ref_dec(ptr(data));
}

/// A waker that borrows the runner's reference for the duration of a poll: no reference
/// count traffic unless the future clones it.
pub(crate) fn waker_ref(ptr: NonNull<Header>) -> ManuallyDrop<Waker> {
    // SAFETY: the vtable's contract holds (see above); ManuallyDrop keeps us from
    // dropping the reference we only borrow.
    ManuallyDrop::new(unsafe {
        Waker::from_raw(RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE))
    })
}

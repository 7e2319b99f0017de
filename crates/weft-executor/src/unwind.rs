//! Calling code that may panic from where a panic must not unwind: a worker's loop, a
//! blocking-pool thread, the runtime's shutdown.
//!
//! The runtime calls user code outside any task's poll: hooks (`on_task_panic`,
//! `on_thread_start`, `on_thread_stop`), wakers it wakes or drops, outputs and futures it
//! drops. A panic there, unwinding into a worker, would end the thread with its queues,
//! references and batches (on a 1-worker runtime nothing would run again); on a blocking
//! thread it would skip the thread count's decrement and hang shutdown. So each such call
//! goes through [`contain`], which reports the panic in one line and goes on.

use std::any::Any;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, containing a panic: it is reported on stderr (as "weft: {what} panicked: ...")
/// and `f`'s effect is abandoned. Returns whether `f` returned normally.
#[inline]
pub(crate) fn contain(what: &str, f: impl FnOnce()) -> bool {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => true,
        Err(payload) => {
            report(what, &*payload);
            drop_payload(payload);
            false
        }
    }
}

/// Writes one line about a contained panic on stderr. A failing stderr (a closed pipe:
/// Rust ignores SIGPIPE, so the write fails with EPIPE) is ignored: `eprintln!` would
/// panic there.
pub(crate) fn report(what: &str, payload: &(dyn Any + Send)) {
    let msg = panic_message(payload).unwrap_or("<non-string payload>");
    let _ = writeln!(
        std::io::stderr().lock(),
        "weft: {what} panicked: {msg} (the runtime goes on)"
    );
}

/// Drops a panic payload; a payload whose destructor panics too is leaked instead of
/// unwinding.
pub(crate) fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(second) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(second);
    }
}

/// The message of a panic payload, when it is a string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

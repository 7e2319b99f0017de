//! Misuse and settings the runtime cannot hold: enter guards dropped out of order, numeric
//! settings out of range, panicking calls that must point at the caller, and task-locals
//! read by destructors.

#![cfg(not(weft_loom))]

mod common;

use std::cell::RefCell;
use std::io::ErrorKind;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::{Arc, Mutex, Once};
use weft_executor::{Builder, Handle, JoinError, MAX_WORKER_THREADS};

#[test]
fn enter_guards_dropped_out_of_order_leave_no_runtime_entered() {
    let a = common::rt(1);
    let b = common::rt(1);
    let ga = a.enter();
    let gb = b.enter();
    drop(ga); // out of order: b stays current while its guard lives
    assert!(Handle::try_current().is_ok());
    let h = weft_executor::spawn(async { 1 });
    assert_eq!(b.block_on(h).unwrap(), 1, "the spawn went to b, the newest");
    drop(gb);
    assert!(
        Handle::try_current().is_err(),
        "a runtime is still entered after every guard is gone"
    );
}

#[test]
fn enter_guards_in_order_restore_the_outer_runtime() {
    let a = common::rt(1);
    let b = common::rt(1);
    let ga = a.enter();
    {
        let _gb = b.enter();
        let h = weft_executor::spawn(async { 2 });
        assert_eq!(b.block_on(h).unwrap(), 2);
    }
    let h = weft_executor::spawn(async { 3 });
    assert_eq!(
        a.block_on(h).unwrap(),
        3,
        "the outer runtime is current again"
    );
    drop(ga);
    assert!(Handle::try_current().is_err());
}

#[test]
fn worker_counts_the_task_header_cannot_hold_are_refused() {
    for n in [MAX_WORKER_THREADS + 1, 65_537, 1 << 20, usize::MAX] {
        let err = Builder::new().worker_threads(n).build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{n} workers: {err}");
        assert!(err.to_string().contains("at most"), "{err}");
    }
}

#[test]
fn a_zero_stack_size_and_a_nul_in_the_thread_name_are_refused() {
    let err = Builder::new().thread_stack_size(0).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let err = Builder::new().thread_name("a\0b").build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    // The smallest settings that make sense still build.
    let rt = Builder::new()
        .worker_threads(1)
        .max_blocking_threads(1)
        .thread_stack_size(1)
        .thread_keep_alive(std::time::Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(rt.block_on(rt.spawn_blocking(|| 4)).unwrap(), 4);
}

thread_local! {
    static PANIC_AT: RefCell<Option<(String, u32)>> = const { RefCell::new(None) };
}

/// Runs `f`, which must panic, and returns the file and line the panic reported.
fn panic_location(f: impl FnOnce()) -> (String, u32) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let loc = info.location().map(|l| (l.file().to_string(), l.line()));
            let recorded = PANIC_AT.with(|p| match &mut *p.borrow_mut() {
                slot @ None if loc.is_some() => {
                    *slot = loc;
                    true
                }
                _ => false,
            });
            if !recorded {
                default(info);
            }
        }));
    });
    PANIC_AT.with(|p| *p.borrow_mut() = None);
    assert!(catch_unwind(AssertUnwindSafe(f)).is_err(), "no panic");
    PANIC_AT
        .with(|p| p.borrow_mut().take())
        .expect("the panic reported no location")
}

fn here(line: u32) -> (String, u32) {
    (file!().to_string(), line)
}

#[test]
fn panicking_calls_report_the_callers_location() {
    let line = Location::caller().line() + 2;
    let at = panic_location(|| {
        Builder::new().worker_threads(0);
    });
    assert_eq!(at, here(line), "worker_threads(0)");

    let line = Location::caller().line() + 2;
    let at = panic_location(|| {
        Builder::new().max_blocking_threads(0);
    });
    assert_eq!(at, here(line), "max_blocking_threads(0)");

    let line = Location::caller().line() + 1;
    let at = panic_location(|| drop(Handle::current()));
    assert_eq!(at, here(line), "Handle::current() outside a runtime");

    let line = Location::caller().line() + 1;
    let at = panic_location(|| drop(weft_executor::spawn(async {})));
    assert_eq!(at, here(line), "spawn outside a runtime");

    let rt = common::rt(1);
    let h = rt.spawn(std::future::pending::<()>());
    h.abort();
    let err: JoinError = rt.block_on(h).unwrap_err();
    let line = Location::caller().line() + 1;
    let at = panic_location(move || drop(err.into_panic()));
    assert_eq!(at, here(line), "JoinError::into_panic of a cancellation");

    let line = Location::caller().line() + 3;
    let at = panic_location(|| {
        rt.block_on(async {
            weft_executor::block_on(async {});
        })
    });
    assert_eq!(at, here(line), "block_on inside block_on");
}

weft_executor::task_local! {
    static REQUEST: u32;
}

/// Reads the task-local when dropped.
struct ReadsOnDrop(Arc<Mutex<Vec<Option<u32>>>>);

impl Drop for ReadsOnDrop {
    fn drop(&mut self) {
        let v = REQUEST.try_with(|v| *v).ok();
        self.0.lock().unwrap().push(v);
    }
}

#[test]
fn a_task_local_is_set_while_its_future_is_dropped() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let rt = common::rt(2);
    // Aborted while idle.
    let guard = ReadsOnDrop(seen.clone());
    let h = rt.spawn(REQUEST.scope(7, async move {
        let _g = guard;
        std::future::pending::<()>().await
    }));
    h.abort();
    assert!(rt.block_on(h).unwrap_err().is_cancelled());
    // Dropped at shutdown.
    let guard = ReadsOnDrop(seen.clone());
    drop(rt.spawn(REQUEST.scope(8, async move {
        let _g = guard;
        std::future::pending::<()>().await
    })));
    drop(rt);
    assert_eq!(*seen.lock().unwrap(), vec![Some(7), Some(8)]);
    assert!(REQUEST.try_with(|_| ()).is_err(), "the scope leaked out");
}

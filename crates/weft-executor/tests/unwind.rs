//! Panics outside a task's poll: in hooks, in the default panic report, in wakers the
//! runtime wakes or drops, in destructors it runs. None may unwind into a worker or a
//! blocking thread: the worker goes on and shutdown completes.

#![cfg(not(weft_loom))]

mod common;

use std::future::{poll_fn, Future};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Poll, Wake, Waker};
use std::time::Duration;
use weft_executor::{Builder, Runtime};

/// Far above anything these need (milliseconds): only turns a hang into a failure.
const HANG: Duration = Duration::from_secs(60);

/// Keeps the process's panic hook from printing the panics these tests cause on purpose
/// (thousands, many on worker threads, whose output the test harness does not capture).
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let p = info.payload();
            let msg = p
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| p.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("");
            let ours = [
                "panics when",
                "hook",
                "nobody",
                "detached",
                "half-done",
                "closed",
            ]
            .iter()
            .any(|m| msg.contains(m))
                || msg.contains("SendError");
            if !ours {
                default(info);
            }
        }));
    });
}

/// Runs `f` on a thread of its own and fails if it has not returned within `HANG`.
fn within_hang_bound<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    quiet_panics();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("{what}: did not finish within {HANG:?} (hung)"))
}

/// A hook that panics the way the crate's own doc example would once the receiver is
/// gone: `send(()).unwrap()` on a closed channel.
fn closed_channel_hook() -> impl Fn(Box<dyn std::any::Any + Send>) + Send + Sync + 'static {
    let (tx, rx) = mpsc::channel::<()>();
    drop(rx);
    let tx = Mutex::new(tx);
    move |_payload| tx.lock().unwrap().send(()).unwrap()
}

/// The worker of a 1-worker runtime still runs tasks, and the runtime drops.
fn still_runs_and_drops(rt: Runtime, what: &str) {
    within_hang_bound(what, move || {
        for i in 0..10 {
            assert_eq!(rt.block_on(rt.spawn(async move { i })).unwrap(), i);
        }
        drop(rt);
    });
}

#[test]
fn a_panicking_on_task_panic_hook_does_not_kill_the_worker() {
    quiet_panics();
    let rt = Builder::new()
        .worker_threads(1)
        .on_task_panic(closed_channel_hook())
        .build()
        .unwrap();
    for _ in 0..3 {
        drop(rt.spawn(async { panic!("nobody is listening") }));
    }
    still_runs_and_drops(rt, "a 1-worker runtime after its panic hook panicked");
}

#[test]
fn a_panicking_hook_on_a_blocking_thread_does_not_hang_shutdown() {
    let rt = Builder::new()
        .worker_threads(1)
        .max_blocking_threads(1)
        .on_task_panic(closed_channel_hook())
        .build()
        .unwrap();
    for _ in 0..3 {
        drop(rt.spawn_blocking(|| panic!("a blocking task nobody awaits")));
    }
    within_hang_bound("blocking pool after its panic hook panicked", move || {
        // The same (only) blocking thread must still run work...
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 5)).unwrap(), 5);
        // ...and dropping the runtime waits for a thread count that is right.
        drop(rt);
    });
}

#[test]
fn panicking_thread_hooks_are_contained() {
    let rt = Builder::new()
        .worker_threads(1)
        .on_thread_start(|| panic!("start hook"))
        .on_thread_stop(|| panic!("stop hook"))
        .build()
        .unwrap();
    within_hang_bound("a runtime whose thread hooks panic", move || {
        // The blocking thread (its start hook panicked) runs work...
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 3)).unwrap(), 3);
        // ...and so does the worker (its start hook panicked too).
        still_runs_and_drops(rt, "a runtime whose thread hooks panic");
    });
}

/// A waker whose `wake` panics, and one whose drop panics.
struct Hostile {
    panic_on_wake: bool,
    panic_on_drop: bool,
}

impl Wake for Hostile {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if self.panic_on_wake {
            panic!("a waker that panics when woken");
        }
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        if self.panic_on_drop && !std::thread::panicking() {
            panic!("a waker that panics when dropped");
        }
    }
}

#[test]
fn a_join_waker_that_panics_when_woken_does_not_kill_the_worker() {
    let rt = common::rt(1);
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = Mutex::new(go_rx);
    let mut h = rt.spawn(async move {
        // Wait (off the worker) until the JoinHandle registered its waker.
        weft_executor::spawn_blocking(move || go_rx.lock().unwrap().recv().unwrap())
            .await
            .unwrap();
        9
    });
    let waker = Waker::from(Arc::new(Hostile {
        panic_on_wake: true,
        panic_on_drop: false,
    }));
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(std::pin::Pin::new(&mut h).poll(&mut cx).is_pending());
    go_tx.send(()).unwrap(); // the task completes on the worker and wakes `waker`
    within_hang_bound("awaiting a handle whose first waker panicked", move || {
        // Not polled again before it finished: the panicking waker is the one woken.
        while !h.is_finished() {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(weft_executor::block_on(&mut h).unwrap(), 9);
        still_runs_and_drops(rt, "a runtime after a join waker panicked");
    });
}

/// Panics if dropped outside an unwind.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("a value that panics when dropped");
        }
    }
}

/// A stress test more than a regression test: everything that can panic outside a poll,
/// at once, on two workers, many times; the runtime must keep running tasks and shut
/// down, and every handle must resolve.
#[test]
fn stress_unwinding_outside_polls() {
    quiet_panics();
    for round in 0..4u32 {
        let rt = Builder::new()
            .worker_threads(2)
            .on_task_panic(closed_channel_hook())
            .on_thread_stop(|| panic!("stop hook"))
            .build()
            .unwrap();
        let mut pending = Vec::new();
        for i in 0..100u32 {
            // Outputs that panic when dropped, handles dropped before or after the end.
            let h = rt.spawn(async move {
                if i % 3 == 0 {
                    weft_executor::yield_now().await;
                }
                PanicOnDrop
            });
            // Join wakers that panic when woken or dropped.
            let mut h = h;
            let waker = Waker::from(Arc::new(Hostile {
                panic_on_wake: i % 2 == 0,
                panic_on_drop: i % 2 == 1,
            }));
            let mut cx = std::task::Context::from_waker(&waker);
            let caught = |f: Box<dyn FnOnce() + '_>| {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            };
            caught(Box::new(|| drop(std::pin::Pin::new(&mut h).poll(&mut cx))));
            caught(Box::new(move || drop(waker)));
            caught(Box::new(move || drop(h)));
            // Detached panics for the (panicking) hook, and futures whose destructor
            // panics, aborted or left for shutdown.
            drop(rt.spawn(async move { panic!("detached {i}") }));
            let guard = PanicOnDrop;
            let h = rt.spawn(async move {
                let _g = guard;
                std::future::pending::<()>().await
            });
            if i % 2 == 0 {
                h.abort();
            }
            pending.push(h);
        }
        let resolved = within_hang_bound("a runtime under panics outside polls", move || {
            assert_eq!(rt.block_on(rt.spawn(async move { round })).unwrap(), round);
            drop(rt);
            pending
                .into_iter()
                .map(|h| weft_executor::block_on(h).unwrap_err())
                .filter(|e| e.is_cancelled() || e.is_panic())
                .count()
        });
        assert_eq!(resolved, 100);
    }
}

#[test]
fn a_panicking_poll_drops_its_future_while_the_panic_unwinds() {
    // A guard that commits unless the thread is panicking must see the panic.
    struct Transaction(Arc<Mutex<Option<bool>>>);
    impl Drop for Transaction {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = Some(!std::thread::panicking());
        }
    }
    // A hand-written future: a panic in its poll does not drop its fields (an async
    // block's locals are dropped by the unwind itself), the runner drops them.
    struct Failing(#[allow(dead_code)] Transaction);
    impl Future for Failing {
        type Output = ();
        fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<()> {
            panic!("half-done work");
        }
    }
    let committed = Arc::new(Mutex::new(None));
    let rt = common::rt(1);
    let h = rt.spawn(Failing(Transaction(committed.clone())));
    assert!(rt.block_on(h).unwrap_err().is_panic());
    assert_eq!(
        *committed.lock().unwrap(),
        Some(false),
        "the future was dropped after the panic was caught: its guard committed"
    );
}

/// The child half of `the_default_report_survives_a_closed_stderr`: with fd 2 a pipe
/// whose reader is gone, a detached task panics and the default report writes to stderr.
#[test]
fn child_default_report_with_a_closed_stderr() {
    if std::env::var_os("WEFT_UNWIND_CHILD").is_none() {
        return; // only meaningful in the child process started by the test below
    }
    let rt = common::rt(1);
    drop(rt.spawn(async { panic!("reported to a closed stderr") }));
    // Give the report time to happen before checking the worker is alive.
    for i in 0..10 {
        assert_eq!(rt.block_on(rt.spawn(async move { i })).unwrap(), i);
    }
    drop(rt);
    println!("CHILD-SURVIVED");
}

#[test]
fn the_default_report_survives_a_closed_stderr() {
    // `app 2>&1 | head`: Rust ignores SIGPIPE, so writing to stderr fails with EPIPE and
    // `eprintln!` would panic, outside every catch_unwind.
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "child_default_report_with_a_closed_stderr",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("WEFT_UNWIND_CHILD", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take()); // the reader of fd 2 goes away before anything is written
    let out = within_hang_bound("the child with a closed stderr", move || {
        let mut out = String::new();
        std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
        let status = child.wait().unwrap();
        (out, status)
    });
    assert!(
        out.1.success() && out.0.contains("CHILD-SURVIVED"),
        "the child failed with a closed stderr: {:?}\n{}",
        out.1,
        out.0
    );
}

#[test]
fn panics_in_destructors_during_shutdown_are_contained() {
    // Futures whose destructor panics, dropped when the runtime shuts down.
    use PanicOnDrop as Boom;
    let rt = common::rt(2);
    let mut handles = Vec::new();
    for _ in 0..50 {
        let b = Boom;
        handles.push(rt.spawn(async move {
            let _b = b;
            std::future::pending::<()>().await
        }));
        let b2 = Boom;
        drop(rt.spawn(async move {
            let _b2 = b2;
            poll_fn(|_| Poll::<()>::Pending).await
        }));
    }
    let seen = within_hang_bound(
        "dropping a runtime whose futures panic in drop",
        move || {
            drop(rt);
            handles
                .into_iter()
                .map(|h| weft_executor::block_on(h).unwrap_err())
                .filter(|e| e.is_panic() || e.is_cancelled())
                .count()
        },
    );
    assert_eq!(seen, 50, "every handle resolves after shutdown");
}

//! Panics inside tasks, `abort()` at every point of a task's life, and the panic hook.

#![cfg(not(weft_loom))]

mod common;

use common::{rt, DropCount};
use std::future::{pending, poll_fn};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::Poll;
use std::time::Duration;
use weft_executor::{spawn, yield_now, Builder};

#[test]
fn a_panic_is_caught_and_the_worker_keeps_running() {
    // One worker, so the task after the panic runs on the very thread that panicked.
    let rt = rt(1);
    let h = rt.spawn(async {
        let n = std::hint::black_box(42);
        panic!("task failure {n}")
    });
    let id = h.id();
    let err = rt.block_on(h).unwrap_err();
    assert!(err.is_panic() && !err.is_cancelled());
    assert_eq!(
        err.to_string(),
        format!("task {id} panicked: task failure 42")
    );
    let payload = err.into_panic();
    assert_eq!(payload.downcast_ref::<String>().unwrap(), "task failure 42");
    for i in 0..100 {
        assert_eq!(rt.block_on(rt.spawn(async move { i })).unwrap(), i);
    }
}

#[test]
fn the_future_of_a_panicking_task_is_dropped_once() {
    let rt = rt(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCount(drops.clone());
    let h = rt.spawn(async move {
        let _g = guard;
        yield_now().await;
        panic!("after a yield");
    });
    assert!(rt.block_on(h).unwrap_err().is_panic());
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn detached_panics_go_to_the_hook_exactly_once() {
    let (tx, rx) = mpsc::channel::<String>();
    let tx = Mutex::new(tx);
    let rt = Builder::new()
        .worker_threads(2)
        .on_task_panic(move |p| {
            let msg = p.downcast_ref::<&str>().unwrap().to_string();
            tx.lock().unwrap().send(msg).unwrap();
        })
        .build()
        .unwrap();
    // Detached before it runs.
    drop(rt.spawn(async { panic!("detached early") }));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "detached early"
    );
    // Finished before the handle is dropped, never awaited: reported when it is dropped.
    let h = rt.spawn(async { panic!("dropped after the end") });
    while !h.is_finished() {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        rx.try_recv().is_err(),
        "reported while a handle could still read it"
    );
    drop(h);
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "dropped after the end"
    );
    // Awaited: the handle gets it, the hook does not.
    let err = rt
        .block_on(rt.spawn(async { panic!("awaited") }))
        .unwrap_err();
    assert!(err.is_panic());
    drop(rt);
    assert!(rx.try_recv().is_err(), "an awaited panic reached the hook");
}

#[test]
fn abort_before_the_first_poll() {
    // One worker kept busy, so the task cannot start before the abort.
    let rt = rt(1);
    let (started_tx, started_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let blocker = rt.spawn(async move {
        started_tx.send(()).unwrap();
        go_rx.recv().unwrap();
    });
    started_rx.recv().unwrap();
    let polled = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let (p, g) = (polled.clone(), DropCount(drops.clone()));
    let h = rt.spawn(async move {
        let _g = g;
        p.fetch_add(1, SeqCst);
    });
    h.abort();
    go_tx.send(()).unwrap();
    assert!(rt.block_on(h).unwrap_err().is_cancelled());
    rt.block_on(blocker).unwrap();
    assert_eq!(polled.load(SeqCst), 0);
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn abort_during_a_poll_takes_effect_when_it_returns() {
    let rt = rt(2);
    let (in_poll_tx, in_poll_rx) = mpsc::channel();
    let (resume_tx, resume_rx) = mpsc::channel::<()>();
    let polls = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let (p, g) = (polls.clone(), DropCount(drops.clone()));
    let h = rt.spawn(async move {
        let _g = g;
        poll_fn(move |_| {
            p.fetch_add(1, SeqCst);
            in_poll_tx.send(()).unwrap();
            resume_rx.recv().unwrap();
            Poll::<()>::Pending
        })
        .await
    });
    in_poll_rx.recv().unwrap();
    h.abort();
    assert!(!h.is_finished());
    resume_tx.send(()).unwrap();
    assert!(rt.block_on(h).unwrap_err().is_cancelled());
    assert_eq!(polls.load(SeqCst), 1, "polled again after abort");
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn abort_of_an_idle_task_drops_it() {
    let rt = rt(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let g = DropCount(drops.clone());
    let h = rt.spawn(async move {
        let _g = g;
        pending::<()>().await
    });
    // Let it run once and go idle.
    std::thread::sleep(Duration::from_millis(20));
    let ah = h.abort_handle();
    ah.abort();
    ah.abort(); // twice is harmless
    assert!(rt.block_on(h).unwrap_err().is_cancelled());
    assert_eq!(drops.load(SeqCst), 1);
    assert!(ah.is_finished());
}

#[test]
fn abort_after_completion_keeps_the_output() {
    let rt = rt(2);
    let h = rt.spawn(async { "kept" });
    while !h.is_finished() {
        std::thread::yield_now();
    }
    h.abort();
    assert_eq!(rt.block_on(h).unwrap(), "kept");
}

#[test]
fn abort_racing_completion_gives_exactly_one_outcome() {
    let rt = rt(2);
    for _ in 0..2000 {
        let drops = Arc::new(AtomicUsize::new(0));
        let g = DropCount(drops.clone());
        let h = rt.spawn(async move {
            let _g = g;
            yield_now().await;
            1
        });
        h.abort();
        match rt.block_on(h) {
            Ok(v) => assert_eq!(v, 1),
            Err(e) => assert!(e.is_cancelled()),
        }
        assert_eq!(drops.load(SeqCst), 1);
    }
}

#[test]
fn many_tasks_panic_concurrently_and_none_is_lost() {
    let rt = Builder::new()
        .worker_threads(2)
        .on_task_panic(|_| {})
        .build()
        .unwrap();
    let results = rt.block_on(async {
        let hs: Vec<_> = (0..1000)
            .map(|i| {
                spawn(async move {
                    if i % 3 == 0 {
                        panic!("{i}");
                    }
                    i
                })
            })
            .collect();
        let mut ok = 0;
        let mut panicked = 0;
        for h in hs {
            match h.await {
                Ok(_) => ok += 1,
                Err(e) if e.is_panic() => panicked += 1,
                Err(e) => panic!("unexpected {e}"),
            }
        }
        (ok, panicked)
    });
    assert_eq!(results, (666, 334));
}

#[test]
fn a_future_whose_drop_panics_after_ready_does_not_take_the_worker_down() {
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("drop of a finished future");
        }
    }
    /// Ready at once, but dropping it (after it finished) panics.
    struct Finished(#[allow(dead_code)] PanicsOnDrop);
    impl std::future::Future for Finished {
        type Output = u8;
        fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<u8> {
            Poll::Ready(1)
        }
    }
    let rt = rt(1);
    let err = rt.block_on(rt.spawn(Finished(PanicsOnDrop))).unwrap_err();
    assert!(err.is_panic(), "{err:?}");
    // The single worker is still alive.
    assert_eq!(rt.block_on(rt.spawn(async { 2 })).unwrap(), 2);
}

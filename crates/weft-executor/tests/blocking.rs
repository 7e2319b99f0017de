//! The blocking pool.

#![cfg(not(weft_loom))]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;
use weft_executor::{spawn_blocking, Builder, Runtime};

/// One worker and at most one blocking thread, so a second blocking task must queue.
fn one_blocking_thread() -> Runtime {
    Builder::new()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .unwrap()
}

#[test]
fn runs_closures_on_blocking_threads() {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let name = rt
        .block_on(async {
            spawn_blocking(|| std::thread::current().name().unwrap().to_string()).await
        })
        .unwrap();
    assert!(name.starts_with("weft-blocking-"), "{name}");
}

#[test]
fn never_more_threads_than_the_limit() {
    let rt = Builder::new()
        .worker_threads(1)
        .max_blocking_threads(2)
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..10)
        .map(|i| {
            let (running, peak) = (running.clone(), peak.clone());
            rt.spawn_blocking(move || {
                let now = running.fetch_add(1, SeqCst) + 1;
                peak.fetch_max(now, SeqCst);
                std::thread::sleep(Duration::from_millis(5));
                running.fetch_sub(1, SeqCst);
                i
            })
        })
        .collect();
    let out: Vec<_> = hs.into_iter().map(|h| rt.block_on(h).unwrap()).collect();
    assert_eq!(out, (0..10).collect::<Vec<_>>());
    assert!(peak.load(SeqCst) <= 2, "peak {}", peak.load(SeqCst));
    assert!(rt.metrics().blocking_threads() <= 2);
}

#[test]
fn idle_threads_exit_after_keep_alive() {
    let rt = Builder::new()
        .worker_threads(1)
        .thread_keep_alive(Duration::from_millis(20))
        .build()
        .unwrap();
    rt.block_on(rt.spawn_blocking(|| ())).unwrap();
    let m = rt.metrics();
    // Bounded wait for the thread to notice it is idle (not a timing assertion).
    for _ in 0..1000 {
        if m.blocking_threads() == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the idle blocking thread never exited");
}

#[test]
fn abort_before_start_cancels_and_panics_reach_the_handle() {
    let rt = one_blocking_thread();
    let (tx, rx) = mpsc::channel::<()>();
    let busy = rt.spawn_blocking(move || rx.recv().unwrap());
    let queued = rt.spawn_blocking(|| "never");
    queued.abort();
    tx.send(()).unwrap();
    rt.block_on(busy).unwrap();
    assert!(rt.block_on(queued).unwrap_err().is_cancelled());
    let err = rt
        .block_on(rt.spawn_blocking(|| panic!("blocking panic")))
        .unwrap_err();
    assert!(err.is_panic());
}

#[test]
fn blocking_threads_can_use_the_runtime() {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let v = rt
        .block_on(rt.spawn_blocking(|| {
            let h = weft_executor::Handle::current();
            weft_executor::block_on(h.spawn(async { 11 })).unwrap()
        }))
        .unwrap();
    assert_eq!(v, 11);
}

#[test]
fn queued_blocking_tasks_are_cancelled_at_shutdown() {
    let rt = one_blocking_thread();
    let (tx, rx) = mpsc::channel::<()>();
    let _busy = rt.spawn_blocking(move || {
        let _ = rx.recv_timeout(Duration::from_millis(50));
    });
    let queued = rt.spawn_blocking(|| 1);
    drop(rt);
    drop(tx);
    assert!(weft_executor::block_on(queued).unwrap_err().is_cancelled());
}

/// Two tasks queued at once, just after the only pool thread finished a task (it looks
/// for the next one before sleeping): the spinning thread takes one, and the other still
/// gets a thread of its own, so two tasks that wait for each other both finish.
#[test]
fn tasks_queued_while_a_thread_spins_each_get_a_thread() {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = Builder::new().worker_threads(1).build().unwrap();
        rt.block_on(async {
            for _ in 0..200 {
                spawn_blocking(|| ()).await.unwrap();
                // Long enough for the pool thread to be looking, well within its spin.
                let start = std::time::Instant::now();
                while start.elapsed() < Duration::from_micros(10) {
                    std::hint::spin_loop();
                }
                let barrier = Arc::new(std::sync::Barrier::new(2));
                let (a, b) = (barrier.clone(), barrier);
                let first = spawn_blocking(move || a.wait());
                let second = spawn_blocking(move || b.wait());
                first.await.unwrap();
                second.await.unwrap();
            }
        });
        let _ = done.send(());
    });
    // A hang (the second task left queued for the busy thread) becomes a failure.
    finished
        .recv_timeout(Duration::from_secs(60))
        .expect("two blocking tasks that wait for each other did not both run");
}

/// Sequential calls from `block_on` and from a task, each awaited before the next: every
/// one completes and comes back to its caller (the hand-over without a wake-up).
#[test]
fn sequential_calls_from_block_on_and_from_a_task_complete() {
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let sum = rt.block_on(async {
        let mut sum = 0u64;
        for i in 0..2_000u64 {
            sum += spawn_blocking(move || i).await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 2_000 * 1_999 / 2);
    let sum = rt.block_on(rt.spawn(async {
        let mut sum = 0u64;
        for i in 0..2_000u64 {
            sum += spawn_blocking(move || i).await.unwrap();
            if i % 500 == 0 {
                // Long waits between some calls, so the spin turns off and on again.
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        sum
    }));
    assert_eq!(sum.unwrap(), 2_000 * 1_999 / 2);
}

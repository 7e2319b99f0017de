//! Dropping the runtime: every task's future is dropped exactly once, nothing leaks, and
//! what comes after is handled.

#![cfg(not(weft_loom))]

mod common;

use common::{rt, DropCount};
use std::future::pending;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;
use weft_executor::{spawn, yield_now, Runtime};

#[test]
fn pending_queued_and_yielding_tasks_are_all_dropped_once() {
    let rt = rt(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    // Idle forever.
    for _ in 0..1000 {
        let g = DropCount(drops.clone());
        handles.push(rt.spawn(async move {
            let _g = g;
            pending::<()>().await
        }));
    }
    // Always runnable.
    for _ in 0..100 {
        let g = DropCount(drops.clone());
        handles.push(rt.spawn(async move {
            let _g = g;
            loop {
                yield_now().await;
            }
        }));
    }
    // Detached idle tasks, too.
    for _ in 0..100 {
        let g = DropCount(drops.clone());
        drop(rt.spawn(async move {
            let _g = g;
            pending::<()>().await
        }));
    }
    std::thread::sleep(Duration::from_millis(20));
    let metrics = rt.metrics();
    assert_eq!(metrics.alive_tasks(), 1200);
    drop(rt);
    assert_eq!(drops.load(SeqCst), 1200);
    assert_eq!(metrics.alive_tasks(), 0);
    for h in handles {
        assert!(h.is_finished());
        assert!(weft_executor::block_on(h).unwrap_err().is_cancelled());
    }
}

#[test]
fn spawning_after_shutdown_cancels_at_once() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    drop(rt);
    let drops = Arc::new(AtomicUsize::new(0));
    let g = DropCount(drops.clone());
    let h = handle.spawn(async move {
        let _g = g;
    });
    assert_eq!(drops.load(SeqCst), 1);
    assert!(weft_executor::block_on(h).unwrap_err().is_cancelled());
}

#[test]
fn destructors_that_spawn_or_wake_during_shutdown_are_safe() {
    struct SpawnOnDrop(weft_executor::Handle, Arc<AtomicUsize>);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let g = DropCount(self.1.clone());
            drop(self.0.spawn(async move {
                let _g = g;
            }));
        }
    }
    let rt = rt(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<std::task::Waker>();
    let t = SpawnOnDrop(rt.handle().clone(), drops.clone());
    rt.spawn(async move {
        let _t = t;
        pending::<()>().await
    });
    // A task whose waker is held outside and used after shutdown.
    rt.spawn(async move {
        std::future::poll_fn(|cx| {
            tx.send(cx.waker().clone()).unwrap();
            std::task::Poll::<()>::Pending
        })
        .await
    });
    let waker = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(10));
    drop(rt);
    assert_eq!(
        drops.load(SeqCst),
        1,
        "the task spawned from a destructor was dropped"
    );
    waker.wake_by_ref();
    waker.wake();
}

#[test]
fn the_runtime_can_be_dropped_from_another_thread_with_tasks_queued() {
    let rt = rt(2);
    let h = rt.spawn(async { 3 });
    let rt2 = std::sync::Mutex::new(Some(rt));
    // Dropping from another thread while tasks are queued.
    std::thread::spawn(move || drop(rt2.lock().unwrap().take()))
        .join()
        .unwrap();
    let _ = weft_executor::block_on(h);
}

#[test]
fn shutdown_timeout_bounds_the_wait_for_blocking_tasks() {
    let rt = rt(1);
    let (tx, rx) = mpsc::channel::<()>();
    rt.spawn_blocking(move || {
        // Blocks until the test lets it go, long after shutdown returned.
        let _ = rx.recv_timeout(Duration::from_secs(30));
    });
    std::thread::sleep(Duration::from_millis(20));
    let start = std::time::Instant::now();
    rt.shutdown_timeout(Duration::from_millis(50));
    // Not a timing assertion: the blocking task is still parked on `rx`, so returning at
    // all proves the wait was bounded.
    let _ = start;
    tx.send(()).unwrap();
}

#[test]
fn a_task_can_outlive_nothing_after_many_runtimes() {
    // Build and drop runtimes in a loop with live tasks: no thread or task may leak.
    let drops = Arc::new(AtomicUsize::new(0));
    for _ in 0..50 {
        let rt = rt(2);
        for _ in 0..20 {
            let g = DropCount(drops.clone());
            rt.spawn(async move {
                let _g = g;
                let _ = spawn(async {}).await;
                pending::<()>().await
            });
        }
    }
    assert_eq!(drops.load(SeqCst), 50 * 20);
}

#[test]
fn the_runtime_can_be_dropped_from_a_blocking_task() {
    let rt = rt(1);
    let slot = std::sync::Arc::new(std::sync::Mutex::new(None::<Runtime>));
    let s = slot.clone();
    let h = rt.spawn_blocking(move || {
        // Drops the runtime this closure runs on.
        drop(s.lock().unwrap().take());
        "dropped"
    });
    *slot.lock().unwrap() = Some(rt);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(weft_executor::block_on(h)).unwrap());
    let out = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("dropping the runtime from a blocking task deadlocked");
    assert_eq!(out.unwrap(), "dropped");
}

#[test]
fn a_worker_dropping_the_runtime_drops_the_tasks_it_spawned_before_and_after() {
    // Tasks spawned on a worker wait in its batch before they are linked into the list
    // (see task/list.rs); dropping the runtime from inside a task must still find them,
    // and tasks spawned after the drop are shut down when the worker stops.
    let rt = rt(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let slot = Arc::new(std::sync::Mutex::new(None::<Runtime>));
    let (s, d) = (slot.clone(), drops.clone());
    let (tx, rx) = mpsc::channel::<()>();
    drop(rt.spawn(async move {
        for _ in 0..10 {
            let g = DropCount(d.clone());
            drop(spawn(async move {
                let _g = g;
                pending::<()>().await
            }));
        }
        let _ = rx.recv();
        drop(s.lock().unwrap().take()); // the runtime, dropped on this worker
        for _ in 0..5 {
            let g = DropCount(d.clone());
            drop(spawn(async move {
                let _g = g;
                pending::<()>().await
            }));
        }
    }));
    *slot.lock().unwrap() = Some(rt);
    tx.send(()).unwrap();
    // The worker finishes its poll, then stops; nobody joins it, so wait for the drops.
    assert_eq!(
        drops_settled(&drops, 15),
        15,
        "every future dropped exactly once"
    );
}

/// Waits (up to a minute) until `drops` reaches `n`, then a moment more, and returns it:
/// for workers that stop on their own, which nobody joins.
fn drops_settled(drops: &AtomicUsize, n: usize) -> usize {
    for _ in 0..6000 {
        if drops.load(SeqCst) == n {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(20));
    drops.load(SeqCst)
}

/// Spawns, when dropped, a task holding the next guard (`depth` more levels).
struct SpawnOnDrop {
    drops: Arc<AtomicUsize>,
    depth: usize,
}

impl Drop for SpawnOnDrop {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
        if self.depth > 0 {
            let next = SpawnOnDrop {
                drops: self.drops.clone(),
                depth: self.depth - 1,
            };
            drop(spawn(async move {
                let _next = next;
                pending::<()>().await
            }));
        }
    }
}

#[test]
fn destructors_that_spawn_while_a_worker_drops_the_runtime_leak_nothing() {
    // The runtime is dropped on its worker; shutting a task down runs a destructor that
    // spawns, on that worker, a task whose destructor spawns again. Every one of these
    // futures must be dropped.
    let rt = rt(1);
    let drops = Arc::new(AtomicUsize::new(0));
    let g = SpawnOnDrop {
        drops: drops.clone(),
        depth: 3,
    };
    drop(rt.spawn(async move {
        let _g = g;
        pending::<()>().await
    }));
    let slot = Arc::new(std::sync::Mutex::new(None::<Runtime>));
    let s = slot.clone();
    let (tx, rx) = mpsc::channel::<()>();
    drop(rt.spawn(async move {
        let _ = rx.recv();
        drop(s.lock().unwrap().take());
    }));
    *slot.lock().unwrap() = Some(rt);
    tx.send(()).unwrap();
    assert_eq!(
        drops_settled(&drops, 4),
        4,
        "every spawned future dropped exactly once"
    );
}

//! Local tasks: `spawn_local` on a current-thread runtime, `LocalSet` on a multi-thread
//! runtime, wake-ups from other threads, shutdown, and misuse.

#![cfg(not(weft_loom))]

mod common;

use common::{panic_message, rt, Gate};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;
use weft_executor::{spawn, spawn_blocking, spawn_local, yield_now, Builder, LocalSet};

/// Counts its drops in an `Rc`: not `Send`.
struct RcDrop(Rc<Cell<usize>>);

impl Drop for RcDrop {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn spawn_local_on_a_current_thread_runtime_shares_rc_refcell_state() {
    let rt = Builder::new_current_thread().build().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    rt.block_on(async move {
        let hs: Vec<_> = (0..100)
            .map(|i| {
                let l = l.clone();
                spawn_local(async move {
                    yield_now().await;
                    l.borrow_mut().push(i);
                    // A local task spawns a local task.
                    let l2 = l.clone();
                    spawn_local(async move { l2.borrow_mut().push(1000 + i) })
                        .await
                        .unwrap();
                    Rc::strong_count(&l)
                })
            })
            .collect();
        for h in hs {
            assert!(h.await.unwrap() >= 2);
        }
    });
    let log = log.borrow();
    assert_eq!(log.len(), 200);
    let mut sorted = log.clone();
    sorted.sort();
    assert_eq!(sorted[..100], (0..100).collect::<Vec<_>>()[..]);
}

#[test]
fn spawn_local_from_a_send_task_on_a_current_thread_runtime() {
    let rt = Builder::new_current_thread().build().unwrap();
    let v = rt.block_on(async {
        spawn(async {
            let rc = Rc::new(21);
            spawn_local(async move { *rc * 2 }).await.unwrap()
        })
        .await
        .unwrap()
    });
    assert_eq!(v, 42);
}

#[test]
fn a_local_set_runs_on_a_multi_thread_runtimes_block_on_thread() {
    let rt = rt(2);
    let local = LocalSet::new();
    let here = std::thread::current().id();
    let counter = Rc::new(Cell::new(0));
    let c = counter.clone();
    local.block_on(&rt, async move {
        let hs: Vec<_> = (0..50)
            .map(|_| {
                let c = c.clone();
                spawn_local(async move {
                    // Woken from a worker thread: the task still runs here.
                    spawn(async { yield_now().await }).await.unwrap();
                    c.set(c.get() + 1);
                    std::thread::current().id()
                })
            })
            .collect();
        for h in hs {
            assert_eq!(h.await.unwrap(), here);
        }
    });
    assert_eq!(counter.get(), 50);
}

#[test]
fn a_local_task_woken_from_a_blocking_thread_runs_on_its_own_thread() {
    let rt = Builder::new_current_thread().build().unwrap();
    let here = std::thread::current().id();
    let id = rt.block_on(async {
        let marker = Rc::new(());
        spawn_local(async move {
            let _keep = marker;
            spawn_blocking(|| std::thread::sleep(Duration::from_millis(10)))
                .await
                .unwrap();
            std::thread::current().id()
        })
        .await
        .unwrap()
    });
    assert_eq!(id, here);
}

#[test]
fn awaiting_a_local_set_runs_it_until_every_task_finished() {
    let rt = rt(1);
    let done = Rc::new(Cell::new(0));
    let local = LocalSet::new();
    for _ in 0..10 {
        let d = done.clone();
        local.spawn_local(async move {
            for _ in 0..10 {
                yield_now().await;
            }
            d.set(d.get() + 1);
        });
    }
    rt.block_on(local);
    assert_eq!(done.get(), 10);
}

#[test]
fn run_until_returns_with_the_future_and_leaves_other_tasks_in_the_set() {
    let rt = rt(1);
    let local = LocalSet::new();
    let gate = Gate::default();
    let g = gate.clone();
    let waiting = local.spawn_local(async move {
        g.wait().await;
        "released"
    });
    rt.block_on(local.run_until(async { yield_now().await }));
    assert!(!waiting.is_finished());
    gate.open();
    let out = local.block_on(&rt, waiting).unwrap();
    assert_eq!(out, "released");
}

#[test]
fn dropping_a_local_set_drops_each_future_once_and_cancels_the_handles() {
    let rt = rt(1);
    let drops = Rc::new(Cell::new(0));
    let local = LocalSet::new();
    let mut handles = Vec::new();
    for i in 0..20 {
        let d = RcDrop(drops.clone());
        let gate = Gate::default();
        handles.push(local.spawn_local(async move {
            let _d = d;
            if i % 2 == 0 {
                gate.wait().await;
            }
            std::future::pending::<()>().await
        }));
    }
    // Half of them run to their wait, half stay queued.
    local.block_on(&rt, async { yield_now().await });
    assert_eq!(drops.get(), 0);
    drop(local);
    assert_eq!(drops.get(), 20);
    for h in handles {
        assert!(weft_executor::block_on(h).unwrap_err().is_cancelled());
    }
}

#[test]
fn current_thread_local_tasks_still_running_are_dropped_when_block_on_returns() {
    let rt = Builder::new_current_thread().build().unwrap();
    let drops = Rc::new(Cell::new(0));
    let d = RcDrop(drops.clone());
    let h = rt.block_on(async move {
        vec![spawn_local(async move {
            let _d = d;
            std::future::pending::<()>().await
        })]
    });
    assert_eq!(drops.get(), 1);
    let h = h.into_iter().next().unwrap();
    assert!(rt.block_on(h).unwrap_err().is_cancelled());
}

#[test]
fn a_local_task_panic_reaches_its_handle() {
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let rc = Rc::new(());
        let err = spawn_local(async move {
            let _rc = rc;
            panic!("local boom")
        })
        .await
        .unwrap_err();
        assert!(err.is_panic());
    });
}

#[test]
fn abort_cancels_a_local_task_from_another_thread() {
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let h = spawn_local(async { std::future::pending::<()>().await });
        let abort = h.abort_handle();
        spawn_blocking(move || abort.abort()).await.unwrap();
        assert!(h.await.unwrap_err().is_cancelled());
    });
}

#[test]
fn spawn_local_without_a_local_set_panics_with_what_to_do() {
    let msg = panic_message(|| {
        drop(spawn_local(async {}));
    });
    assert!(msg.contains("LocalSet"), "{msg}");
    assert!(msg.contains("new_current_thread"), "{msg}");
    // Also on a multi-thread runtime's block_on thread and its workers.
    let rt = rt(1);
    let msg = panic_message(|| rt.block_on(async { drop(spawn_local(async {})) }));
    assert!(msg.contains("LocalSet"), "{msg}");
    let err = rt.block_on(async {
        spawn(async { drop(spawn_local(async {})) })
            .await
            .unwrap_err()
    });
    assert!(err.is_panic());
}

#[test]
fn join_handles_of_local_tasks_are_send_when_the_output_is() {
    let rt = Builder::new_current_thread().build().unwrap();
    let v = rt.block_on(async {
        let rc = Rc::new(1);
        let h = spawn_local(async move { *rc + 1 });
        // Awaited on a blocking thread (spawn_blocking needs it Send) while this thread
        // runs the set.
        spawn_blocking(move || weft_executor::block_on(h))
            .await
            .unwrap()
            .unwrap()
    });
    assert_eq!(v, 2);
}

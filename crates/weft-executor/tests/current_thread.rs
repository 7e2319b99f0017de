//! The current-thread flavour: tasks run on the thread in `block_on`; wake-ups from other
//! threads; fairness; the driver; shutdown; a second thread in `block_on`.

#![cfg(not(weft_loom))]

mod common;

use common::{panic_message, DropCount, Gate, Recording};
use std::future::poll_fn;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;
use weft_executor::{spawn, spawn_blocking, yield_now, Builder, Driver, ParkDriver, Runtime};

fn current() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

#[test]
fn tasks_run_on_the_block_on_thread_and_no_worker_thread_starts() {
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let rt = Builder::new_current_thread()
        .on_thread_start(move || {
            s.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    let here = std::thread::current().id();
    let ids = rt.block_on(async {
        let hs: Vec<_> = (0..100)
            .map(|_| spawn(async { std::thread::current().id() }))
            .collect();
        let mut ids = Vec::new();
        for h in hs {
            ids.push(h.await.unwrap());
        }
        ids
    });
    assert!(ids.iter().all(|id| *id == here));
    assert_eq!(started.load(SeqCst), 0, "no worker thread may start");
    assert_eq!(rt.metrics().num_workers(), 1);
}

#[test]
fn spawn_and_join_many_with_nested_spawns() {
    let rt = current();
    let sum = rt.block_on(async {
        let hs: Vec<_> = (0..10_000u64)
            .map(|i| spawn(async move { spawn(async move { i }).await.unwrap() }))
            .collect();
        let mut sum = 0;
        for h in hs {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, (0..10_000u64).sum());
}

#[test]
fn tasks_spawned_outside_block_on_run_in_the_next_block_on() {
    let rt = current();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let h = rt.spawn(async move { r.store(true, SeqCst) });
    std::thread::sleep(Duration::from_millis(20));
    assert!(!ran.load(SeqCst), "nothing runs the tasks outside block_on");
    rt.block_on(h).unwrap();
    assert!(ran.load(SeqCst));
}

#[test]
fn a_spawn_from_a_foreign_thread_wakes_the_parked_block_on_thread() {
    let rt = current();
    let handle = rt.handle().clone();
    let (tx, rx) = mpsc::channel();
    let out = rt.block_on(async move {
        let gate = Gate::default();
        let s = gate.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            // Into the injector: the block_on thread sleeps in the driver meanwhile.
            tx.send(handle.spawn(async move {
                s.open();
                std::thread::current().id()
            }))
            .unwrap();
        });
        gate.wait().await;
        t.join().unwrap();
        rx.recv().unwrap().await.unwrap()
    });
    assert_eq!(out, std::thread::current().id());
}

#[test]
fn a_blocking_task_wakes_the_block_on_thread_and_spawns_onto_it() {
    let rt = current();
    let handle = rt.handle().clone();
    let v = rt.block_on(async move {
        let inner = spawn_blocking(move || {
            std::thread::sleep(Duration::from_millis(20));
            handle.spawn(async { 7 })
        })
        .await
        .unwrap();
        inner.await.unwrap()
    });
    assert_eq!(v, 7);
}

#[test]
fn a_task_yielding_forever_starves_neither_other_tasks_nor_the_main_future() {
    let rt = current();
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    rt.block_on(async move {
        let spinner = spawn(async move {
            let mut n = 0u64;
            while !st.load(SeqCst) {
                yield_now().await;
                n += 1;
            }
            n
        });
        // Other tasks, each yielding a few times, finish while it spins.
        let hs: Vec<_> = (0..10)
            .map(|i| {
                spawn(async move {
                    for _ in 0..100 {
                        yield_now().await;
                    }
                    i
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        // And the main future itself yields and gets its turns.
        for _ in 0..100 {
            yield_now().await;
        }
        stop.store(true, SeqCst);
        assert!(spinner.await.unwrap() > 0);
    });
}

#[test]
fn the_driver_is_polled_while_tasks_are_always_ready_and_parked_in_when_idle() {
    let driver = Arc::new(Recording::default());
    let rt = Builder::new_current_thread()
        .driver(driver.clone())
        .build()
        .unwrap();
    rt.block_on(async {
        spawn(async {
            for _ in 0..10_000 {
                yield_now().await;
            }
        })
        .await
        .unwrap();
    });
    // 10,000 polls: a poll every 61 ticks and a look for due timers every 32.
    assert!(
        driver.polls.load(SeqCst) >= 100,
        "{}",
        driver.polls.load(SeqCst)
    );
    assert!(driver.due_polls.load(SeqCst) >= 200);
    // Idle: the block_on thread sleeps in the driver until a blocking task wakes it.
    let parks = driver.parks.load(SeqCst);
    rt.block_on(async {
        spawn_blocking(|| std::thread::sleep(Duration::from_millis(20)))
            .await
            .unwrap()
    });
    assert!(driver.parks.load(SeqCst) > parks);
    drop(rt);
    assert_eq!(driver.shutdowns.load(SeqCst), 1);
}

// The main future yielding in a loop until a task sets a flag: it woke itself during every
// poll, and the loop polled it again before running any task (it hung in a facade test).
#[test]
fn a_main_future_yielding_in_a_loop_lets_the_tasks_run() {
    let rt = current();
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        rt.block_on(async {
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            drop(spawn(async move {
                yield_now().await;
                f.store(true, SeqCst);
            }));
            while !flag.load(SeqCst) {
                yield_now().await;
            }
        });
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the tasks never ran");
    t.join().unwrap();
}

/// Wakes the one waker it holds whenever it is polled, or parked in (then without
/// sleeping): a socket that is ready each time the runtime looks.
#[derive(Default)]
struct WakesOnPoll {
    inner: ParkDriver,
    waker: Mutex<Option<Waker>>,
}

impl WakesOnPoll {
    fn deliver(&self) -> bool {
        let w = self.waker.lock().unwrap().take();
        w.map(Waker::wake).is_some()
    }
}

impl Driver for WakesOnPoll {
    fn park(&self, timeout: Option<Duration>) {
        if !self.deliver() {
            self.inner.park(timeout);
        }
    }
    fn unpark(&self) {
        self.inner.unpark();
    }
    fn poll(&self) {
        self.deliver();
    }
    fn poll_due(&self) {
        self.deliver();
    }
}

// The main future woken by the driver while the loop finds no task (a look for due
// timers, a maintenance poll): the loop must see it before it parks. It parked instead,
// until some other wake-up (a 30 s timeout in the echo test that found it).
#[test]
fn a_main_future_woken_by_the_driver_on_the_idle_path_is_not_lost() {
    let driver = Arc::new(WakesOnPoll::default());
    let rt = Builder::new_current_thread()
        .driver(driver.clone())
        .build()
        .unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        rt.block_on(async {
            // Each round's idle path takes a tick or two, so the looks for due timers
            // (every 32 ticks) and the maintenance polls (every 61) fall on it often.
            for _ in 0..2_000 {
                let mut registered = false;
                poll_fn(|cx| {
                    if registered {
                        return Poll::Ready(());
                    }
                    registered = true;
                    *driver.waker.lock().unwrap() = Some(cx.waker().clone());
                    Poll::Pending
                })
                .await;
            }
        });
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("a wake-up of the main future was lost");
    t.join().unwrap();
}

#[test]
fn shutdown_drops_every_future_once_and_resolves_the_handles() {
    let rt = current();
    let drops = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    rt.block_on(async {
        for i in 0..100 {
            let d = DropCount(drops.clone());
            let wait = Gate::default();
            handles.push(spawn(async move {
                let _d = d;
                if i % 2 == 0 {
                    // Half of them park forever, half stay queued.
                    wait.wait().await;
                }
                yield_now().await;
                std::future::pending::<()>().await
            }));
        }
        // Let the first half run to its wait.
        yield_now().await;
    });
    assert_eq!(drops.load(SeqCst), 0);
    drop(rt);
    assert_eq!(drops.load(SeqCst), 100);
    for h in handles {
        assert!(weft_executor::block_on(h).unwrap_err().is_cancelled());
    }
}

#[test]
fn outputs_reach_handles_awaited_after_block_on_returns() {
    let rt = current();
    // The main future is ready at once: the task has not run when `block_on` returns,
    // and runs in the next one.
    let mut hs = rt.block_on(async { vec![spawn(async { "done" })] });
    let h = hs.pop().unwrap();
    assert_eq!(rt.block_on(h).unwrap(), "done");
}

#[test]
fn a_panicking_main_future_gives_the_tasks_back_to_the_next_block_on() {
    let rt = current();
    let res = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async {
            drop(spawn(async {}));
            panic!("main future panics");
        })
    }));
    assert!(res.is_err());
    let h = rt.spawn(async { 5 });
    assert_eq!(rt.block_on(h).unwrap(), 5);
}

#[test]
fn a_task_panic_reaches_its_handle_and_the_runtime_goes_on() {
    let rt = current();
    rt.block_on(async {
        let err = spawn(async { panic!("boom") }).await.unwrap_err();
        assert!(err.is_panic());
        assert_eq!(spawn(async { 1 }).await.unwrap(), 1);
    });
}

#[test]
fn block_on_inside_a_task_panics_with_a_message() {
    let rt = current();
    let msg = panic_message(|| {
        rt.block_on(async {
            let err = spawn(async { weft_executor::block_on(async {}) })
                .await
                .unwrap_err();
            std::panic::resume_unwind(err.into_panic())
        })
    });
    assert!(msg.contains("`.await` the future instead"), "{msg}");
}

#[test]
fn a_second_block_on_thread_polls_its_own_future_then_takes_over_the_tasks() {
    let rt = Arc::new(current());
    let first_in = Gate::default();
    let release_first = Gate::default();
    let late = Gate::default();
    // The first thread holds the tasks until told to return.
    let t1 = {
        let rt = rt.clone();
        let (first_in, release_first) = (first_in.clone(), release_first.clone());
        std::thread::spawn(move || {
            rt.block_on(async move {
                first_in.open();
                release_first.wait().await;
            })
        })
    };
    weft_executor::block_on(first_in.wait());
    // A task that waits for a signal set only after the first `block_on` returned.
    let task = rt.spawn({
        let late = late.clone();
        async move {
            late.wait().await;
            std::thread::current().id()
        }
    });
    let t2 = {
        let rt = rt.clone();
        std::thread::spawn(move || {
            let ran_on = rt.block_on(task).unwrap();
            (ran_on, std::thread::current().id())
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    release_first.open();
    t1.join().unwrap();
    late.open();
    let (ran_on, t2_id) = t2.join().unwrap();
    assert_eq!(
        ran_on, t2_id,
        "the second thread took over running the tasks"
    );
}

#[test]
fn metrics_count_across_block_on_calls_and_the_trace_records_polls() {
    let rt = Builder::new_current_thread().trace(10_000).build().unwrap();
    for _ in 0..2 {
        rt.block_on(async {
            for _ in 0..50 {
                spawn(async {}).await.unwrap();
            }
        });
    }
    let m = rt.metrics();
    assert_eq!(m.spawned_tasks(), 100);
    assert!(m.worker_polls(0) >= 100, "{}", m.worker_polls(0));
    assert_eq!(m.alive_tasks(), 0);
    let trace = rt.handle().take_trace();
    let polls = trace
        .events()
        .iter()
        .filter(|e| matches!(e.kind, weft_executor::TraceKind::Poll { .. }))
        .count();
    assert!(polls >= 100, "{polls}");
}

#[test]
fn the_runtime_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Runtime>();
}

#[test]
fn block_in_place_panics_on_the_current_thread_flavour_in_tasks_and_the_main_future() {
    let rt = current();
    let err = rt.block_on(async {
        spawn(async { weft_executor::block_in_place(|| 1) })
            .await
            .unwrap_err()
    });
    let payload = err.into_panic();
    let msg = payload.downcast_ref::<String>().unwrap();
    assert!(msg.contains("spawn_blocking(f).await"), "{msg}");
    let msg = panic_message(|| {
        rt.block_on(async { weft_executor::block_in_place(|| 1) });
    });
    assert!(msg.contains("current-thread runtime"), "{msg}");
    // The runtime goes on.
    assert_eq!(rt.block_on(rt.spawn(async { 3 })).unwrap(), 3);
}

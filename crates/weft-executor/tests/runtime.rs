//! Spawning, joining, entering and misuse of the runtime.

#![cfg(not(weft_loom))]

mod common;

use common::{panic_message, rt};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
use weft_executor::{block_on, spawn, yield_now, Builder, Handle};

#[test]
fn spawn_and_join_many() {
    let rt = rt(2);
    let sum = rt.block_on(async {
        let hs: Vec<_> = (0..10_000u64).map(|i| spawn(async move { i })).collect();
        let mut sum = 0;
        for h in hs {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, (0..10_000u64).sum());
}

#[test]
fn spawn_from_a_foreign_thread_through_a_handle() {
    let rt = rt(2);
    let handle = rt.handle().clone();
    let out = std::thread::spawn(move || {
        let hs: Vec<_> = (0..1000)
            .map(|i| handle.spawn(async move { i * 2 }))
            .collect();
        block_on(async {
            let mut v = Vec::new();
            for h in hs {
                v.push(h.await.unwrap());
            }
            v
        })
    })
    .join()
    .unwrap();
    assert_eq!(out, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
}

#[test]
fn tasks_spawned_inside_tasks_run_on_all_workers() {
    let rt = rt(2);
    let names = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let n2 = names.clone();
    rt.block_on(async move {
        let hs: Vec<_> = (0..200)
            .map(|_| {
                let names = n2.clone();
                spawn(async move {
                    let name = std::thread::current().name().unwrap().to_string();
                    names.lock().unwrap().insert(name);
                    // Keep the thread busy a little so the other worker has to steal.
                    std::thread::sleep(Duration::from_micros(200));
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    let names = names.lock().unwrap();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("weft-worker-")));
}

#[test]
fn free_spawn_outside_a_runtime_panics_with_the_fix() {
    let msg = panic_message(|| drop(spawn(async {})));
    assert!(msg.contains("no weft runtime"), "{msg}");
    assert!(msg.contains("block_on"), "{msg}");
    let msg = panic_message(|| drop(Handle::current()));
    assert!(msg.contains("Handle::enter"), "{msg}");
    assert!(Handle::try_current().is_err());
}

#[test]
fn block_on_inside_a_worker_panics_and_says_to_await() {
    let rt = rt(1);
    let err = rt
        .block_on(rt.spawn(async { block_on(async {}) }))
        .unwrap_err();
    assert!(err.is_panic());
    let msg = err.to_string();
    assert!(msg.contains(".await"), "{msg}");
}

#[test]
fn nested_block_on_panics() {
    let rt = rt(1);
    let msg = panic_message(|| rt.block_on(async { block_on(async {}) }));
    assert!(msg.contains(".await"), "{msg}");
    // And the runtime still works afterwards.
    assert_eq!(rt.block_on(async { 5 }), 5);
}

#[test]
fn enter_lets_a_plain_thread_spawn() {
    let rt = rt(1);
    let h = {
        let _g = rt.enter();
        spawn(async { "entered" })
    };
    assert_eq!(rt.block_on(h).unwrap(), "entered");
    assert!(Handle::try_current().is_err());
}

#[test]
fn yield_now_lets_queued_tasks_run_first() {
    // One worker: the order of events is deterministic.
    let rt = rt(1);
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    rt.block_on(rt.spawn(async move {
        let l2 = l.clone();
        let other = spawn(async move { l2.lock().unwrap().push("other") });
        l.lock().unwrap().push("before yield");
        yield_now().await;
        l.lock().unwrap().push("after yield");
        other.await.unwrap();
    }))
    .unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        ["before yield", "other", "after yield"]
    );
}

#[test]
fn yield_now_with_a_waker_not_its_tasks_still_wakes_it() {
    // The runner's fast path applies only to the task's own waker. Under block_on, and
    // inside a task behind a combinator that polls with a waker of its own, yield_now
    // must wake that waker, or nothing would ever poll it again.
    assert_eq!(
        block_on(async {
            yield_now().await;
            1
        }),
        1
    );
    struct OwnWaker<F>(std::pin::Pin<Box<F>>, Arc<Mutex<Vec<bool>>>);
    struct Flag(Arc<Mutex<Vec<bool>>>, std::task::Waker);
    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.lock().unwrap().push(true);
            self.1.wake_by_ref();
        }
    }
    impl<F: std::future::Future> std::future::Future for OwnWaker<F> {
        type Output = F::Output;
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<F::Output> {
            let flag = Arc::new(Flag(self.1.clone(), cx.waker().clone()));
            let waker = std::task::Waker::from(flag);
            self.0
                .as_mut()
                .poll(&mut std::task::Context::from_waker(&waker))
        }
    }
    let rt = rt(1);
    let woken = Arc::new(Mutex::new(Vec::new()));
    let w = woken.clone();
    let out = rt
        .block_on(rt.spawn(async move {
            OwnWaker(
                Box::pin(async {
                    yield_now().await;
                    2
                }),
                w,
            )
            .await
        }))
        .unwrap();
    assert_eq!(out, 2);
    assert_eq!(
        *woken.lock().unwrap(),
        [true],
        "the combinator's waker was woken once"
    );
}

#[test]
fn a_task_yielding_in_a_loop_lets_tasks_spawned_from_outside_in_at_its_next_yield() {
    // One worker, kept busy by a task that yields in a loop and counts its polls. A task
    // spawned from outside records the count when it runs: at most one more poll of the
    // yielder may start after the spawn (one that was about to begin). Without the refill
    // on yield, it waited for the worker's next look at the injector, up to 61 polls.
    let rt = rt(1);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let polls = Arc::new(AtomicUsize::new(0));
    let (s, p) = (stop.clone(), polls.clone());
    let yielder = rt.spawn(async move {
        while !s.load(SeqCst) {
            p.fetch_add(1, SeqCst);
            yield_now().await;
        }
    });
    while polls.load(SeqCst) < 100 {
        std::thread::yield_now();
    }
    let mut gaps = Vec::new();
    for _ in 0..50 {
        let p = polls.clone();
        let h = rt.spawn(async move { p.load(SeqCst) });
        let at_spawn = polls.load(SeqCst);
        gaps.push(rt.block_on(h).unwrap().saturating_sub(at_spawn));
    }
    stop.store(true, SeqCst);
    rt.block_on(yielder).unwrap();
    assert!(
        gaps.iter().all(|&g| g <= 1),
        "yielder polls before the task: {gaps:?}"
    );
}

#[test]
fn wake_from_a_foreign_thread() {
    let rt = rt(2);
    let (tx, rx) = mpsc::channel::<std::task::Waker>();
    let h = rt.spawn(async move {
        let mut sent = false;
        std::future::poll_fn(move |cx| {
            if sent {
                return std::task::Poll::Ready(7);
            }
            sent = true;
            tx.send(cx.waker().clone()).unwrap();
            std::task::Poll::Pending
        })
        .await
    });
    let waker = rx.recv().unwrap();
    std::thread::spawn(move || waker.wake()).join().unwrap();
    assert_eq!(rt.block_on(h).unwrap(), 7);
}

#[test]
fn builder_sets_thread_names_and_hooks() {
    let started = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicUsize::new(0));
    let (s, t) = (started.clone(), stopped.clone());
    let rt = Builder::new()
        .worker_threads(3)
        .thread_name("named")
        .thread_stack_size(256 * 1024)
        .on_thread_start(move || {
            s.fetch_add(1, SeqCst);
        })
        .on_thread_stop(move || {
            t.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    let name = rt
        .block_on(rt.spawn(async { std::thread::current().name().unwrap().to_string() }))
        .unwrap();
    assert!(name.starts_with("named-worker-"), "{name}");
    drop(rt);
    assert_eq!(started.load(SeqCst), 3);
    assert_eq!(stopped.load(SeqCst), 3);
}

#[test]
fn metrics_count_polls_and_spawns() {
    let rt = rt(2);
    rt.block_on(async {
        let hs: Vec<_> = (0..1000)
            .map(|_| spawn(async { yield_now().await }))
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    // Metrics are published when workers park; give them a moment to go idle.
    let m = rt.metrics();
    let mut polls = 0;
    for _ in 0..200 {
        polls = (0..2).map(|i| m.worker_polls(i)).sum::<u64>();
        if polls >= 2000 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(polls >= 2000, "each task polls twice: {polls}");
    assert_eq!(m.spawned_tasks(), 1000);
    assert_eq!(m.alive_tasks(), 0);
    assert_eq!(m.injector_depth(), 0);
}

#[test]
fn alive_tasks_counts_tasks_spawned_on_a_worker_before_they_are_linked() {
    // A worker keeps the tasks it spawns in a batch before linking them into the owned
    // list (task/list.rs); the count must include them at once, and the spawner itself
    // must have left the count by the time its JoinHandle has the output.
    let rt = rt(2);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    let spawner = rt.spawn(async move {
        for _ in 0..10 {
            let rx = rx.clone();
            drop(spawn(async move {
                // Blocks this task's worker until the test lets go: keep it short.
                let _ = rx.lock().unwrap().recv();
            }));
        }
    });
    rt.block_on(spawner).unwrap();
    let m = rt.metrics();
    assert_eq!(m.alive_tasks(), 10);
    drop(tx); // every recv returns Err: the ten finish
    for _ in 0..6000 {
        if m.alive_tasks() == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(m.alive_tasks(), 0);
}

//! `weft::task::block_in_place`: the blocked worker's queued tasks and the timers go on.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;
use weft::task::block_in_place;

/// A bound that only turns a hang into a failure.
const HANG: Duration = Duration::from_secs(30);

fn runtime(workers: usize) -> weft::Runtime {
    weft::Builder::new()
        .worker_threads(workers)
        .build()
        .unwrap()
}

/// From a task, spawns tasks (the last into the LIFO slot, the rest into the worker's
/// queue) and a task that sleeps on a timer, then blocks in place for 200 ms and, still
/// blocked, until each of them has said it finished (or `HANG` passed). Every other
/// worker is kept blocked meanwhile (without `block_in_place`), so only the hand-off can
/// run them.
fn queued_and_timers_run_while_blocked(workers: usize) {
    const QUEUED: usize = 20;
    let rt = runtime(workers);
    let (hogs_running, hog_started) = mpsc::channel();
    let (end_hogs, hogs_end) = async_channel::unbounded::<()>();
    for _ in 1..workers {
        let (started, end) = (hogs_running.clone(), hogs_end.clone());
        rt.spawn(async move {
            started.send(()).unwrap();
            // Blocks this worker's thread until the test is over.
            let _ = end.recv_blocking();
        });
        hog_started.recv_timeout(HANG).expect("a hog runs");
    }
    let finished = rt.block_on(async {
        weft::spawn(async {
            let (done, finished) = mpsc::channel::<&'static str>();
            for _ in 0..QUEUED {
                let done = done.clone();
                weft::spawn(async move { done.send("queued").unwrap() });
            }
            let timer_done = done.clone();
            weft::spawn(async move {
                weft::time::sleep(Duration::from_millis(5)).await;
                timer_done.send("timer").unwrap();
            });
            drop(done);
            block_in_place(|| {
                std::thread::sleep(Duration::from_millis(200));
                // Every one of them ran while this closure blocked: the worker's queues
                // and slot went to another thread.
                (0..QUEUED + 1)
                    .map_while(|_| finished.recv_timeout(HANG).ok())
                    .collect::<Vec<_>>()
            })
        })
        .await
        .unwrap()
    });
    end_hogs.close();
    assert_eq!(
        finished.len(),
        QUEUED + 1,
        "finished while blocked: {finished:?}"
    );
    assert_eq!(finished.iter().filter(|s| **s == "timer").count(), 1);
}

#[test]
fn queued_tasks_and_timers_run_while_a_task_blocks_in_place() {
    queued_and_timers_run_while_blocked(2);
}

#[test]
fn with_one_worker_its_queued_tasks_and_timers_run_while_it_blocks_in_place() {
    queued_and_timers_run_while_blocked(1);
}

#[test]
fn nested_block_in_place_runs_and_the_worker_goes_on() {
    let rt = runtime(1);
    let n = rt.block_on(async {
        weft::spawn(async {
            let (tx, rx) = mpsc::channel();
            weft::spawn(async move { tx.send(()).unwrap() });
            block_in_place(|| {
                block_in_place(|| {
                    // The inner call has no worker to hand over: it just runs, and the
                    // task queued behind the outer one still runs meanwhile.
                    rx.recv_timeout(HANG).expect("the queued task ran");
                    7
                }) * 6
            })
        })
        .await
        .unwrap()
    });
    assert_eq!(n, 42);
}

#[test]
fn a_task_awaits_and_yields_after_blocking_in_place() {
    let rt = runtime(1);
    let out = rt.block_on(async {
        weft::spawn(async {
            let a = block_in_place(|| 1);
            weft::task::yield_now().await;
            weft::time::sleep(Duration::from_millis(1)).await;
            let b = weft::spawn(async { 2 }).await.unwrap();
            // Polled again on the worker (wherever it runs now): it may block in place again.
            let c = block_in_place(|| 3);
            let d = weft::spawn(async { block_in_place(|| 4) }).await.unwrap();
            a + b + c + d
        })
        .await
        .unwrap()
    });
    assert_eq!(out, 10);
}

#[test]
fn many_tasks_block_in_place_at_once() {
    const TASKS: usize = 32;
    let rt = runtime(2);
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let total = rt.block_on({
        let (inside, most) = (inside.clone(), most.clone());
        async move {
            let hs: Vec<_> = (0..TASKS)
                .map(|i| {
                    let (inside, most) = (inside.clone(), most.clone());
                    weft::spawn(async move {
                        weft::task::yield_now().await;
                        block_in_place(|| {
                            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            inside.fetch_sub(1, Ordering::SeqCst);
                        });
                        weft::time::sleep(Duration::from_millis(1)).await;
                        i
                    })
                })
                .collect();
            let mut total = 0;
            for h in hs {
                total += h.await.unwrap();
            }
            total
        }
    });
    assert_eq!(total, TASKS * (TASKS - 1) / 2);
    // With 2 workers, more than 2 closures blocked at once: each call handed its worker on.
    assert!(most.load(Ordering::SeqCst) > 2, "at most {most:?} at once");
    assert_eq!(rt.metrics().num_workers(), 2);
}

#[test]
fn outside_a_worker_block_in_place_just_runs() {
    assert_eq!(block_in_place(|| 1), 1);
    let rt = runtime(1);
    // In `block_on` (not a worker) and on the blocking pool.
    assert_eq!(rt.block_on(async { block_in_place(|| 2) }), 2);
    let n = rt.block_on(async {
        weft::task::spawn_blocking(|| block_in_place(|| 3))
            .await
            .unwrap()
    });
    assert_eq!(n, 3);
}

/// A task blocked in place on a runtime of one worker, until the returned sender says so; returns the
/// runtime, that sender, and the flag the closure sets when it returns.
fn blocked_task() -> (weft::Runtime, mpsc::Sender<()>, Arc<AtomicBool>) {
    let rt = runtime(1);
    let (release, released) = mpsc::channel::<()>();
    let (entered_tx, entered) = mpsc::channel::<()>();
    let ended = Arc::new(AtomicBool::new(false));
    let flag = ended.clone();
    rt.spawn(async move {
        block_in_place(move || {
            entered_tx.send(()).unwrap();
            let _ = released.recv_timeout(HANG);
            flag.store(true, Ordering::SeqCst);
        });
    });
    entered
        .recv_timeout(HANG)
        .expect("the task blocked in place");
    // The worker went on without it.
    assert_eq!(
        rt.block_on(async { weft::spawn(async { 5 }).await.unwrap() }),
        5
    );
    (rt, release, ended)
}

#[test]
fn shutdown_timeout_does_not_wait_past_its_timeout_for_a_task_blocked_in_place() {
    let (rt, release, ended) = blocked_task();
    rt.shutdown_timeout(Duration::from_millis(50));
    // The closure is still blocked: it waits for `release`, sent only now.
    assert!(!ended.load(Ordering::SeqCst));
    release.send(()).unwrap();
}

#[test]
fn dropping_the_runtime_waits_for_a_task_blocked_in_place() {
    let (rt, release, ended) = blocked_task();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        release.send(()).unwrap();
    });
    drop(rt);
    // As for a blocking task: the drop returned after the closure did.
    assert!(ended.load(Ordering::SeqCst));
    releaser.join().unwrap();
}

#[test]
fn a_panic_in_block_in_place_reaches_the_join_handle_and_the_runtime_goes_on() {
    let rt = runtime(1);
    let err = rt.block_on(async {
        weft::spawn(async {
            block_in_place(|| panic!("blocked and failed"));
        })
        .await
        .unwrap_err()
    });
    assert!(err.is_panic());
    assert_eq!(
        rt.block_on(async { weft::spawn(async { 1 }).await.unwrap() }),
        1
    );
}

#[test]
fn the_runtime_dropped_inside_block_in_place_shuts_down() {
    let rt = runtime(1);
    let slot = Arc::new(std::sync::Mutex::new(None::<weft::Runtime>));
    let (done, dropped) = mpsc::channel();
    let inside = slot.clone();
    // Spawned before the runtime goes into the slot: the task waits for it there.
    let (go, ready) = mpsc::channel::<()>();
    rt.spawn(async move {
        block_in_place(move || {
            ready
                .recv_timeout(HANG)
                .expect("the runtime is in the slot");
            // The last owner: shuts the runtime down from the thread that handed its
            // worker off (it must not wait for itself).
            drop(inside.lock().unwrap().take());
            done.send(()).unwrap();
        });
    });
    *slot.lock().unwrap() = Some(rt);
    go.send(()).unwrap();
    dropped
        .recv_timeout(HANG)
        .expect("the drop inside returned");
}

/// A join waker whose last clone's drop calls `block_in_place`, and says whether a task
/// was current then. Its wakes go to the task that awaits through it.
struct BlocksWhenDropped {
    awaiter: std::task::Waker,
    dropped: mpsc::Sender<bool>,
}

impl std::task::Wake for BlocksWhenDropped {
    fn wake(self: Arc<Self>) {
        self.awaiter.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.awaiter.wake_by_ref();
    }
}

impl Drop for BlocksWhenDropped {
    fn drop(&mut self) {
        let in_task = weft::task::try_id().is_some();
        block_in_place(|| ());
        let _ = self.dropped.send(in_task);
    }
}

/// Awaits `handle` with a `BlocksWhenDropped` as its waker: once the task finished, the
/// cell keeps that waker until the cell is freed.
async fn await_with_blocking_waker(
    handle: weft::task::JoinHandle<u32>,
    dropped: mpsc::Sender<bool>,
) -> u32 {
    let mut handle = Some(handle);
    let mut waker = None;
    std::future::poll_fn(move |cx| {
        let waker = waker.get_or_insert_with(|| {
            std::task::Waker::from(Arc::new(BlocksWhenDropped {
                awaiter: cx.waker().clone(),
                dropped: dropped.clone(),
            }))
        });
        let mut inner = std::task::Context::from_waker(waker);
        let h = handle.as_mut().expect("polled after it finished");
        let out = std::future::Future::poll(std::pin::Pin::new(h), &mut inner);
        if out.is_ready() {
            handle = None;
        }
        out
    })
    .await
    .unwrap()
}

/// On a worker, spawns a task and, behind it, tasks that stay pending: the first finishes
/// while still in the worker's batch of spawned tasks (not among its last few), so the
/// batch keeps the last reference to its cell, and with it the join waker. Returns the
/// task awaiting it, with the channel the waker's drop reports on and the fillers' end.
fn finished_task_kept_by_the_batch(
    dropped: mpsc::Sender<bool>,
) -> (
    async_channel::Sender<()>,
    impl std::future::Future<Output = u32>,
) {
    let (end, wait) = async_channel::bounded::<()>(1);
    let task = async move {
        let first = weft::spawn(async { 1u32 });
        for _ in 0..8 {
            let wait = wait.clone();
            weft::spawn(async move {
                let _ = wait.recv().await;
            });
        }
        await_with_blocking_waker(first, dropped).await
    };
    (end, task)
}

#[test]
fn block_in_place_in_a_join_wakers_drop_inside_a_spawn_does_not_hand_off() {
    let rt = runtime(1);
    let (dropped, seen) = mpsc::channel();
    let (end, first) = finished_task_kept_by_the_batch(dropped);
    let (before, after) = rt.block_on(async move {
        weft::spawn(async move {
            let before = std::thread::current().id();
            assert_eq!(first.await, 1);
            // Spawns fill the batch until it is flushed, inside `Shared::spawn` and within
            // this poll: the finished task's cell is freed there, with its join waker,
            // whose drop calls `block_in_place` while the spawn still borrows the worker.
            let spawned: Vec<_> = (0..200).map(|_| weft::spawn(async {})).collect();
            // Polled again on the worker: on another thread if it was handed off.
            weft::task::yield_now().await;
            let after = std::thread::current().id();
            for h in spawned {
                h.await.unwrap();
            }
            (before, after)
        })
        .await
        .unwrap()
    });
    end.close();
    let in_task = seen.recv_timeout(HANG).expect("the join waker was dropped");
    assert!(
        in_task,
        "dropped inside the spawning task's poll (the path under test)"
    );
    assert_eq!(
        before, after,
        "the worker was handed off from inside a spawn"
    );
}

#[test]
fn block_in_place_in_a_join_wakers_drop_between_polls_does_not_hand_off() {
    let rt = runtime(1);
    let (dropped, seen) = mpsc::channel();
    let (end, first) = finished_task_kept_by_the_batch(dropped);
    let before = rt.block_on(async move {
        weft::spawn(async move {
            assert_eq!(first.await, 1);
            std::thread::current().id()
        })
        .await
        .unwrap()
    });
    // The worker runs out of tasks and parks: it flushes its batch first, between polls,
    // freeing the finished task's cell.
    let in_task = seen.recv_timeout(HANG).expect("the join waker was dropped");
    assert!(!in_task, "dropped between polls (the path under test)");
    let after = rt.block_on(async { weft::spawn(async { std::thread::current().id() }).await });
    end.close();
    assert_eq!(
        before,
        after.unwrap(),
        "the worker was handed off between polls"
    );
}

#[test]
fn a_thread_that_handed_its_worker_off_runs_its_stop_hook_before_shutdown_returns() {
    let starts = Arc::new(AtomicUsize::new(0));
    let stops = Arc::new(AtomicUsize::new(0));
    let rt = {
        let (starts, stops) = (starts.clone(), stops.clone());
        weft::Builder::new()
            .worker_threads(1)
            .on_thread_start(move || {
                starts.fetch_add(1, Ordering::SeqCst);
            })
            .on_thread_stop(move || {
                // Slow: a thread that said it was gone before its hook would still be in it
                // when shutdown returns.
                std::thread::sleep(Duration::from_millis(100));
                stops.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap()
    };
    rt.block_on(async {
        weft::spawn(async { block_in_place(|| std::thread::sleep(Duration::from_millis(10))) })
            .await
            .unwrap()
    });
    // The thread that handed its worker off leaves as that task's poll returns.
    drop(rt);
    let starts = starts.load(Ordering::SeqCst);
    assert_eq!(
        starts, 2,
        "the worker's thread and the one it was handed to"
    );
    assert_eq!(stops.load(Ordering::SeqCst), starts);
}

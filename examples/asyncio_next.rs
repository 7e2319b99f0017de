//! What a Python programmer reaches for after `gather`: each asyncio tool beside its weft
//! form, each part checking what it claims.
//!
//! - `create_task` and `task.cancel()`: `weft::spawn`, `JoinHandle::abort`
//! - `TaskGroup`: `weft::task::JoinSet`
//! - `wait_for`: `weft::time::timeout`
//! - `Queue(maxsize)`: `weft::channel::bounded`
//! - `Lock`, `Semaphore`: `weft::sync::{Mutex, Semaphore}`
//! - `Event`: `weft::sync::CancellationToken` (set once, any number of waiters)
//! - `contextvars`: `weft::task_local!`
//! - `to_thread`: `weft::task::spawn_blocking`
//!
//! `cargo run --example asyncio_next`

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use weft::sync::{CancellationToken, Mutex, Semaphore};
use weft::task::JoinSet;
use weft::time::{sleep, timeout};

async fn fetch(name: &'static str, ms: u64) -> &'static str {
    sleep(Duration::from_millis(ms)).await;
    name
}

/// `task = asyncio.create_task(...)`, `await task`, `task.cancel()`.
async fn tasks() {
    let users = weft::spawn(fetch("users", 20));
    assert_eq!(users.await.expect("the task panicked"), "users");

    let slow = weft::spawn(fetch("stock", 60_000));
    slow.abort();
    let err = slow.await.expect_err("an aborted task has no output");
    assert!(err.is_cancelled());
    println!("create_task: awaited one task, cancelled another ({err})");
}

/// `async with asyncio.TaskGroup() as tg: tg.create_task(...)`.
async fn task_group() {
    let mut group = JoinSet::new();
    for (name, ms) in [("a", 30), ("b", 10), ("c", 20)] {
        group.spawn(fetch(name, ms));
    }
    let mut order = Vec::new();
    while let Some(done) = group.join_next().await {
        order.push(done.expect("a member panicked"));
    }
    // Results come as they finish. Leaving the scope early would abort the rest: dropping a
    // JoinSet aborts its tasks, as a TaskGroup cancels its members on error.
    assert_eq!(order.len(), 3);
    println!("TaskGroup: finished in the order {order:?}");
}

/// `await asyncio.wait_for(coro, 0.05)`.
async fn wait_for() {
    let fast = timeout(Duration::from_secs(60), fetch("fast", 1)).await;
    assert_eq!(fast, Ok("fast"));
    let slow = timeout(Duration::from_millis(50), fetch("slow", 60_000)).await;
    assert!(slow.is_err(), "the slow fetch should have timed out");
    println!("wait_for: one in time, one cancelled at its deadline");
}

/// `asyncio.Queue(maxsize=4)` with three consumers.
async fn queue() {
    let (tx, rx) = weft::channel::bounded::<u64>(4);
    let mut consumers = JoinSet::new();
    for _ in 0..3 {
        let rx = rx.clone();
        consumers.spawn(async move {
            let mut sum = 0;
            while let Ok(job) = rx.recv().await {
                sum += job;
            }
            sum
        });
    }
    for job in 1..=100 {
        // Waits while four jobs are queued: the producer cannot run ahead of the consumers.
        tx.send(job).await.expect("every consumer is gone");
    }
    drop(tx); // closes the queue: each consumer's recv() ends once it is empty
    let total: u64 = consumers.join_all().await.into_iter().sum();
    assert_eq!(total, 5050);
    println!("Queue: 100 jobs through a queue of 4 to 3 consumers, sum {total}");
}

/// `asyncio.Lock()` around shared counts, `asyncio.Semaphore(3)` around a resource.
async fn lock_and_semaphore() {
    let counts: Arc<Mutex<HashMap<&str, u32>>> = Arc::default();
    let limit = Arc::new(Semaphore::new(3));
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for i in 0..20 {
        let (counts, limit) = (counts.clone(), limit.clone());
        let (inside, most) = (inside.clone(), most.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_arc().await; // released when dropped
            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            sleep(Duration::from_millis(2)).await;
            inside.fetch_sub(1, Ordering::SeqCst);
            let name = if i % 2 == 0 { "even" } else { "odd" };
            *counts.lock().await.entry(name).or_default() += 1;
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a task panicked");
    }
    let counts = counts.lock().await;
    assert_eq!((counts["even"], counts["odd"]), (10, 10));
    let most = most.load(Ordering::SeqCst);
    assert!(most <= 3, "{most} tasks held the semaphore of 3 at once");
    println!("Lock and Semaphore: counts {counts:?}, at most {most} of 20 inside at once");
}

/// `event = asyncio.Event()`, `await event.wait()` in many tasks, `event.set()`.
async fn event() {
    let ready = CancellationToken::new();
    let passed = Arc::new(AtomicUsize::new(0));
    let mut waiters = JoinSet::new();
    for i in 0..5 {
        let (ready, passed) = (ready.clone(), passed.clone());
        waiters.spawn(async move {
            ready.cancelled().await; // returns at once if it is already set
            passed.fetch_add(1, Ordering::SeqCst);
            i
        });
    }
    sleep(Duration::from_millis(10)).await;
    let early = passed.load(Ordering::SeqCst);
    assert_eq!(early, 0, "{early} waiters passed before the event was set");
    ready.cancel(); // set(): wakes every waiter; there is no clear()
    let woken = waiters.join_all().await.len();
    assert_eq!(woken, 5);
    println!("Event: {woken} waiters released by one set");
}

weft::task_local! {
    static REQUEST_ID: u64;
}

async fn log(msg: &str) -> String {
    format!("[req {}] {msg}", REQUEST_ID.get())
}

/// `request_id = contextvars.ContextVar("request_id")`, set per request.
async fn context_vars() {
    let line = REQUEST_ID
        .scope(7, async {
            sleep(Duration::from_millis(1)).await; // the value survives awaits
            log("start").await
        })
        .await;
    assert_eq!(line, "[req 7] start");
    // A spawned task does not inherit it (asyncio copies the context): give it a scope.
    let bare = weft::spawn(async { REQUEST_ID.try_with(|id| *id).is_ok() });
    assert!(!bare.await.unwrap());
    let scoped = weft::spawn(REQUEST_ID.scope(8, async { log("in a task").await }));
    assert_eq!(scoped.await.unwrap(), "[req 8] in a task");
    println!("contextvars: {line}; a spawned task reads its own scope");
}

/// `await asyncio.to_thread(blocking_fn)`.
async fn to_thread() {
    let sum = weft::task::spawn_blocking(|| {
        std::thread::sleep(Duration::from_millis(20)); // a blocking call, off the workers
        (1..=1000u64).sum::<u64>()
    })
    .await
    .expect("the closure panicked");
    assert_eq!(sum, 500_500);
    println!("to_thread: the blocking pool returned {sum}");
}

#[weft::main]
async fn main() {
    tasks().await;
    task_group().await;
    wait_for().await;
    queue().await;
    lock_and_semaphore().await;
    event().await;
    context_vars().await;
    to_thread().await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_part_checks_out() {
        super::main();
    }
}

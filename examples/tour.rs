//! A tour of weft: what it does, shown by running it.
//!
//! `cargo run --release --example tour`
//!
//! It spawns a burst of tasks over every worker, shows the scheduler's own counters (polls,
//! steals, LIFO-slot hits, parks), then a few things a production runtime must get right:
//! a panicking task that does not take its worker down, a cancelled task, and blocking
//! work moved off the workers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_executor::{spawn, spawn_blocking, yield_now, Builder};

fn main() {
    let rt = Builder::new()
        .on_task_panic(|_| {}) // the tour reports panics itself
        .build()
        .expect("cannot start the runtime");
    let workers = rt.metrics().num_workers();
    println!("weft tour: {workers} worker threads\n");

    // 1. A burst: 100,000 tasks spawned from inside one task. Each adds to a sum; some
    //    yield once, to show tasks going to the back of the queue.
    const TASKS: u64 = 100_000;
    let sum = Arc::new(AtomicU64::new(0));
    let s = sum.clone();
    let start = Instant::now();
    rt.block_on(rt.spawn(async move {
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let s = s.clone();
                spawn(async move {
                    if i % 10 == 0 {
                        yield_now().await;
                    }
                    s.fetch_add(i, Ordering::Relaxed);
                })
            })
            .collect();
        for h in handles {
            h.await.expect("task failed");
        }
    }))
    .expect("spawner failed");
    let took = start.elapsed();
    assert_eq!(sum.load(Ordering::Relaxed), TASKS * (TASKS - 1) / 2);
    println!(
        "1. spawned and joined {TASKS} tasks in {:.1} ms ({:.0} ns per task)",
        took.as_secs_f64() * 1e3,
        took.as_nanos() as f64 / TASKS as f64
    );

    // Workers publish their counters when they go idle; give them a moment.
    std::thread::sleep(Duration::from_millis(50));
    let m = rt.metrics();
    println!("\n   per worker (from RuntimeMetrics):");
    println!(
        "   {:>6} {:>9} {:>9} {:>10} {:>9} {:>7} {:>9}",
        "worker", "polls", "stolen", "steal ops", "lifo hits", "parks", "overflows"
    );
    for i in 0..workers {
        println!(
            "   {:>6} {:>9} {:>9} {:>10} {:>9} {:>7} {:>9}",
            i,
            m.worker_polls(i),
            m.worker_steal_count(i),
            m.worker_steal_operations(i),
            m.worker_lifo_hits(i),
            m.worker_park_count(i),
            m.worker_overflow_count(i),
        );
    }
    println!(
        "   spawned {} tasks, {} alive, injector depth {}",
        m.spawned_tasks(),
        m.alive_tasks(),
        m.injector_depth()
    );

    // 2. A task that panics: the panic is caught, the worker keeps running tasks, and the
    //    JoinHandle carries the payload. (The process's panic hook would print the panic
    //    and a backtrace at the panic site, as for any panic; the tour silences it.)
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let err = rt
        .block_on(rt.spawn(async {
            let n: u32 = "not a number".parse().unwrap_or(0);
            if n == 0 {
                panic!("a task failed on purpose");
            }
        }))
        .unwrap_err();
    std::panic::set_hook(default_hook);
    println!("\n2. a panicking task: JoinHandle says {err:?}; workers still run:");
    let after = rt.block_on(rt.spawn(async { "yes" })).unwrap();
    println!("   a task spawned after it completed: {after}");

    // 3. Cancellation: abort a task that would never finish; its future is dropped.
    let h = rt.spawn(std::future::pending::<()>());
    h.abort();
    let err = rt.block_on(h).unwrap_err();
    println!("\n3. an aborted task: cancelled = {}", err.is_cancelled());

    // 4. Blocking work goes to the blocking pool, not a worker.
    let thread = rt
        .block_on(rt.spawn(async {
            spawn_blocking(|| {
                std::thread::sleep(Duration::from_millis(10));
                std::thread::current().name().unwrap_or("?").to_string()
            })
            .await
        }))
        .unwrap()
        .unwrap();
    println!("\n4. spawn_blocking ran on thread {thread:?}");

    let alive = rt.metrics().alive_tasks();
    drop(rt);
    println!("\nshut down ({alive} tasks were still alive and were dropped). Bye.");
}

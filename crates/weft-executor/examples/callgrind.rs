//! A fixed, small workload for counting instructions under callgrind (see docs/measuring.md).
//!
//! `cargo run --release -p weft-executor --example callgrind -- <workload> <rounds>` where
//! `<workload>` is `yield_many` (200 tasks each yield 1,000 times) or `spawn` (from inside a
//! task, spawn 10,000 tasks and await every handle), on a runtime of one worker so that the
//! count does not depend on how two threads interleave. `<rounds>` repeats the workload; a run
//! with 0 rounds measures the runtime's start and stop alone, to subtract. A third argument
//! `slow` turns slow-poll reports on (a threshold of 1 s, never reached), to count what
//! timing every poll costs.

use weft_executor::{Builder, Runtime};

const YIELD_TASKS: usize = 200;
const YIELDS: usize = 1_000;
const SPAWN: usize = 10_000;

fn yield_many(rt: &Runtime) {
    in_a_task(rt, async {
        let hs: Vec<_> = (0..YIELD_TASKS)
            .map(|_| {
                weft_executor::spawn(async {
                    for _ in 0..YIELDS {
                        weft_executor::yield_now().await;
                    }
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
}

fn spawn_from_task(rt: &Runtime) {
    let n = in_a_task(rt, async {
        let hs: Vec<_> = (0..SPAWN)
            .map(|i| weft_executor::spawn(async move { i }))
            .collect();
        let mut n = 0;
        for h in hs {
            n += h.await.unwrap();
        }
        n
    });
    assert_eq!(n, SPAWN * (SPAWN - 1) / 2);
}

/// Runs `f` as a task on the worker (not on the thread in `block_on`), so its spawns are
/// spawns from a task.
fn in_a_task<T: Send + 'static>(
    rt: &Runtime,
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    rt.block_on(rt.spawn(f)).unwrap()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_else(|| "yield_many".into());
    let rounds: usize = args
        .next()
        .map_or(1, |s| s.parse().expect("rounds: a number"));
    let mut builder = Builder::new();
    builder.worker_threads(1);
    match args.next().as_deref() {
        None => {}
        Some("slow") => {
            builder.slow_poll_threshold(std::time::Duration::from_secs(1));
        }
        Some(other) => panic!("unknown option {other:?}: use slow"),
    }
    let rt = builder.build().expect("runtime");
    let run: fn(&Runtime) = match workload.as_str() {
        "yield_many" => yield_many,
        "spawn" => spawn_from_task,
        other => panic!("unknown workload {other:?}: use yield_many or spawn"),
    };
    for _ in 0..rounds {
        run(&rt);
    }
}

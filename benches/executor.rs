//! Spawn-and-join and yield throughput of weft, tokio and smol, side by side in one run.
//!
//! Run with `cargo bench -p weft-benches --bench executor`. All three runtimes use the same
//! number of worker threads: `WEFT_BENCH_WORKERS`, default 2. Each workload checks its own
//! result.
//!
//! - `spawn_join`: from inside a task, spawn 10,000 tasks and await every handle.
//! - `yield_many`: 200 tasks each yield 1,000 times.

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;
use weft_bench_common::workload::tasks::{spawn_join, yield_many, SPAWN, YIELDS, YIELD_TASKS};
use weft_bench_common::{bench_each, workers, Smol, Tokio, Weft};

fn bench(c: &mut Criterion) {
    let n = workers();
    let weft = Weft::new(n);
    let tokio = Tokio::new(n);
    let smol = Smol::new(n);

    let mut g = c.benchmark_group(format!("spawn_join_{SPAWN}/{n}w"));
    g.measurement_time(Duration::from_secs(3));
    bench_each!(g, &weft, &tokio, &smol, |rt| spawn_join(rt));
    g.finish();

    let mut g = c.benchmark_group(format!("yield_{YIELD_TASKS}x{YIELDS}/{n}w"));
    g.measurement_time(Duration::from_secs(3));
    bench_each!(g, &weft, &tokio, &smol, |rt| yield_many(rt));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

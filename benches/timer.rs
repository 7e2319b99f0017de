//! Timers of weft, tokio and smol, side by side in one run.
//!
//! Run with `cargo bench -p weft-benches --bench timer`. Same worker count for all
//! (`WEFT_BENCH_WORKERS`, default 2).
//!
//! - `insert_cancel`: inside a task, create 1,000,000 sleeps 60-110 s out, poll each once
//!   (which registers it) and drop it (which cancels it).
//! - `sleeps`: 100,000 tasks each sleep 1-50 ms (the same pseudo-random durations for
//!   every runtime); the time until all have finished.
//!
//! Before criterion's runs, the `sleeps` workload is run 5 times per runtime and the mean
//! *lateness* (how long after its deadline each sleep returned) is printed, with the
//! number of sleeps that returned early (must be 0); and again with 10,000 sleeps of
//! 1-20 ms, a load light enough that lateness shows the timer's precision rather than the
//! time to run 2,000 woken tasks per millisecond.

use criterion::{criterion_group, criterion_main, Criterion};
use weft_bench_common::report::median;
use weft_bench_common::workload::timers::{insert_cancel, sleeps, INSERT_CANCEL, SLEEPS};
use weft_bench_common::{bench_each, workers, Rt, Smol, Tokio, Weft};

fn report<R: Rt>(rt: &R, n: usize, max_ms: u64) {
    let mut totals = Vec::new();
    let mut lates = Vec::new();
    let mut early = 0;
    for _ in 0..5 {
        let (t, l, e) = sleeps(rt, n, max_ms);
        totals.push(t.as_secs_f64() * 1e3);
        lates.push(l);
        early += e;
    }
    println!(
        "| {:5} | {:8.1} ms | {:8.1} µs | {:5} |",
        rt.name(),
        median(&mut totals),
        median(&mut lates),
        early
    );
}

fn bench(c: &mut Criterion) {
    let n = workers();
    let weft = Weft::new(n);
    let tokio = Tokio::new(n);
    let smol = Smol::new(n);

    for (count, max_ms) in [(SLEEPS, 50), (10_000, 20)] {
        println!("\n{count} sleeps of 1-{max_ms} ms, {n} workers, medians of 5 runs:");
        println!("| rt    | total       | mean lateness | early |");
        println!("|-------|-------------|---------------|-------|");
        report(&weft, count, max_ms);
        report(&tokio, count, max_ms);
        report(&smol, count, max_ms);
    }
    println!();

    let mut g = c.benchmark_group(format!("timer_insert_cancel_{INSERT_CANCEL}/{n}w"));
    g.sample_size(10);
    bench_each!(g, &weft, &tokio, &smol, |rt| insert_cancel(rt));
    g.finish();

    let mut g = c.benchmark_group(format!("timer_sleeps_{SLEEPS}/{n}w"));
    g.sample_size(10);
    bench_each!(g, &weft, &tokio, &smol, |rt| sleeps(rt, SLEEPS, 50));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

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
//!
//! And `insert_cancel` is run in rounds, each runtime once per round in turn, and the
//! median of each round's ratio weft / faster peer is printed: criterion measures one
//! runtime after the other, and on a shared machine the speed drifts between them (a
//! session saw weft/smol anywhere from 0.68 to 0.89 from criterion's figures alone).

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Instant;
use weft_bench_common::report::median;
use weft_bench_common::workload::timers::{insert_cancel, sleeps, INSERT_CANCEL, SLEEPS};
use weft_bench_common::{bench_each, each, workers, Rt, Smol, Tokio, Weft};

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

/// `insert_cancel` in `rounds` rounds, weft, tokio and smol in turn within each: the
/// median time per runtime and the median of the rounds' ratios.
fn paired_insert_cancel(weft: &Weft, tokio: &Tokio, smol: &Smol, rounds: usize) {
    let time = |f: &dyn Fn()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64() * 1e3
    };
    // Warm-up: one of each.
    each!(weft, tokio, smol, |rt| insert_cancel(rt));
    let (mut w, mut t, mut s, mut vs_smol, mut vs_best) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let [a, b, c] = each!(weft, tokio, smol, |rt| time(&|| insert_cancel(rt)));
        w.push(a);
        t.push(b);
        s.push(c);
        vs_smol.push(a / c);
        vs_best.push(a / b.min(c));
    }
    println!(
        "insert_cancel of {INSERT_CANCEL} timers, {rounds} rounds of weft, tokio, smol in turn, \
         medians:"
    );
    println!("| weft | tokio | smol | weft/smol | weft/faster peer |");
    println!("|---|---|---|---|---|");
    println!(
        "| {:.1} ms | {:.1} ms | {:.1} ms | {:.2} | {:.2} |",
        median(&mut w),
        median(&mut t),
        median(&mut s),
        median(&mut vs_smol),
        median(&mut vs_best)
    );
    println!();
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
    paired_insert_cancel(&weft, &tokio, &smol, 15);

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

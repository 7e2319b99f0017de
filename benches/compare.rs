//! Every workload on weft, tokio and smol, in one process run, as medians and ratios.
//!
//! `cargo bench -p weft-benches --bench compare -- [--quick] [--workers N] [--csv] [--scale]
//! [--current-thread]`
//!
//! - Same worker count for all three (default 2, or `--workers N`).
//! - Each workload checks its own result. Each is run a few times to warm up, then
//!   repeatedly; the table shows the median and the minimum per runtime, the ratios
//!   weft/tokio and weft/smol, and weft against the faster peer (below 1.0: weft is
//!   faster).
//! - `idle_tasks_memory` is measured in a fresh child process per runtime (the same
//!   binary, re-run), so one runtime's freed memory cannot flatter the next: resident
//!   memory after spawning 1,000,000 tasks parked on a channel, minus before, per task.
//! - `--quick` runs fewer iterations (under a minute here); `--csv` prints
//!   `workload,weft_ms,tokio_ms,smol_ms,weft_vs_best,weft_late_us,tokio_late_us,smol_late_us`;
//!   `--scale` prints nanoseconds per task for spawning from a task and for concurrent
//!   sleeps at 10^3 to 10^6 tasks.
//! - `--current-thread` compares the single-threaded flavours instead: weft's and tokio's
//!   current-thread runtimes and smol's `LocalExecutor` (with async-io), on the workloads
//!   that run on one thread (spawn, yields, ping-pong, chained spawns, timers, echo).

use std::time::Instant;
use weft_bench_common::report::{measure, print_rows, Row, Stat};
use weft_bench_common::workload::net::echo;
use weft_bench_common::workload::tasks::{
    chained_spawn, idle_memory, ping_pong, spawn_many_local, spawn_many_remote, yield_many, Busy,
    SPAWN,
};
use weft_bench_common::workload::timers::{timers, SLEEPS};
use weft_bench_common::{each, Smol, SmolLocal, Tokio, Weft};

struct Opts {
    quick: bool,
    current_thread: bool,
    workers: usize,
    csv: bool,
    scale: bool,
}

const USAGE: &str = "cargo bench -p weft-benches --bench compare -- [--quick] [--workers N] \
                     [--csv] [--scale] [--current-thread]";

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().collect();
    // Anything else (a typo, `--help`) would otherwise start a full run of a minute or more.
    let mut rest = args.iter().skip(1);
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--bench" | "--quick" | "--current-thread" | "--csv" | "--scale" => {}
            "--workers" | "--memory-child" => {
                rest.next();
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => {
                eprintln!("unknown argument {other:?}; usage: {USAGE}");
                std::process::exit(2);
            }
        }
    }
    let workers = args
        .iter()
        .position(|a| a == "--workers")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(weft_bench_common::workers);
    Opts {
        quick: args.iter().any(|a| a == "--quick"),
        current_thread: args.iter().any(|a| a == "--current-thread"),
        workers,
        csv: args.iter().any(|a| a == "--csv"),
        scale: args.iter().any(|a| a == "--scale"),
    }
}

// ---------------------------------------------------------------- memory (child process)

fn memory_child(name: &str, workers: usize) {
    let bytes = match name {
        "weft" => idle_memory(&Weft::new(workers)),
        "tokio" => idle_memory(&Tokio::new(workers)),
        _ => idle_memory(&Smol::new(workers)),
    };
    println!("{bytes}");
}

fn memory_in_child(name: &str, workers: usize) -> f64 {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--memory-child", name, "--workers", &workers.to_string()])
        .output()
        .expect("could not re-run the benchmark binary");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

fn scale(o: &Opts, weft: &Weft, tokio: &Tokio, smol: &Smol) {
    println!(
        "\nCost per task as the count grows ({} workers), ns per task (median of runs):",
        o.workers
    );
    println!("| workload | tasks | weft | tokio | smol |");
    println!("|---|---|---|---|---|");
    for n in [1_000usize, 10_000, 100_000, 1_000_000] {
        let iters = if n >= 1_000_000 {
            3
        } else if n >= 100_000 {
            5
        } else {
            15
        };
        let per = |st: Stat| st.median * 1e6 / n as f64;
        let s = each!(weft, tokio, smol, |rt| per(measure(iters, 1, || {
            spawn_many_local(rt, n);
            None
        })));
        println!(
            "| spawn from a task | {n} | {:.0} | {:.0} | {:.0} |",
            s[0], s[1], s[2]
        );
    }
    for n in [1_000usize, 10_000, 100_000, 1_000_000] {
        let iters = if n >= 100_000 { 3 } else { 5 };
        let per = |st: Stat| st.median * 1e6 / n as f64;
        let s = each!(weft, tokio, smol, |rt| per(measure(iters, 1, || {
            Some(timers(rt, n))
        })));
        println!(
            "| concurrent sleeps 1-50 ms | {n} | {:.0} | {:.0} | {:.0} |",
            s[0], s[1], s[2]
        );
    }
}

/// The single-threaded flavours, on the workloads a single thread runs.
fn current_thread(o: &Opts) {
    let weft = Weft::current_thread();
    let tokio = Tokio::current_thread();
    let smol = SmolLocal::new();
    let (fast, warm, slow) = if o.quick { (15, 3, 3) } else { (30, 5, 10) };
    let started = Instant::now();
    if !o.csv {
        println!(
            "weft vs tokio vs smol, current-thread flavours (smol: LocalExecutor), {} mode; \
             times in ms\n",
            if o.quick { "quick" } else { "full" }
        );
    }
    let mut rows = Vec::new();
    macro_rules! row {
        ($name:expr, $iters:expr, $warm:expr, |$rt:ident| $body:expr) => {
            rows.push(Row {
                workload: $name,
                unit: "ms",
                stats: each!(&weft, &tokio, &smol, |$rt| measure($iters, $warm, || $body)),
            });
        };
    }
    row!("spawn_many_local", fast, warm, |rt| {
        spawn_many_local(rt, SPAWN);
        None
    });
    row!("yield_many", fast, warm, |rt| {
        yield_many(rt);
        None
    });
    row!("ping_pong", fast, warm, |rt| {
        ping_pong(rt);
        None
    });
    row!("chained_spawn", fast, warm, |rt| {
        chained_spawn(rt);
        None
    });
    row!("timers", slow, 1, |rt| Some(timers(rt, SLEEPS)));
    row!("tcp_echo", slow, 1, |rt| {
        echo(rt);
        None
    });
    print_rows(&rows, o.csv);
    if !o.csv {
        println!("\n(measured in {:.1} s)", started.elapsed().as_secs_f64());
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--memory-child") {
        let o = opts();
        memory_child(&args[i + 1], o.workers);
        return;
    }
    // `cargo bench` passes `--bench`; nothing else to filter here.
    let o = opts();
    if o.current_thread {
        current_thread(&o);
        return;
    }
    let weft = Weft::new(o.workers);
    let tokio = Tokio::new(o.workers);
    let smol = Smol::new(o.workers);
    let (fast, warm, slow) = if o.quick { (15, 3, 3) } else { (30, 5, 10) };
    let started = Instant::now();
    if !o.csv {
        println!(
            "weft vs tokio vs smol, {} workers, {} mode; times in ms unless noted\n",
            o.workers,
            if o.quick { "quick" } else { "full" }
        );
    }

    let mut rows = Vec::new();
    macro_rules! row {
        ($name:expr, $unit:expr, $iters:expr, |$rt:ident| $body:expr) => {
            rows.push(Row {
                workload: $name,
                unit: $unit,
                stats: each!(&weft, &tokio, &smol, |$rt| measure($iters, warm, || $body)),
            });
        };
    }
    row!("spawn_many_local", "ms", fast, |rt| {
        spawn_many_local(rt, SPAWN);
        None
    });
    row!("spawn_many_remote", "ms", fast, |rt| {
        spawn_many_remote(rt);
        None
    });
    rows.push(Row {
        workload: "spawn_many_remote_busy",
        unit: "ms",
        stats: each!(&weft, &tokio, &smol, |rt| {
            let _busy = Busy::start(rt, o.workers);
            measure(fast, warm, || {
                spawn_many_remote(rt);
                None
            })
        }),
    });
    row!("yield_many", "ms", fast, |rt| {
        yield_many(rt);
        None
    });
    row!("ping_pong", "ms", fast, |rt| {
        ping_pong(rt);
        None
    });
    row!("chained_spawn", "ms", fast, |rt| {
        chained_spawn(rt);
        None
    });
    rows.push(Row {
        workload: "timers",
        unit: "ms",
        stats: each!(&weft, &tokio, &smol, |rt| measure(slow, 1, || Some(
            timers(rt, SLEEPS)
        ))),
    });
    rows.push(Row {
        workload: "tcp_echo",
        unit: "ms",
        stats: each!(&weft, &tokio, &smol, |rt| measure(slow, 1, || {
            echo(rt);
            None
        })),
    });
    let mem = |name: &str| {
        let runs = if o.quick { 1 } else { 3 };
        let mut v: Vec<f64> = (0..runs)
            .map(|_| memory_in_child(name, o.workers))
            .collect();
        Stat::of(&mut v)
    };
    rows.push(Row {
        workload: "idle_tasks_memory",
        unit: "bytes/task",
        stats: [mem("weft"), mem("tokio"), mem("smol")],
    });
    print_rows(&rows, o.csv);
    if o.scale {
        scale(&o, &weft, &tokio, &smol);
    }
    if !o.csv {
        println!("\n(measured in {:.1} s)", started.elapsed().as_secs_f64());
    }
}

//! Every workload on weft, tokio and smol, in one process run, as medians and ratios.
//!
//! `cargo bench --bench compare -- [--quick] [--workers N] [--csv] [--scale]`
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

mod common;

use common::net::echo;
use common::{each, median, yield_many, Rt, Smol, Tokio, Weft};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SPAWN: usize = 10_000;
const PING_PONGS: usize = 1_000;
const CHAIN: usize = 1_000;
const SLEEPS: usize = 100_000;
const IDLE_TASKS: usize = 1_000_000;

struct Opts {
    quick: bool,
    workers: usize,
    csv: bool,
    scale: bool,
}

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().collect();
    let workers = args
        .iter()
        .position(|a| a == "--workers")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(common::workers);
    Opts {
        quick: args.iter().any(|a| a == "--quick"),
        workers,
        csv: args.iter().any(|a| a == "--csv"),
        scale: args.iter().any(|a| a == "--scale"),
    }
}

// ---------------------------------------------------------------- workloads

fn spawn_many_local<R: Rt>(rt: &R, n: usize) {
    let (tx, rx) = async_channel::bounded::<()>(1);
    let left = Arc::new(AtomicUsize::new(n));
    rt.run(async move {
        for _ in 0..n {
            let left = left.clone();
            let tx = tx.clone();
            R::detach(async move {
                if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                    tx.try_send(()).unwrap();
                }
            });
        }
        rx.recv().await.unwrap();
    });
}

fn spawn_many_remote<R: Rt>(rt: &R) {
    let hs: Vec<_> = (0..SPAWN)
        .map(|i| rt.spawn_outside(async move { i }))
        .collect();
    let sum = futures_lite::future::block_on(async {
        let mut s = 0;
        for h in hs {
            s += h.await;
        }
        s
    });
    assert_eq!(sum, SPAWN * (SPAWN - 1) / 2);
}

/// Keeps every worker busy (yield, then a short spin) until dropped.
struct Busy(Arc<AtomicBool>);

impl Busy {
    fn start<R: Rt>(rt: &R, workers: usize) -> Busy {
        let stop = Arc::new(AtomicBool::new(false));
        for _ in 0..workers {
            let stop = stop.clone();
            let busy = rt.spawn_outside(async move {
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    while t.elapsed() < Duration::from_micros(2) {
                        std::hint::spin_loop();
                    }
                    R::yield_now().await;
                }
            });
            // Awaited by nobody, run on its own.
            rt.run(async move {
                R::detach(async move {
                    busy.await;
                });
            });
        }
        Busy(stop)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn ping_pong<R: Rt>(rt: &R) {
    let (done_tx, done_rx) = async_channel::bounded::<()>(1);
    let left = Arc::new(AtomicUsize::new(PING_PONGS));
    rt.run(async move {
        for _ in 0..PING_PONGS {
            let left = left.clone();
            let done_tx = done_tx.clone();
            R::detach(async move {
                let (ping_tx, ping_rx) = async_channel::bounded::<u32>(1);
                let (pong_tx, pong_rx) = async_channel::bounded::<u32>(1);
                R::detach(async move {
                    let v = ping_rx.recv().await.unwrap();
                    pong_tx.send(v + 1).await.unwrap();
                });
                ping_tx.send(1).await.unwrap();
                assert_eq!(pong_rx.recv().await.unwrap(), 2);
                if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                    done_tx.try_send(()).unwrap();
                }
            });
        }
        done_rx.recv().await.unwrap();
    });
}

fn chain<R: Rt>(left: usize, done: async_channel::Sender<()>) {
    if left == 0 {
        done.try_send(()).unwrap();
    } else {
        R::detach(async move { chain::<R>(left - 1, done) });
    }
}

fn chained_spawn<R: Rt>(rt: &R) {
    let (tx, rx) = async_channel::bounded::<()>(1);
    rt.run(async move {
        chain::<R>(CHAIN, tx);
        rx.recv().await.unwrap();
    });
}

/// Returns the mean lateness in µs; panics if any sleep returned early.
fn timers<R: Rt>(rt: &R, n: usize) -> f64 {
    let (_, late_us, early) = common::sleeps(rt, n, 50);
    assert_eq!(early, 0, "a sleep returned early");
    late_us
}

// ---------------------------------------------------------------- memory (child process)

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn idle_memory<R: Rt>(rt: &R) -> f64 {
    let (tx, rx) = async_channel::unbounded::<()>();
    // Warm the runtime up (threads, first allocations) before measuring.
    rt.run(async {});
    let before = rss_bytes();
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    rt.run(async move {
        for _ in 0..IDLE_TASKS {
            let rx = rx.clone();
            let s = s.clone();
            R::detach(async move {
                s.fetch_add(1, Ordering::Relaxed);
                let _ = rx.recv().await; // never fires until the sender closes
            });
        }
    });
    while started.load(Ordering::Relaxed) < IDLE_TASKS {
        std::thread::sleep(Duration::from_millis(10));
    }
    let after = rss_bytes();
    drop(tx); // wakes every task: they end
    (after.saturating_sub(before)) as f64 / IDLE_TASKS as f64
}

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

// ---------------------------------------------------------------- measuring

struct Stat {
    median: f64,
    min: f64,
    late_us: Option<f64>,
}

fn measure(iters: usize, warmup: usize, mut f: impl FnMut() -> Option<f64>) -> Stat {
    for _ in 0..warmup {
        f();
    }
    let mut times = Vec::with_capacity(iters);
    let mut lates = Vec::new();
    for _ in 0..iters {
        let t = Instant::now();
        let late = f();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        if let Some(l) = late {
            lates.push(l);
        }
    }
    let min = times.iter().cloned().fold(f64::INFINITY, f64::min);
    Stat {
        median: median(&mut times),
        min,
        late_us: (!lates.is_empty()).then(|| median(&mut lates)),
    }
}

struct Row {
    workload: &'static str,
    unit: &'static str,
    stats: [Stat; 3],
}

fn fmt_ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "n/a".into()
    }
}

fn print_table(rows: &[Row], o: &Opts) {
    if o.csv {
        println!("workload,weft_ms,tokio_ms,smol_ms,weft_vs_best,weft_late_us,tokio_late_us,smol_late_us");
        for r in rows {
            let [w, t, s] = &r.stats;
            let best = t.median.min(s.median);
            let late = |x: &Stat| x.late_us.map_or(String::new(), |l| format!("{l:.1}"));
            println!(
                "{},{:.3},{:.3},{:.3},{},{},{},{}",
                r.workload,
                w.median,
                t.median,
                s.median,
                fmt_ratio(w.median, best),
                late(w),
                late(t),
                late(s)
            );
        }
        return;
    }
    println!(
        "| workload | unit | weft median (min) | tokio median (min) | smol median (min) | weft/tokio | weft/smol | weft/best |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        let [w, t, s] = &r.stats;
        let cell = |x: &Stat| {
            let mut c = format!("{:.2} ({:.2})", x.median, x.min);
            if let Some(l) = x.late_us {
                c.push_str(&format!(", late {l:.0} µs"));
            }
            c
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | **{}** |",
            r.workload,
            r.unit,
            cell(w),
            cell(t),
            cell(s),
            fmt_ratio(w.median, t.median),
            fmt_ratio(w.median, s.median),
            fmt_ratio(w.median, t.median.min(s.median)),
        );
    }
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--memory-child") {
        let o = opts();
        memory_child(&args[i + 1], o.workers);
        return;
    }
    // `cargo bench` passes `--bench`; nothing else to filter here.
    let o = opts();
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
        let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
        Stat {
            median: median(&mut v),
            min,
            late_us: None,
        }
    };
    rows.push(Row {
        workload: "idle_tasks_memory",
        unit: "bytes/task",
        stats: [mem("weft"), mem("tokio"), mem("smol")],
    });
    print_table(&rows, &o);
    if o.scale {
        scale(&o, &weft, &tokio, &smol);
    }
    if !o.csv {
        println!("\n(measured in {:.1} s)", started.elapsed().as_secs_f64());
    }
}

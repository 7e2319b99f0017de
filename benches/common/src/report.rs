//! Timing and reporting: medians over repeated runs, ratios, and the tables the benches
//! print (Markdown, or CSV for `compare --csv`).

use crate::wrk::WrkResult;
use std::time::Instant;

/// The median of `v` (the upper one of an even count); sorts `v`.
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// `a / b` with two decimals, or `n/a` when either is not a finite, positive figure.
pub fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "n/a".into()
    }
}

/// Repeated runs of one workload on one runtime.
#[derive(Debug)]
pub struct Stat {
    /// Median time, in milliseconds (or the row's unit).
    pub median: f64,
    /// Fastest run.
    pub min: f64,
    /// Median of the runs' mean timer lateness, in µs, for workloads that sleep.
    pub late_us: Option<f64>,
}

impl Stat {
    /// The median and minimum of `values` (not times: memory, say).
    pub fn of(values: &mut [f64]) -> Stat {
        let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
        Stat {
            median: median(values),
            min,
            late_us: None,
        }
    }
}

/// Runs `f` `warmup` times, then times `iters` runs, in milliseconds. `f` returns the
/// run's timer lateness in µs, if it has one.
pub fn measure(iters: usize, warmup: usize, mut f: impl FnMut() -> Option<f64>) -> Stat {
    for _ in 0..warmup {
        f();
    }
    let mut times = Vec::with_capacity(iters);
    let mut lates = Vec::new();
    for _ in 0..iters {
        let t = Instant::now();
        let late = f();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        lates.extend(late);
    }
    Stat {
        late_us: (!lates.is_empty()).then(|| median(&mut lates)),
        ..Stat::of(&mut times)
    }
}

/// One workload's figures on weft, tokio and smol.
#[derive(Debug)]
pub struct Row {
    /// The workload's name.
    pub workload: &'static str,
    /// What the figures count.
    pub unit: &'static str,
    /// weft, tokio, smol.
    pub stats: [Stat; 3],
}

/// Prints `rows` as a Markdown table with weft's ratios to each peer and to the faster
/// one, or as CSV.
pub fn print_rows(rows: &[Row], csv: bool) {
    if csv {
        println!("workload,weft_ms,tokio_ms,smol_ms,weft_vs_best,weft_late_us,tokio_late_us,smol_late_us");
        for r in rows {
            let [w, t, s] = &r.stats;
            let late = |x: &Stat| x.late_us.map_or(String::new(), |l| format!("{l:.1}"));
            println!(
                "{},{:.3},{:.3},{:.3},{},{},{},{}",
                r.workload,
                w.median,
                t.median,
                s.median,
                ratio(w.median, t.median.min(s.median)),
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
            ratio(w.median, t.median),
            ratio(w.median, s.median),
            ratio(w.median, t.median.min(s.median)),
        );
    }
}

/// The medians over rounds of one runtime's wrk runs at one connection count.
#[derive(Debug)]
pub struct HttpMedians {
    /// Requests per second.
    pub req_per_s: f64,
    /// Latency percentiles, in microseconds.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Errors, summed over the rounds.
    pub errors: u64,
}

impl HttpMedians {
    /// Medians of `runs` (at least one).
    pub fn of(runs: &[WrkResult]) -> HttpMedians {
        let m = |f: fn(&WrkResult) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
        HttpMedians {
            req_per_s: m(WrkResult::req_per_s),
            p50_us: m(|r| r.p50_us),
            p99_us: m(|r| r.p99_us),
            p999_us: m(|r| r.p999_us),
            errors: runs.iter().map(|r| r.errors).sum(),
        }
    }
}

/// A latency in µs as ms with two decimals, or µs below 1 ms.
pub fn latency(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

/// Prints one Markdown table row per (load, runtime): the medians, then each figure over
/// tokio's under the same load. `load` names the first column (`connections`, say);
/// `rows` are in the order of [`crate::http::RUNTIMES`] within each load.
pub fn print_http<L: PartialEq + std::fmt::Display>(load: &str, rows: &[(L, &str, HttpMedians)]) {
    println!("| {load} | runtime | req/s | p50 | p99 | p99.9 | req/s vs tokio | p50 vs tokio | p99 vs tokio | p99.9 vs tokio | errors |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (conns, name, m) in rows {
        let tokio = rows
            .iter()
            .find(|(c, n, _)| c == conns && *n == "tokio")
            .map(|(_, _, t)| t);
        let vs = |f: fn(&HttpMedians) -> f64| tokio.map_or("n/a".into(), |t| ratio(f(m), f(t)));
        println!(
            "| {conns} | {name} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} |",
            m.req_per_s,
            latency(m.p50_us),
            latency(m.p99_us),
            latency(m.p999_us),
            vs(|m| m.req_per_s),
            vs(|m| m.p50_us),
            vs(|m| m.p99_us),
            vs(|m| m.p999_us),
            m.errors,
        );
    }
}

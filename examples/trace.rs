//! Watching the scheduler work: a traced run, summed up per worker and written as JSON
//! for Perfetto.
//!
//! The workload touches every path of the scheduler: a task spawns children (they go to
//! its worker's LIFO slot and queue, and idle workers steal them), tasks yield (back of
//! the queue), sleep (the timer wakes them into a ready queue) and are spawned from the
//! main thread (through the global injector).
//!
//! `cargo run --release --example trace [FILE]` (default: `weft-trace.json` in the
//! temporary directory), then open the file at <https://ui.perfetto.dev>: one row per
//! worker, a bar per poll (its category says where the task was found) and per sleep.

use std::collections::BTreeMap;
use std::time::Duration;
use weft::trace::{TaskSource, Trace, TraceKind};

fn workload(rt: &weft::Runtime) {
    // From outside the workers: through the injector.
    let outside: Vec<_> = (0..200u64).map(|i| rt.spawn(async move { i })).collect();
    rt.block_on(async {
        let parent = weft::spawn(async {
            let children: Vec<_> = (0..500u64)
                .map(|i| {
                    weft::spawn(async move {
                        if i % 10 == 0 {
                            weft::time::sleep(Duration::from_millis(1 + i % 5)).await;
                        }
                        if i % 3 == 0 {
                            weft::task::yield_now().await;
                        }
                        i
                    })
                })
                .collect();
            let mut sum = 0;
            for c in children {
                sum += c.await.unwrap();
            }
            sum
        });
        assert_eq!(parent.await.unwrap(), (0..500).sum::<u64>());
        for h in outside {
            h.await.unwrap();
        }
    });
}

/// Per worker: polls by where the task was found, steals, sleeps and time asleep.
fn summary(trace: &Trace) -> String {
    #[derive(Default)]
    struct Worker {
        polls: BTreeMap<&'static str, usize>,
        busy: Duration,
        steals: usize,
        stolen: usize,
        parks: usize,
        asleep: Duration,
    }
    let mut workers: BTreeMap<usize, Worker> = BTreeMap::new();
    for e in trace.events() {
        let w = workers.entry(e.worker).or_default();
        match e.kind {
            TraceKind::Poll { from, .. } => {
                *w.polls.entry(from.name()).or_default() += 1;
                w.busy += e.duration;
            }
            TraceKind::Steal { tasks, .. } => {
                w.steals += 1;
                w.stolen += tasks;
            }
            TraceKind::Park { .. } => {
                w.parks += 1;
                w.asleep += e.duration;
            }
            _ => {}
        }
    }
    let mut out = String::new();
    for (i, w) in &workers {
        let polls: usize = w.polls.values().sum();
        let by_source: Vec<String> = w.polls.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out += &format!(
            "worker {i}: {polls} polls ({}), {:.2?} polling; {} steals ({} tasks); {} sleeps, {:.2?} asleep\n",
            by_source.join(", "),
            w.busy,
            w.steals,
            w.stolen,
            w.parks,
            w.asleep
        );
    }
    out
}

/// Runs the workload on a traced runtime of 2 workers; returns the trace and the number
/// of polls the runtime's metrics counted.
fn traced_run() -> (Trace, u64) {
    let rt = weft::Builder::new()
        .worker_threads(2)
        .trace(100_000)
        .build()
        .unwrap();
    workload(&rt);
    let handle = rt.handle().clone();
    let metrics = rt.metrics();
    drop(rt); // the workers hand over their last events as they stop
    let polls = (0..2).map(|w| metrics.worker_polls(w)).sum();
    (handle.take_trace(), polls)
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("weft-trace.json"));
    let (trace, _) = traced_run();
    print!("{}", summary(&trace));
    let sources = [
        TaskSource::LifoSlot,
        TaskSource::Ready,
        TaskSource::Queue,
        TaskSource::Injector,
        TaskSource::Stolen,
    ];
    let seen: Vec<&str> = sources
        .iter()
        .filter(|s| {
            trace
                .events()
                .iter()
                .any(|e| matches!(e.kind, TraceKind::Poll { from, .. } if from == **s))
        })
        .map(|s| s.name())
        .collect();
    println!("tasks were found in: {}", seen.join(", "));
    let file = std::fs::File::create(&path).unwrap();
    trace
        .write_chrome_json(std::io::BufWriter::new(file))
        .unwrap();
    println!(
        "{} events ({} dropped) written to {}: open it at https://ui.perfetto.dev",
        trace.events().len(),
        trace.dropped(),
        path.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_poll_is_in_the_summary() {
        let (trace, polls) = traced_run();
        let text = summary(&trace);
        let summed: u64 = text
            .lines()
            .map(|l| l.split(": ").nth(1).unwrap().split(' ').next().unwrap())
            .map(|n| n.parse::<u64>().unwrap())
            .sum();
        assert_eq!(summed, polls);
        // Tasks spawned from the main thread were found in the injector (or stolen).
        assert!(trace.events().iter().any(|e| matches!(
            e.kind,
            TraceKind::Poll {
                from: TaskSource::Injector,
                ..
            }
        )));
    }
}

//! Watching the scheduler work: a traced run of a chosen scenario, summed up per worker,
//! drawn as an SVG picture (open it in any browser) and written as JSON for Perfetto.
//!
//! `cargo run --release --example trace -- [SCENARIO] [DIR]`, where SCENARIO is one of
//! - `burst` (the default): a task spawns 500 children into its worker's LIFO slot and queue;
//!   the idle worker steals half; tasks also yield, sleep, and come from the main thread
//!   through the injector;
//! - `blocked-worker`: a task spawns another, then blocks its thread until that task has run;
//!   the other worker sees the new task sitting unchanged in the blocked worker's LIFO slot
//!   and takes it;
//! - `ping-pong`: 100 pairs of tasks bounce a message 50 times each over channels;
//! - `timers`: 1,000 tasks sleep 1 to 4 ms; the timer wakes them into the ready queues;
//! - `io`: 20 loopback TCP connections, 50 round trips each, woken by the reactor;
//! - `all`: each of them in turn.
//!
//! The files go to DIR (default: the temporary directory) as `weft-trace-SCENARIO.svg` and
//! `.json`; their paths are printed. The pictures in `docs/` are made with
//! `cargo run --release --example trace -- all docs/img`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use weft::io::{AsyncReadExt, AsyncWriteExt};
use weft::trace::{Place, TaskSource, Trace, TraceEvent, TraceKind};

const SCENARIOS: [&str; 5] = ["burst", "blocked-worker", "ping-pong", "timers", "io"];

fn burst(rt: &weft::Runtime) {
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

fn blocked_worker(rt: &weft::Runtime) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    rt.block_on(async {
        let ran = Arc::new(AtomicBool::new(false));
        let ran_too = ran.clone();
        let blocker = weft::spawn(async move {
            let before = std::thread::current().id();
            // Spawned from a worker: it goes into this worker's LIFO slot...
            let stranded = weft::spawn(async move {
                ran_too.store(true, Ordering::Release);
                std::thread::current().id()
            });
            // ...and this worker now blocks (a synchronous call, a long computation) until
            // the task has run: only another worker can run it now. (Bounded, so a scheduler
            // that strands it fails here instead of hanging.)
            let start = std::time::Instant::now();
            while !ran.load(Ordering::Acquire) && start.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(1));
            }
            (before, stranded)
        });
        let (blocked_thread, stranded) = blocker.await.unwrap();
        let ran_on = stranded.await.unwrap();
        assert_ne!(
            ran_on, blocked_thread,
            "the stranded task waited for the blocked worker"
        );
    });
}

fn ping_pong(rt: &weft::Runtime) {
    rt.block_on(async {
        let mut pairs = weft::task::JoinSet::new();
        for _ in 0..100 {
            let (to_b, from_a) = weft::channel::bounded::<u32>(1);
            let (to_a, from_b) = weft::channel::bounded::<u32>(1);
            pairs.spawn(async move {
                while let Ok(n) = from_a.recv().await {
                    if to_a.send(n + 1).await.is_err() {
                        break;
                    }
                }
            });
            pairs.spawn(async move {
                let mut n = 0;
                for _ in 0..50 {
                    to_b.send(n).await.unwrap();
                    n = from_b.recv().await.unwrap();
                }
                assert_eq!(n, 50);
            });
        }
        while let Some(done) = pairs.join_next().await {
            done.unwrap();
        }
    });
}

fn timers(rt: &weft::Runtime) {
    rt.block_on(async {
        let sleepers: Vec<_> = (0..1000u64)
            .map(|i| weft::spawn(weft::time::sleep(Duration::from_micros(1000 + i * 3))))
            .collect();
        for s in sleepers {
            s.await.unwrap();
        }
    });
}

fn io(rt: &weft::Runtime) {
    rt.block_on(async {
        let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        weft::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    break;
                };
                weft::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n @ 1..) = conn.read(&mut buf).await {
                        if conn.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let mut clients = weft::task::JoinSet::new();
        for _ in 0..20 {
            clients.spawn(async move {
                let mut conn = weft::net::TcpStream::connect(addr).await.unwrap();
                let mut buf = [0u8; 64];
                for round in 0..50u8 {
                    conn.write_all(&[round; 64]).await.unwrap();
                    conn.read_exact(&mut buf).await.unwrap();
                    assert_eq!(buf, [round; 64]);
                }
            });
        }
        while let Some(done) = clients.join_next().await {
            done.unwrap();
        }
    });
}

/// Per worker: polls by where the task was found, steals, sleeps and time asleep; then what
/// threads outside the workers did.
fn summary(trace: &Trace) -> String {
    #[derive(Default)]
    struct Worker {
        polls: BTreeMap<&'static str, usize>,
        busy: Duration,
        steals: usize,
        stolen: usize,
        parks: usize,
        asleep: Duration,
        wakes: usize,
        unparks: usize,
    }
    let mut workers: BTreeMap<usize, Worker> = BTreeMap::new();
    let (mut outside_spawns, mut outside_wakes, mut outside_unparks) = (0, 0, 0);
    for e in trace.events() {
        let Some(worker) = e.worker else {
            match e.kind {
                TraceKind::Spawn { .. } => outside_spawns += 1,
                TraceKind::Wake { .. } => outside_wakes += 1,
                TraceKind::Unpark { .. } => outside_unparks += 1,
                _ => {}
            }
            continue;
        };
        let w = workers.entry(worker).or_default();
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
            TraceKind::Wake { .. } | TraceKind::Spawn { .. } => w.wakes += 1,
            TraceKind::Unpark { .. } => w.unparks += 1,
            _ => {}
        }
    }
    let mut out = String::new();
    for (i, w) in &workers {
        let polls: usize = w.polls.values().sum();
        let by_source: Vec<String> = w.polls.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out += &format!(
            "worker {i}: {polls} polls ({}), {:.2?} polling; {} steals ({} tasks); {} sleeps, {:.2?} asleep; \
             {} wakes and spawns, {} unparks\n",
            by_source.join(", "),
            w.busy,
            w.steals,
            w.stolen,
            w.parks,
            w.asleep,
            w.wakes,
            w.unparks
        );
    }
    out += &format!(
        "outside the workers: {outside_spawns} spawns, {outside_wakes} wakes, {outside_unparks} unparks\n"
    );
    out
}

/// Runs a scenario on a traced runtime of 2 workers; returns the trace and the number of polls
/// the runtime's metrics counted.
fn traced_run(scenario: &str) -> (Trace, u64) {
    let rt = weft::Builder::new()
        .worker_threads(2)
        .trace(200_000)
        .build()
        .unwrap();
    match scenario {
        "burst" => burst(&rt),
        "blocked-worker" => blocked_worker(&rt),
        "ping-pong" => ping_pong(&rt),
        "timers" => timers(&rt),
        "io" => io(&rt),
        other => panic!("no scenario {other:?}: choose one of {SCENARIOS:?} or all"),
    }
    let handle = rt.handle().clone();
    let metrics = rt.metrics();
    drop(rt); // the workers hand over their last events as they stop
    let polls = (0..2).map(|w| metrics.worker_polls(w)).sum();
    (handle.take_trace(), polls)
}

/// The stretch of the run the picture shows in detail: for `blocked-worker`, from the spawn of
/// the task taken out of the blocked worker's LIFO slot to its poll on the other worker (longer
/// than `Trace::SVG_DETAIL_SPAN`: the watcher needs up to two `WATCH_INTERVAL`s); for `burst`, from the start to a little after the last steal; else
/// the start of the run, at most `Trace::SVG_DETAIL_SPAN` of it.
fn window(scenario: &str, trace: &Trace) -> (Duration, Duration) {
    let events = trace.events();
    let first = events.first().map_or(Duration::ZERO, |e| e.start);
    let end = events
        .iter()
        .map(|e| e.start + e.duration)
        .max()
        .unwrap_or(first);
    let span = Trace::SVG_DETAIL_SPAN;
    let mut steals = events.iter().filter(|e| {
        matches!(
            e.kind,
            TraceKind::Steal {
                victim: Some(_),
                ..
            }
        )
    });
    match scenario {
        "blocked-worker" => {
            let lifo_steal = events.iter().position(|e| {
                matches!(
                    e.kind,
                    TraceKind::Steal {
                        victim: Some(_),
                        from: Place::LifoSlot,
                        ..
                    }
                )
            });
            // The stolen task's poll, then its spawn.
            let poll = lifo_steal.and_then(|i| {
                events[i..].iter().find(|e| {
                    e.worker == events[i].worker
                        && matches!(
                            e.kind,
                            TraceKind::Poll {
                                from: TaskSource::Stolen,
                                ..
                            }
                        )
                })
            });
            if let Some(
                poll @ TraceEvent {
                    kind: TraceKind::Poll { task, .. },
                    ..
                },
            ) = poll
            {
                let spawned = events
                    .iter()
                    .rev()
                    .find(|e| {
                        e.start <= poll.start
                            && matches!(e.kind, TraceKind::Spawn { task: t, .. } if t == *task)
                    })
                    .map_or(poll.start, |e| e.start);
                let end = poll.start + poll.duration;
                let margin = (end - spawned) / 8;
                return (spawned.saturating_sub(margin).max(first), end + margin);
            }
            if let Some(steal) = steals.next() {
                let from = steal.start.saturating_sub(span / 2).max(first);
                return (from, from + span);
            }
        }
        "burst" => {
            if let Some(last) = steals.next_back() {
                let to = last.start + (last.start - first) / 4;
                return (first, to.min(first + span));
            }
        }
        _ => {}
    }
    (first, end.min(first + span))
}

/// Runs `scenario`, prints its summary and writes its SVG and JSON into `dir`.
fn run(scenario: &str, dir: &Path) -> (PathBuf, PathBuf) {
    let (trace, _) = traced_run(scenario);
    println!("== {scenario}");
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
    let svg = dir.join(format!("weft-trace-{scenario}.svg"));
    let json = dir.join(format!("weft-trace-{scenario}.json"));
    let (from, to) = window(scenario, &trace);
    let file = std::fs::File::create(&svg).unwrap();
    trace
        .write_svg_window(std::io::BufWriter::new(file), from, to)
        .unwrap();
    let file = std::fs::File::create(&json).unwrap();
    trace
        .write_chrome_json(std::io::BufWriter::new(file))
        .unwrap();
    println!(
        "{} events ({} dropped): the picture is {} (any browser); the JSON, {}, opens at https://ui.perfetto.dev",
        trace.events().len(),
        trace.dropped(),
        svg.display(),
        json.display()
    );
    (svg, json)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let scenario = args.next().unwrap_or_else(|| "burst".to_owned());
    let dir = args.next().map_or_else(std::env::temp_dir, PathBuf::from);
    std::fs::create_dir_all(&dir).unwrap();
    if scenario == "all" {
        for s in SCENARIOS {
            run(s, &dir);
        }
    } else {
        run(&scenario, &dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_poll_is_in_the_summary() {
        let (trace, polls) = traced_run("burst");
        let text = summary(&trace);
        let summed: u64 = text
            .lines()
            .filter(|l| l.starts_with("worker "))
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

    #[test]
    fn the_blocked_worker_picture_shows_the_steal() {
        let dir = std::env::temp_dir().join(format!("weft-trace-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (svg, json) = run("blocked-worker", &dir);
        let svg = std::fs::read_to_string(svg).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(
            svg.matches("class=\"lane\"").count(),
            3,
            "the outside lane and two workers"
        );
        // The arrow of a steal from a worker, and the stolen task's poll, are in the picture.
        assert!(
            svg.contains("class=\"steal\""),
            "no steal arrow in the picture"
        );
        assert!(
            svg.contains("tasks from worker"),
            "no steal from a worker drawn"
        );
        assert!(
            svg.contains("data-from=\"stolen\""),
            "no poll of a stolen task drawn"
        );
        // The stranded task was taken out of the blocked worker's LIFO slot, and the arrow of
        // its spawn goes from the blocked worker to the poll on the other.
        assert!(
            svg.contains("(its lifo) at"),
            "the steal was not from a LIFO slot"
        );
        assert!(
            svg.contains("class=\"wake\""),
            "no wake or spawn arrow between lanes"
        );
        assert!(std::fs::read(json)
            .unwrap()
            .starts_with(b"{\"traceEvents\":["));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn every_scenario_runs() {
        for s in ["ping-pong", "timers", "io"] {
            let (trace, polls) = traced_run(s);
            assert!(
                polls > 0 && !trace.events().is_empty(),
                "{s}: nothing traced"
            );
        }
    }
}

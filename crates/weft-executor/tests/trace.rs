//! Scheduler traces: off by default, complete when on, bounded, and exportable.

#![cfg(not(weft_loom))]

use std::collections::HashMap;
use std::time::Duration;
use weft_executor::{spawn, yield_now, Builder, Handle, Place, TaskSource, Trace, TraceKind};

/// On 2 workers recording up to `limit` events each (0: off), runs tasks that spawn,
/// yield and wait on each other, then stops the runtime so every worker hands over its
/// last events; returns the trace and the polls the metrics counted.
fn traced_run(limit: usize) -> (Trace, u64) {
    let rt = Builder::new()
        .worker_threads(2)
        .trace(limit)
        .build()
        .unwrap();
    rt.block_on(async {
        let hs: Vec<_> = (0..200u64)
            .map(|i| {
                spawn(async move {
                    for _ in 0..3 {
                        yield_now().await;
                    }
                    spawn(async move { i }).await.unwrap()
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    // Give the workers a moment to fall asleep: a park is traced too.
    std::thread::sleep(Duration::from_millis(20));
    let handle: Handle = rt.handle().clone();
    let metrics = rt.metrics();
    drop(rt);
    let polls = (0..metrics.num_workers())
        .map(|w| metrics.worker_polls(w))
        .sum();
    (handle.take_trace(), polls)
}

fn poll_events(trace: &Trace) -> usize {
    trace
        .events()
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Poll { .. }))
        .count()
}

#[test]
fn off_by_default() {
    let (trace, polls) = traced_run(0);
    assert!(polls > 0);
    assert!(trace.events().is_empty());
    assert_eq!(trace.dropped(), 0);
}

#[test]
fn every_poll_is_recorded_and_a_worker_does_one_thing_at_a_time() {
    let (trace, polls) = traced_run(1_000_000);
    assert_eq!(trace.dropped(), 0);
    let events = trace.events();
    let traced_polls = poll_events(&trace) as u64;
    assert_eq!(
        traced_polls, polls,
        "one poll event per poll the metrics counted"
    );
    // 200 tasks polled 4 times plus 200 children once each, plus the block_on task's
    // spawns: at least 1,000 polls.
    assert!(polls >= 1_000, "{polls} polls");
    let mut sources: HashMap<TaskSource, usize> = HashMap::new();
    let (mut lifo_spawns, mut outside_spawns) = (0, 0);
    for e in events {
        assert!(e.worker.is_none_or(|w| w < 2), "{e:?}");
        match (e.worker, e.kind) {
            (_, TraceKind::Poll { from, .. }) => *sources.entry(from).or_default() += 1,
            (
                Some(_),
                TraceKind::Spawn {
                    to: Place::LifoSlot,
                    ..
                },
            ) => lifo_spawns += 1,
            (
                None,
                TraceKind::Spawn {
                    to: Place::Injector,
                    ..
                },
            ) => outside_spawns += 1,
            _ => {}
        }
    }
    // The 200 children spawned from tasks, into the LIFO slot; the 200 tasks spawned by the
    // thread in `block_on`, outside the workers.
    assert_eq!(lifo_spawns, 200);
    assert_eq!(outside_spawns, 200);
    // Every poll follows a wake or spawn of its task, or its previous poll (a yield, not
    // recorded): the 600 yields.
    let mut woken = std::collections::HashSet::new();
    let mut polled = std::collections::HashSet::new();
    let mut after_yield = 0;
    for e in events {
        match e.kind {
            TraceKind::Wake { task, .. } | TraceKind::Spawn { task, .. } => {
                woken.insert(task);
            }
            TraceKind::Poll { task, .. } => {
                if !woken.remove(&task) {
                    assert!(polled.contains(&task), "{task} polled before any wake");
                    after_yield += 1;
                }
                polled.insert(task);
            }
            _ => {}
        }
    }
    // The 600 yields, and at most the 200 wakes of parents by their child's end on top: a
    // wake that lands while its task is being polled (the child, stolen, finished on the
    // other worker before the parent's poll returned) is not traced, the task being
    // queued again by its worker when the poll ends, exactly as after a yield; so its next
    // poll looks like a yield's (seen once in 60 runs).
    assert!(
        (600..=800).contains(&after_yield),
        "{after_yield} polls after a yield or an untraced wake"
    );
    // Children are spawned from tasks: into the LIFO slot. Yielded tasks go to the queue.
    assert!(
        sources.get(&TaskSource::LifoSlot).is_some_and(|&n| n > 0),
        "{sources:?}"
    );
    assert!(
        sources.get(&TaskSource::Queue).is_some_and(|&n| n > 0),
        "{sources:?}"
    );
    // Ordered by start, and on each worker no two polls, sleeps or searches overlap.
    assert!(events.windows(2).all(|w| w[0].start <= w[1].start));
    for worker in 0..2 {
        let mut end = Duration::ZERO;
        for e in events.iter().filter(|e| e.worker == Some(worker)) {
            if !matches!(
                e.kind,
                TraceKind::Poll { .. } | TraceKind::Park { .. } | TraceKind::Search { .. }
            ) {
                continue;
            }
            assert!(
                e.start >= end,
                "worker {worker}: {e:?} starts before {end:?}"
            );
            end = e.start + e.duration;
        }
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(e.kind, TraceKind::Park { .. })),
        "the workers slept at the end"
    );
}

#[test]
fn a_worker_keeps_at_most_its_limit_and_counts_the_rest() {
    let (trace, polls) = traced_run(10);
    // Two workers, and the outside lane.
    let mut per_lane = [0usize; 3];
    for e in trace.events() {
        per_lane[e.worker.unwrap_or(2)] += 1;
    }
    assert!(per_lane.iter().all(|&n| n <= 10), "{per_lane:?}");
    assert_eq!(per_lane[2], 10, "200 spawns from outside, 10 recorded");
    assert!(trace.dropped() > 0);
    assert!(trace.events().len() as u64 + trace.dropped() >= polls);
}

#[test]
fn chrome_json_has_a_slice_per_event_a_name_per_lane_and_paired_flows() {
    let (trace, _) = traced_run(100_000);
    let mut out = Vec::new();
    trace.write_chrome_json(&mut out).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out).expect("well-formed JSON");
    let records = json["traceEvents"].as_array().unwrap();
    let names: Vec<&str> = records
        .iter()
        .filter(|r| r["name"] == "thread_name")
        .map(|r| r["args"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["worker 0", "worker 1", "outside"]);
    // A slice per event, and one more on the victim's row per steal from a worker.
    let robbed = trace
        .events()
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                TraceKind::Steal {
                    victim: Some(_),
                    ..
                }
            )
        })
        .count();
    let slices = records.iter().filter(|r| r["ph"] == "X").count();
    assert_eq!(slices, trace.events().len() + robbed);
    let poll_slices = records
        .iter()
        .filter(|r| r["ph"] == "X" && r["name"].as_str().unwrap().starts_with("poll "))
        .count();
    assert_eq!(poll_slices, poll_events(&trace));
    // Flow arrows: each id starts once and finishes once, and every poll after a wake has
    // one.
    let ids = |ph: &str| {
        let mut v: Vec<(String, u64)> = records
            .iter()
            .filter(|r| r["ph"] == ph)
            .map(|r| {
                (
                    r["cat"].as_str().unwrap().to_owned(),
                    r["id"].as_u64().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let (starts, finishes) = (ids("s"), ids("f"));
    assert_eq!(starts, finishes);
    let wake_flows = starts.iter().filter(|(cat, _)| cat == "wake").count();
    let mut woken = std::collections::HashSet::new();
    let mut polls_after_a_wake = 0;
    for e in trace.events() {
        match e.kind {
            TraceKind::Wake { task, .. } | TraceKind::Spawn { task, .. } => {
                woken.insert(task);
            }
            TraceKind::Poll { task, .. } => polls_after_a_wake += usize::from(woken.remove(&task)),
            _ => {}
        }
    }
    // 200 spawns from outside, 200 from tasks, and the 200 parents woken by their child's
    // end, but for those woken during their own poll (not traced: see
    // `every_poll_is_recorded_and_a_worker_does_one_thing_at_a_time`).
    assert!(
        (400..=600).contains(&polls_after_a_wake),
        "{polls_after_a_wake}"
    );
    assert_eq!(wake_flows, polls_after_a_wake);
    assert_eq!(
        starts.iter().filter(|(cat, _)| cat == "steal").count(),
        robbed
    );
}

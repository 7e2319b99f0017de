//! Scheduler traces: off by default, complete when on, bounded, and exportable.

#![cfg(not(weft_loom))]

use std::collections::HashMap;
use std::time::Duration;
use weft_executor::{spawn, yield_now, Builder, Handle, TaskSource, Trace, TraceKind};

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
    for e in events {
        assert!(e.worker < 2);
        if let TraceKind::Poll { from, .. } = e.kind {
            *sources.entry(from).or_default() += 1;
        }
    }
    // Children are spawned from tasks: into the LIFO slot. Yielded tasks go to the queue.
    assert!(
        sources.get(&TaskSource::LifoSlot).is_some_and(|&n| n > 0),
        "{sources:?}"
    );
    assert!(
        sources.get(&TaskSource::Queue).is_some_and(|&n| n > 0),
        "{sources:?}"
    );
    // Ordered by start, and on each worker no two polls or sleeps overlap.
    assert!(events.windows(2).all(|w| w[0].start <= w[1].start));
    for worker in 0..2 {
        let mut end = Duration::ZERO;
        for e in events.iter().filter(|e| e.worker == worker) {
            if matches!(e.kind, TraceKind::Steal { .. }) {
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
    let mut per_worker = [0usize; 2];
    for e in trace.events() {
        per_worker[e.worker] += 1;
    }
    assert!(per_worker.iter().all(|&n| n <= 10), "{per_worker:?}");
    assert!(trace.dropped() > 0);
    assert!(trace.events().len() as u64 + trace.dropped() >= polls);
}

#[test]
fn chrome_json_has_one_record_per_event_and_a_name_per_worker() {
    let (trace, _) = traced_run(100_000);
    let mut out = Vec::new();
    trace.write_chrome_json(&mut out).unwrap();
    let json = String::from_utf8(out).unwrap();
    assert!(json.starts_with("{\"traceEvents\":["));
    assert!(json.trim_end().ends_with("\"displayTimeUnit\":\"ns\"}"));
    let records = json.matches("\"pid\":1").count();
    assert_eq!(
        records,
        trace.events().len() + 2,
        "events plus two thread names"
    );
    let polls = poll_events(&trace);
    assert_eq!(json.matches("\"name\":\"poll\"").count(), polls);
    assert_eq!(json.matches('{').count(), json.matches('}').count());
}

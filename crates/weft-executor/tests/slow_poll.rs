//! Slow-poll reports: a poll that holds a worker past the threshold is reported once, with
//! the task's id, name and spawn location; a fast one is not; the hook cannot kill the
//! worker; the default report and the panic report name the task.

#![cfg(not(weft_loom))]

use std::sync::{mpsc, Mutex};
use std::time::Duration;
use weft_executor::{Builder, SlowPoll, TaskBuilder, TraceKind};

const BLOCK: Duration = Duration::from_millis(200);
const THRESHOLD: Duration = Duration::from_millis(100);

#[test]
fn a_blocking_poll_is_reported_with_the_tasks_id_name_and_location_and_a_fast_one_is_not() {
    let (tx, rx) = mpsc::channel::<SlowPoll>();
    let tx = Mutex::new(tx);
    let rt = Builder::new()
        .worker_threads(2)
        .slow_poll_threshold(THRESHOLD)
        .on_slow_poll(move |s| tx.lock().unwrap().send(s.clone()).unwrap())
        .build()
        .unwrap();
    let fast = TaskBuilder::new()
        .name("fast")
        .spawn_on(
            async {
                for _ in 0..100 {
                    weft_executor::yield_now().await;
                }
            },
            rt.handle(),
        )
        .unwrap();
    rt.block_on(fast).unwrap();
    let line = line!() + 3;
    let slow = TaskBuilder::new()
        .name("blocker")
        .spawn_on(async { std::thread::sleep(BLOCK) }, rt.handle())
        .unwrap();
    let id = slow.id();
    rt.block_on(slow).unwrap();
    let report = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(report.id(), id);
    assert_eq!(report.name(), Some("blocker"));
    assert_eq!(
        (report.location().file(), report.location().line()),
        (file!(), line)
    );
    assert!(report.duration() >= BLOCK, "{report}");
    assert!(report.worker() < 2);
    // Reported once, and nothing about the fast task.
    drop(rt);
    assert!(rx.try_recv().is_err());
}

#[test]
fn slow_polls_are_counted_per_worker_and_a_panicking_hook_does_not_kill_the_worker() {
    let rt = Builder::new()
        .worker_threads(1)
        .slow_poll_threshold(THRESHOLD)
        .on_slow_poll(|_| panic!("a hook that panics"))
        .build()
        .unwrap();
    rt.block_on(rt.spawn(async { std::thread::sleep(BLOCK) }))
        .unwrap();
    // The one worker still runs tasks.
    assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
    rt.block_on(rt.spawn(async { std::thread::sleep(BLOCK) }))
        .unwrap();
    // Published before the worker parks.
    let m = rt.metrics();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while m.worker_slow_polls(0) < 2 {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(m.worker_slow_polls(0), 2);
}

#[test]
fn without_a_threshold_nothing_is_timed_or_counted() {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    rt.block_on(rt.spawn(async { std::thread::sleep(BLOCK) }))
        .unwrap();
    drop(rt.block_on(rt.spawn(async {})));
    let m = rt.metrics();
    drop(rt);
    assert_eq!(m.worker_slow_polls(0), 0);
}

/// The child process of `the_default_reports_name_the_task_on_stderr`.
const CHILD: &str = "WEFT_SLOW_POLL_TEST_CHILD";

#[test]
fn the_default_reports_name_the_task_on_stderr() {
    if std::env::var_os(CHILD).is_some() {
        let rt = Builder::new()
            .worker_threads(1)
            .slow_poll_threshold(THRESHOLD)
            .build()
            .unwrap();
        let slow = TaskBuilder::new()
            .name("sleepy")
            .spawn_on(async { std::thread::sleep(BLOCK) }, rt.handle())
            .unwrap();
        println!("slow {} at line {}", slow.id(), line!() - 2);
        rt.block_on(slow).unwrap();
        let boom = TaskBuilder::new()
            .name("doomed")
            .spawn_on(async { panic!("boom") }, rt.handle())
            .unwrap();
        println!("boom {} at line {}", boom.id(), line!() - 2);
        let abort = boom.abort_handle();
        drop(boom);
        while !abort.is_finished() {
            std::thread::sleep(Duration::from_millis(1));
        }
        return; // dropping the runtime joins the worker, which reported the panic
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_default_reports_name_the_task_on_stderr",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let field = |what: &str, i: usize| -> String {
        let line = stdout.lines().find(|l| l.starts_with(what)).unwrap();
        line.split(' ').nth(i).unwrap().to_string()
    };
    let (slow_id, slow_line) = (field("slow", 1), field("slow", 4));
    let (boom_id, boom_line) = (field("boom", 1), field("boom", 4));
    let slow_report = format!(
        "weft: task {slow_id} \"sleepy\" (spawned at {}:{slow_line}:",
        file!()
    );
    assert!(stderr.contains(&slow_report), "{stderr}");
    assert!(
        stderr.contains("in one poll (slow_poll_threshold 100ms)"),
        "{stderr}"
    );
    let panic_report = format!(
        "weft: task {boom_id} \"doomed\" (spawned at {}:{boom_line}:",
        file!()
    );
    assert!(stderr.contains(&panic_report), "{stderr}");
    assert!(
        stderr.contains("panicked and nobody awaited its JoinHandle: boom"),
        "{stderr}"
    );
}

#[test]
fn the_trace_marks_the_slow_poll_and_only_it_in_the_svg_and_the_json() {
    let rt = Builder::new()
        .worker_threads(1)
        .slow_poll_threshold(THRESHOLD)
        .on_slow_poll(|_| {})
        .trace(10_000)
        .build()
        .unwrap();
    let fast = rt.spawn(async {
        for _ in 0..50 {
            weft_executor::yield_now().await;
        }
    });
    rt.block_on(fast).unwrap();
    let slow = TaskBuilder::new()
        .name("blocker <1>")
        .spawn_on(async { std::thread::sleep(BLOCK) }, rt.handle())
        .unwrap();
    let id = slow.id();
    rt.block_on(slow).unwrap();
    // Stop the runtime so the worker hands over its last events.
    let handle = rt.handle().clone();
    drop(rt);
    let trace = handle.take_trace();
    let events = trace.events();
    let marks: Vec<_> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.kind, TraceKind::SlowPoll { .. }))
        .collect();
    assert_eq!(marks.len(), 1, "one slow poll, one mark");
    let (i, mark) = marks[0];
    assert_eq!(mark.kind, TraceKind::SlowPoll { task: id });
    // Right after the poll it marks, with the same span.
    let poll = &events[i - 1];
    assert!(matches!(poll.kind, TraceKind::Poll { task, .. } if task == id));
    assert_eq!(
        (poll.start, poll.duration, poll.worker),
        (mark.start, mark.duration, mark.worker)
    );
    assert!(mark.duration >= BLOCK);

    // The picture's detailed window from the slow poll's start: `write_svg` shows the
    // run's first 5 ms, which on a loaded machine may end before the slow poll begins.
    let mut svg = Vec::new();
    trace
        .write_svg_window(&mut svg, mark.start, mark.start + mark.duration)
        .unwrap();
    let svg = String::from_utf8(svg).unwrap();
    assert_eq!(svg.matches("class=\"slow-poll\"").count(), 1);
    assert!(
        svg.contains(&format!(
            "slow poll: task {id} &quot;blocker &lt;1&gt;&quot;"
        )),
        "the frame's title names the task"
    );
    let mut json = Vec::new();
    trace.write_chrome_json(&mut json).unwrap();
    let json = String::from_utf8(json).unwrap();
    assert_eq!(json.matches("\"name\":\"slow poll\"").count(), 1);
    assert!(json.contains(&format!(
        "\"args\":{{\"task\":{id},\"task_name\":\"blocker <1>\"}}"
    )));
}

#[test]
fn a_blocking_poll_of_a_local_task_on_a_current_thread_runtime_is_reported_and_counted() {
    use std::rc::Rc;
    let (tx, rx) = mpsc::channel::<SlowPoll>();
    let tx = Mutex::new(tx);
    let rt = Builder::new_current_thread()
        .slow_poll_threshold(THRESHOLD)
        .on_slow_poll(move |s| tx.lock().unwrap().send(s.clone()).unwrap())
        .build()
        .unwrap();
    let (id, line) = rt.block_on(async {
        let not_send = Rc::new(());
        let line = line!() + 3;
        let h = TaskBuilder::new()
            .name("local blocker")
            .spawn_local(async move {
                let _keep = not_send;
                std::thread::sleep(BLOCK)
            })
            .unwrap();
        let id = h.id();
        h.await.unwrap();
        (id, line)
    });
    let report = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(report.id(), id);
    assert_eq!(report.name(), Some("local blocker"));
    assert_eq!(
        (report.location().file(), report.location().line()),
        (file!(), line)
    );
    assert!(report.duration() >= BLOCK, "{report}");
    assert_eq!(report.worker(), 0);
    // The metrics are published when the worker's counts are (at the end of block_on).
    assert_eq!(rt.handle().metrics().worker_slow_polls(0), 1);
    assert!(rx.try_recv().is_err());
}

//! `Handle::dump`: every live task with its id, name, spawn location, state and polls;
//! and names and spawn locations as `TaskBuilder` and `#[track_caller]` record them.

#![cfg(not(weft_loom))]

use std::future::pending;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use weft_executor::{Builder, Handle, TaskBuilder, TaskId, TaskInfo, TaskState};

/// Waits (up to 10 s) until the dump shows task `id` in `state`, and returns its entry.
fn wait_for(handle: &Handle, id: TaskId, state: TaskState) -> TaskInfo {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let dump = handle.dump();
        if let Some(t) = dump.tasks().iter().find(|t| t.id() == id) {
            if t.state() == state {
                return t.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "task {id} never {state:?}:\n{dump}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn the_dump_shows_idle_running_and_scheduled_tasks_with_names_and_locations() {
    // One worker: while one task blocks it, a task spawned next waits in a queue.
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let handle = rt.handle().clone();

    let named = TaskBuilder::new().name("idler");
    let (idle, idle_line) = (named.spawn_on(pending::<()>(), &handle).unwrap(), line!());
    let idle_info = wait_for(&handle, idle.id(), TaskState::Idle);
    assert_eq!(idle_info.polls(), 1);
    assert_eq!(idle_info.name(), Some("idler"));
    assert_eq!(idle_info.location().file(), file!());
    assert_eq!(idle_info.location().line(), idle_line);
    assert!(idle_info.since_last_poll().is_some());

    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let blocker_line = line!() + 1;
    let blocker = handle.spawn(async move {
        started_tx.send(()).unwrap();
        // Blocks the only worker until the test says so.
        release_rx.recv().unwrap();
    });
    started_rx.recv().unwrap();
    let running = wait_for(&handle, blocker.id(), TaskState::Running);
    assert_eq!(running.name(), None);
    assert_eq!(running.location().line(), blocker_line);
    assert_eq!(running.polls(), 1);

    let queued = TaskBuilder::new()
        .name("waiting")
        .spawn_on(async {}, &handle)
        .unwrap();
    let scheduled = wait_for(&handle, queued.id(), TaskState::Scheduled);
    assert_eq!(scheduled.polls(), 0);
    assert_eq!(scheduled.since_last_poll(), None);

    let text = handle.dump().to_string();
    assert!(text.starts_with("3 live tasks\n"), "{text}");
    assert!(
        text.contains(&format!(
            "task {} \"idler\" (spawned at {}:{idle_line}:",
            idle.id(),
            file!()
        )),
        "{text}"
    );
    assert!(text.contains("): running, 1 polls, last "), "{text}");
    assert!(text.contains("\"waiting\""), "{text}");
    assert!(text.contains("): scheduled, never polled"), "{text}");

    release_tx.send(()).unwrap();
    rt.block_on(blocker).unwrap();
    rt.block_on(queued).unwrap();
    // Finished tasks leave the list; the idle one stays, until aborted.
    let ids: Vec<_> = handle.dump().tasks().iter().map(|t| t.id()).collect();
    assert_eq!(ids, [idle.id()]);
    idle.abort();
    assert!(rt.block_on(idle).unwrap_err().is_cancelled());
    assert!(handle.dump().tasks().is_empty());
}

#[test]
fn polls_are_counted_per_task() {
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    let h = rt.spawn(async move {
        for _ in 0..9 {
            weft_executor::yield_now().await;
        }
        // Blocks its worker until the dump was read: the task is still in the list.
        rx.recv().unwrap();
    });
    let info = wait_for(rt.handle(), h.id(), TaskState::Running);
    assert_eq!(info.polls(), 10);
    tx.send(()).unwrap();
    rt.block_on(h).unwrap();
}

#[test]
fn spawn_locations_come_through_every_spawn_function() {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let handle = rt.handle().clone();
    let mut expected = Vec::new();
    let h1 = rt.spawn(pending::<()>());
    expected.push((h1.id(), line!() - 1));
    let h2 = handle.spawn(pending::<()>());
    expected.push((h2.id(), line!() - 1));
    let (h3, line3) = rt.block_on(async {
        let h = weft_executor::spawn(pending::<()>());
        (h, line!() - 1)
    });
    expected.push((h3.id(), line3));
    let (set, line4) = rt.block_on(async {
        let mut set = weft_executor::JoinSet::new();
        set.spawn(pending::<()>());
        (set, line!() - 1)
    });
    // Tasks spawned on a worker join the list at its next maintenance or sleep: wait.
    let deadline = Instant::now() + Duration::from_secs(10);
    while handle.dump().tasks().len() < 4 {
        assert!(Instant::now() < deadline, "{}", handle.dump());
        std::thread::sleep(Duration::from_millis(1));
    }
    let dump = handle.dump();
    for (id, line) in expected {
        let t = dump.tasks().iter().find(|t| t.id() == id).unwrap();
        assert_eq!(
            (t.location().file(), t.location().line()),
            (file!(), line),
            "{dump}"
        );
    }
    assert!(dump
        .tasks()
        .iter()
        .any(|t| t.location().line() == line4 && t.location().file() == file!()));
    drop(set);
}

#[test]
fn the_dump_shows_blocking_tasks_queued_and_running_until_they_finish() {
    // One blocking thread: while one closure holds it, the next waits in the queue.
    let rt = Builder::new()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let line = line!() + 3;
    let running = TaskBuilder::new()
        .name("reader")
        .spawn_blocking_on(
            move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            },
            &handle,
        )
        .unwrap();
    started_rx.recv().unwrap();
    let queued = handle.spawn_blocking(|| 7);
    let info = wait_for(&handle, running.id(), TaskState::Blocking);
    assert!(info.is_blocking());
    assert_eq!(info.name(), Some("reader"));
    assert_eq!(
        (info.location().file(), info.location().line()),
        (file!(), line)
    );
    assert_eq!(info.polls(), 1);
    let waiting = wait_for(&handle, queued.id(), TaskState::Scheduled);
    assert!(waiting.is_blocking());
    assert_eq!(waiting.since_last_poll(), None);
    let text = handle.dump().to_string();
    assert!(
        text.contains(&format!(
            "blocking task {} \"reader\" (spawned at",
            running.id()
        )),
        "{text}"
    );
    assert!(text.contains("): blocking, 1 polls, last "), "{text}");

    release_tx.send(()).unwrap();
    rt.block_on(running).unwrap();
    assert_eq!(rt.block_on(queued).unwrap(), 7);
    assert!(handle.dump().tasks().is_empty(), "{}", handle.dump());
}

#[test]
fn a_blocking_task_still_running_at_shutdown_is_let_go() {
    // Shutdown with a timeout shorter than the closure: the pool gives up its reference,
    // and the closure's result still reaches nobody without a leak or a crash.
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    let h = rt.spawn_blocking(move || rx.recv().is_ok());
    let handle = rt.handle().clone();
    wait_for(&handle, h.id(), TaskState::Blocking);
    rt.shutdown_timeout(Duration::from_millis(10));
    assert!(
        handle.dump().tasks().is_empty(),
        "the list is closed and empty"
    );
    drop(tx); // ends the closure
    drop(h);
}

#[test]
fn the_dump_shows_local_tasks_of_sets_made_in_the_runtime() {
    use std::rc::Rc;
    use weft_executor::LocalSet;
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let handle = rt.handle().clone();
    // A set made outside any runtime belongs to none.
    let outside = LocalSet::new();
    let stray = outside.spawn_local(pending::<()>());
    rt.block_on(async {
        let set = LocalSet::new();
        let not_send = Rc::new(5);
        let line = line!() + 3;
        let local = TaskBuilder::new()
            .name("local one")
            .spawn_local_on(async move { *pending::<Rc<i32>>().await + *not_send }, &set)
            .unwrap();
        let id = local.id();
        let info = set
            .run_until(async {
                // Let the local task run once and go idle.
                weft_executor::yield_now().await;
                wait_for(&handle, id, TaskState::Idle)
            })
            .await;
        assert!(info.is_local());
        assert!(!info.is_blocking());
        assert!(info.polls() >= 1, "{info}");
        assert!(info.since_last_poll().is_some(), "{info}");
        assert_eq!(info.name(), Some("local one"));
        assert_eq!(
            (info.location().file(), info.location().line()),
            (file!(), line)
        );
        let text = handle.dump().to_string();
        assert!(
            text.contains(&format!("local task {id} \"local one\" (spawned at")),
            "{text}"
        );
        assert!(
            !handle.dump().tasks().iter().any(|t| t.id() == stray.id()),
            "a set made outside the runtime was listed:\n{}",
            handle.dump()
        );
        // The spawn functions of local tasks record their caller too.
        let by_set = set.spawn_local(pending::<()>());
        let by_set_line = line!() - 1;
        let (free, free_line) = set
            .run_until(async { (weft_executor::spawn_local(pending::<()>()), line!()) })
            .await;
        let dump = handle.dump();
        for (h, line) in [(by_set.id(), by_set_line), (free.id(), free_line)] {
            let t = dump.tasks().iter().find(|t| t.id() == h).unwrap();
            assert!(t.is_local());
            assert_eq!(
                (t.location().file(), t.location().line()),
                (file!(), line),
                "{dump}"
            );
        }
        drop(set);
        assert!(
            !handle.dump().tasks().iter().any(|t| t.id() == id),
            "a dropped set's task was listed:\n{}",
            handle.dump()
        );
    });
    drop(outside);

    // On a current-thread runtime, spawn_local's tasks too.
    let rt = Builder::new_current_thread().build().unwrap();
    let handle = rt.handle().clone();
    rt.block_on(async {
        let h = weft_executor::spawn_local(pending::<()>());
        weft_executor::yield_now().await;
        let info = wait_for(&handle, h.id(), TaskState::Idle);
        assert!(info.is_local());
    });
}

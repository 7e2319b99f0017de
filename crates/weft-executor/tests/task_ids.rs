//! Task ids: unique for the process's life, the same through every handle and inside the
//! task, and what the trace names tasks by.

#![cfg(not(weft_loom))]

use std::collections::HashSet;
use std::future::pending;
use std::sync::mpsc;
use weft_executor::{spawn, task_id, try_task_id, Builder, Runtime, TaskId, TraceKind};

#[test]
fn ids_are_unique_across_workers_threads_and_the_blocking_pool() {
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let mut ids: Vec<TaskId> = rt.block_on(async {
        // Spawned from tasks on both workers, each spawning a batch.
        let outer: Vec<_> = (0..8)
            .map(|_| {
                spawn(async {
                    let hs: Vec<_> = (0..500).map(|_| spawn(async { task_id() })).collect();
                    let mut ids = Vec::new();
                    for h in hs {
                        let id = h.id();
                        assert_eq!(h.await.unwrap(), id);
                        ids.push(id);
                    }
                    ids
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in outer {
            all.push(h.id());
            all.extend(h.await.unwrap());
        }
        all
    });
    // From threads outside the runtime, and blocking tasks.
    let outside: Vec<_> = (0..4)
        .map(|_| {
            let h = rt.handle().clone();
            std::thread::spawn(move || (0..300).map(|_| h.spawn(async {}).id()).collect::<Vec<_>>())
        })
        .collect();
    for t in outside {
        ids.extend(t.join().unwrap());
    }
    for _ in 0..50 {
        let h = rt.spawn_blocking(task_id);
        let id = h.id();
        assert_eq!(rt.block_on(h).unwrap(), id);
        ids.push(id);
    }
    let n = ids.len();
    let unique: HashSet<_> = ids.into_iter().collect();
    assert_eq!(unique.len(), n, "an id was handed out twice");
    assert_eq!(n, 8 + 8 * 500 + 4 * 300 + 50);
}

#[test]
fn the_abort_handle_and_the_task_itself_see_the_same_id() {
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        let (tx, rx) = mpsc::channel();
        let h = spawn(async move {
            tx.send(task_id()).unwrap();
            pending::<()>().await
        });
        let abort = h.abort_handle();
        assert_eq!(abort.id(), h.id());
        let inside = loop {
            match rx.try_recv() {
                Ok(id) => break id,
                Err(_) => weft_executor::yield_now().await,
            }
        };
        assert_eq!(inside, h.id());
        abort.abort();
        assert!(h.await.unwrap_err().is_cancelled());
    });
}

#[test]
fn outside_a_task_there_is_no_id() {
    assert_eq!(try_task_id(), None);
    let rt = Runtime::new().unwrap();
    // block_on's future is not a task.
    assert_eq!(rt.block_on(async { try_task_id() }), None);
    let err = std::panic::catch_unwind(task_id).unwrap_err();
    let msg = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(
        msg.contains("outside a task") && msg.contains("try_id"),
        "{msg}"
    );
    // A worker thread, once its polls are over (its stop hook runs there), has none left.
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let rt1 = Builder::new()
        .worker_threads(1)
        .on_thread_stop(move || tx.lock().unwrap().send(try_task_id()).unwrap())
        .build()
        .unwrap();
    assert!(rt1
        .block_on(rt1.spawn(async { try_task_id().is_some() }))
        .unwrap());
    drop(rt1);
    assert_eq!(rx.recv().unwrap(), None);
}

#[test]
fn a_future_dropped_by_an_abort_runs_its_destructor_as_the_task() {
    struct Probe(mpsc::Sender<Option<TaskId>>);
    impl Drop for Probe {
        fn drop(&mut self) {
            let _ = self.0.send(try_task_id());
        }
    }
    let rt = Runtime::new().unwrap();
    let (tx, rx) = mpsc::channel();
    let probe = Probe(tx);
    // Aborted before or during its first poll: the probe is dropped with the future.
    let h = rt.spawn(async move {
        let _probe = probe;
        pending::<()>().await
    });
    let id = h.id();
    h.abort();
    assert!(rt.block_on(h).unwrap_err().is_cancelled());
    assert_eq!(rx.recv().unwrap(), Some(id));
}

#[test]
fn the_trace_names_tasks_by_ids_that_the_next_spawn_does_not_reuse() {
    let rt = Builder::new()
        .worker_threads(1)
        .trace(10_000)
        .build()
        .unwrap();
    // One task at a time: each reuses the previous one's cell (the same address).
    let ids: Vec<TaskId> = rt.block_on(async {
        let mut ids = Vec::new();
        for _ in 0..50 {
            let h = spawn(async {});
            ids.push(h.id());
            h.await.unwrap();
        }
        ids
    });
    let handle = rt.handle().clone();
    drop(rt);
    let trace = handle.take_trace();
    let polled: HashSet<TaskId> = trace
        .events()
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::Poll { task, .. } => Some(task),
            _ => None,
        })
        .collect();
    for id in &ids {
        assert!(polled.contains(id), "task {id} polled but not traced");
    }
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 50);
    let mut json = Vec::new();
    trace.write_chrome_json(&mut json).unwrap();
    let json = String::from_utf8(json).unwrap();
    assert!(json.contains(&format!("\"task\":{}", ids[7])), "{json}");
}

#[test]
fn the_trace_names_named_tasks() {
    let rt = Builder::new()
        .worker_threads(1)
        .trace(10_000)
        .build()
        .unwrap();
    let named = weft_executor::TaskBuilder::new()
        .name("conn \"7\"")
        .spawn_on(async {}, rt.handle())
        .unwrap();
    let (named_id, plain_id) = (named.id(), rt.spawn(async {}).id());
    rt.block_on(named).unwrap();
    let handle = rt.handle().clone();
    drop(rt);
    let trace = handle.take_trace();
    assert_eq!(trace.task_name(named_id), Some("conn \"7\""));
    assert_eq!(trace.task_name(plain_id), None);
    let mut json = Vec::new();
    trace.write_chrome_json(&mut json).unwrap();
    let json = String::from_utf8(json).unwrap();
    let line = json
        .lines()
        // The poll's slice (the spawn's slice names the task too, without its name).
        .find(|l| l.contains(&format!("\"task\":{named_id},\"from\"")))
        .unwrap();
    assert!(line.contains(r#""task_name":"conn \"7\"""#), "{line}");
}

#[test]
fn a_join_error_names_its_task_and_travels_as_a_send_sync_error() {
    fn fails(rt: &Runtime) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let h = rt.spawn(async { panic!("no") });
        let id = h.id();
        let err = rt.block_on(h).unwrap_err();
        assert_eq!(err.id(), id);
        assert!(format!("{err:?}").contains(&format!("Id({id})")));
        Err(err)?; // needs JoinError: Sync (tokio's is)
        Ok(())
    }
    let rt = Runtime::new().unwrap();
    let e = fails(&rt).unwrap_err();
    assert!(e.to_string().ends_with("panicked: no"), "{e}");
    let h = rt.spawn(pending::<()>());
    h.abort();
    let id = h.id();
    let err = rt.block_on(h).unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(err.id(), id);
    assert_eq!(err.to_string(), format!("task {id} was cancelled"));
}

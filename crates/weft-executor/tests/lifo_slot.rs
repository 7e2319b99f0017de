//! The LIFO slot never strands a task behind a poll that blocks its worker.
//!
//! tokio's LIFO slot cannot be stolen (tokio issue 4941): if the running task blocks the
//! thread, the task waiting in the slot waits too. Here another worker must take it. The
//! long receive timeouts only turn a deadlock into a failure.

#![cfg(not(weft_loom))]

use std::sync::{mpsc, Arc, Mutex};
use std::task::Waker;
use std::time::Duration;
use weft_executor::{spawn, Builder};

const DEADLOCK: Duration = Duration::from_secs(60);

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

#[test]
fn a_spawned_task_in_the_slot_is_taken_by_another_worker() {
    let rt = Builder::new().worker_threads(2).build().unwrap();
    for _ in 0..20 {
        // Let the other worker go to sleep first.
        std::thread::sleep(Duration::from_millis(5));
        let (names_tx, names_rx) = mpsc::channel();
        let h = rt.spawn(async move {
            let blocked_on = thread_name();
            let (tx, rx) = mpsc::channel();
            // Spawned from a worker: goes to this worker's LIFO slot.
            drop(spawn(async move { tx.send(thread_name()).unwrap() }));
            // Block this worker until that very task has run.
            let ran_on = rx
                .recv_timeout(DEADLOCK)
                .expect("the task in the LIFO slot was stranded");
            names_tx.send((blocked_on, ran_on)).unwrap();
        });
        rt.block_on(h).unwrap();
        let (blocked_on, ran_on) = names_rx.recv().unwrap();
        assert_ne!(
            blocked_on, ran_on,
            "the task cannot have run on the blocked worker"
        );
    }
}

#[test]
fn a_woken_task_in_the_slot_is_taken_by_another_worker() {
    let rt = Builder::new().worker_threads(2).build().unwrap();
    for _ in 0..20 {
        let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
        let (ran_tx, ran_rx) = mpsc::channel::<String>();
        // The task to be woken: parks once, reports where it ran the second time.
        let s = slot.clone();
        let woken = rt.spawn(async move {
            let mut first = true;
            std::future::poll_fn(|cx| {
                if first {
                    first = false;
                    *s.lock().unwrap() = Some(cx.waker().clone());
                    std::task::Poll::Pending
                } else {
                    std::task::Poll::Ready(())
                }
            })
            .await;
            ran_tx.send(thread_name()).unwrap();
        });
        while slot.lock().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(5));
        let s = slot.clone();
        let blocker = rt.spawn(async move {
            let me = thread_name();
            // Woken on a worker: into this worker's LIFO slot.
            s.lock().unwrap().take().unwrap().wake();
            let ran_on = ran_rx
                .recv_timeout(DEADLOCK)
                .expect("the woken task was stranded");
            (me, ran_on)
        });
        let (blocked_on, ran_on) = rt.block_on(blocker).unwrap();
        rt.block_on(woken).unwrap();
        assert_ne!(blocked_on, ran_on);
    }
}

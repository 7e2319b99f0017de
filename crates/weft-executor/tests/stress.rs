//! Many tasks, many foreign wakers: none lost, none polled twice after completion.

#![cfg(not(weft_loom))]

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Poll, Waker};
use weft_executor::Builder;

/// A million tasks each park once; four foreign threads wake them. Every task must be
/// polled exactly twice (once to park, once to finish) and complete exactly once.
#[test]
fn a_million_tasks_woken_from_foreign_threads() {
    const TASKS: usize = 1_000_000;
    const WAKERS: usize = 4;
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let polls: Arc<Vec<AtomicU8>> = Arc::new((0..TASKS).map(|_| AtomicU8::new(0)).collect());
    let done = Arc::new(AtomicUsize::new(0));
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..WAKERS).map(|_| mpsc::channel::<Waker>()).unzip();
    let wakers: Vec<_> = rxs
        .into_iter()
        .map(|rx| {
            std::thread::spawn(move || {
                let mut n = 0;
                for w in rx {
                    w.wake();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    for i in 0..TASKS {
        let tx = txs[i % WAKERS].clone();
        let polls = polls.clone();
        let done = done.clone();
        let done_tx = done_tx.clone();
        drop(rt.spawn(async move {
            std::future::poll_fn(|cx| {
                let prev = polls[i].fetch_add(1, SeqCst);
                if prev == 0 {
                    tx.send(cx.waker().clone()).unwrap();
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
            if done.fetch_add(1, SeqCst) + 1 == TASKS {
                done_tx.send(()).unwrap();
            }
        }));
    }
    drop(txs);
    drop(done_tx);
    done_rx
        .recv_timeout(std::time::Duration::from_secs(300))
        .expect("not every task completed");
    let woken: usize = wakers.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(woken, TASKS);
    assert_eq!(done.load(SeqCst), TASKS);
    let wrong = polls.iter().filter(|p| p.load(SeqCst) != 2).count();
    assert_eq!(wrong, 0, "tasks not polled exactly twice");
    assert_eq!(rt.metrics().alive_tasks(), 0);
}

/// Wakes racing polls: a task woken many times while it runs is rescheduled, never run
/// twice at once.
#[test]
fn concurrent_wakes_never_poll_a_task_twice_at_once() {
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let in_poll = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<Waker>();
    let ip = in_poll.clone();
    let h = rt.spawn(async move {
        let mut n = 0;
        std::future::poll_fn(|cx| {
            assert_eq!(ip.fetch_add(1, SeqCst), 0, "polled concurrently");
            tx.send(cx.waker().clone()).unwrap();
            n += 1;
            std::hint::spin_loop();
            ip.fetch_sub(1, SeqCst);
            if n == 20_000 {
                Poll::Ready(n)
            } else {
                Poll::Pending
            }
        })
        .await
    });
    // Each waker is woken twice, from two threads, while the task may be running.
    let t = std::thread::spawn(move || {
        for w in rx {
            let w2 = w.clone();
            let other = std::thread::spawn(move || w2.wake());
            w.wake_by_ref();
            other.join().unwrap();
        }
    });
    assert_eq!(rt.block_on(h).unwrap(), 20_000);
    drop(rt);
    t.join().unwrap();
}

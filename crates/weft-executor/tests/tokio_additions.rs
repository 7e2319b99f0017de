//! tokio's `JoinSet::try_join_next`, `Extend`/`FromIterator` for `JoinSet`, and
//! `LocalKey::try_get`/`TaskLocalFuture::take_value`.

mod common;

use common::{rt, Gate};
use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::mpsc;
use std::task::Poll;
use std::time::Duration;
use weft_executor::{JoinSet, Runtime};

/// Runs `f` on a runtime in a thread of its own, failing (instead of hanging) after a
/// minute: never a statement about speed.
fn bounded<R: Send + 'static>(f: impl FnOnce(&Runtime) -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = rt(2);
        let _ = tx.send(f(&rt));
    });
    rx.recv_timeout(Duration::from_secs(60)).expect("hung")
}

#[test]
fn try_join_next_is_none_until_a_task_finishes() {
    bounded(|rt| {
        rt.block_on(async {
            let mut set = JoinSet::new();
            assert!(set.try_join_next().is_none(), "an empty set has nothing");
            let gate = Gate::default();
            let g = gate.clone();
            set.spawn(async move {
                g.wait().await;
                42
            });
            // However long it waits, an unfinished task gives nothing.
            for _ in 0..10 {
                weft_executor::yield_now().await;
                assert!(set.try_join_next().is_none());
            }
            gate.open();
            let out = loop {
                if let Some(r) = set.try_join_next() {
                    break r.unwrap();
                }
                weft_executor::yield_now().await;
            };
            assert_eq!(out, 42);
            assert!(set.is_empty());
            assert!(set.try_join_next().is_none());
        })
    });
}

#[test]
fn try_join_next_reports_panics_and_cancellations() {
    bounded(|rt| {
        rt.block_on(async {
            let mut set: JoinSet<()> = JoinSet::new();
            set.spawn(async { panic!("boom") });
            let abort = set.spawn(std::future::pending());
            abort.abort();
            let mut errors = Vec::new();
            while errors.len() < 2 {
                match set.try_join_next() {
                    Some(r) => errors.push(r.unwrap_err()),
                    None => weft_executor::yield_now().await,
                }
            }
            assert_eq!(errors.iter().filter(|e| e.is_panic()).count(), 1);
            assert_eq!(errors.iter().filter(|e| e.is_cancelled()).count(), 1);
        })
    });
}

#[test]
fn try_join_next_keeps_the_waker_of_a_pending_join_next() {
    // A poll that waits in `poll_join_next`, then looks with `try_join_next` and finds
    // nothing: the task must still be woken when the task of the set finishes (a
    // `try_join_next` that replaced the set's waker would leave it hanging).
    bounded(|rt| {
        rt.block_on(async {
            let mut set = JoinSet::new();
            let gate = Gate::default();
            let g = gate.clone();
            set.spawn(async move {
                g.wait().await;
                5
            });
            let mut polls = 0;
            let waiting = poll_fn(|cx| {
                polls += 1;
                if let Poll::Ready(r) = set.poll_join_next(cx) {
                    return Poll::Ready(r);
                }
                assert!(set.try_join_next().is_none());
                Poll::Pending
            });
            let mut waiting = pin!(waiting);
            // First poll: pending, and the set's waker registered.
            assert!(poll_fn(|cx| Poll::Ready(waiting.as_mut().poll(cx).is_pending())).await);
            weft_executor::spawn(async move { gate.open() });
            let out = waiting.await.unwrap().unwrap();
            assert_eq!(out, 5);
            assert!(polls >= 2);
        })
    });
}

#[test]
fn a_set_collected_from_futures_spawns_each() {
    bounded(|rt| {
        rt.block_on(async {
            let mut set: JoinSet<u64> = (0..100u64).map(|i| async move { i * i }).collect();
            assert_eq!(set.len(), 100);
            set.extend((100..110u64).map(|i| async move { i * i }));
            assert_eq!(set.len(), 110);
            let sum: u64 = set.join_all().await.into_iter().sum();
            assert_eq!(sum, (0..110u64).map(|i| i * i).sum());
        })
    });
}

#[test]
fn collecting_a_set_outside_a_runtime_panics_with_the_fix() {
    let err = std::panic::catch_unwind(|| {
        let _set: JoinSet<()> = [async {}].into_iter().collect();
    })
    .unwrap_err();
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap();
    assert!(msg.contains("runtime"), "{msg}");
}

weft_executor::task_local! {
    static NAME: String;
    static COUNT: Cell<u32>;
}

#[test]
fn try_get_reads_a_copy_inside_a_scope_and_fails_outside() {
    assert!(NAME.try_get().is_err());
    let got = bounded(|rt| {
        rt.block_on(NAME.scope("weft".to_string(), async {
            weft_executor::yield_now().await;
            NAME.try_get()
        }))
    });
    assert_eq!(got.unwrap(), "weft");
    // And in a synchronous scope.
    assert_eq!(NAME.sync_scope("s".into(), || NAME.try_get()).unwrap(), "s");
}

#[test]
fn take_value_returns_the_value_once_after_completion() {
    bounded(|rt| {
        rt.block_on(async {
            let mut fut = Box::pin(COUNT.scope(Cell::new(1), async {
                weft_executor::yield_now().await;
                COUNT.with(|c| c.set(c.get() + 1));
            }));
            fut.as_mut().await;
            assert_eq!(fut.as_mut().take_value().map(Cell::into_inner), Some(2));
            assert!(fut.as_mut().take_value().is_none());
        })
    });
}

#[test]
fn a_value_taken_before_the_future_runs_is_not_set_inside_it() {
    bounded(|rt| {
        rt.block_on(async {
            let mut fut = Box::pin(NAME.scope("early".to_string(), async { NAME.try_get() }));
            assert_eq!(fut.as_mut().take_value().as_deref(), Some("early"));
            assert!(fut.as_mut().await.is_err());
        })
    });
}

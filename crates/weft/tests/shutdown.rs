//! `weft::sync::{CancellationToken, TaskTracker}`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use weft::future::FutureExt;
use weft::sync::{CancellationToken, TaskTracker};

/// A bound that only turns a hang into a failure.
const HANG: Duration = Duration::from_secs(30);

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    weft::time::timeout(HANG, f).await.expect("hung")
}

/// Whether `f` is still pending after being polled until the runtime has nothing else to
/// do for a while (a short sleep: a wrong completion would show up well before it).
async fn stays_pending<F: std::future::Future + Unpin>(f: &mut F) -> bool {
    let sleep = weft::time::sleep(Duration::from_millis(50));
    let pending = async {
        sleep.await;
        true
    };
    (async {
        f.await;
        false
    })
    .or(pending)
    .await
}

#[test]
fn cancel_before_and_after_awaiting() {
    weft::run(async {
        // Before: the future is ready at once.
        let token = CancellationToken::new();
        token.cancel();
        assert!(token.is_cancelled());
        bounded(token.cancelled()).await;
        token.cancel(); // idempotent

        // After: a waiter parked first is woken.
        let token = CancellationToken::new();
        let waiter = weft::spawn(token.clone().cancelled_owned());
        let mut fut = Box::pin(token.cancelled());
        assert!(stays_pending(&mut fut).await);
        assert!(!token.is_cancelled());
        token.cancel();
        bounded(fut).await;
        bounded(waiter).await.unwrap();
    });
}

#[test]
fn children_are_cancelled_with_their_parent_not_the_reverse() {
    weft::run(async {
        let root = CancellationToken::new();
        let child = root.child_token();
        let grandchild = child.child_token();
        let sibling = root.child_token();

        // A child alone: the parent and siblings stay uncancelled; its subtree does not.
        child.cancel();
        assert!(child.is_cancelled() && grandchild.is_cancelled());
        assert!(!root.is_cancelled() && !sibling.is_cancelled());
        bounded(grandchild.cancelled()).await;

        let waiter = weft::spawn(sibling.child_token().cancelled_owned());
        root.cancel();
        assert!(sibling.is_cancelled());
        bounded(waiter).await.unwrap();

        // A child made after its parent's cancel starts cancelled.
        let late = root.child_token();
        assert!(late.is_cancelled());
        bounded(late.child_token().cancelled()).await;
    });
}

#[test]
fn clones_share_one_flag_and_the_drop_guard_cancels() {
    let token = CancellationToken::new();
    let clone = token.clone();
    let guard = token.clone().drop_guard();
    let disarmed = token.child_token().drop_guard().disarm();
    assert!(!disarmed.is_cancelled());
    assert!(!clone.is_cancelled());
    drop(guard);
    assert!(clone.is_cancelled() && token.is_cancelled() && disarmed.is_cancelled());
}

#[test]
fn many_waiters_all_woken() {
    weft::run(async {
        let token = CancellationToken::new();
        let woken = Arc::new(AtomicUsize::new(0));
        let tracker = TaskTracker::new();
        for i in 0..1000 {
            let token = if i % 2 == 0 {
                token.clone()
            } else {
                token.child_token()
            };
            let woken = woken.clone();
            tracker.spawn(async move {
                token.cancelled().await;
                woken.fetch_add(1, Ordering::Relaxed);
            });
        }
        // Let most of them park first.
        weft::time::sleep(Duration::from_millis(20)).await;
        token.cancel();
        tracker.close();
        bounded(tracker.wait()).await;
        assert_eq!(woken.load(Ordering::Relaxed), 1000);
    });
}

#[test]
fn cancel_from_many_threads_races_with_new_children() {
    // Children created, cancelled and dropped on several threads while the root is
    // cancelled: every child is cancelled in the end, none is left linked.
    for _ in 0..20 {
        let root = CancellationToken::new();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let root = root.clone();
                std::thread::spawn(move || {
                    let mut kept = Vec::new();
                    for i in 0..200 {
                        let child = root.child_token();
                        match (i + t) % 3 {
                            0 => child.cancel(),
                            1 => kept.push(child.child_token()),
                            _ => drop(child),
                        }
                        if t == 0 && i == 100 {
                            root.cancel();
                        }
                    }
                    kept
                })
            })
            .collect();
        let kept: Vec<_> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        assert!(root.is_cancelled());
        assert!(kept.iter().all(CancellationToken::is_cancelled));
        assert_eq!(root.__linked_children(), 0);
    }
}

#[test]
fn dropped_children_unlink_from_their_parent() {
    let root = CancellationToken::new();
    for _ in 0..10_000 {
        let child = root.child_token();
        let _clone = child.clone();
        drop(child.child_token());
    }
    assert_eq!(root.__linked_children(), 0);

    // A child whose handles are gone but which has a live child of its own stays linked
    // (cancelling the root must still reach the grandchild), then goes with it.
    let child = root.child_token();
    let grandchild = child.child_token();
    drop(child);
    assert_eq!(root.__linked_children(), 1);
    drop(grandchild);
    assert_eq!(root.__linked_children(), 0);

    let child = root.child_token();
    let grandchild = child.child_token();
    drop(child);
    root.cancel();
    assert!(grandchild.is_cancelled());
    assert_eq!(root.__linked_children(), 0);

    // A child cancelled alone unlinks too.
    let root = CancellationToken::new();
    let kept: Vec<_> = (0..100).map(|_| root.child_token()).collect();
    assert_eq!(root.__linked_children(), 100);
    kept.iter().for_each(CancellationToken::cancel);
    assert_eq!(root.__linked_children(), 0);
    assert!(!root.is_cancelled());
}

#[test]
fn tracker_waits_for_tasks_finishing_in_any_order() {
    weft::run(async {
        let tracker = TaskTracker::new();
        let done = Arc::new(AtomicUsize::new(0));
        // Finishing order is the reverse of spawning order, and interleaved.
        for i in 0..20u64 {
            let done = done.clone();
            tracker.spawn(async move {
                weft::time::sleep(Duration::from_millis((20 - i) * 3 + (i % 3) * 7)).await;
                done.fetch_add(1, Ordering::Relaxed);
            });
        }
        assert_eq!(tracker.len(), 20);
        assert!(tracker.close());
        assert!(tracker.is_closed());
        assert!(!tracker.close());
        bounded(tracker.wait()).await;
        assert_eq!(done.load(Ordering::Relaxed), 20);
        assert!(tracker.is_empty());
    });
}

#[test]
fn tracker_wait_before_close_does_not_complete() {
    weft::run(async {
        let tracker = TaskTracker::new();
        // Empty and open: not done.
        let mut wait = Box::pin(tracker.wait());
        assert!(stays_pending(&mut wait).await);

        // All tasks done but still open: not done.
        let handle = tracker.spawn(async { 7 });
        assert_eq!(bounded(handle).await.unwrap(), 7);
        assert!(tracker.is_empty());
        assert!(stays_pending(&mut wait).await);

        // Closed with a task running: not done until it ends.
        let token = CancellationToken::new();
        let stop = token.clone();
        tracker.spawn(async move { stop.cancelled().await });
        tracker.close();
        assert!(stays_pending(&mut wait).await);
        token.cancel();
        bounded(wait).await;

        // Reopened: waiting again until closed again.
        assert!(tracker.reopen());
        let mut wait = Box::pin(tracker.wait());
        assert!(stays_pending(&mut wait).await);
        tracker.close();
        bounded(wait).await;
    });
}

#[test]
fn aborted_tasks_and_tokens_count_until_dropped() {
    weft::run(async {
        let tracker = TaskTracker::new();
        let handle = tracker.spawn(std::future::pending::<()>());
        let token = tracker.token();
        assert_eq!(tracker.len(), 2);
        tracker.close();
        handle.abort();
        assert!(bounded(handle).await.is_err());
        let mut wait = Box::pin(tracker.wait());
        assert!(stays_pending(&mut wait).await);
        assert_eq!(tracker.len(), 1);
        drop(token);
        bounded(wait).await;
    });
}

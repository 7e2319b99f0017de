//! The facade: macros, run, JoinSet, task-locals, and misuse messages.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;
use weft::stream::StreamExt;
use weft::task::JoinSet;

fn message(err: Box<dyn std::any::Any + Send>) -> String {
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[weft::test]
async fn the_test_macro_runs_an_async_test() {
    let v = weft::spawn(async { 40 + 2 }).await.unwrap();
    assert_eq!(v, 42);
}

#[weft::test(flavor = "multi_thread", worker_threads = 3)]
async fn the_worker_threads_option_is_applied() {
    let m = weft::Handle::current().metrics();
    assert_eq!(m.num_workers(), 3);
    let here = std::thread::current().id();
    let there = weft::spawn(async { std::thread::current().id() })
        .await
        .unwrap();
    assert_ne!(
        here, there,
        "a multi-thread runtime runs tasks on its workers"
    );
}

#[weft::test]
async fn the_test_macro_defaults_to_the_current_thread_flavour() {
    let here = std::thread::current().id();
    let there = weft::spawn(async { std::thread::current().id() })
        .await
        .unwrap();
    assert_eq!(here, there);
    // And local tasks work without a LocalSet.
    let rc = std::rc::Rc::new(2);
    assert_eq!(
        weft::task::spawn_local(async move { *rc }).await.unwrap(),
        2
    );
}

#[weft::test(flavor = "current_thread")]
async fn the_current_thread_flavour_can_be_named() {
    assert_eq!(weft::Handle::current().metrics().num_workers(), 1);
}

#[test]
fn run_returns_the_output_and_drops_what_is_left() {
    struct Dropped(Arc<AtomicUsize>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = Dropped(drops.clone());
    let out = weft::run(async move {
        weft::spawn(async move {
            let _g = guard;
            std::future::pending::<()>().await
        });
        "done"
    });
    assert_eq!(out, "done");
    assert_eq!(
        drops.load(SeqCst),
        1,
        "the pending task was dropped at shutdown"
    );
}

#[test]
fn nested_run_panics_clearly() {
    let err = std::panic::catch_unwind(|| weft::run(async { weft::run(async {}) })).unwrap_err();
    let msg = message(err);
    assert!(msg.contains(".await"), "{msg}");
}

#[test]
fn spawn_outside_a_runtime_names_the_fix() {
    let err = std::panic::catch_unwind(|| drop(weft::spawn(async {}))).unwrap_err();
    let msg = message(err);
    assert!(msg.contains("weft::run"), "{msg}");
    let err =
        std::panic::catch_unwind(|| weft::block_on(weft::time::sleep(Duration::from_millis(1))))
            .unwrap_err();
    let msg = message(err);
    assert!(msg.contains("weft::run"), "{msg}");
    let err = weft::block_on(weft::net::TcpListener::bind("127.0.0.1:0")).unwrap_err();
    assert!(err.to_string().contains("weft::run"), "{err}");
}

#[weft::test]
async fn join_set_yields_in_completion_order() {
    let mut set = JoinSet::new();
    for (i, ms) in [(0u32, 40u64), (1, 5), (2, 20)] {
        set.spawn(async move {
            weft::time::sleep(Duration::from_millis(ms)).await;
            i
        });
    }
    assert_eq!(set.len(), 3);
    let mut order = Vec::new();
    while let Some(r) = set.join_next().await {
        order.push(r.unwrap());
    }
    assert_eq!(order, [1, 2, 0]);
    assert!(set.is_empty());
}

#[weft::test]
async fn join_set_as_a_stream_and_join_all() {
    let mut set: JoinSet<u64> = (0..100u64).fold(JoinSet::new(), |mut s, i| {
        s.spawn(async move { i });
        s
    });
    let mut sum = 0;
    while let Some(r) = set.next().await {
        sum += r.unwrap();
    }
    assert_eq!(sum, 4950);
    let mut set = JoinSet::new();
    for i in 0..10u64 {
        set.spawn(async move { i });
    }
    let mut all = set.join_all().await;
    all.sort();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
}

#[weft::test]
async fn dropping_a_join_set_aborts_its_tasks() {
    let drops = Arc::new(AtomicUsize::new(0));
    struct D(Arc<AtomicUsize>);
    impl Drop for D {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let mut set = JoinSet::new();
    for _ in 0..10 {
        let d = D(drops.clone());
        set.spawn(async move {
            let _d = d;
            std::future::pending::<()>().await
        });
    }
    drop(set);
    weft::time::timeout(Duration::from_secs(60), async {
        while drops.load(SeqCst) < 10 {
            weft::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("aborted tasks were never dropped");

    let mut set = JoinSet::new();
    for _ in 0..5 {
        set.spawn(std::future::pending::<()>());
    }
    set.abort_all();
    let mut cancelled = 0;
    while let Some(r) = set.join_next().await {
        assert!(r.unwrap_err().is_cancelled());
        cancelled += 1;
    }
    assert_eq!(cancelled, 5);
}

weft::task_local! {
    static USER: String;
}

#[weft::test]
async fn task_locals_follow_their_future_and_stay_out_of_others() {
    let a = weft::spawn(USER.scope("ada".to_string(), async {
        weft::task::yield_now().await;
        weft::time::sleep(Duration::from_millis(2)).await;
        USER.get()
    }));
    let b = weft::spawn(USER.scope("bob".to_string(), async {
        weft::task::yield_now().await;
        USER.with(|u| u.clone())
    }));
    let outside = weft::spawn(async { USER.try_with(|u| u.clone()) });
    assert_eq!(a.await.unwrap(), "ada");
    assert_eq!(b.await.unwrap(), "bob");
    assert!(outside.await.unwrap().is_err());
    assert!(USER.try_with(|_| ()).is_err());
    assert_eq!(USER.sync_scope("sync".into(), || USER.get()), "sync");
}

#[test]
fn runtimes_and_handles_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<weft::Runtime>();
    send_sync::<weft::Handle>();
    send_sync::<weft::JoinHandle<u8>>();
    send_sync::<weft::task::AbortHandle>();
    // And weft::Runtime::new() has the timer and the reactor.
    let rt = weft::Runtime::new().unwrap();
    rt.block_on(async {
        weft::time::sleep(Duration::from_millis(1)).await;
        let l = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        assert!(l.local_addr().unwrap().port() > 0);
    });
}

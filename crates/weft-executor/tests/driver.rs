//! The driver hook: one idle worker at a time parks in it, busy workers poll it, and the
//! runtime shuts it down.

#![cfg(not(weft_loom))]

mod common;

use common::Recording;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;
use weft_executor::{spawn, yield_now, Builder, Driver, ParkDriver};

#[test]
fn one_worker_at_a_time_parks_in_the_driver_and_busy_workers_poll_it() {
    let driver = Arc::new(Recording::default());
    let rt = Builder::new()
        .worker_threads(4)
        .driver(driver.clone())
        .build()
        .unwrap();
    // Idle and busy phases, repeated: workers park (some in the driver) and wake.
    for _ in 0..20 {
        rt.block_on(async {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    spawn(async {
                        for _ in 0..2_000 {
                            yield_now().await;
                        }
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        });
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(
        driver.parks.load(SeqCst) > 0,
        "no worker ever parked in the driver"
    );
    assert_eq!(
        driver.max_parked.load(SeqCst),
        1,
        "two workers were in the driver at once"
    );
    assert!(
        driver.polls.load(SeqCst) > 0,
        "busy workers never polled the driver"
    );
    assert!(
        driver.due_polls.load(SeqCst) > driver.polls.load(SeqCst),
        "busy workers look for due timers more often than they poll the driver"
    );
    assert_eq!(driver.shutdowns.load(SeqCst), 0);
    drop(rt);
    assert_eq!(driver.shutdowns.load(SeqCst), 1);
}

#[test]
fn work_from_outside_wakes_the_worker_sleeping_in_the_driver() {
    // One worker: it can only sleep in the driver, so every remote spawn must reach it
    // through Driver::unpark.
    let driver = Arc::new(Recording::default());
    let rt = Builder::new()
        .worker_threads(1)
        .driver(driver.clone())
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    for i in 0..200 {
        // Give the worker time to fall asleep in the driver.
        while driver.parked_now.load(SeqCst) == 0 {
            std::thread::yield_now();
        }
        let h = handle.spawn(async move { i });
        assert_eq!(weft_executor::block_on(h).unwrap(), i);
    }
}

/// A driver with "events": wakers registered by tasks, all woken whenever a worker polls
/// or parks in it (so they land in that worker's ready queue).
#[derive(Default)]
struct Events {
    inner: ParkDriver,
    wakers: std::sync::Mutex<Vec<std::task::Waker>>,
    /// While set, polls and parks wake nothing: the wakers pile up for one harvest.
    hold: std::sync::atomic::AtomicBool,
}

impl Events {
    fn fire(&self) {
        if self.hold.load(SeqCst) {
            return;
        }
        let ws = std::mem::take(&mut *self.wakers.lock().unwrap());
        for w in ws {
            w.wake();
        }
    }
}

impl Driver for Events {
    fn park(&self, _timeout: Option<Duration>) {
        // Never sleep long: the tests below keep the worker busy anyway.
        self.inner.park(Some(Duration::from_millis(1)));
        self.fire();
    }
    fn unpark(&self) {
        self.inner.unpark();
    }
    fn poll(&self) {
        self.fire();
    }
}

fn one_worker_on(driver: Arc<Events>) -> weft_executor::Runtime {
    Builder::new()
        .worker_threads(1)
        .driver(driver)
        .build()
        .unwrap()
}

/// Pending until the driver fires once after the first poll.
fn event(driver: Arc<Events>) -> impl std::future::Future<Output = ()> {
    let mut registered = false;
    std::future::poll_fn(move |cx| {
        if registered {
            return std::task::Poll::Ready(());
        }
        registered = true;
        driver.wakers.lock().unwrap().push(cx.waker().clone());
        std::task::Poll::Pending
    })
}

#[test]
fn a_task_woken_by_the_driver_runs_before_the_queued_backlog() {
    // One worker, 200 queued tasks (under the local queue's cap of 256, so none overflow),
    // and one task waiting for a driver event. The driver is polled every 61 ticks: the
    // woken task must run then, not behind the rest of the queue.
    let driver = Arc::new(Events::default());
    let rt = one_worker_on(driver.clone());
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (o, d) = (order.clone(), driver.clone());
    // Inside a task, so the spawns below go to the worker's own queue.
    let root = rt.spawn(async move {
        let o2 = o.clone();
        let e = spawn(async move {
            event(d).await;
            o2.lock().unwrap().push("event");
        });
        yield_now().await; // the event task registers its waker
        let qs: Vec<_> = (0..200)
            .map(|_| {
                let o = o.clone();
                spawn(async move { o.lock().unwrap().push("queued") })
            })
            .collect();
        e.await.unwrap();
        for q in qs {
            q.await.unwrap();
        }
    });
    rt.block_on(root).unwrap();
    let order = order.lock().unwrap();
    let at = order.iter().position(|&x| x == "event").unwrap();
    assert!(
        at < 100,
        "the woken task ran after {at} of the 200 queued tasks"
    );
}

#[test]
fn a_stream_of_driver_wakes_does_not_starve_the_queue() {
    // 100 tasks woken at every driver poll, forever; queued tasks must still all run.
    let driver = Arc::new(Events::default());
    let rt = one_worker_on(driver.clone());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for _ in 0..100 {
        let (d, stop) = (driver.clone(), stop.clone());
        drop(rt.spawn(async move {
            while !stop.load(SeqCst) {
                event(d.clone()).await;
            }
        }));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    drop(rt.spawn(async move {
        // Spawned at once, so all but the last wait in the queue (not the LIFO slot).
        let hs: Vec<_> = (0..1_000).map(|_| spawn(async {})).collect();
        for h in hs {
            h.await.unwrap();
        }
        tx.send(()).unwrap();
    }));
    let done = rx.recv_timeout(Duration::from_secs(60));
    stop.store(true, SeqCst);
    driver.fire();
    assert!(done.is_ok(), "queued tasks starved behind driver wakes");
}

#[test]
fn one_harvest_of_600_wakes_fits_in_the_ready_queue() {
    // 600 tasks wait for events and the driver wakes them all in one poll, as a server's
    // reactor wakes hundreds of connections: they all go to the ready queue, none of the
    // oldest to the injector behind later harvests (with a ready queue of 256 slots, the
    // oldest 128 moved out at every overflow).
    let driver = Arc::new(Events::default());
    driver.hold.store(true, SeqCst);
    let rt = Builder::new()
        .worker_threads(1)
        .driver(driver.clone())
        .trace(100_000)
        .build()
        .unwrap();
    let waiting: Vec<_> = (0..600).map(|_| rt.spawn(event(driver.clone()))).collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while driver.wakers.lock().unwrap().len() < 600 {
        assert!(
            std::time::Instant::now() < deadline,
            "the tasks never waited"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    driver.hold.store(false, SeqCst);
    rt.block_on(async {
        for w in waiting {
            w.await.unwrap();
        }
    });
    let handle = rt.handle().clone();
    drop(rt); // the worker hands over its last events as it stops
    let trace = handle.take_trace();
    let woken_to_ready = trace
        .events()
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                weft_executor::TraceKind::Wake {
                    to: weft_executor::Place::Ready,
                    ..
                }
            )
        })
        .count();
    assert_eq!(woken_to_ready, 600, "not one harvest into the ready queue");
    let overflows: Vec<_> = trace
        .events()
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                weft_executor::TraceKind::Overflow {
                    from: weft_executor::Place::Ready,
                    ..
                }
            )
        })
        .collect();
    assert!(
        overflows.is_empty(),
        "the ready queue overflowed: {overflows:?}"
    );
}

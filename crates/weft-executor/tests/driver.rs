//! The driver hook: one idle worker at a time parks in it, busy workers poll it, and the
//! runtime shuts it down.

#![cfg(not(weft_loom))]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;
use weft_executor::{spawn, yield_now, Builder, Driver, ParkDriver};

#[derive(Default)]
struct Recording {
    inner: ParkDriver,
    parked_now: AtomicUsize,
    max_parked: AtomicUsize,
    parks: AtomicUsize,
    polls: AtomicUsize,
    shutdowns: AtomicUsize,
}

impl Driver for Recording {
    fn park(&self, timeout: Option<Duration>) {
        let now = self.parked_now.fetch_add(1, SeqCst) + 1;
        self.max_parked.fetch_max(now, SeqCst);
        self.parks.fetch_add(1, SeqCst);
        self.inner.park(timeout);
        self.parked_now.fetch_sub(1, SeqCst);
    }
    fn unpark(&self) {
        self.inner.unpark();
    }
    fn poll(&self) {
        self.polls.fetch_add(1, SeqCst);
    }
    fn shutdown(&self) {
        self.shutdowns.fetch_add(1, SeqCst);
    }
}

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

//! Paused time at the timer's level: `pause`, `advance`, `resume` and `Instant`, on an
//! executor that does not report idleness (so no auto-advance: time moves only by
//! `advance`). Auto-advance is tested through the facade's current-thread runtime.
//!
//! In a binary of its own: a paused clock makes every thread of the process read the
//! clock through its runtime (see `clock.rs`), which the real-time tests should not share.

#![cfg(not(weft_loom))]

use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft_executor::{Builder, ParkDriver, Runtime};
use weft_timer::{advance, pause, resume, sleep, sleep_until, timeout, Instant, TimerDriver};

fn pausable_rt() -> Runtime {
    let driver = TimerDriver::new(Arc::new(ParkDriver::new()));
    driver.allow_pause();
    Builder::new()
        .worker_threads(1)
        .driver(Arc::new(driver.clone()))
        .extension(driver.timer())
        .build()
        .unwrap()
}

fn on_worker<T: Send + 'static>(
    rt: &Runtime,
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    rt.block_on(rt.spawn(f)).unwrap()
}

#[test]
fn advance_fires_due_timers_in_deadline_order() {
    let rt = pausable_rt();
    // On the worker, so the tasks it wakes run when it yields (`block_on`'s thread
    // would race the worker).
    let order = on_worker(&rt, async {
        pause();
        let order = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        // Spawned in an order unlike their deadlines.
        let mut handles = Vec::new();
        for secs in [30u64, 10, 50, 20, 40] {
            let order = order.clone();
            handles.push(weft_executor::spawn(async move {
                sleep(Duration::from_secs(secs)).await;
                // Each task runs before the clock moves past its deadline.
                order
                    .lock()
                    .unwrap()
                    .push((secs, start.elapsed().as_secs()));
            }));
        }
        // Let every task register its sleep.
        for _ in 0..10 {
            weft_executor::yield_now().await;
        }
        advance(Duration::from_secs(35)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(35));
        let fired: Vec<u64> = order.lock().unwrap().iter().map(|p| p.0).collect();
        assert_eq!(fired, [10, 20, 30], "only the timers due by 35 s fired");
        advance(Duration::from_secs(100)).await;
        for h in handles {
            h.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        order
    });
    assert_eq!(
        order,
        [(10, 10), (20, 20), (30, 30), (40, 40), (50, 50)],
        "deadline order, each task seeing the clock at its deadline"
    );
}

#[test]
fn instant_now_moves_with_advance_only() {
    let rt = pausable_rt();
    rt.block_on(async {
        pause();
        let t0 = Instant::now();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(Instant::now(), t0, "a paused clock stands still");
        advance(Duration::from_millis(1500)).await;
        assert_eq!(Instant::now() - t0, Duration::from_millis(1500));
        assert_eq!(t0.elapsed(), Duration::from_millis(1500));
        // A sleep measures from the paused clock.
        let s = sleep(Duration::from_secs(1));
        assert_eq!(s.deadline(), t0 + Duration::from_millis(2500));
        assert!(!s.is_elapsed());
        advance(Duration::from_secs(1)).await;
        assert!(s.is_elapsed());
        resume();
    });
}

#[test]
fn a_timeout_fires_by_advance_not_by_real_time() {
    let rt = pausable_rt();
    on_worker(&rt, async {
        pause();
        let waiter = weft_executor::spawn(timeout(
            Duration::from_secs(60),
            sleep(Duration::from_secs(3600)),
        ));
        weft_executor::yield_now().await;
        std::thread::sleep(Duration::from_millis(10));
        assert!(!waiter.is_finished(), "no real time moves a paused clock");
        advance(Duration::from_secs(59)).await;
        assert!(!waiter.is_finished());
        advance(Duration::from_secs(1)).await;
        let r = weft_timer::timeout(Duration::from_secs(1), waiter).await;
        assert!(r.unwrap().unwrap().is_err(), "the 60 s timeout elapsed");
    });
}

#[test]
fn resume_returns_to_real_time_without_a_jump_back() {
    let rt = pausable_rt();
    on_worker(&rt, async {
        pause();
        let paused_at = Instant::now();
        advance(Duration::from_secs(10)).await;
        let before = Instant::now();
        resume();
        let after = Instant::now();
        assert!(after >= before, "no jump backward");
        assert!(after - paused_at >= Duration::from_secs(10));
        // It runs again, at the real clock's pace.
        std::thread::sleep(Duration::from_millis(20));
        assert!(Instant::now() - after >= Duration::from_millis(20));
        // And real sleeps work from there.
        let real = std::time::Instant::now();
        sleep(Duration::from_millis(20)).await;
        assert!(real.elapsed() >= Duration::from_millis(20));
        // Pausing again stops it where it stands, ahead of the real clock.
        pause();
        let t = Instant::now();
        assert!(t >= after);
        sleep_until(t + Duration::from_secs(5))
            .await_with_advance()
            .await;
        assert_eq!(Instant::now(), t + Duration::from_secs(5));
    });
}

/// Awaits a sleep by advancing the paused clock to it (this runtime does not
/// auto-advance).
trait AwaitWithAdvance {
    async fn await_with_advance(self);
}

impl AwaitWithAdvance for weft_timer::Sleep {
    async fn await_with_advance(self) {
        let d = self.deadline() - Instant::now();
        let h = weft_executor::spawn(self);
        advance(d).await;
        h.await.unwrap();
    }
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    match p.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast_ref::<&str>()
            .map_or_else(String::new, |s| s.to_string()),
    }
}

#[test]
fn pausing_a_timer_not_allowed_to_pause_panics_with_advice() {
    let rt = weft_timer::install(Builder::new().worker_threads(1))
        .build()
        .unwrap();
    let err = rt
        .block_on(rt.spawn(async { pause() }))
        .expect_err("pause on a timer without idle reports");
    let msg = panic_text(err.into_panic());
    assert!(msg.contains("current-thread"), "{msg}");
}

#[test]
fn advance_and_resume_need_paused_time() {
    let rt = pausable_rt();
    let err = rt
        .block_on(rt.spawn(advance(Duration::from_secs(1))))
        .expect_err("advance without pause");
    let msg = panic_text(err.into_panic());
    assert!(msg.contains("call `weft::time::pause` first"), "{msg}");
    let err = rt
        .block_on(rt.spawn(async { resume() }))
        .expect_err("resume without pause");
    let msg = panic_text(err.into_panic());
    assert!(msg.contains("not paused"), "{msg}");
}

#[test]
fn a_runtime_never_paused_keeps_the_real_clock() {
    // Beside paused runtimes in this process, one that never paused reads real time.
    let rt = pausable_rt();
    rt.block_on(async {
        let t = Instant::now();
        let real = std::time::Instant::now();
        sleep(Duration::from_millis(10)).await;
        assert!(real.elapsed() >= Duration::from_millis(10));
        assert!(t.elapsed() >= Duration::from_millis(10));
        let gap = Instant::now()
            .into_std()
            .saturating_duration_since(std::time::Instant::now());
        assert!(
            gap < Duration::from_secs(1),
            "the real clock, not an offset one"
        );
    });
}

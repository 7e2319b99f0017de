//! Paused time through the facade: `Builder::start_paused`, auto-advance on the
//! current-thread runtime, `#[weft::test(start_paused = true)]`, and I/O while paused.
//!
//! In a binary of its own: a paused clock makes every thread of the process read the
//! clock through its runtime, which the real-time tests need not share.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft::io::{AsyncReadExt, AsyncWriteExt};
use weft::time::{interval, sleep, timeout, Instant};

/// Turns a hang into a failure; never a statement about speed.
const HANG: Duration = Duration::from_secs(30);

/// Runs `body` on a thread of its own, failing if it takes longer than `HANG` (a clock
/// that does not auto-advance would otherwise wait an hour of real time).
fn within<R: Send + 'static>(body: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)));
    });
    match rx.recv_timeout(HANG) {
        Ok(Ok(v)) => v,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("no result within {HANG:?}: the paused clock did not advance"),
    }
}

fn paused() -> weft::Runtime {
    weft::Builder::new_current_thread()
        .start_paused(true)
        .build()
        .unwrap()
}

#[test]
fn an_hour_long_interval_ticks_3600_times_in_no_real_time() {
    let real = std::time::Instant::now();
    let ticks = within(|| {
        paused().block_on(async {
            let start = Instant::now();
            let mut every = interval(Duration::from_secs(1));
            every.tick().await; // the first tick is at once
            let mut ticks = Vec::new();
            while start.elapsed() < Duration::from_secs(3600) {
                let t = every.tick().await;
                assert_eq!(Instant::now(), t, "the clock stands at the tick's instant");
                ticks.push(t.duration_since(start).as_secs());
            }
            ticks
        })
    });
    assert_eq!(ticks.len(), 3600);
    assert!(
        ticks.iter().copied().eq(1..=3600),
        "one tick a second, in order"
    );
    assert!(
        real.elapsed() < HANG,
        "an hour of paused ticks took {:?} of real time",
        real.elapsed()
    );
}

/// Timeouts of shuffled lengths around futures that never finish: they fire in deadline
/// order, each at its exact deadline, the same in every run.
fn timeout_order() -> Vec<(u64, u64)> {
    within(|| {
        paused().block_on(async {
            let start = Instant::now();
            let order = Arc::new(Mutex::new(Vec::new()));
            let mut set = weft::task::JoinSet::new();
            for secs in [300u64, 5, 3600, 60, 1, 900, 59, 61] {
                let order = order.clone();
                set.spawn(async move {
                    let r = timeout(Duration::from_secs(secs), std::future::pending::<()>()).await;
                    assert!(r.is_err());
                    order
                        .lock()
                        .unwrap()
                        .push((secs, start.elapsed().as_secs()));
                });
            }
            set.join_all().await;
            let order = order.lock().unwrap().clone();
            order
        })
    })
}

#[test]
fn timeouts_fire_in_deadline_order_with_paused_time() {
    let first = timeout_order();
    let expected: Vec<(u64, u64)> = [1u64, 5, 59, 60, 61, 300, 900, 3600]
        .iter()
        .map(|&s| (s, s))
        .collect();
    assert_eq!(first, expected);
    for _ in 0..5 {
        assert_eq!(timeout_order(), first, "the same order every run");
    }
}

#[test]
fn io_still_wakes_tasks_while_paused() {
    within(|| {
        paused().block_on(async {
            let start = Instant::now();
            // A long sleep pending beside the I/O: auto-advance must not jump to it while a
            // socket has work ready.
            let fired = Arc::new(AtomicBool::new(false));
            let sleeper = {
                let fired = fired.clone();
                weft::spawn(async move {
                    sleep(Duration::from_secs(3600)).await;
                    fired.store(true, SeqCst);
                    start.elapsed()
                })
            };
            let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = weft::spawn(async move {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 1024];
                loop {
                    let n = s.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    s.write_all(&buf[..n]).await.unwrap();
                }
            });
            let mut c = weft::net::TcpStream::connect(addr).await.unwrap();
            for round in 0..100u32 {
                let msg = format!("ping {round}");
                c.write_all(msg.as_bytes()).await.unwrap();
                let mut back = vec![0u8; msg.len()];
                c.read_exact(&mut back).await.unwrap();
                assert_eq!(back, msg.as_bytes());
                assert!(
                    !fired.load(SeqCst),
                    "the sleep fired before the I/O completed"
                );
            }
            assert_eq!(
                start.elapsed(),
                Duration::ZERO,
                "I/O ran with the clock standing"
            );
            drop(c);
            server.await.unwrap();
            // Now nothing else can happen: the clock jumps to the sleep.
            assert_eq!(sleeper.await.unwrap(), Duration::from_secs(3600));
        })
    });
}

#[test]
fn a_blocking_task_in_flight_holds_the_clock() {
    within(|| {
        paused().block_on(async {
            let start = Instant::now();
            let timer = weft::spawn(async move {
                sleep(Duration::from_secs(10)).await;
                start.elapsed()
            });
            let took = weft::task::spawn_blocking(|| {
                std::thread::sleep(Duration::from_millis(50));
                7
            });
            assert_eq!(took.await.unwrap(), 7);
            assert_eq!(
                start.elapsed(),
                Duration::ZERO,
                "no jump while the blocking task ran"
            );
            assert_eq!(timer.await.unwrap(), Duration::from_secs(10));
        })
    });
}

#[test]
fn advance_moves_the_clock_and_resume_runs_it_again() {
    let rt = weft::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        weft::time::pause();
        let t0 = Instant::now();
        weft::time::advance(Duration::from_secs(90)).await;
        assert_eq!(t0.elapsed(), Duration::from_secs(90));
        weft::time::resume();
        let t1 = Instant::now();
        assert!(t1 >= t0 + Duration::from_secs(90), "no jump backward");
        let real = std::time::Instant::now();
        sleep(Duration::from_millis(20)).await;
        assert!(
            real.elapsed() >= Duration::from_millis(20),
            "real time again"
        );
    });
}

#[test]
fn the_multi_thread_runtime_refuses_paused_time() {
    let err = weft::Builder::new()
        .worker_threads(2)
        .start_paused(true)
        .build()
        .expect_err("start_paused on the multi-thread runtime");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("new_current_thread"), "{err}");

    let rt = weft::Builder::new().worker_threads(1).build().unwrap();
    let err = rt
        .block_on(rt.spawn(async { weft::time::pause() }))
        .expect_err("pause on the multi-thread runtime");
    let p = err.into_panic();
    let msg = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap();
    assert!(msg.contains("new_current_thread"), "{msg}");
}

#[weft::test(start_paused = true)]
async fn the_test_attribute_starts_paused() {
    let real = std::time::Instant::now();
    let start = Instant::now();
    sleep(Duration::from_secs(24 * 3600)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(24 * 3600));
    assert!(real.elapsed() < HANG);
}

#[test]
fn runnable_local_tasks_hold_the_clock() {
    within(|| {
        paused().block_on(async {
            let start = Instant::now();
            let sleeper = weft::task::spawn_local(async move {
                sleep(Duration::from_secs(10)).await;
                start.elapsed()
            });
            // A `!Send` task that stays runnable for a while (yielding), and one on a
            // `LocalSet`: neither lets the clock jump while it can run.
            let busy = weft::task::spawn_local(async move {
                let here = std::rc::Rc::new(());
                for _ in 0..1000 {
                    weft::task::yield_now().await;
                }
                drop(here);
                start.elapsed()
            });
            let set = weft::task::LocalSet::new();
            let in_set = set
                .run_until(async move {
                    for _ in 0..1000 {
                        weft::task::yield_now().await;
                    }
                    start.elapsed()
                })
                .await;
            assert_eq!(in_set, Duration::ZERO);
            assert_eq!(busy.await.unwrap(), Duration::ZERO);
            assert_eq!(sleeper.await.unwrap(), Duration::from_secs(10));
        })
    });
}

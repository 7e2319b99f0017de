//! Signals raised in the test process and received through the reactor.
//!
//! Signals are process-wide and the tests of this binary run on several threads at once:
//! each test uses signals no other test uses.

#![cfg(all(unix, not(weft_loom)))]

mod common;

use common::{bounded, runtime};
use futures_lite::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;
use weft_executor::spawn;
use weft_reactor::signal::{ctrl_c, signal, SignalKind};

fn raise(signum: libc::c_int) {
    // SAFETY: raise(3) has no memory preconditions; every test installs a handler (by
    // creating a listener) before it raises a signal.
    assert_eq!(unsafe { libc::raise(signum) }, 0, "raise({signum})");
}

fn kill_self(signum: libc::c_int) {
    // SAFETY: kill(2) on our own pid, with a signal whose handler is installed.
    assert_eq!(unsafe { libc::kill(libc::getpid(), signum) }, 0);
}

#[test]
fn each_kind_is_received() {
    let rt = runtime(2);
    rt.block_on(async {
        let kinds = [
            SignalKind::hangup(),
            SignalKind::interrupt(),
            SignalKind::quit(),
            SignalKind::terminate(),
            SignalKind::child(),
            SignalKind::window_change(),
            SignalKind::alarm(),
            SignalKind::io(),
            SignalKind::pipe(),
            SignalKind::from_raw(libc::SIGURG),
        ];
        for kind in kinds {
            let mut sig = signal(kind).unwrap();
            raise(kind.as_raw_value());
            bounded(sig.recv()).await.unwrap();
            // From another thread of the process (any thread may run the handler).
            let k = kind.as_raw_value();
            std::thread::spawn(move || kill_self(k)).join().unwrap();
            bounded(sig.next()).await.unwrap();
        }
    });
}

#[test]
fn ctrl_c_is_sigint() {
    // The first `each_kind` iteration also uses SIGINT; both only need their own delivery
    // to arrive, which extra SIGINTs from the other test cannot prevent.
    let rt = runtime(1);
    rt.block_on(async {
        let waiting = spawn(ctrl_c());
        // The listener exists once the task has been polled; until then keep raising.
        bounded(async {
            while !waiting.is_finished() {
                let _ = signal(SignalKind::interrupt()).unwrap(); // handler installed
                raise(libc::SIGINT);
                weft_timer::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        waiting.await.unwrap().unwrap();
    });
}

#[test]
fn user1_wakes_every_listener() {
    let rt = runtime(2);
    rt.block_on(async {
        let n = 8;
        let (tx, rx) = mpsc::channel();
        let mut tasks = Vec::new();
        for _ in 0..n {
            let mut sig = signal(SignalKind::user_defined1()).unwrap();
            let tx = tx.clone();
            tasks.push(spawn(async move {
                sig.recv().await.unwrap();
                tx.send(()).unwrap();
            }));
        }
        raise(libc::SIGUSR1);
        for t in tasks {
            bounded(t).await.unwrap();
        }
        assert_eq!(rx.try_iter().count(), n);
    });
}

#[test]
fn a_listener_created_after_a_delivery_does_not_see_it() {
    let rt = runtime(2);
    rt.block_on(async {
        let mut early = signal(SignalKind::user_defined2()).unwrap();
        raise(libc::SIGUSR2);
        let mut late = signal(SignalKind::user_defined2()).unwrap();
        bounded(early.recv()).await.unwrap();
        let nothing = weft_timer::timeout(Duration::from_millis(50), late.recv()).await;
        assert!(
            nothing.is_err(),
            "the late listener saw an earlier delivery"
        );
        raise(libc::SIGUSR2);
        bounded(late.recv()).await.unwrap();
        bounded(early.recv()).await.unwrap();
    });
}

#[test]
fn ten_thousand_round_trips_lose_no_wake_up() {
    // Each delivery waits for the listener to have received the previous one: a lost
    // wake-up hangs (and `bounded` fails).
    let signum = libc::SIGVTALRM;
    let rt = runtime(2);
    rt.block_on(async {
        let mut sig = signal(SignalKind::from_raw(signum)).unwrap();
        let (ack_tx, ack_rx) = mpsc::channel::<()>();
        let sender = std::thread::spawn(move || {
            for _ in 0..10_000 {
                kill_self(signum);
                if ack_rx.recv_timeout(common::HANG).is_err() {
                    return false;
                }
            }
            true
        });
        for _ in 0..10_000 {
            bounded(sig.recv()).await.unwrap();
            ack_tx.send(()).unwrap();
        }
        assert!(sender.join().unwrap());
    });
}

#[test]
fn ten_thousand_deliveries_from_another_thread_leave_no_listener_stuck() {
    // Deliveries as fast as they go, coalesced as they may be; deliveries after the flag
    // must still reach the listener, which stops at the first one it sees after it.
    let signum = libc::SIGPROF;
    let rt = runtime(2);
    rt.block_on(async {
        let mut sig = signal(SignalKind::from_raw(signum)).unwrap();
        let blasted = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicBool::new(false));
        let listener = {
            let (blasted, finished) = (blasted.clone(), finished.clone());
            spawn(async move {
                let mut received = 0u32;
                loop {
                    let after_blast = blasted.load(SeqCst);
                    sig.recv().await.unwrap();
                    received += 1;
                    if after_blast {
                        finished.store(true, SeqCst);
                        return received;
                    }
                }
            })
        };
        let sender = std::thread::spawn(move || {
            for _ in 0..10_000 {
                kill_self(signum);
            }
            blasted.store(true, SeqCst);
            let deadline = std::time::Instant::now() + common::HANG;
            while !finished.load(SeqCst) && std::time::Instant::now() < deadline {
                kill_self(signum);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let received = bounded(listener).await.unwrap();
        sender.join().unwrap();
        assert!((2..=10_000 + 1_000_000).contains(&received), "{received}");
    });
}

#[test]
fn forbidden_and_invalid_signals_are_errors_not_panics() {
    let rt = runtime(1);
    rt.block_on(async {
        for n in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, 0, -1, 100_000] {
            let err = signal(SignalKind::from_raw(n)).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "signal {n}");
        }
    });
}

#[test]
fn outside_a_runtime_is_an_error() {
    let err = signal(SignalKind::user_defined1()).unwrap_err();
    assert!(err.to_string().contains("reactor"), "{err}");
}

#[test]
fn listeners_end_with_none_when_the_runtime_shuts_down() {
    let signum = libc::SIGXFSZ;
    let rt = runtime(1);
    let mut sig = rt.block_on(async { signal(SignalKind::from_raw(signum)).unwrap() });
    drop(rt);
    let other = runtime(1);
    other.block_on(async {
        assert_eq!(bounded(sig.recv()).await, None);
        // A new listener in the new runtime works.
        let mut again = signal(SignalKind::from_raw(signum)).unwrap();
        raise(signum);
        bounded(again.recv()).await.unwrap();
    });
}

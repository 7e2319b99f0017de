//! The current-thread flavour through the facade: timers and sockets wake tasks on the
//! thread in `block_on`, also while other tasks are always ready.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;
use weft::io::{AsyncReadExt, AsyncWriteExt};
use weft::net::{TcpListener, TcpStream};

/// A bound that only turns a hang into a failure.
const HANG: Duration = Duration::from_secs(30);

fn current() -> weft::Runtime {
    weft::Builder::new_current_thread().build().unwrap()
}

#[test]
fn timers_fire_while_a_task_yields_forever() {
    let rt = current();
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    rt.block_on(async move {
        let spinner = weft::spawn(async move {
            while !st.load(SeqCst) {
                weft::task::yield_now().await;
            }
        });
        // The main future and a task both sleep: the timer is looked at between polls.
        let sleeper = weft::spawn(weft::time::sleep(Duration::from_millis(10)));
        weft::time::timeout(HANG, weft::time::sleep(Duration::from_millis(10)))
            .await
            .unwrap();
        weft::time::timeout(HANG, sleeper).await.unwrap().unwrap();
        stop.store(true, SeqCst);
        spinner.await.unwrap();
    });
}

#[test]
fn timeouts_fire_in_deadline_order() {
    let rt = current();
    let order = rt.block_on(async {
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut set = weft::task::JoinSet::new();
        for ms in [30u64, 10, 20] {
            let order = order.clone();
            set.spawn(async move {
                weft::time::sleep(Duration::from_millis(ms)).await;
                order.lock().unwrap().push(ms);
            });
        }
        set.join_all().await;
        Arc::try_unwrap(order).unwrap().into_inner().unwrap()
    });
    assert_eq!(order, vec![10, 20, 30]);
}

#[test]
fn a_tcp_echo_runs_on_one_thread() {
    let rt = current();
    let here = std::thread::current().id();
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = weft::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                s.write_all(&buf[..n]).await.unwrap();
            }
            std::thread::current().id()
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        for i in 0..100u32 {
            let msg = i.to_le_bytes();
            c.write_all(&msg).await.unwrap();
            let mut back = [0u8; 4];
            weft::time::timeout(HANG, c.read_exact(&mut back))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(back, msg);
        }
        drop(c);
        assert_eq!(server.await.unwrap(), here);
    });
}

#[test]
fn local_tasks_with_rc_refcell_state_sleep_and_wake_on_one_thread() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let rt = current();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    rt.block_on(async move {
        let hs: Vec<_> = [20u64, 5, 10]
            .into_iter()
            .map(|ms| {
                let l = l.clone();
                weft::task::spawn_local(async move {
                    weft::time::sleep(Duration::from_millis(ms)).await;
                    l.borrow_mut().push(ms);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(*log.borrow(), [5, 10, 20]);
}

#[test]
fn a_local_set_on_the_multi_thread_runtime_runs_timers_and_rc_state() {
    use std::rc::Rc;
    let rt = weft::Runtime::new().unwrap();
    let local = weft::task::LocalSet::new();
    let here = std::thread::current().id();
    let rc = Rc::new(3);
    let v = rt.block_on(local.run_until(async move {
        weft::task::spawn_local(async move {
            weft::time::sleep(Duration::from_millis(5)).await;
            assert_eq!(std::thread::current().id(), here);
            *rc * 2
        })
        .await
        .unwrap()
    }));
    assert_eq!(v, 6);
}

//! The oneshot path: sources registered oneshot and re-armed for each wait, as on
//! platforms without edge-triggered polling. Here, where edge triggering exists, only a
//! reactor built by the test-only `Reactor::new_oneshot` takes that path, so these tests
//! live inside the crate (the integration tests see only the public API).

// The integration tests' helpers, shared rather than copied: they name this crate
// `weft_reactor`, as `lib.rs` lets its own tests do.
#[path = "../tests/common/mod.rs"]
mod common;

use crate::{Reactor, ReactorDriver, TcpListener, TcpStream, UnixStream};
use common::{all_ok, bounded, with_reactor};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use std::time::Duration;
use weft_executor::spawn;

async fn echo_server(listener: TcpListener) {
    while let Ok((mut conn, _)) = listener.accept().await {
        spawn(async move {
            let mut buf = vec![0; 4096];
            while let Ok(n @ 1..) = conn.read(&mut buf).await {
                if conn.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        });
    }
}

#[test]
fn echo_on_the_oneshot_rearming_path() {
    // The path used where edge-triggered polling does not exist.
    let driver = ReactorDriver::from_reactor(std::sync::Arc::new(Reactor::new_oneshot().unwrap()));
    let rt = with_reactor(2, driver);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        spawn(echo_server(listener));
        let clients: Vec<_> = (0..50u32)
            .map(|i| {
                spawn(async move {
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    for _ in 0..20 {
                        let msg = i.to_le_bytes();
                        s.write_all(&msg).await.unwrap();
                        let mut back = [0; 4];
                        s.read_exact(&mut back).await.unwrap();
                        assert_eq!(back, msg);
                    }
                })
            })
            .collect();
        all_ok(clients).await;
    });
}

#[test]
fn oneshot_mode_keeps_the_other_direction_armed() {
    // One socket, a writer blocked on a full buffer and a reader waiting for data. An
    // event for the reader disarms a oneshot registration; the writer must still be woken
    // when the peer drains the buffer.
    let driver = ReactorDriver::from_reactor(std::sync::Arc::new(Reactor::new_oneshot().unwrap()));
    let rt = with_reactor(2, driver);
    rt.block_on(async {
        let (x, y) = UnixStream::pair().unwrap();
        let (mut xr, mut xw) = x.into_split();
        let (mut yr, mut yw) = y.into_split();
        const BIG: usize = 8 << 20;
        let writer = spawn(async move {
            xw.write_all(&vec![1u8; BIG]).await.unwrap();
        });
        let reader = spawn(async move {
            let mut b = [0u8; 1];
            xr.read_exact(&mut b).await.unwrap();
            b[0]
        });
        weft_timer::sleep(Duration::from_millis(20)).await; // both are waiting now
        yw.write_all(&[9]).await.unwrap(); // wakes the reader, disarms x
        assert_eq!(bounded(reader).await.unwrap(), 9);
        let mut sink = vec![0u8; BIG];
        bounded(yr.read_exact(&mut sink)).await.unwrap(); // drains: the writer must finish
        bounded(writer).await.unwrap();
    });
}

#[test]
fn a_readiness_wait_after_a_short_read_is_woken_on_the_oneshot_path() {
    // After a read took what was there, a task that waits for readiness (as weft-hyper's
    // reads do) finds it set until a read says `WouldBlock`; then it must re-arm the
    // disarmed registration and be woken by the next data.
    let driver = ReactorDriver::from_reactor(std::sync::Arc::new(Reactor::new_oneshot().unwrap()));
    let rt = with_reactor(2, driver);
    rt.block_on(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        a.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(bounded(b.read(&mut buf)).await.unwrap(), 5);
        let waiter = spawn(async move {
            std::future::poll_fn(|cx| b.poll_read_ready(cx))
                .await
                .unwrap();
            let n = b.read(&mut buf).await.unwrap();
            buf[..n].to_vec()
        });
        weft_timer::sleep(Duration::from_millis(20)).await; // it waits now
        a.write_all(b"more").await.unwrap();
        assert_eq!(bounded(waiter).await.unwrap(), b"more");
    });
}

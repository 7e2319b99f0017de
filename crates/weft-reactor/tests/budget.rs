//! The cooperative budget: every socket and `Async` operation spends a unit of the task's
//! budget when it completes, so a task over an always-ready socket does not hold its
//! worker.
//!
//! In its own test binary (so its own process): the first test measures how long a timer
//! waits beside a busy task, which tests running beside it would disturb.

#![cfg(not(weft_loom))]

mod common;

use common::{bounded, runtime};
use futures_core::Stream;
use futures_io::AsyncRead;
use std::future::{poll_fn, Future};
use std::io::{Read, Write};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use weft_executor::coop::{poll_proceed, BUDGET};
use weft_executor::spawn;
use weft_reactor::{Async, TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixStream};

/// Issue 11's measurement: on one worker, a task reading 16 bytes at a time from a TCP
/// socket that a writer thread keeps full never got `Pending`, so a 10 ms sleep spawned
/// beside it finished only when the writer stopped (4.09 s of 4 s). With the budget it
/// finishes while the writer still writes.
#[test]
fn a_reader_of_an_always_ready_socket_does_not_hold_its_worker() {
    const WRITER_RUNS: Duration = Duration::from_secs(3);
    let rt = runtime(1);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let writer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let chunk = vec![7u8; 64 * 1024];
        let end = Instant::now() + WRITER_RUNS;
        while Instant::now() < end {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let writer_ref = &writer;
    rt.block_on(async move {
        let stream = TcpStream::connect(addr).await.unwrap();
        let hot = Arc::new(AtomicBool::new(false));
        let h = hot.clone();
        let reader = spawn(async move {
            let mut buf = [0u8; 16];
            let mut total = 0u64;
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return total,
                    Ok(n) => total += n as u64,
                }
                if total >= 1 << 20 {
                    h.store(true, Relaxed);
                }
            }
        });
        // The reader is in its hot loop (this thread is not the worker).
        let waited = Instant::now();
        while !hot.load(Relaxed) {
            assert!(
                waited.elapsed() < common::HANG,
                "the reader never got going"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let spawned = Instant::now();
        let sleeper = spawn(async move {
            weft_timer::sleep(Duration::from_millis(10)).await;
            spawned.elapsed()
        });
        let took = bounded(sleeper).await.unwrap();
        let writer_still_running = !writer_ref.is_finished();
        println!("a 10 ms sleep beside the hot reader took {took:?}");
        assert!(
            took < Duration::from_secs(1) && writer_still_running,
            "the sleep took {took:?} (writer still running: {writer_still_running}): the \
             reader held the worker"
        );
        let total = bounded(reader).await.unwrap();
        assert!(total >= 1 << 20);
    });
    writer.join().unwrap();
}

/// Spends all but `LEFT` units of the budget, then polls `op` (on a resource that stays
/// ready) until it returns `Pending`: each completion must have spent a unit, so that is
/// after exactly `LEFT` completions.
const LEFT: usize = 5;

fn completions_before_pending(
    cx: &mut Context<'_>,
    mut op: impl FnMut(&mut Context<'_>) -> bool,
) -> usize {
    for _ in 0..BUDGET as usize - LEFT {
        match poll_proceed(cx) {
            Poll::Ready(c) => c.made_progress(),
            Poll::Pending => panic!("the poll began with a spent budget"),
        }
    }
    let mut n = 0;
    while op(cx) {
        n += 1;
        assert!(n < 1_000, "the operation never ran out of budget");
    }
    n
}

/// Measures `$op` from a fresh poll (the awaits before it may have spent units).
macro_rules! measure {
    ($out:ident, $name:expr, |$cx:ident| $op:expr) => {
        weft_executor::yield_now().await;
        let n = poll_fn(|cx| Poll::Ready(completions_before_pending(cx, |$cx| $op))).await;
        $out.push(($name, n));
    };
}

/// Runs `check` inside a task (a budgeted poll) and returns the count it found.
fn in_a_task<F>(rt: &weft_executor::Runtime, f: F)
where
    F: FnOnce() -> std::pin::Pin<Box<dyn Future<Output = Vec<(&'static str, usize)>> + Send>>,
{
    let results = rt.block_on(async move { bounded(spawn(f())).await.unwrap() });
    for (name, n) in &results {
        println!("{name}: {n} completions before Pending");
    }
    let wrong: Vec<_> = results.iter().filter(|(_, n)| *n != LEFT).collect();
    assert!(
        wrong.is_empty(),
        "these paths do not spend the budget as they should: {wrong:?}"
    );
}

#[test]
fn every_operation_spends_the_budget() {
    let rt = runtime(1);
    in_a_task(&rt, || {
        Box::pin(async {
            let mut out = Vec::new();
            // A Unix stream with plenty to read; a UDP socket and a Unix datagram socket
            // with datagrams queued; a listener with connections waiting.
            let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
            (&a).write_all(&[1u8; 4096]).unwrap();
            let b = Async::new(b).unwrap();
            b.readable().await.unwrap();
            b.writable().await.unwrap();
            let read1 = |s: &std::os::unix::net::UnixStream| (&*s).read(&mut [0u8; 1]);
            measure!(out, "Async::poll_read_with", |cx| b
                .poll_read_with(cx, read1)
                .is_ready());
            measure!(out, "Async::read_with", |cx| pin!(b.read_with(read1))
                .poll(cx)
                .is_ready());
            measure!(out, "Async::poll_readable", |cx| b
                .poll_readable(cx)
                .is_ready());
            measure!(out, "Async::readable", |cx| pin!(b.readable())
                .poll(cx)
                .is_ready());
            measure!(out, "Async::writable", |cx| pin!(b.writable())
                .poll(cx)
                .is_ready());
            measure!(out, "Async::write_with", |cx| pin!(
                b.write_with(|s| (&*s).write(b"x"))
            )
            .poll(cx)
            .is_ready());

            let (x, y) = UnixStream::pair().unwrap();
            let mut x = x;
            {
                use futures_lite::AsyncWriteExt;
                let mut y = y;
                y.write_all(&[2u8; 4096]).await.unwrap();
                x.readable().await.unwrap();
                measure!(out, "UnixStream as AsyncRead", |cx| Pin::new(&mut x)
                    .poll_read(cx, &mut [0u8; 1])
                    .is_ready());
                let (mut rh, _wh) = x.split();
                measure!(out, "UnixStream's read half", |cx| Pin::new(&mut rh)
                    .poll_read(cx, &mut [0u8; 1])
                    .is_ready());
            }

            let u1 = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let u2 = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let to = u2.local_addr().unwrap();
            for _ in 0..20 {
                u1.send_to(b"d", to).await.unwrap();
            }
            u2.readable().await.unwrap();
            measure!(out, "UdpSocket::recv_from", |cx| pin!(
                u2.recv_from(&mut [0u8; 8])
            )
            .poll(cx)
            .is_ready());
            measure!(out, "UdpSocket::poll_recv_from", |cx| u2
                .poll_recv_from(cx, &mut [0u8; 8])
                .is_ready());
            measure!(out, "UdpSocket::poll_send_to", |cx| u1
                .poll_send_to(cx, b"d", to)
                .is_ready());

            let (d1, d2) = UnixDatagram::pair().unwrap();
            for _ in 0..20 {
                d1.send(b"d").await.unwrap();
            }
            d2.readable().await.unwrap();
            measure!(out, "UnixDatagram::recv", |cx| pin!(d2.recv(&mut [0u8; 8]))
                .poll(cx)
                .is_ready());

            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let clients: Vec<_> = (0..20)
                .map(|_| std::net::TcpStream::connect(addr).unwrap())
                .collect();
            let mut incoming = listener.incoming();
            measure!(out, "Incoming", |cx| Pin::new(&mut incoming)
                .poll_next(cx)
                .is_ready());
            measure!(out, "TcpListener::accept", |cx| pin!(listener.accept())
                .poll(cx)
                .is_ready());
            drop(clients);
            out
        })
    });
}

#[test]
fn an_operation_that_finds_nothing_to_do_costs_nothing() {
    // A read that waits gives its unit back: a task may poll a quiet socket any number of
    // times without spending its budget.
    let rt = runtime(1);
    let n = rt.block_on(async {
        bounded(spawn(async {
            let (_a, b) = UnixStream::pair().unwrap();
            poll_fn(|cx| {
                for _ in 0..10 * BUDGET as usize {
                    assert!(pin!(b.readable()).poll(cx).is_pending());
                }
                Poll::Ready(completions_before_pending(cx, |cx| {
                    match poll_proceed(cx) {
                        Poll::Ready(c) => {
                            c.made_progress();
                            true
                        }
                        Poll::Pending => false,
                    }
                }))
            })
            .await
        }))
        .await
        .unwrap()
    });
    assert_eq!(n, LEFT);
}

//! The socket API ported from tokio, over loopback: readiness and `ready(Interest)`,
//! `try_*` operations, `peek`, the `poll_*` methods, `recv_buf` into spare capacity,
//! socket options, multicast, `into_std`/`from_std`, and the `TcpSocket` builder.

#![cfg(not(weft_loom))]

mod common;

use common::{bounded, runtime, tcp_pair};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use std::future::poll_fn;
use std::io::{self, ErrorKind, IoSlice, IoSliceMut, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;
use weft_executor::spawn;
use weft_reactor::{
    Async, Interest, Ready, TcpListener, TcpSocket, TcpStream, UdpSocket, UnixDatagram,
    UnixListener, UnixStream,
};

fn would_block<T: std::fmt::Debug>(r: io::Result<T>) {
    match r {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("expected WouldBlock, got {other:?}"),
    }
}

/// Runs `op` until it does not say `WouldBlock`, awaiting `wait()` (a `readable`, say)
/// before each try; fails instead of hanging.
async fn when_ready<T, F>(mut wait: impl FnMut() -> F, mut op: impl FnMut() -> io::Result<T>) -> T
where
    F: std::future::Future<Output = io::Result<()>>,
{
    bounded(async {
        loop {
            wait().await.unwrap();
            match op() {
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                r => return r.unwrap(),
            }
        }
    })
    .await
}

/// `try_read` until it gives something, waiting with `readable` after each `WouldBlock`.
async fn read_some(s: &TcpStream, buf: &mut [u8]) -> usize {
    when_ready(|| s.readable(), || s.try_read(buf)).await
}

#[test]
fn try_read_on_an_empty_stream_would_block_then_readable_waits_for_data() {
    runtime(2).block_on(async {
        let (a, b) = tcp_pair().await;
        let mut buf = [0; 16];
        would_block(b.try_read(&mut buf));
        would_block(b.try_read_vectored(&mut [IoSliceMut::new(&mut buf)]));
        // The WouldBlock cleared the readiness: `readable` now waits for the write.
        let writer = spawn(async move {
            weft_timer::sleep(Duration::from_millis(20)).await;
            assert_eq!(a.try_write(b"hello").unwrap(), 5);
            a
        });
        let n = bounded(read_some(&b, &mut buf)).await;
        assert_eq!(&buf[..n], b"hello");
        would_block(b.try_read(&mut buf));
        // The peer closes: readable, and `try_read` says end of stream.
        drop(writer.await.unwrap());
        assert_eq!(bounded(read_some(&b, &mut buf)).await, 0);
    });
}

#[test]
fn vectored_try_read_and_try_write() {
    runtime(1).block_on(async {
        let (a, b) = tcp_pair().await;
        let n = a
            .try_write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cde")])
            .unwrap();
        assert_eq!(n, 5);
        let (mut x, mut y) = ([0; 2], [0; 8]);
        let n = when_ready(
            || b.readable(),
            || b.try_read_vectored(&mut [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)]),
        )
        .await;
        assert_eq!(n, 5);
        assert_eq!((&x, &y[..3]), (b"ab", &b"cde"[..]));
    });
}

#[test]
fn try_write_until_full_then_writable_waits_for_room() {
    runtime(2).block_on(async {
        let (a, mut b) = tcp_pair().await;
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0usize;
        loop {
            match a.try_write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(sent > 0);
        let reader = spawn(async move {
            let mut got = vec![0; sent];
            b.read_exact(&mut got).await.unwrap();
            assert!(got.iter().all(|&x| x == 7));
            b
        });
        // Room comes back as the peer reads.
        let more = when_ready(|| a.writable(), || a.try_write(b"x")).await;
        assert_eq!(more, 1);
        let mut b = bounded(reader).await.unwrap();
        let mut last = [0; 1];
        b.read_exact(&mut last).await.unwrap();
        assert_eq!(&last, b"x");
    });
}

#[test]
fn ready_returns_the_directions_that_are_ready() {
    runtime(2).block_on(async {
        let (a, b) = tcp_pair().await;
        // Nothing to read yet, room to write.
        let r = bounded(b.ready(Interest::READABLE | Interest::WRITABLE))
            .await
            .unwrap();
        assert!(r.is_writable());
        assert!(!r.is_readable(), "{r:?}");
        let w = bounded(b.ready(Interest::WRITABLE)).await.unwrap();
        assert_eq!(w, Ready::WRITABLE);
        // A read wait alone completes when data comes.
        let writer = spawn(async move {
            weft_timer::sleep(Duration::from_millis(20)).await;
            a.try_write(b"z").unwrap();
            a
        });
        let r = bounded(b.ready(Interest::READABLE)).await.unwrap();
        assert_eq!(r, Ready::READABLE);
        let mut buf = [0; 1];
        assert_eq!(b.try_read(&mut buf).unwrap(), 1);
        let _a = writer.await.unwrap();
        // Now drained: both asked, and only writable comes back.
        would_block(b.try_read(&mut buf));
        let r = b
            .ready(Interest::READABLE | Interest::WRITABLE)
            .await
            .unwrap();
        assert_eq!(r, Ready::WRITABLE);
    });
}

#[test]
fn a_ready_given_up_leaves_no_waker() {
    runtime(1).block_on(async {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let b = Async::new(b).unwrap();
        let r = weft_timer::timeout(Duration::from_millis(10), b.ready(Interest::READABLE)).await;
        assert!(r.is_err(), "nothing was written");
        assert_eq!(b.waiter_count(), 0);
        (&a).write_all(b"k").unwrap();
        assert!(bounded(b.ready(Interest::READABLE))
            .await
            .unwrap()
            .is_readable());
    });
}

#[test]
fn peek_does_not_consume() {
    runtime(2).block_on(async {
        let (mut a, b) = tcp_pair().await;
        a.write_all(b"hello").await.unwrap();
        let mut buf = [0; 5];
        let mut got = 0;
        while got < 5 {
            got = bounded(b.peek(&mut buf)).await.unwrap();
        }
        assert_eq!(&buf, b"hello");
        // Peeked again through poll_peek: still there.
        let mut again = [0; 5];
        let n = poll_fn(|cx| b.poll_peek(cx, &mut again)).await.unwrap();
        assert_eq!(&again[..n], &b"hello"[..n]);
        let mut read = [0; 5];
        assert_eq!(b.try_read(&mut read).unwrap(), 5);
        assert_eq!(&read, b"hello");
        would_block(b.try_read(&mut read));
    });
}

#[test]
fn poll_read_ready_and_poll_write_ready() {
    runtime(2).block_on(async {
        let (a, b) = tcp_pair().await;
        bounded(poll_fn(|cx| a.poll_write_ready(cx))).await.unwrap();
        would_block(b.try_read(&mut [0; 4]));
        let writer = spawn(async move {
            weft_timer::sleep(Duration::from_millis(20)).await;
            a.try_write(b"ping").unwrap();
            a
        });
        bounded(poll_fn(|cx| b.poll_read_ready(cx))).await.unwrap();
        let mut buf = [0; 4];
        assert_eq!(b.try_read(&mut buf).unwrap(), 4);
        writer.await.unwrap();
    });
}

#[test]
fn try_read_buf_fills_spare_capacity_and_keeps_what_was_there() {
    runtime(1).block_on(async {
        let (a, b) = tcp_pair().await;
        a.try_write(b"cdef").unwrap();
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(b"ab");
        let n = when_ready(|| b.readable(), || b.try_read_buf(&mut v)).await;
        assert_eq!(n, 4);
        assert_eq!(v, b"abcdef");
        // A full vector gets room reserved: it still receives.
        a.try_write(b"g").unwrap();
        let mut full = vec![1u8; 3];
        full.shrink_to_fit();
        let n = when_ready(|| b.readable(), || b.try_read_buf(&mut full)).await;
        assert_eq!((n, &full[..]), (1, &[1, 1, 1, b'g'][..]));
    });
}

#[test]
fn async_io_runs_an_operation_of_ones_own_until_it_completes() {
    runtime(2).block_on(async {
        let (a, b) = tcp_pair().await;
        let writer = spawn(async move {
            weft_timer::sleep(Duration::from_millis(20)).await;
            a.try_write(b"own").unwrap();
            a
        });
        let mut buf = [0; 3];
        let n = bounded(b.async_io(Interest::READABLE, || {
            (&*socket2::SockRef::from(&b)).read(&mut buf)
        }))
        .await
        .unwrap();
        assert_eq!(&buf[..n], &b"own"[..n]);
        writer.await.unwrap();
    });
}

#[test]
fn tcp_options_ttl_linger_nodelay() {
    runtime(1).block_on(async {
        let (a, b) = tcp_pair().await;
        a.set_ttl(42).unwrap();
        assert_eq!(a.ttl().unwrap(), 42);
        a.set_nodelay(true).unwrap();
        assert!(a.nodelay().unwrap());
        assert_eq!(a.linger().unwrap(), None);
        // A lingering close would block the worker that drops the stream: refused.
        let e = a.set_linger(Some(Duration::from_secs(1))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(a.linger().unwrap(), None);
        a.set_linger(Some(Duration::ZERO)).unwrap();
        assert_eq!(a.linger().unwrap(), Some(Duration::ZERO));
        a.set_linger(None).unwrap();
        assert_eq!(a.linger().unwrap(), None);
        assert!(a.take_error().unwrap().is_none());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.set_ttl(17).unwrap();
        assert_eq!(listener.ttl().unwrap(), 17);
        drop(b);
    });
}

#[test]
fn zero_linger_resets_the_connection_on_close() {
    runtime(1).block_on(async {
        let (a, b) = tcp_pair().await;
        a.set_zero_linger().unwrap();
        drop(a);
        let mut buf = [0; 8];
        let e = bounded(b.read(&mut buf)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    });
}

#[test]
fn tcp_into_std_and_back() {
    runtime(2).block_on(async {
        let (a, b) = tcp_pair().await;
        let std_a = a.into_std().unwrap();
        // Still non-blocking, as tokio's.
        would_block((&std_a).read(&mut [0; 1]));
        std_a.set_nonblocking(false).unwrap();
        (&std_a).write_all(b"from std").unwrap();
        let mut buf = [0; 8];
        let mut got = 0;
        while got < 8 {
            got += bounded(read_some(&b, &mut buf[got..])).await;
        }
        assert_eq!(&buf, b"from std");
        // And back into the reactor.
        let mut a = TcpStream::from_std(std_a).unwrap();
        b.try_write(b"back").unwrap();
        let mut back = [0; 4];
        bounded(a.read_exact(&mut back)).await.unwrap();
        assert_eq!(&back, b"back");

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let std_listener = listener.into_std().unwrap();
        std_listener.set_nonblocking(false).unwrap();
        let t = std::thread::spawn(move || std_listener.accept().unwrap().1);
        let c = bounded(TcpStream::connect(addr)).await.unwrap();
        assert_eq!(t.join().unwrap(), c.local_addr().unwrap());
    });
}

#[test]
fn two_reuseport_listeners_on_one_port_both_accept() {
    runtime(2).block_on(async {
        let first = TcpSocket::new_v4().unwrap();
        first.set_reuseport(true).unwrap();
        assert!(first.reuseport().unwrap());
        first.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = first.local_addr().unwrap();
        // Without SO_REUSEPORT the port is taken.
        let plain = TcpSocket::new_v4().unwrap();
        plain.bind(addr).unwrap_err();
        let second = TcpSocket::new_v4().unwrap();
        second.set_reuseport(true).unwrap();
        second.bind(addr).unwrap();
        let listeners = [first.listen(128).unwrap(), second.listen(128).unwrap()];

        const CLIENTS: usize = 64;
        let total = Arc::new(AtomicUsize::new(0));
        let counts: Vec<Arc<AtomicUsize>> = (0..2).map(|_| Arc::default()).collect();
        for (listener, count) in listeners.into_iter().zip(&counts) {
            let (count, total) = (count.clone(), total.clone());
            spawn(async move {
                loop {
                    let (mut s, _) = listener.accept().await.unwrap();
                    count.fetch_add(1, SeqCst);
                    total.fetch_add(1, SeqCst);
                    spawn(async move { s.write_all(b"!").await });
                }
            });
        }
        // Each client waits for its reply: accepted, by one listener or the other.
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                spawn(async move {
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    let mut b = [0; 1];
                    s.read_exact(&mut b).await.unwrap();
                })
            })
            .collect();
        common::all_ok(clients).await;
        assert_eq!(total.load(SeqCst), CLIENTS);
        let (x, y) = (counts[0].load(SeqCst), counts[1].load(SeqCst));
        // The kernel hashes connections over the group: with 64, one listener getting
        // none has a chance of 2^-63.
        assert!(x > 0 && y > 0, "accepted {x} and {y}");
    });
}

#[test]
fn tcp_socket_binds_before_connecting_and_sets_buffers() {
    runtime(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        assert!(socket.reuseaddr().unwrap());
        socket.set_keepalive(true).unwrap();
        assert!(socket.keepalive().unwrap());
        socket.set_nodelay(true).unwrap();
        assert!(socket.nodelay().unwrap());
        socket.set_send_buffer_size(64 * 1024).unwrap();
        socket.set_recv_buffer_size(64 * 1024).unwrap();
        // Linux doubles what it is given (and caps it at wmem_max/rmem_max).
        assert!(socket.send_buffer_size().unwrap() >= 4096);
        assert!(socket.recv_buffer_size().unwrap() >= 4096);
        socket.set_tos_v4(0x10).unwrap();
        assert_eq!(socket.tos_v4().unwrap(), 0x10);
        assert_eq!(socket.tos().unwrap(), 0x10);
        assert_eq!(
            socket
                .set_linger(Some(Duration::from_millis(5)))
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let local = socket.local_addr().unwrap();
        assert_ne!(local.port(), 0);
        let accept = spawn(async move { listener.accept().await.unwrap().1 });
        let stream = bounded(socket.connect(addr)).await.unwrap();
        assert_eq!(stream.local_addr().unwrap(), local);
        assert!(stream.nodelay().unwrap());
        assert_eq!(bounded(accept).await.unwrap(), local);
    });
}

#[test]
fn tcp_socket_listen_checks_the_backlog_and_connect_reports_refusal() {
    runtime(1).block_on(async {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let e = socket.listen(u32::MAX).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);

        // A port nobody listens on: bound, then released.
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let e = bounded(TcpSocket::new_v4().unwrap().connect(free))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);

        // A socket from a standard stream keeps its options.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        s.set_nodelay(true).unwrap();
        assert!(TcpSocket::from_std_stream(s).nodelay().unwrap());
    });
}

#[test]
fn tcp_socket_on_ipv6_loopback() {
    runtime(1).block_on(async {
        let socket = TcpSocket::new_v6().unwrap();
        if let Err(e) = socket.bind("[::1]:0".parse().unwrap()) {
            eprintln!("skipped: no IPv6 loopback here ({e})");
            return;
        }
        let listener = socket.listen(16).unwrap();
        let addr = listener.local_addr().unwrap();
        let client = spawn(async move { TcpSocket::new_v6().unwrap().connect(addr).await });
        let (_s, peer) = bounded(listener.accept()).await.unwrap();
        assert!(peer.is_ipv6());
        bounded(client).await.unwrap().unwrap();
    });
}

async fn udp_pair() -> (UdpSocket, UdpSocket) {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    a.connect(b.local_addr().unwrap()).await.unwrap();
    b.connect(a.local_addr().unwrap()).await.unwrap();
    (a, b)
}

/// Retries `op` after `readable` until it does not say `WouldBlock`.
async fn when_readable<T>(s: &UdpSocket, op: impl FnMut() -> io::Result<T>) -> T {
    when_ready(|| s.readable(), op).await
}

#[test]
fn udp_try_send_and_try_recv() {
    runtime(1).block_on(async {
        let (a, b) = udp_pair().await;
        let mut buf = [0; 16];
        would_block(b.try_recv(&mut buf));
        would_block(b.try_recv_from(&mut buf));
        would_block(b.try_peek(&mut buf));
        would_block(b.try_peek_from(&mut buf));
        would_block(b.try_peek_sender());
        assert_eq!(a.try_send(b"one").unwrap(), 3);
        let n = bounded(when_readable(&b, || b.try_recv(&mut buf))).await;
        assert_eq!(&buf[..n], b"one");

        // Unconnected sockets: any sender, any destination.
        let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let d = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        assert_eq!(c.try_send_to(b"two", d.local_addr().unwrap()).unwrap(), 3);
        let (n, from) = bounded(when_readable(&d, || d.try_recv_from(&mut buf))).await;
        assert_eq!((&buf[..n], from), (&b"two"[..], c.local_addr().unwrap()));
        let r = bounded(a.ready(Interest::READABLE | Interest::WRITABLE))
            .await
            .unwrap();
        assert!(r.is_writable());
    });
}

#[test]
fn udp_peek_from_does_not_consume() {
    runtime(1).block_on(async {
        let (a, b) = udp_pair().await;
        a.send(b"peeked").await.unwrap();
        let mut buf = [0; 16];
        let (n, from) = bounded(b.peek_from(&mut buf)).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"peeked"[..], a.local_addr().unwrap()));
        assert_eq!(
            bounded(b.peek_sender()).await.unwrap(),
            a.local_addr().unwrap()
        );
        assert_eq!(b.try_peek_sender().unwrap(), a.local_addr().unwrap());
        let (n, _) = b.try_peek_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"peeked");
        let n = bounded(b.peek(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"peeked");
        let n = poll_fn(|cx| b.poll_peek_from(cx, &mut buf))
            .await
            .unwrap()
            .0;
        assert_eq!(&buf[..n], b"peeked");
        let n = poll_fn(|cx| b.poll_peek(cx, &mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"peeked");
        let from = poll_fn(|cx| b.poll_peek_sender(cx)).await.unwrap();
        assert_eq!(from, a.local_addr().unwrap());
        // Still there for the receive; then gone.
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"peeked");
        would_block(b.try_recv(&mut buf));
    });
}

#[test]
fn udp_recv_buf_fills_spare_capacity() {
    runtime(1).block_on(async {
        let (a, b) = udp_pair().await;
        a.send(b"datagram").await.unwrap();
        let mut v = Vec::with_capacity(32);
        v.extend_from_slice(b">>");
        assert_eq!(bounded(b.recv_buf(&mut v)).await.unwrap(), 8);
        assert_eq!(v, b">>datagram");

        a.send(b"second").await.unwrap();
        let mut w = Vec::new(); // no capacity: some is reserved
        let (n, from) = bounded(b.recv_buf_from(&mut w)).await.unwrap();
        assert_eq!(
            (n, &w[..], from),
            (6, &b"second"[..], a.local_addr().unwrap())
        );

        would_block(b.try_recv_buf(&mut w));
        would_block(b.try_recv_buf_from(&mut w));
        a.send(b"3").await.unwrap();
        let n = bounded(when_readable(&b, || b.try_recv_buf(&mut w))).await;
        assert_eq!((n, &w[..]), (1, &b"second3"[..]));
        a.send(b"4").await.unwrap();
        let (n, _) = bounded(when_readable(&b, || b.try_recv_buf_from(&mut w))).await;
        assert_eq!((n, &w[..]), (1, &b"second34"[..]));

        // A datagram longer than the spare capacity is cut to it, as by `recv`.
        a.send(&[9u8; 100]).await.unwrap();
        let mut small = Vec::with_capacity(10);
        let n = bounded(b.recv_buf(&mut small)).await.unwrap();
        assert_eq!(n, small.capacity().min(100));
        assert!(small.iter().all(|&x| x == 9));
    });
}

#[test]
fn udp_poll_send_and_poll_recv() {
    runtime(1).block_on(async {
        let (a, b) = udp_pair().await;
        bounded(poll_fn(|cx| a.poll_send_ready(cx))).await.unwrap();
        let n = poll_fn(|cx| a.poll_send(cx, b"polled")).await.unwrap();
        assert_eq!(n, 6);
        bounded(poll_fn(|cx| b.poll_recv_ready(cx))).await.unwrap();
        let mut buf = [0; 16];
        let n = bounded(poll_fn(|cx| b.poll_recv(cx, &mut buf)))
            .await
            .unwrap();
        assert_eq!(&buf[..n], b"polled");
        let target = b.local_addr().unwrap();
        poll_fn(|cx| a.poll_send_to(cx, b"to", target))
            .await
            .unwrap();
        let (n, from) = bounded(poll_fn(|cx| b.poll_recv_from(cx, &mut buf)))
            .await
            .unwrap();
        assert_eq!((&buf[..n], from), (&b"to"[..], a.local_addr().unwrap()));
    });
}

#[test]
fn udp_options() {
    runtime(1).block_on(async {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        assert!(!s.broadcast().unwrap());
        s.set_broadcast(true).unwrap();
        assert!(s.broadcast().unwrap());
        s.set_ttl(9).unwrap();
        assert_eq!(s.ttl().unwrap(), 9);
        s.set_multicast_ttl_v4(3).unwrap();
        assert_eq!(s.multicast_ttl_v4().unwrap(), 3);
        s.set_multicast_loop_v4(false).unwrap();
        assert!(!s.multicast_loop_v4().unwrap());
        s.set_tos(0x20).unwrap();
        assert_eq!(s.tos_v4().unwrap(), 0x20);
        assert!(s.take_error().unwrap().is_none());
        // Leaving a group never joined is the system's error, not a panic.
        let e = s
            .leave_multicast_v4(Ipv4Addr::new(239, 255, 0, 1), Ipv4Addr::LOCALHOST)
            .unwrap_err();
        assert!(e.raw_os_error().is_some(), "{e}");

        let v6 = match UdpSocket::bind("[::1]:0").await {
            Ok(s) => s,
            Err(e) => return eprintln!("skipped the IPv6 options: no IPv6 loopback ({e})"),
        };
        v6.set_multicast_loop_v6(false).unwrap();
        assert!(!v6.multicast_loop_v6().unwrap());
    });
}

#[test]
fn udp_multicast_v4_on_loopback() {
    runtime(1).block_on(async {
        let group = Ipv4Addr::new(239, 255, 42, 99);
        let rx = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).await.unwrap();
        if let Err(e) = rx.join_multicast_v4(group, Ipv4Addr::LOCALHOST) {
            return eprintln!("skipped: the kernel refuses a multicast join on loopback ({e})");
        }
        let port = rx.local_addr().unwrap().port();
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        tx.set_multicast_loop_v4(true).unwrap();
        socket2::SockRef::from(&tx)
            .set_multicast_if_v4(&Ipv4Addr::LOCALHOST)
            .unwrap();
        if let Err(e) = tx.send_to(b"to the group", (group, port)).await {
            rx.leave_multicast_v4(group, Ipv4Addr::LOCALHOST).unwrap();
            return eprintln!("skipped: no multicast route through loopback here ({e})");
        }
        let mut buf = [0; 32];
        match weft_timer::timeout(Duration::from_secs(5), rx.recv_from(&mut buf)).await {
            Ok(r) => {
                let (n, from) = r.unwrap();
                assert_eq!(
                    (&buf[..n], from),
                    (&b"to the group"[..], tx.local_addr().unwrap())
                );
            }
            // The join and the send worked: the sandbox drops looped-back multicast.
            Err(_) => eprintln!("note: the multicast datagram was not looped back here"),
        }
        rx.leave_multicast_v4(group, Ipv4Addr::LOCALHOST).unwrap();
        // Left: leaving again is the system's error.
        rx.leave_multicast_v4(group, Ipv4Addr::LOCALHOST)
            .unwrap_err();
    });
}

#[test]
fn udp_multicast_v6_join_and_leave() {
    runtime(1).block_on(async {
        let s = match UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0)).await {
            Ok(s) => s,
            Err(e) => return eprintln!("skipped: no IPv6 here ({e})"),
        };
        let group: Ipv6Addr = "ff02::1:3".parse().unwrap();
        // Interface 1 is loopback on Linux.
        if let Err(e) = s.join_multicast_v6(&group, 1) {
            return eprintln!("skipped: the kernel refuses an IPv6 multicast join on lo ({e})");
        }
        s.leave_multicast_v6(&group, 1).unwrap();
        s.leave_multicast_v6(&group, 1).unwrap_err();
    });
}

#[test]
fn udp_into_std_and_back() {
    runtime(1).block_on(async {
        let (a, b) = udp_pair().await;
        let std_a = a.into_std().unwrap();
        would_block(std_a.recv(&mut [0; 4]));
        std_a.send(b"std").unwrap();
        let mut buf = [0; 4];
        let n = bounded(b.recv(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"std");
        let a = UdpSocket::from_std(std_a).unwrap();
        b.send(b"back").await.unwrap();
        let n = bounded(a.recv(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"back");
    });
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-tokio-api-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn unix_stream_try_io_peek_and_ready() {
    runtime(2).block_on(async {
        let (a, b) = UnixStream::pair().unwrap();
        let mut buf = [0; 8];
        would_block(b.try_read(&mut buf));
        let r = bounded(b.ready(Interest::READABLE | Interest::WRITABLE))
            .await
            .unwrap();
        assert_eq!(r, Ready::WRITABLE);
        assert_eq!(a.try_write(b"unix").unwrap(), 4);
        assert!(bounded(b.ready(Interest::READABLE))
            .await
            .unwrap()
            .is_readable());
        let n = bounded(b.peek(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"unix");
        let n = poll_fn(|cx| b.poll_peek(cx, &mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"unix");
        let mut v = Vec::with_capacity(8);
        assert_eq!(b.try_read_buf(&mut v).unwrap(), 4);
        assert_eq!(v, b"unix");
        would_block(b.try_read(&mut buf));
        a.try_write_vectored(&[IoSlice::new(b"v"), IoSlice::new(b"ec")])
            .unwrap();
        bounded(poll_fn(|cx| b.poll_read_ready(cx))).await.unwrap();
        bounded(poll_fn(|cx| b.poll_write_ready(cx))).await.unwrap();
        let mut x = [0; 3];
        assert_eq!(
            b.try_read_vectored(&mut [IoSliceMut::new(&mut x)]).unwrap(),
            3
        );
        assert_eq!(&x, b"vec");
        a.shutdown(Shutdown::Write).unwrap();
        assert_eq!(bounded(b.peek(&mut buf)).await.unwrap(), 0);
    });
}

#[test]
fn unix_sockets_into_std_and_back() {
    runtime(2).block_on(async {
        let (a, mut b) = UnixStream::pair().unwrap();
        let std_a = a.into_std().unwrap();
        would_block((&std_a).read(&mut [0; 1]));
        (&std_a).write_all(b"s").unwrap();
        let mut a = UnixStream::from_std(std_a).unwrap();
        let mut one = [0; 1];
        bounded(b.read_exact(&mut one)).await.unwrap();
        b.write_all(b"t").await.unwrap();
        bounded(a.read_exact(&mut one)).await.unwrap();
        assert_eq!(&one, b"t");

        let dir = temp_dir("listener");
        let path = dir.join("sock");
        let listener = UnixListener::bind(&path).unwrap();
        let std_listener = listener.into_std().unwrap();
        let listener = UnixListener::from_std(std_listener).unwrap();
        let p = path.clone();
        let c = spawn(async move { UnixStream::connect(&p).await.unwrap() });
        bounded(listener.accept()).await.unwrap();
        c.await.unwrap();

        let (x, y) = UnixDatagram::pair().unwrap();
        let std_x = x.into_std().unwrap();
        would_block(std_x.recv(&mut one));
        std_x.send(b"d").unwrap();
        assert_eq!(bounded(y.recv(&mut one)).await.unwrap(), 1);
        let x = UnixDatagram::from_std(std_x).unwrap();
        would_block(x.try_recv(&mut one));
        y.try_send(b"e").unwrap();
        let mut v = Vec::new();
        assert_eq!(bounded(x.recv_buf(&mut v)).await.unwrap(), 1);
        assert_eq!(v, b"e");

        let bound = UnixDatagram::bind(dir.join("dgram")).unwrap();
        let from = UnixDatagram::unbound().unwrap();
        from.try_send_to(b"f", dir.join("dgram")).unwrap();
        let (n, _) = when_ready(|| bound.readable(), || bound.try_recv_from(&mut one)).await;
        assert_eq!((n, &one), (1, b"f"));
        std::fs::remove_dir_all(&dir).unwrap();
    });
}

#[test]
fn a_socket_address_to_connect_may_come_from_a_tcp_socket() {
    // `TcpSocket::listen` without `bind`: the system picks the unspecified address and a
    // free port.
    runtime(1).block_on(async {
        let listener = TcpSocket::new_v4().unwrap().listen(8).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_ne!(port, 0);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let c = spawn(async move { TcpStream::connect(addr).await.unwrap() });
        bounded(listener.accept()).await.unwrap();
        c.await.unwrap();
    });
}

#[test]
fn the_halves_have_the_try_methods_and_readiness() {
    runtime(2).block_on(async {
        let (a, b) = tcp_pair().await;
        let (ar, aw) = a.into_split();
        let (br, bw) = b.split();
        would_block(br.try_read(&mut [0; 4]));
        assert!(bounded(aw.ready(Interest::WRITABLE))
            .await
            .unwrap()
            .is_writable());
        bounded(aw.writable()).await.unwrap();
        assert_eq!(aw.try_write(b"half").unwrap(), 4);
        let mut buf = [0; 4];
        let n = bounded(br.peek(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], &b"half"[..n]);
        let n = when_ready(|| br.readable(), || br.try_read(&mut buf)).await;
        assert_eq!(&buf[..n], &b"half"[..n]);
        assert_eq!(br.peer_addr().unwrap(), aw.local_addr().unwrap());
        bw.try_write_vectored(&[IoSlice::new(b"ok")]).unwrap();
        let mut v = Vec::new();
        let n = when_ready(|| ar.readable(), || ar.try_read_buf(&mut v)).await;
        assert_eq!((n, &v[..]), (2, &b"ok"[..]));
        assert!(bounded(ar.ready(Interest::READABLE | Interest::WRITABLE))
            .await
            .unwrap()
            .is_writable());

        let (u, w) = UnixStream::pair().unwrap();
        let (ur, _uw) = u.into_split();
        w.try_write(b"u").unwrap();
        let mut one = [0; 1];
        assert_eq!(
            when_ready(|| ur.readable(), || ur.try_read(&mut one)).await,
            1
        );
        assert!(ur.peer_addr().is_ok());
    });
}

//! Sockets over loopback: echo, half-close, bulk transfer, UDP, Unix, faults, cancel
//! safety, and deregistration.

#![cfg(not(weft_loom))]

mod common;

use common::{all_ok, bounded, reactor, runtime};
use futures_lite::{AsyncReadExt, AsyncWriteExt, StreamExt};
use std::io::ErrorKind;
use std::net::Shutdown;
use std::time::Duration;
use weft_executor::spawn;
use weft_reactor::{
    Async, TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream,
};

async fn echo_server(listener: TcpListener) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            return;
        };
        spawn(async move {
            let mut buf = vec![0; 64 * 1024];
            loop {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if conn.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

#[test]
fn echo_with_a_thousand_concurrent_connections() {
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        spawn(echo_server(listener));
        let clients: Vec<_> = (0..1000u32)
            .map(|i| {
                spawn(async move {
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    s.set_nodelay(true).unwrap();
                    for round in 0..5u32 {
                        let msg = format!("client {i} round {round}");
                        s.write_all(msg.as_bytes()).await.unwrap();
                        let mut back = vec![0; msg.len()];
                        s.read_exact(&mut back).await.unwrap();
                        assert_eq!(back, msg.as_bytes());
                    }
                })
            })
            .collect();
        all_ok(clients).await;
    });
}

#[test]
fn half_close_then_reply() {
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut all = Vec::new();
            conn.read_to_end(&mut all).await.unwrap(); // until the client's shutdown
            conn.write_all(format!("got {} bytes", all.len()).as_bytes())
                .await
                .unwrap();
            conn.close().await.unwrap();
        });
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&[7; 10_000]).await.unwrap();
        s.close().await.unwrap(); // poll_close = shutdown(Write)
        let mut reply = String::new();
        bounded(s.read_to_string(&mut reply)).await.unwrap();
        assert_eq!(reply, "got 10000 bytes");
        server.await.unwrap();
    });
}

#[test]
fn a_64_mib_transfer_arrives_intact() {
    const LEN: usize = 64 << 20;
    fn byte(i: usize) -> u8 {
        (i.wrapping_mul(2_654_435_761) >> 13) as u8
    }
    fn checksum(data: impl Iterator<Item = u8>) -> u64 {
        // FNV-1a
        data.fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        })
    }
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sender = spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let (_r, mut w) = conn.into_split();
            let mut chunk = vec![0; 256 * 1024];
            let mut sent = 0;
            while sent < LEN {
                let n = chunk.len().min(LEN - sent);
                for (j, b) in chunk[..n].iter_mut().enumerate() {
                    *b = byte(sent + j);
                }
                w.write_all(&chunk[..n]).await.unwrap();
                sent += n;
            }
            // Dropping the owned write half shuts down the write side.
        });
        let s = TcpStream::connect(addr).await.unwrap();
        let (mut r, _w) = s.into_split();
        let mut got = Vec::with_capacity(LEN);
        bounded(r.read_to_end(&mut got)).await.unwrap();
        sender.await.unwrap();
        assert_eq!(got.len(), LEN);
        assert_eq!(checksum(got.into_iter()), checksum((0..LEN).map(byte)));
    });
}

#[test]
fn udp_round_trips() {
    let rt = runtime(2);
    rt.block_on(async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        spawn(async move {
            let mut buf = [0; 1500];
            loop {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                server.send_to(&buf[..n], from).await.unwrap();
            }
        });
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(addr).await.unwrap();
        assert_eq!(client.peer_addr().unwrap(), addr);
        for i in 0..500u32 {
            client.send(&i.to_be_bytes()).await.unwrap();
            let mut buf = [0; 4];
            let n = bounded(client.recv(&mut buf)).await.unwrap();
            assert_eq!(n, 4);
            assert_eq!(u32::from_be_bytes(buf), i);
        }
        // send_to with each kind of target that needs no lookup: an address, a literal,
        // an (ip, port) pair.
        let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = addr.port();
        other.send_to(b"a", addr).await.unwrap();
        other
            .send_to(b"b", format!("127.0.0.1:{port}"))
            .await
            .unwrap();
        other.send_to(b"c", ("127.0.0.1", port)).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0; 8];
        for _ in 0..3 {
            let (n, _) = bounded(other.recv_from(&mut buf)).await.unwrap();
            got.push(buf[..n].to_vec());
        }
        assert_eq!(got, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    });
}

#[test]
fn ipv6_loopback() {
    let rt = runtime(1);
    rt.block_on(async {
        let listener = TcpListener::bind("[::1]:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let c = spawn(async move { TcpStream::connect(addr).await.unwrap().peer_addr().unwrap() });
        let (_s, peer) = listener.accept().await.unwrap();
        assert!(peer.is_ipv6());
        assert_eq!(c.await.unwrap(), addr);
    });
}

#[test]
fn unix_stream_and_datagram() {
    let rt = runtime(2);
    let dir = std::env::temp_dir().join(format!("weft-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    rt.block_on(async {
        let path = dir.join("stream.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = spawn(async move {
            let mut incoming = listener.incoming();
            let mut conn = incoming.next().await.unwrap().unwrap();
            let mut buf = [0; 5];
            conn.read_exact(&mut buf).await.unwrap();
            conn.write_all(&buf).await.unwrap();
        });
        let mut c = UnixStream::connect(&path).await.unwrap();
        c.write_all(b"hello").await.unwrap();
        let mut back = [0; 5];
        bounded(c.read_exact(&mut back)).await.unwrap();
        assert_eq!(&back, b"hello");
        server.await.unwrap();

        let (a, b) = UnixStream::pair().unwrap();
        let (mut ar, mut aw) = a.into_split();
        let (mut br, mut bw) = b.into_split();
        aw.write_all(b"ab").await.unwrap();
        bw.write_all(b"ba").await.unwrap();
        let mut x = [0; 2];
        br.read_exact(&mut x).await.unwrap();
        assert_eq!(&x, b"ab");
        ar.read_exact(&mut x).await.unwrap();
        assert_eq!(&x, b"ba");

        let dpath = dir.join("dgram.sock");
        let server = UnixDatagram::bind(&dpath).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        client.send_to(b"one", &dpath).await.unwrap();
        let mut buf = [0; 8];
        let (n, _) = bounded(server.recv_from(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"one");
        let (p, q) = UnixDatagram::pair().unwrap();
        p.send(b"two").await.unwrap();
        let n = q.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"two");
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn many_tasks_await_readability_of_one_socket() {
    let rt = runtime(2);
    rt.block_on(async {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let b = std::sync::Arc::new(Async::new(b).unwrap());
        let waiters: Vec<_> = (0..100)
            .map(|_| {
                let b = b.clone();
                spawn(async move { b.readable().await.unwrap() })
            })
            .collect();
        // Let them all register.
        weft_timer::sleep(Duration::from_millis(20)).await;
        assert!(
            waiters.iter().all(|w| !w.is_finished()),
            "readable before any data"
        );
        use std::io::Write;
        (&a).write_all(b"x").unwrap();
        all_ok(waiters).await;
    });
}

#[test]
fn refused_connection_and_peer_close() {
    let rt = runtime(1);
    rt.block_on(async {
        // A port with no listener: bind one, note it, close it.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let c = spawn(async move { TcpStream::connect(addr).await.unwrap() });
        let (server_side, _) = listener.accept().await.unwrap();
        drop(server_side);
        let client = c.await.unwrap();
        let mut buf = [0; 8];
        assert_eq!(
            bounded(client.read(&mut buf)).await.unwrap(),
            0,
            "end of stream"
        );
    });
}

#[test]
fn writing_to_a_reset_peer_is_an_error_not_a_signal() {
    let rt = runtime(1);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let c = spawn(async move { TcpStream::connect(addr).await.unwrap() });
        let (server_side, _) = listener.accept().await.unwrap();
        // The client's connect must have completed before the reset, or it may see the
        // reset itself (a race the test once lost).
        let mut client = c.await.unwrap();
        // Linger 0: closing sends a reset instead of a FIN.
        socket2::SockRef::from(&server_side)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(server_side);
        weft_timer::sleep(Duration::from_millis(20)).await;
        let mut result = Ok(());
        for _ in 0..100 {
            if let Err(e) = client.write_all(&[0; 1024]).await {
                result = Err(e);
                break;
            }
            weft_timer::sleep(Duration::from_millis(1)).await;
        }
        let e = result.expect_err("writes to a reset peer kept succeeding");
        assert!(
            matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
            "{e:?}"
        );
    });
}

#[test]
fn a_name_that_does_not_resolve_is_an_error() {
    let rt = runtime(1);
    rt.block_on(async {
        let err = TcpStream::connect("no-such-host.invalid:80")
            .await
            .unwrap_err();
        assert_ne!(err.kind(), ErrorKind::ConnectionRefused);
        let err = TcpStream::connect(("no-such-host.invalid", 80))
            .await
            .unwrap_err();
        assert_ne!(err.kind(), ErrorKind::ConnectionRefused);
        // And a literal address needs no lookup at all.
        let l = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        assert!(l.local_addr().unwrap().ip().is_loopback());
    });
}

#[test]
fn dropping_pending_accept_and_read_loses_nothing() {
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // An accept that times out, then a connection, then accept again: it is there.
        assert!(
            weft_timer::timeout(Duration::from_millis(10), listener.accept())
                .await
                .is_err()
        );
        let c = spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"kept").await.unwrap();
            s
        });
        let (mut conn, _) = bounded(listener.accept()).await.unwrap();
        let _client = c.await.unwrap();
        // A read that times out before the data... here the data is already there, so
        // first drain one byte, then time out on an empty socket, then read the rest.
        let mut one = [0; 1];
        conn.read_exact(&mut one).await.unwrap();
        let mut rest = [0; 3];
        let r = weft_timer::timeout(Duration::from_millis(10), async {
            let mut more = [0; 100];
            let n = conn.read(&mut more).await.unwrap();
            rest.copy_from_slice(&more[..n.min(3)]);
            n
        })
        .await;
        // Either the read completed with the bytes (then they were returned), or it was
        // cancelled before taking anything.
        match r {
            Ok(n) => assert_eq!((n, &rest), (3, b"ept")),
            Err(_) => {
                conn.read_exact(&mut rest).await.unwrap();
                assert_eq!(&rest, b"ept");
            }
        }
        assert_eq!(one, *b"k");
    });
}

#[test]
fn sockets_outside_a_runtime_say_how_to_get_one() {
    let err = weft_executor::block_on(TcpListener::bind("127.0.0.1:0")).unwrap_err();
    assert!(err.to_string().contains("weft::run"), "{err}");
}

#[test]
fn the_slab_is_empty_after_ten_thousand_connections() {
    let rt = runtime(2);
    rt.block_on(async {
        let base = reactor().registrations();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        spawn(async move {
            loop {
                let (s, _) = listener.accept().await.unwrap();
                spawn(async move {
                    let mut b = [0; 1];
                    let _ = s.read(&mut b).await;
                });
            }
        });
        for batch in 0..100 {
            let conns: Vec<_> = (0..100)
                .map(|_| spawn(async move { TcpStream::connect(addr).await.unwrap() }))
                .collect();
            for c in conns {
                let s = c.await.unwrap();
                s.shutdown(Shutdown::Both).unwrap();
            }
            let _ = batch;
        }
        // The listener (1) stays; every connection, both sides, is gone once the
        // server tasks see end-of-stream.
        bounded(async {
            while reactor().registrations() > base + 1 {
                weft_timer::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert_eq!(reactor().registrations(), base + 1);
    });
}

#[test]
fn names_outside_a_runtime_are_an_error_not_a_panic() {
    let err = weft_executor::block_on(TcpStream::connect("localhost:1")).unwrap_err();
    assert!(err.to_string().contains("weft::run"), "{err}");
}

#[test]
fn sockets_fail_after_their_runtime_shuts_down() {
    let rt = runtime(1);
    let (a, _b) = rt.block_on(async { UnixStream::pair().unwrap() });
    drop(rt);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8];
        tx.send(weft_executor::block_on(async move {
            let mut a = a;
            a.read(&mut buf).await
        }))
        .unwrap();
    });
    let r = rx
        .recv_timeout(common::HANG)
        .expect("a read after shutdown hung");
    assert!(r.unwrap_err().to_string().contains("shut down"));
}

/// Reads into a `Vec`'s spare capacity through `poll_read_uninit` until end of stream.
async fn read_to_end_uninit(
    mut poll: impl FnMut(
        &mut std::task::Context<'_>,
        &mut [std::mem::MaybeUninit<u8>],
    ) -> std::task::Poll<std::io::Result<usize>>,
) -> Vec<u8> {
    let mut all: Vec<u8> = Vec::with_capacity(7);
    loop {
        if all.spare_capacity_mut().is_empty() {
            all.reserve(7);
        }
        let n = std::future::poll_fn(|cx| poll(cx, all.spare_capacity_mut()))
            .await
            .unwrap();
        if n == 0 {
            return all;
        }
        assert!(n <= all.spare_capacity_mut().len());
        // SAFETY: the receive initialized the first `n` bytes of the spare capacity.
        unsafe { all.set_len(all.len() + n) };
    }
}

#[test]
fn poll_read_uninit_receives_into_spare_capacity() {
    let rt = runtime(2);
    rt.block_on(async {
        let message: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        // A TCP stream, its owned read half, and a Unix stream.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sent = message.clone();
        let writer = spawn(async move {
            for _ in 0..2 {
                let (mut conn, _) = listener.accept().await.unwrap();
                conn.write_all(&sent).await.unwrap();
            }
        });
        let mut whole = TcpStream::connect(addr).await.unwrap();
        let got = read_to_end_uninit(|cx, buf| whole.poll_read_uninit(cx, buf)).await;
        assert_eq!(got, message);
        let (mut read, _write) = TcpStream::connect(addr).await.unwrap().into_split();
        let got = read_to_end_uninit(|cx, buf| read.poll_read_uninit(cx, buf)).await;
        assert_eq!(got, message);
        writer.await.unwrap();

        let (mut a, mut b) = UnixStream::pair().unwrap();
        let sent = message.clone();
        let writer = spawn(async move {
            b.write_all(&sent).await.unwrap();
        });
        let got = read_to_end_uninit(|cx, buf| a.poll_read_uninit(cx, buf)).await;
        assert_eq!(got, message);
        writer.await.unwrap();
    });
}

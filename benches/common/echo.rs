//! Loopback TCP echo, written against each runtime's own socket API: 50 connections at
//! once, each 200 round trips of 64 bytes, to an echo server on the same runtime.

use super::{Rt, Smol, Tokio, Weft};

pub const CONNS: usize = 50;
pub const ROUNDS: usize = 200;
pub const MSG: usize = 64;

pub fn weft_echo(rt: &Weft) {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use weft_reactor::{TcpListener, TcpStream};
    let total = rt.run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = weft_executor::spawn(async move {
            for _ in 0..CONNS {
                let (mut s, _) = listener.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                weft_executor::spawn(async move {
                    let mut buf = [0; MSG];
                    while s.read_exact(&mut buf).await.is_ok() {
                        s.write_all(&buf).await.unwrap();
                    }
                });
            }
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|_| {
                weft_executor::spawn(async move {
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    s.set_nodelay(true).unwrap();
                    let mut buf = [7u8; MSG];
                    for _ in 0..ROUNDS {
                        s.write_all(&buf).await.unwrap();
                        s.read_exact(&mut buf).await.unwrap();
                    }
                    ROUNDS
                })
            })
            .collect();
        let mut total = 0;
        for c in clients {
            total += c.await.unwrap();
        }
        server.await.unwrap();
        total
    });
    assert_eq!(total, CONNS * ROUNDS);
}

pub fn tokio_echo(rt: &Tokio) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    let total = rt.run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            for _ in 0..CONNS {
                let (mut s, _) = listener.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    let mut buf = [0; MSG];
                    while s.read_exact(&mut buf).await.is_ok() {
                        s.write_all(&buf).await.unwrap();
                    }
                });
            }
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|_| {
                tokio::spawn(async move {
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    s.set_nodelay(true).unwrap();
                    let mut buf = [7u8; MSG];
                    for _ in 0..ROUNDS {
                        s.write_all(&buf).await.unwrap();
                        s.read_exact(&mut buf).await.unwrap();
                    }
                    ROUNDS
                })
            })
            .collect();
        let mut total = 0;
        for c in clients {
            total += c.await.unwrap();
        }
        server.await.unwrap();
        total
    });
    assert_eq!(total, CONNS * ROUNDS);
}

pub fn smol_echo(rt: &Smol) {
    use async_io::Async;
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use std::net::{TcpListener, TcpStream};
    let total = rt.run(async {
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
        let addr = listener.get_ref().local_addr().unwrap();
        let server = Smol::spawn(async move {
            for _ in 0..CONNS {
                let (mut s, _) = listener.accept().await.unwrap();
                s.get_ref().set_nodelay(true).unwrap();
                Smol::spawn(async move {
                    let mut buf = [0; MSG];
                    while s.read_exact(&mut buf).await.is_ok() {
                        s.write_all(&buf).await.unwrap();
                    }
                })
                .detach();
            }
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|_| {
                Smol::spawn(async move {
                    let mut s = Async::<TcpStream>::connect(addr).await.unwrap();
                    s.get_ref().set_nodelay(true).unwrap();
                    let mut buf = [7u8; MSG];
                    for _ in 0..ROUNDS {
                        s.write_all(&buf).await.unwrap();
                        s.read_exact(&mut buf).await.unwrap();
                    }
                    ROUNDS
                })
            })
            .collect();
        let mut total = 0;
        for c in clients {
            total += c.await;
        }
        server.await;
        total
    });
    assert_eq!(total, CONNS * ROUNDS);
}

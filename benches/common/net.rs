//! Loopback TCP workloads, written once against [`Net`]: each runtime implements it with
//! its own socket API (tokio's I/O traits differ from the futures-io ones weft and smol
//! share), so the workloads are the same code on all three.

use super::{Rt, Smol, Tokio, Weft};
use std::future::Future;
use std::io;
use std::net::SocketAddr;

/// `echo`: connections at once, round trips each, bytes per message.
pub const CONNS: usize = 50;
pub const ROUNDS: usize = 200;
pub const MSG: usize = 64;
/// `stream`: bytes carried, in writes and reads of `CHUNK`.
pub const STREAM: usize = 1 << 30;
pub const CHUNK: usize = 256 * 1024;

/// A runtime's TCP sockets, as the workloads use them.
pub trait Net: Rt {
    type Listener: Send + Sync + 'static;
    type Stream: Send + 'static;
    /// A listener on 127.0.0.1, any port, and its address.
    fn bind() -> impl Future<Output = (Self::Listener, SocketAddr)> + Send;
    fn accept(l: &Self::Listener) -> impl Future<Output = Self::Stream> + Send;
    fn connect(addr: SocketAddr) -> impl Future<Output = Self::Stream> + Send;
    fn set_nodelay(s: &Self::Stream);
    fn read<'a>(
        s: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;
    fn read_exact<'a>(
        s: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
    fn write_all<'a>(
        s: &'a mut Self::Stream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
}

/// Loopback echo: `CONNS` connections at once, each `ROUNDS` round trips of `MSG` bytes,
/// to an echo server on the same runtime.
pub fn echo<R: Net>(rt: &R) {
    let total = rt.run(async {
        let (listener, addr) = R::bind().await;
        let server = R::spawn(async move {
            for _ in 0..CONNS {
                let mut s = R::accept(&listener).await;
                R::set_nodelay(&s);
                R::detach(async move {
                    let mut buf = [0; MSG];
                    while R::read_exact(&mut s, &mut buf).await.is_ok() {
                        R::write_all(&mut s, &buf).await.unwrap();
                    }
                });
            }
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|_| {
                R::spawn(async move {
                    let mut s = R::connect(addr).await;
                    R::set_nodelay(&s);
                    let mut buf = [7u8; MSG];
                    for _ in 0..ROUNDS {
                        R::write_all(&mut s, &buf).await.unwrap();
                        R::read_exact(&mut s, &mut buf).await.unwrap();
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

/// One connection carries `STREAM` bytes from a writer task to a reader task.
pub fn stream<R: Net>(rt: &R) {
    let got = rt.run(async {
        let (listener, addr) = R::bind().await;
        let writer = R::spawn(async move {
            let mut s = R::accept(&listener).await;
            let buf = vec![1u8; CHUNK];
            let mut sent = 0;
            while sent < STREAM {
                R::write_all(&mut s, &buf).await.unwrap();
                sent += CHUNK;
            }
        });
        let mut s = R::connect(addr).await;
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0;
        loop {
            let n = R::read(&mut s, &mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got += n;
        }
        writer.await;
        got
    });
    assert_eq!(got, STREAM);
}

/// The reads and writes of a futures-io stream (weft's and smol's).
macro_rules! futures_io {
    () => {
        fn read<'a>(
            s: &'a mut Self::Stream,
            buf: &'a mut [u8],
        ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
            futures_lite::AsyncReadExt::read(s, buf)
        }
        fn read_exact<'a>(
            s: &'a mut Self::Stream,
            buf: &'a mut [u8],
        ) -> impl Future<Output = io::Result<()>> + Send + 'a {
            futures_lite::AsyncReadExt::read_exact(s, buf)
        }
        fn write_all<'a>(
            s: &'a mut Self::Stream,
            buf: &'a [u8],
        ) -> impl Future<Output = io::Result<()>> + Send + 'a {
            futures_lite::AsyncWriteExt::write_all(s, buf)
        }
    };
}

impl Net for Weft {
    type Listener = weft_reactor::TcpListener;
    type Stream = weft_reactor::TcpStream;
    async fn bind() -> (Self::Listener, SocketAddr) {
        let l = weft_reactor::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let addr = l.local_addr().unwrap();
        (l, addr)
    }
    async fn accept(l: &Self::Listener) -> Self::Stream {
        l.accept().await.unwrap().0
    }
    async fn connect(addr: SocketAddr) -> Self::Stream {
        weft_reactor::TcpStream::connect(addr).await.unwrap()
    }
    fn set_nodelay(s: &Self::Stream) {
        s.set_nodelay(true).unwrap();
    }
    futures_io!();
}

impl Net for Smol {
    type Listener = async_io::Async<std::net::TcpListener>;
    type Stream = async_io::Async<std::net::TcpStream>;
    async fn bind() -> (Self::Listener, SocketAddr) {
        let l = async_io::Async::<std::net::TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
        let addr = l.get_ref().local_addr().unwrap();
        (l, addr)
    }
    async fn accept(l: &Self::Listener) -> Self::Stream {
        l.accept().await.unwrap().0
    }
    async fn connect(addr: SocketAddr) -> Self::Stream {
        async_io::Async::<std::net::TcpStream>::connect(addr)
            .await
            .unwrap()
    }
    fn set_nodelay(s: &Self::Stream) {
        s.get_ref().set_nodelay(true).unwrap();
    }
    futures_io!();
}

impl Net for Tokio {
    type Listener = tokio::net::TcpListener;
    type Stream = tokio::net::TcpStream;
    async fn bind() -> (Self::Listener, SocketAddr) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        (l, addr)
    }
    async fn accept(l: &Self::Listener) -> Self::Stream {
        l.accept().await.unwrap().0
    }
    async fn connect(addr: SocketAddr) -> Self::Stream {
        tokio::net::TcpStream::connect(addr).await.unwrap()
    }
    fn set_nodelay(s: &Self::Stream) {
        s.set_nodelay(true).unwrap();
    }
    fn read<'a>(
        s: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        tokio::io::AsyncReadExt::read(s, buf)
    }
    async fn read_exact<'a>(s: &'a mut Self::Stream, buf: &'a mut [u8]) -> io::Result<()> {
        tokio::io::AsyncReadExt::read_exact(s, buf).await.map(drop)
    }
    fn write_all<'a>(
        s: &'a mut Self::Stream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        tokio::io::AsyncWriteExt::write_all(s, buf)
    }
}

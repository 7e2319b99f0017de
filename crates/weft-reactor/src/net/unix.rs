//! Unix-domain sockets: `UnixListener`, `UnixStream`, `UnixDatagram`.

use super::connect_socket;
use crate::async_fd::{Async, Polled};
use crate::source::{Direction, WaitSlot};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::Shutdown;
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A Unix-domain socket listening for connections.
///
/// # Examples
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use weft_reactor::{UnixListener, UnixStream};
/// # let rt = weft_reactor::install(&mut weft_executor::Builder::new()).unwrap().build().unwrap();
/// rt.block_on(async {
///     let dir = std::env::temp_dir().join(format!("weft-doc-{}", std::process::id()));
///     std::fs::create_dir_all(&dir).unwrap();
///     let path = dir.join("sock");
///     let _ = std::fs::remove_file(&path);
///     let listener = UnixListener::bind(&path).unwrap();
///     let p = path.clone();
///     let client = weft_executor::spawn(async move {
///         let mut s = UnixStream::connect(&p).await.unwrap();
///         s.write_all(b"over unix").await.unwrap();
///     });
///     let (mut conn, _) = listener.accept().await.unwrap();
///     let mut got = String::new();
///     conn.read_to_string(&mut got).await.unwrap();
///     assert_eq!(got, "over unix");
///     client.await.unwrap();
///     std::fs::remove_dir_all(&dir).unwrap();
/// });
/// ```
pub struct UnixListener {
    inner: Async<net::UnixListener>,
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.get_ref().fmt(f)
    }
}

impl UnixListener {
    /// Binds to a path (which must not exist).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::from_std(net::UnixListener::bind(path)?)
    }

    /// Registers a listener made with the standard library.
    pub fn from_std(listener: net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            inner: Async::new(listener)?,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Accepts a connection. Cancel-safe; dropping the future removes its waker.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let mut w = self.inner.waiter(Direction::Read);
        poll_fn(|cx| self.poll_accept_in(Some(&mut w.slot), cx)).await
    }

    /// Polls for a connection. See [`TcpListener::poll_accept`](crate::TcpListener::poll_accept)
    /// for the budget and the waker.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        self.poll_accept_in(None, cx)
    }

    fn poll_accept_in(
        &self,
        slot: Option<&mut WaitSlot>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        super::poll_accept_registered(&self.inner, slot, cx, |l| l.accept()).map_ok(
            |(inner, addr)| {
                (
                    UnixStream {
                        inner: Polled::new(inner),
                    },
                    addr,
                )
            },
        )
    }

    /// The stream of incoming connections.
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming::new(self)
    }

    super::into_std!(net::UnixListener);
}

super::incoming!(UnixIncoming, UnixListener, UnixStream);

/// A Unix-domain stream. Implements `futures_io::AsyncRead` and `AsyncWrite`.
pub struct UnixStream {
    inner: Polled<Arc<Async<net::UnixStream>>>,
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.get_ref().fmt(f)
    }
}

impl UnixStream {
    /// Connects to the socket at `path`.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let socket = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
        let addr = socket2::SockAddr::unix(path)?;
        let io = connect_socket(socket, &addr, net::UnixStream::from).await?;
        Ok(UnixStream {
            inner: Polled::new(Arc::new(io)),
        })
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Registers a stream made with the standard library.
    pub fn from_std(stream: net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            inner: Polled::new(Arc::new(Async::new(stream)?)),
        })
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Shuts down the read side, the write side, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }

    super::stream_api!(net::UnixStream);

    super::readiness!();
}

super::stream_halves!(
    UnixStream,
    net::UnixStream,
    SocketAddr,
    UnixReadHalf,
    UnixWriteHalf,
    OwnedUnixReadHalf,
    OwnedUnixWriteHalf,
    super::buf::recv_plain
);

/// A Unix-domain datagram socket. Every operation is cancel-safe.
///
/// # Examples
///
/// ```
/// use weft_reactor::UnixDatagram;
/// # let rt = weft_reactor::install(&mut weft_executor::Builder::new()).unwrap().build().unwrap();
/// rt.block_on(async {
///     let (a, b) = UnixDatagram::pair().unwrap();
///     a.send(b"datagram").await.unwrap();
///     let mut buf = [0; 16];
///     let n = b.recv(&mut buf).await.unwrap();
///     assert_eq!(&buf[..n], b"datagram");
/// });
/// ```
pub struct UnixDatagram {
    inner: Async<net::UnixDatagram>,
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.get_ref().fmt(f)
    }
}

impl UnixDatagram {
    /// Binds to a path.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(net::UnixDatagram::bind(path)?)
    }

    /// A socket bound to no address.
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(net::UnixDatagram::unbound()?)
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_std(a)?, UnixDatagram::from_std(b)?))
    }

    /// Registers a socket made with the standard library.
    pub fn from_std(socket: net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            inner: Async::new(socket)?,
        })
    }

    /// Sets the default destination.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.inner.get_ref().connect(path)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The address connected to.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Sends a datagram to `path`.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        self.inner.write_with(|s| s.send_to(buf, path)).await
    }

    /// Sends a datagram to `path` if the socket can send now; `WouldBlock` otherwise (and
    /// [`writable`](UnixDatagram::writable) then waits).
    pub fn try_send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        self.inner
            .try_io(crate::Interest::WRITABLE, |s| s.send_to(buf, path.as_ref()))
    }

    super::datagram_io!(SocketAddr);

    super::into_std!(net::UnixDatagram);

    super::readiness!();
}

super::impl_as_fd!(UnixListener, UnixStream, UnixDatagram);

impl UnixStream {
    /// Runs `op`, a read of the caller's own on the socket, waiting for readability whenever
    /// it returns `WouldBlock`: see [`TcpStream::poll_read_with`](crate::TcpStream::poll_read_with).
    pub fn poll_read_with<R>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnMut(&net::UnixStream) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.inner.poll_read_with(cx, op)
    }
}

//! TCP: `TcpListener` and `TcpStream`.

use super::addr::{try_each, ToSocketAddrs};
use super::connect_socket;
use crate::async_fd::{Async, Polled};
use crate::source::{Direction, WaitSlot};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{self, Shutdown, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// A TCP socket listening for connections.
///
/// # Examples
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use weft_reactor::{TcpListener, TcpStream};
/// # let rt = weft_reactor::install(&mut weft_executor::Builder::new()).unwrap().build().unwrap();
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     weft_executor::spawn(async move {
///         let (mut conn, _) = listener.accept().await.unwrap();
///         conn.write_all(b"hello").await.unwrap();
///     });
///     let mut client = TcpStream::connect(addr).await.unwrap();
///     let mut got = String::new();
///     client.read_to_string(&mut got).await.unwrap();
///     assert_eq!(got, "hello");
/// });
/// ```
pub struct TcpListener {
    inner: Async<net::TcpListener>,
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.get_ref().fmt(f)
    }
}

impl TcpListener {
    /// Binds to the first address of `addr` that works (port 0 picks a free port).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let l = try_each(&addr, |a| std::future::ready(net::TcpListener::bind(a))).await?;
        TcpListener::from_std(l)
    }

    /// Registers a listener made with the standard library.
    ///
    /// On Linux this also sets the listener's `TCP_INQ` option, which the connections it
    /// accepts inherit: their reads through `poll_read_uninit` then learn whether they
    /// emptied the receive queue (so a `recvmsg(2)` of your own with a control buffer on
    /// them also receives a `TCP_CM_INQ` message).
    pub fn from_std(listener: net::TcpListener) -> io::Result<TcpListener> {
        super::buf::note_queue_on_accepted(socket2::SockRef::from(&listener));
        Ok(TcpListener {
            inner: Async::new(listener)?,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Accepts a connection.
    ///
    /// Cancel-safe: a connection is only taken from the queue by the poll that returns it.
    /// Errors (for example `EMFILE`, out of file descriptors) are returned as they come;
    /// the listener keeps working.
    ///
    /// Dropping the future removes its waker.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let mut w = self.inner.waiter(Direction::Read);
        poll_fn(|cx| self.poll_accept_in(Some(&mut w.slot), cx)).await
    }

    /// Polls for a connection. Spends a unit of the task's cooperative budget when one
    /// is accepted (or an error returned).
    ///
    /// Callers through `&self` share one waker (see
    /// [`Async::poll_readable`](crate::Async::poll_readable)); to accept from several
    /// tasks use [`accept`](TcpListener::accept) or [`incoming`](TcpListener::incoming).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.poll_accept_in(None, cx)
    }

    fn poll_accept_in(
        &self,
        slot: Option<&mut WaitSlot>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        super::poll_accept_registered(&self.inner, slot, cx, |l| l.accept()).map_ok(
            |(inner, addr)| {
                (
                    TcpStream {
                        inner: Polled::new(inner),
                    },
                    addr,
                )
            },
        )
    }

    /// The stream of incoming connections.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming::new(self)
    }

    /// The time-to-live of the packets of accepted connections (`IP_TTL`).
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get_ref().ttl()
    }

    /// Sets `IP_TTL` (inherited by connections accepted afterwards).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_ttl(ttl)
    }

    super::into_std!(net::TcpListener);
}

super::incoming!(Incoming, TcpListener, TcpStream);

/// A TCP connection. Implements `futures_io::AsyncRead` and `AsyncWrite`.
///
/// See [`TcpListener`] for an example.
pub struct TcpStream {
    inner: Polled<Arc<Async<net::TcpStream>>>,
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.get_ref().fmt(f)
    }
}

impl TcpStream {
    /// Connects to the first address of `addr` that accepts (names are resolved on the
    /// blocking pool). A refused connection is an error of kind `ConnectionRefused`.
    ///
    /// Not resumable: dropping the future closes the socket being connected.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        try_each(&addr, TcpStream::connect_addr).await
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        TcpStream::connect_socket(socket, addr).await
    }

    /// Connects `socket` (a `TcpSocket`'s, or a new one) to `addr`.
    pub(crate) async fn connect_socket(
        socket: socket2::Socket,
        addr: SocketAddr,
    ) -> io::Result<TcpStream> {
        let io = connect_socket(socket, &addr.into(), net::TcpStream::from).await?;
        Ok(TcpStream {
            inner: Polled::new(Arc::new(io)),
        })
    }

    /// Registers a connected stream made with the standard library.
    pub fn from_std(stream: net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: Polled::new(Arc::new(Async::new(stream)?)),
        })
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Sets `TCP_NODELAY` (send small writes at once, without Nagle's delay).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.get_ref().nodelay()
    }

    /// Shuts down the read side, the write side, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }

    /// Reads into `buf`; `Ok(0)` means the peer closed its write side. Cancel-safe.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read_with(|mut s| std::io::Read::read(&mut s, buf))
            .await
    }

    /// Writes some of `buf`. Cancel-safe (a dropped write wrote nothing).
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner
            .write_with(|mut s| std::io::Write::write(&mut s, buf))
            .await
    }

    /// `SO_LINGER`: `None` (the default) if closing the stream returns at once and the
    /// system sends what is left in the background; `Some(Duration::ZERO)` if closing
    /// resets the connection.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        socket2::SockRef::from(self.inner.get_ref()).linger()
    }

    /// Sets `SO_LINGER` to `None` or `Some(Duration::ZERO)` (see
    /// [`linger`](TcpStream::linger)).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for any other duration: a lingering close blocks the thread that
    /// drops the stream (a worker of the runtime) until the data is sent or the time is
    /// up. To make sure the peer got everything, `shutdown(Shutdown::Write)` and read until
    /// it closes, then drop.
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        super::socket::set_linger(socket2::SockRef::from(self.inner.get_ref()), dur)
    }

    /// Makes closing the stream reset the connection (`SO_LINGER` of zero): the peer
    /// gets `ConnectionReset` instead of an end of stream, and no `TIME_WAIT` is left.
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.set_linger(Some(Duration::ZERO))
    }

    /// The time-to-live of the packets sent (`IP_TTL`).
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get_ref().ttl()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_ttl(ttl)
    }

    super::stream_api!(net::TcpStream);

    super::readiness!();
}

super::stream_halves!(
    TcpStream,
    net::TcpStream,
    SocketAddr,
    ReadHalf,
    WriteHalf,
    OwnedReadHalf,
    OwnedWriteHalf,
    super::buf::recv_noting_queue
);

super::impl_as_fd!(TcpListener, TcpStream);

impl TcpStream {
    /// Runs `op`, a read of the caller's own on the socket (say a `read(2)` into memory that
    /// is not initialized, as hyper's buffer is), waiting for readability whenever it returns
    /// `WouldBlock`; the stream's own reads go the same way, cooperative budget included.
    /// It keeps its waker as `AsyncRead::poll_read` does.
    pub fn poll_read_with<R>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnMut(&net::TcpStream) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.inner.poll_read_with(cx, op)
    }
}

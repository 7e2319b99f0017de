//! `TcpSocket`: a TCP socket set up (options, local address) before it connects or
//! listens, as tokio's.

use super::tcp::{TcpListener, TcpStream};
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use std::fmt;
use std::io;
use std::net::{self, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

/// A TCP socket not yet connected or listening: set its options and bind it, then turn
/// it into a [`TcpStream`] with [`connect`](TcpSocket::connect) or a [`TcpListener`] with
/// [`listen`](TcpSocket::listen).
///
/// This is how a server spreads over several processes (or several listeners in one) on
/// one port: each sets [`set_reuseport`](TcpSocket::set_reuseport) before binding, and the
/// kernel shares the incoming connections among them. And how a client picks its local
/// address or its buffer sizes before it connects.
///
/// Creating one needs no runtime; `connect` and `listen` do (as every socket does).
///
/// # Examples
///
/// A listener with a backlog of 1024 and `SO_REUSEADDR`, and a client with a small send
/// buffer:
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use weft_reactor::TcpSocket;
/// # let rt = weft_reactor::install(&mut weft_executor::Builder::new()).unwrap().build().unwrap();
/// rt.block_on(async {
///     let socket = TcpSocket::new_v4().unwrap();
///     socket.set_reuseaddr(true).unwrap();
///     socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let listener = socket.listen(1024).unwrap();
///     let addr = listener.local_addr().unwrap();
///     weft_executor::spawn(async move {
///         let (mut conn, _) = listener.accept().await.unwrap();
///         conn.write_all(b"hi").await.unwrap();
///     });
///
///     let client = TcpSocket::new_v4().unwrap();
///     client.set_send_buffer_size(16 * 1024).unwrap();
///     let mut stream = client.connect(addr).await.unwrap();
///     let mut got = String::new();
///     stream.read_to_string(&mut got).await.unwrap();
///     assert_eq!(got, "hi");
/// });
/// ```
pub struct TcpSocket {
    inner: Socket,
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl TcpSocket {
    /// A new IPv4 TCP socket.
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// A new IPv6 TCP socket.
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    fn new(domain: Domain) -> io::Result<TcpSocket> {
        // Close-on-exec (socket2 sets it); non-blocking once it connects or listens.
        let inner = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        Ok(TcpSocket { inner })
    }

    /// A socket made of a connected standard-library stream (to read its options, or
    /// connect it again after `take_error`).
    pub fn from_std_stream(stream: net::TcpStream) -> TcpSocket {
        TcpSocket {
            inner: Socket::from(stream),
        }
    }

    /// Sets `SO_KEEPALIVE`: the system probes an idle connection and reports a dead peer.
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.inner.set_keepalive(keepalive)
    }

    /// Whether `SO_KEEPALIVE` is set.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.inner.keepalive()
    }

    /// Sets `SO_REUSEADDR`: on Unix, lets a listener bind a port that connections of an
    /// earlier one still hold in `TIME_WAIT` (a server restarting at once).
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        self.inner.set_reuse_address(reuseaddr)
    }

    /// Whether `SO_REUSEADDR` is set.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.inner.reuse_address()
    }

    /// Sets `SO_REUSEPORT`: several sockets (of one user) may bind the same address and
    /// port, and on Linux the kernel spreads incoming connections among their listeners.
    /// Every one of them must set it before `bind`.
    #[cfg(not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin")))]
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        self.inner.set_reuse_port(reuseport)
    }

    /// Whether `SO_REUSEPORT` is set.
    #[cfg(not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin")))]
    pub fn reuseport(&self) -> io::Result<bool> {
        self.inner.reuse_port()
    }

    /// Sets `SO_SNDBUF`, the size of the send buffer the system keeps (Linux doubles the
    /// value, for its bookkeeping, and [`send_buffer_size`](TcpSocket::send_buffer_size)
    /// reports the doubled size).
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_send_buffer_size(to_usize(size))
    }

    /// `SO_SNDBUF`.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.inner.send_buffer_size().map(saturate)
    }

    /// Sets `SO_RCVBUF`, the size of the receive buffer (doubled by Linux, as the send
    /// buffer's).
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_recv_buffer_size(to_usize(size))
    }

    /// `SO_RCVBUF`.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.inner.recv_buffer_size().map(saturate)
    }

    /// Sets `SO_LINGER` to `None` or `Some(Duration::ZERO)`; see
    /// [`TcpStream::set_linger`], which refuses other durations for the same reason.
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        set_linger(SockRef::from(&self.inner), dur)
    }

    /// Makes closing the connection reset it (`SO_LINGER` of zero).
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.set_linger(Some(Duration::ZERO))
    }

    /// `SO_LINGER`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.inner.linger()
    }

    /// Sets `TCP_NODELAY` (small writes sent at once, without Nagle's delay).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_tcp_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.tcp_nodelay()
    }

    /// The IPv4 type-of-service byte (`IP_TOS`).
    pub fn tos_v4(&self) -> io::Result<u32> {
        self.inner.tos_v4()
    }

    /// Sets `IP_TOS` (the DSCP and ECN bits of the IPv4 packets sent).
    pub fn set_tos_v4(&self, tos: u32) -> io::Result<()> {
        self.inner.set_tos_v4(tos)
    }

    /// [`tos_v4`](TcpSocket::tos_v4) under tokio's older name.
    pub fn tos(&self) -> io::Result<u32> {
        self.tos_v4()
    }

    /// [`set_tos_v4`](TcpSocket::set_tos_v4) under tokio's older name.
    pub fn set_tos(&self, tos: u32) -> io::Result<()> {
        self.set_tos_v4(tos)
    }

    /// The network interface the socket is bound to (`SO_BINDTODEVICE`), if any.
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    pub fn device(&self) -> io::Result<Option<Vec<u8>>> {
        self.inner.device()
    }

    /// Binds the socket to a network interface by name (`SO_BINDTODEVICE`; `None`
    /// removes it). Binding needs `CAP_NET_RAW` on most kernels.
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    pub fn bind_device(&self, interface: Option<&[u8]>) -> io::Result<()> {
        self.inner.bind_device(interface)
    }

    /// The local address (after [`bind`](TcpSocket::bind); port 0 bound shows the port
    /// picked).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()?.as_socket().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "a TCP socket's local address is not an IP address",
            )
        })
    }

    /// The pending error of the socket (`SO_ERROR`), cleared by the call.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.take_error()
    }

    /// Binds the socket to `addr` (port 0: the system picks a free port), before
    /// `connect` (to choose the local address of a connection) or `listen`.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.inner.bind(&addr.into())
    }

    /// Connects to `addr` and returns the stream. A refused connection is an error of
    /// kind `ConnectionRefused`.
    ///
    /// Not resumable: dropping the future closes the socket.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect_socket(self.inner, addr).await
    }

    /// Listens for connections, with room for `backlog` of them waiting to be accepted
    /// (the system caps it, at `net.core.somaxconn` on Linux), and returns the listener.
    /// Binds to a free port of the unspecified address if `bind` was not called.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a backlog above `i32::MAX` (what `listen(2)` takes); the
    /// system's errors otherwise.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let backlog = i32::try_from(backlog).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a listen backlog must be at most i32::MAX (the system caps it far lower)",
            )
        })?;
        self.inner.listen(backlog)?;
        TcpListener::from_std(net::TcpListener::from(self.inner))
    }
}

/// `SO_LINGER`, refusing the settings that would block the thread closing the socket.
pub(crate) fn set_linger(sock: SockRef<'_>, dur: Option<Duration>) -> io::Result<()> {
    match dur {
        None => sock.set_linger(None),
        Some(d) if d.is_zero() => sock.set_linger(Some(Duration::ZERO)),
        Some(_) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a non-zero SO_LINGER would block the runtime's worker that drops the socket; \
             use None (the system sends what is left in the background) or Duration::ZERO \
             (reset), or shut down the write side and read to the end before dropping",
        )),
    }
}

fn to_usize(size: u32) -> usize {
    usize::try_from(size).unwrap_or(usize::MAX)
}

fn saturate(size: usize) -> u32 {
    u32::try_from(size).unwrap_or(u32::MAX)
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl From<std::os::fd::OwnedFd> for TcpSocket {
    /// A socket of the caller's own (it must be a TCP socket).
    fn from(fd: std::os::fd::OwnedFd) -> TcpSocket {
        TcpSocket {
            inner: Socket::from(fd),
        }
    }
}

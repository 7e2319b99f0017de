//! UDP: `UdpSocket`.

use super::addr::{resolve_first, try_each, ToSocketAddrs};
use crate::async_fd::Async;
use std::fmt;
use std::io;
use std::net::{self, SocketAddr};

/// A UDP socket.
///
/// Every operation is cancel-safe: a datagram is received (or sent) only by the poll that
/// returns it.
///
/// # Examples
///
/// ```
/// use weft_reactor::UdpSocket;
/// # let rt = weft_reactor::install(&mut weft_executor::Builder::new()).unwrap().build().unwrap();
/// rt.block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     a.send_to(b"ping", b.local_addr().unwrap()).await.unwrap();
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await.unwrap();
///     assert_eq!(&buf[..n], b"ping");
///     assert_eq!(from, a.local_addr().unwrap());
/// });
/// ```
pub struct UdpSocket {
    inner: Async<net::UdpSocket>,
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.get_ref().fmt(f)
    }
}

impl UdpSocket {
    /// Binds to the first address of `addr` that works.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let s = try_each(&addr, |a| std::future::ready(net::UdpSocket::bind(a))).await?;
        UdpSocket::from_std(s)
    }

    /// Registers a socket made with the standard library.
    pub fn from_std(socket: net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: Async::new(socket)?,
        })
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The address connected to.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Sets the default destination (and the only source `recv` accepts from).
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        try_each(&addr, |a| {
            std::future::ready(self.inner.get_ref().connect(a))
        })
        .await
    }

    /// Sends a datagram to `target` (its first address).
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = resolve_first(&target).await?;
        self.inner.write_with(|s| s.send_to(buf, target)).await
    }

    super::datagram_io!(SocketAddr);

    /// Polls to receive a datagram and its sender. Spends a unit of the task's
    /// cooperative budget when one is received (or an error returned).
    ///
    /// Callers through `&self` share one waker per direction (see
    /// [`Async::poll_readable`](crate::Async::poll_readable)); to receive from several
    /// tasks use [`recv_from`](UdpSocket::recv_from), whose future removes its waker when
    /// dropped.
    pub fn poll_recv_from(
        &self,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<io::Result<(usize, SocketAddr)>> {
        self.inner.poll_read_with(cx, |s| s.recv_from(buf))
    }

    /// Polls to send a datagram to `target`. See
    /// [`poll_recv_from`](UdpSocket::poll_recv_from).
    pub fn poll_send_to(
        &self,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> std::task::Poll<io::Result<usize>> {
        self.inner.poll_write_with(cx, |s| s.send_to(buf, target))
    }

    super::readiness!();
}

super::impl_as_fd!(UdpSocket);

//! UDP: `UdpSocket`.

use super::addr::{resolve_first, try_each, ToSocketAddrs};
use crate::async_fd::Async;
use std::fmt;
use std::io;
use std::net::{self, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::task::{Context, Poll};

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

    /// Polls to send a datagram to `target`. See
    /// [`poll_recv_from`](UdpSocket::poll_recv_from) for the budget and the waker.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write_with(cx, |s| s.send_to(buf, target))
    }

    /// Sends a datagram to `target` if the socket can send now; `WouldBlock` otherwise
    /// (and [`writable`](UdpSocket::writable) then waits).
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.inner
            .try_io(crate::Interest::WRITABLE, |s| s.send_to(buf, target))
    }

    /// Receives the next datagram and its sender without taking it off the queue: the
    /// next receive gets it again. Cancel-safe.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|s| s.peek_from(buf)).await
    }

    /// [`peek_from`](UdpSocket::peek_from) without waiting: `WouldBlock` if no datagram
    /// is queued.
    pub fn try_peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner
            .try_io(crate::Interest::READABLE, |s| s.peek_from(buf))
    }

    /// Polls to [`peek_from`](UdpSocket::peek_from). See
    /// [`poll_recv_from`](UdpSocket::poll_recv_from) for the budget and the waker.
    pub fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.inner.poll_read_with(cx, |s| s.peek_from(buf))
    }

    /// The sender of the next datagram, which stays queued. Cancel-safe.
    pub async fn peek_sender(&self) -> io::Result<SocketAddr> {
        self.inner.read_with(peek_sender).await
    }

    /// Polls to [`peek_sender`](UdpSocket::peek_sender). See
    /// [`poll_recv_from`](UdpSocket::poll_recv_from) for the budget and the waker.
    pub fn poll_peek_sender(&self, cx: &mut Context<'_>) -> Poll<io::Result<SocketAddr>> {
        self.inner.poll_read_with(cx, peek_sender)
    }

    /// [`peek_sender`](UdpSocket::peek_sender) without waiting: `WouldBlock` if no
    /// datagram is queued.
    pub fn try_peek_sender(&self) -> io::Result<SocketAddr> {
        self.inner.try_io(crate::Interest::READABLE, peek_sender)
    }

    /// Receives a datagram and its sender into the spare capacity of `buf`, which grows
    /// by its length (see [`recv_buf`](UdpSocket::recv_buf)). Cancel-safe.
    pub async fn recv_buf_from(&self, buf: &mut Vec<u8>) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|s| recv_spare_from(s, buf)).await
    }

    /// [`recv_buf_from`](UdpSocket::recv_buf_from) without waiting: `WouldBlock` if no
    /// datagram is queued.
    pub fn try_recv_buf_from(&self, buf: &mut Vec<u8>) -> io::Result<(usize, SocketAddr)> {
        self.inner
            .try_io(crate::Interest::READABLE, |s| recv_spare_from(s, buf))
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.inner.get_ref().broadcast()
    }

    /// Sets `SO_BROADCAST`: allows sending to a broadcast address.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.inner.get_ref().set_broadcast(on)
    }

    /// Whether IPv4 multicast datagrams sent from here loop back to this host's sockets
    /// (`IP_MULTICAST_LOOP`).
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.inner.get_ref().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_LOOP`.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.inner.get_ref().set_multicast_loop_v4(on)
    }

    /// The time-to-live of IPv4 multicast datagrams sent from here (`IP_MULTICAST_TTL`;
    /// 1 by default: they stay on the local network).
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.inner.get_ref().multicast_ttl_v4()
    }

    /// Sets `IP_MULTICAST_TTL`.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_multicast_ttl_v4(ttl)
    }

    /// Whether IPv6 multicast datagrams sent from here loop back (`IPV6_MULTICAST_LOOP`).
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.inner.get_ref().multicast_loop_v6()
    }

    /// Sets `IPV6_MULTICAST_LOOP`.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.inner.get_ref().set_multicast_loop_v6(on)
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with address
    /// `interface` (`Ipv4Addr::UNSPECIFIED`: the system picks one).
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.inner
            .get_ref()
            .join_multicast_v4(&multiaddr, &interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on the interface of index `interface`
    /// (0: the system picks one).
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.get_ref().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv4 multicast group joined with
    /// [`join_multicast_v4`](UdpSocket::join_multicast_v4).
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.inner
            .get_ref()
            .leave_multicast_v4(&multiaddr, &interface)
    }

    /// Leaves an IPv6 multicast group joined with
    /// [`join_multicast_v6`](UdpSocket::join_multicast_v6).
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner
            .get_ref()
            .leave_multicast_v6(multiaddr, interface)
    }

    /// The time-to-live of unicast datagrams sent from here (`IP_TTL`).
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get_ref().ttl()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_ttl(ttl)
    }

    /// The IPv4 type-of-service byte of datagrams sent from here (`IP_TOS`).
    pub fn tos_v4(&self) -> io::Result<u32> {
        socket2::SockRef::from(self.inner.get_ref()).tos_v4()
    }

    /// Sets `IP_TOS` (the DSCP and ECN bits of IPv4 datagrams sent from here).
    pub fn set_tos_v4(&self, tos: u32) -> io::Result<()> {
        socket2::SockRef::from(self.inner.get_ref()).set_tos_v4(tos)
    }

    /// [`tos_v4`](UdpSocket::tos_v4) under tokio's older name.
    pub fn tos(&self) -> io::Result<u32> {
        self.tos_v4()
    }

    /// [`set_tos_v4`](UdpSocket::set_tos_v4) under tokio's older name.
    pub fn set_tos(&self, tos: u32) -> io::Result<()> {
        self.set_tos_v4(tos)
    }

    super::into_std!(net::UdpSocket);

    super::readiness!();
}

/// The sender of the next datagram, left queued.
fn peek_sender(s: &net::UdpSocket) -> io::Result<SocketAddr> {
    inet(socket2::SockRef::from(s).peek_sender()?)
}

/// `recv_from` into a vector's spare capacity.
fn recv_spare_from(s: &net::UdpSocket, buf: &mut Vec<u8>) -> io::Result<(usize, SocketAddr)> {
    let (n, from) = super::buf::recv_from_spare(socket2::SockRef::from(s), buf)?;
    Ok((n, inet(from)?))
}

/// A UDP socket's peer address as an IP address and port.
fn inet(addr: socket2::SockAddr) -> io::Result<SocketAddr> {
    addr.as_socket().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "a UDP datagram came from an address that is not an IP address",
        )
    })
}

super::impl_as_fd!(UdpSocket);

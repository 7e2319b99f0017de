//! Async sockets: TCP, UDP and (on Unix) Unix-domain stream and datagram sockets.
//!
//! Streams implement `futures_io::AsyncRead` and `AsyncWrite` (with vectored I/O, and
//! `poll_close` shutting down the write side), so the futures ecosystem works on them.
//!
//! # Cancel safety
//!
//! Every `async fn` here that reads or accepts is cancel-safe: dropping its future before
//! it completes loses nothing (no byte read, no connection accepted is thrown away: the
//! operation only takes effect in the poll that returns it). Writes are cancel-safe in the
//! same sense: a dropped `send` sent nothing. `connect` is not resumable: dropping it
//! closes the half-open socket.

mod addr;
mod buf;
pub(crate) mod socket;
pub(crate) mod tcp;
pub(crate) mod udp;
#[cfg(unix)]
pub(crate) mod unix;

#[doc(hidden)]
pub use addr::Lookup;
pub use addr::ToSocketAddrs;

use crate::async_fd::Async;
use crate::source::{Direction, WaitSlot};
use std::io;
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Connects a non-blocking socket: starts the connection, waits until it is writable,
/// then reads `SO_ERROR` (a refused connection reports `ConnectionRefused` here).
pub(crate) async fn connect_socket<T>(
    socket: socket2::Socket,
    addr: &socket2::SockAddr,
    into: impl FnOnce(socket2::Socket) -> T,
) -> io::Result<Async<T>>
where
    T: AsFd,
{
    socket.set_nonblocking(true)?;
    let in_progress = match socket.connect(addr) {
        Ok(()) => false,
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => true,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => true,
        Err(e) => return Err(e),
    };
    let take_error = |s: &socket2::Socket| s.take_error();
    // Already non-blocking (set above, before the connect): no second `fcntl`.
    let io = Async::new_nonblocking(into(socket))?;
    if in_progress {
        io.writable().await?;
        let sock = socket2::SockRef::from(io.get_ref());
        if let Some(e) = take_error(&sock)? {
            return Err(e);
        }
        // Writable without an error can also mean "not connected" on some systems.
        sock.peer_addr()?;
    }
    Ok(io)
}

/// `poll_close`: shuts the write side down (the peer reads end-of-stream).
pub(crate) fn shutdown_write<T: AsFd>(io: &Async<T>) -> Poll<io::Result<()>> {
    let r = socket2::SockRef::from(io.get_ref()).shutdown(Shutdown::Write);
    Poll::Ready(match r {
        // Already shut down, or the peer is gone: the write side is closed either way.
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        r => r,
    })
}

/// Implements `futures_io::AsyncRead` and `AsyncWrite` for a stream type (or one of its
/// halves) given a place expression of its `Polled<_>` (which keeps its waker, once, and
/// removes it when dropped).
macro_rules! impl_stream_io {
    ($ty:ty, $this:ident => $io:expr, read, $recv:path) => {
        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = self.get_mut();
                $io.poll_read_with(cx, |mut s| std::io::Read::read(&mut s, buf))
            }
            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = self.get_mut();
                $io.poll_read_with(cx, |mut s| std::io::Read::read_vectored(&mut s, bufs))
            }
        }

        impl $ty {
            /// Like [`AsyncRead::poll_read`](futures_io::AsyncRead::poll_read), into memory
            /// that need not be initialized (the spare capacity of a `Vec`, or of a protocol
            /// library's buffer, as weft-hyper and the `tokio-io` feature use it):
            /// `recv(2)` writes the bytes it returns and nothing else, so nothing is zeroed
            /// first. `Ready(Ok(n))`: the first `n` bytes of `buf` were written, so are
            /// initialized; `n` is 0 at end of stream. Readiness, the waker and the
            /// cooperative budget are those of `poll_read`, with one difference for TCP on
            /// Linux: when the kernel says the read left the receive queue empty (no bytes
            /// and no end of stream, `TCP_INQ`), the read readiness is cleared, so a
            /// following `poll_read_ready` waits for the next event instead of reporting
            /// a readiness the next read would only turn into `WouldBlock`.
            pub fn poll_read_uninit(
                &mut self,
                cx: &mut std::task::Context<'_>,
                buf: &mut [std::mem::MaybeUninit<u8>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = self;
                $io.poll_read_drained(cx, |s| $recv(socket2::SockRef::from(s), buf))
            }
        }

        // For tokio's `AsyncRead` (crate::tokio_io).
        #[cfg(feature = "tokio-io")]
        impl crate::tokio_io::PollRecvUninit for $ty {
            fn poll_recv_uninit(
                &mut self,
                cx: &mut std::task::Context<'_>,
                buf: &mut [std::mem::MaybeUninit<u8>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.poll_read_uninit(cx, buf)
            }
        }
    };
    ($ty:ty, $this:ident => $io:expr, write) => {
        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = self.get_mut();
                $io.poll_write_with(cx, |mut s| std::io::Write::write(&mut s, buf))
            }
            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = self.get_mut();
                $io.poll_write_with(cx, |mut s| std::io::Write::write_vectored(&mut s, bufs))
            }
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                // Nothing is buffered here.
                std::task::Poll::Ready(Ok(()))
            }
            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $this = &*self;
                crate::net::shutdown_write(&*$io)
            }
        }
    };
}
pub(crate) use impl_stream_io;

/// The halves of a stream type (`TcpStream`, `UnixStream`): `split` into borrowed halves,
/// `into_split` into owned ones (the owned write half shuts the write side down when
/// dropped), and their `AsyncRead`/`AsyncWrite`.
macro_rules! stream_halves {
    ($stream:ident, $std:ty, $addr:ty, $rh:ident, $wh:ident, $orh:ident, $owh:ident, $recv:path) => {
        impl $stream {
            /// Borrowed halves, to read and write concurrently within one task (for
            /// example with a `join` of two futures); use `into_split` to move them into
            /// separate tasks.
            pub fn split(&self) -> ($rh<'_>, $wh<'_>) {
                let io: &crate::async_fd::Async<$std> = self.inner.get();
                (
                    $rh(crate::async_fd::Polled::new(io)),
                    $wh(crate::async_fd::Polled::new(io)),
                )
            }

            /// Owned halves that can move into separate tasks. Dropping the write half
            /// shuts down the write side.
            pub fn into_split(self) -> ($orh, $owh) {
                let io = self.inner.get();
                (
                    $orh(crate::async_fd::Polled::new(io.clone())),
                    $owh(crate::async_fd::Polled::new(io.clone())),
                )
            }
        }

        crate::net::impl_stream_io!($stream, this => this.inner, read, $recv);
        crate::net::impl_stream_io!($stream, this => this.inner, write);

        #[doc = concat!("The read half of a borrowed [`", stringify!($stream), "`].")]
        pub struct $rh<'a>(crate::async_fd::Polled<&'a crate::async_fd::Async<$std>>);
        #[doc = concat!("The write half of a borrowed [`", stringify!($stream), "`].")]
        pub struct $wh<'a>(crate::async_fd::Polled<&'a crate::async_fd::Async<$std>>);
        #[doc = concat!("The read half of a [`", stringify!($stream), "`], owned.")]
        pub struct $orh(crate::async_fd::Polled<std::sync::Arc<crate::async_fd::Async<$std>>>);
        #[doc = concat!("The write half of a [`", stringify!($stream), "`], owned. Dropping it shuts down the write side.")]
        pub struct $owh(crate::async_fd::Polled<std::sync::Arc<crate::async_fd::Async<$std>>>);

        crate::net::impl_half_debug!($rh<'_>, $wh<'_>, $orh, $owh);

        impl Drop for $owh {
            fn drop(&mut self) {
                let _ = self.0.get_ref().shutdown(std::net::Shutdown::Write);
            }
        }

        crate::net::half_api!($addr, read: $rh<'_>, $orh; write: $wh<'_>, $owh);

        crate::net::impl_stream_io!($rh<'_>, this => this.0, read, $recv);
        crate::net::impl_stream_io!($wh<'_>, this => this.0, write);
        crate::net::impl_stream_io!($orh, this => this.0, read, $recv);
        crate::net::impl_stream_io!($owh, this => this.0, write);
    };
}
pub(crate) use stream_halves;

/// `Debug` for the halves: the socket, like the stream's.
macro_rules! impl_half_debug {
    ($($name:ident $(<$lt:lifetime>)?),*) => {$(
        impl std::fmt::Debug for $name $(<$lt>)? {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_tuple(stringify!($name)).field(self.0.get_ref()).finish()
            }
        }
    )*};
}
pub(crate) use impl_half_debug;

/// Implements `AsFd` and `AsRawFd` (to set options through `socket2::SockRef`, say).
macro_rules! impl_as_fd {
    ($($ty:ty),*) => {$(
        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.inner.get_ref().as_fd()
            }
        }
        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(self.inner.get_ref())
            }
        }
    )*};
}
pub(crate) use impl_as_fd;

/// Polls a listener for a connection (`accept` on the standard type) and registers the
/// new stream with the listener's reactor: no lookup of the current runtime.
pub(crate) fn poll_accept_registered<L, S, A>(
    listener: &Async<L>,
    slot: Option<&mut WaitSlot>,
    cx: &mut Context<'_>,
    accept: impl FnMut(&L) -> io::Result<(S, A)>,
) -> Poll<io::Result<(Arc<Async<S>>, A)>>
where
    L: AsFd,
    S: AsFd,
{
    let (stream, addr) = match listener.poll_with(Direction::Read, slot, cx, accept) {
        Poll::Ready(Ok(x)) => x,
        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
        Poll::Pending => return Poll::Pending,
    };
    let registered = Async::with_reactor(stream, listener.reactor().clone());
    Poll::Ready(registered.map(|io| (Arc::new(io), addr)))
}

/// The stream of incoming connections of a listener type: `$incoming` over `$listener`,
/// yielding `$stream`s.
macro_rules! incoming {
    ($incoming:ident, $listener:ty, $stream:ty) => {
        #[doc = concat!("The stream of connections of a [`", stringify!($listener), "`]. Dropping it removes its waker.")]
        #[derive(Debug)]
        #[must_use = "streams do nothing unless polled"]
        pub struct $incoming<'a> {
            listener: &'a $listener,
            slot: crate::source::WaitSlot,
        }

        impl<'a> $incoming<'a> {
            fn new(listener: &'a $listener) -> Self {
                $incoming {
                    listener,
                    slot: crate::source::WaitSlot::new(),
                }
            }
        }

        impl futures_core::Stream for $incoming<'_> {
            type Item = std::io::Result<$stream>;

            fn poll_next(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                let this = self.get_mut();
                this.listener
                    .poll_accept_in(Some(&mut this.slot), cx)
                    .map(|r| Some(r.map(|(s, _)| s)))
            }
        }

        impl Drop for $incoming<'_> {
            fn drop(&mut self) {
                self.listener
                    .inner
                    .unregister(crate::source::Direction::Read, &mut self.slot);
            }
        }
    };
}
pub(crate) use incoming;

/// The receive and connected-send methods shared by the datagram sockets (`$addr`: their
/// address type).
macro_rules! datagram_io {
    ($addr:ty) => {
        /// Receives a datagram and its sender.
        pub async fn recv_from(&self, buf: &mut [u8]) -> std::io::Result<(usize, $addr)> {
            self.inner.read_with(|s| s.recv_from(buf)).await
        }

        /// Sends a datagram to the connected address.
        pub async fn send(&self, buf: &[u8]) -> std::io::Result<usize> {
            self.inner.write_with(|s| s.send(buf)).await
        }

        /// Receives a datagram from the connected address.
        pub async fn recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.inner.read_with(|s| s.recv(buf)).await
        }

        /// Receives a datagram from the connected address into the spare capacity of
        /// `buf`, which grows by its length (a datagram longer than the spare capacity is
        /// cut, as by [`recv`](Self::recv); a vector with no spare capacity gets 64 bytes
        /// reserved first). Returns the length received. Cancel-safe.
        pub async fn recv_buf(&self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
            self.inner
                .read_with(|s| crate::net::buf::recv_spare(socket2::SockRef::from(s), buf))
                .await
        }

        /// Sends a datagram to the connected address if the socket can send now;
        /// `WouldBlock` otherwise (and [`writable`](Self::writable) then waits).
        pub fn try_send(&self, buf: &[u8]) -> std::io::Result<usize> {
            self.inner
                .try_io(crate::Interest::WRITABLE, |s| s.send(buf))
        }

        /// Receives a datagram from the connected address if one is queued;
        /// `WouldBlock` otherwise (and [`readable`](Self::readable) then waits).
        pub fn try_recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.inner
                .try_io(crate::Interest::READABLE, |s| s.recv(buf))
        }

        /// Receives a queued datagram and its sender; `WouldBlock` if none is queued.
        pub fn try_recv_from(&self, buf: &mut [u8]) -> std::io::Result<(usize, $addr)> {
            self.inner
                .try_io(crate::Interest::READABLE, |s| s.recv_from(buf))
        }

        /// [`recv_buf`](Self::recv_buf) without waiting: `WouldBlock` if no datagram is
        /// queued.
        pub fn try_recv_buf(&self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
            self.inner.try_io(crate::Interest::READABLE, |s| {
                crate::net::buf::recv_spare(socket2::SockRef::from(s), buf)
            })
        }

        /// Polls to receive a datagram and its sender. Spends a unit of the task's
        /// cooperative budget when one is received (or an error returned).
        ///
        /// Callers through `&self` share one waker per direction (see
        /// [`Async::poll_readable`](crate::Async::poll_readable)); to receive from several
        /// tasks use [`recv_from`](Self::recv_from), whose future removes its waker when
        /// dropped.
        pub fn poll_recv_from(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<std::io::Result<(usize, $addr)>> {
            self.inner.poll_read_with(cx, |s| s.recv_from(buf))
        }

        /// Polls to receive a datagram from the connected address into `buf`, returning
        /// its length (tokio's takes a `ReadBuf`; here, a slice). See
        /// [`poll_recv_from`](Self::poll_recv_from) for the budget and the waker.
        pub fn poll_recv(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.inner.poll_read_with(cx, |s| s.recv(buf))
        }

        /// Polls to send a datagram to the connected address. See
        /// [`poll_recv_from`](Self::poll_recv_from) for the budget and the waker.
        pub fn poll_send(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.inner.poll_write_with(cx, |s| s.send(buf))
        }

        /// Polls until a datagram can be received, as far as the reactor knows (see
        /// [`readable`](Self::readable)); the waker is shared as by
        /// [`poll_recv_from`](Self::poll_recv_from).
        pub fn poll_recv_ready(
            &self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.inner.poll_readable(cx)
        }

        /// Polls until a datagram can be sent, as far as the reactor knows; the waker is
        /// shared as by [`poll_recv_from`](Self::poll_recv_from).
        pub fn poll_send_ready(
            &self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.inner.poll_writable(cx)
        }

        /// Receives the next datagram from the connected address into `buf` without
        /// taking it off the queue: the next receive gets it again. Cancel-safe.
        pub async fn peek(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.inner
                .read_with(|s| crate::net::buf::peek(socket2::SockRef::from(s), buf))
                .await
        }

        /// Polls to [`peek`](Self::peek) (tokio's takes a `ReadBuf`; here, a slice, and the
        /// length peeked is returned). See [`poll_recv_from`](Self::poll_recv_from) for the
        /// budget and the waker.
        pub fn poll_peek(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.inner.poll_read_with(cx, |s| {
                crate::net::buf::peek(socket2::SockRef::from(s), buf)
            })
        }

        /// [`peek`](Self::peek) without waiting: `WouldBlock` if no datagram is queued.
        pub fn try_peek(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.inner.try_io(crate::Interest::READABLE, |s| {
                crate::net::buf::peek(socket2::SockRef::from(s), buf)
            })
        }

        /// The pending error of the socket (`SO_ERROR`), cleared by the call.
        pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
            socket2::SockRef::from(self.inner.get_ref()).take_error()
        }
    };
}
pub(crate) use datagram_io;

/// `readable`, `writable` and `try_io` for a socket type whose `inner` derefs to its
/// `Async<_>`.
macro_rules! readiness {
    () => {
        /// Waits until the socket is readable, as far as the reactor knows.
        ///
        /// The read readiness is set by the reactor's events and cleared only when a read
        /// or receive on this socket (its own methods, or [`try_io`](Self::try_io) with
        /// [`Interest::READABLE`](crate::Interest::READABLE)) returns `WouldBlock`. So
        /// this completes at once after a read that succeeded, even when nothing more can
        /// be read: the next read then returns `WouldBlock`, and the next `readable`
        /// waits. I/O of your own on the raw descriptor must go through `try_io`, or
        /// `readable` never waits. (On Linux a TCP stream's `poll_read_uninit` also clears
        /// it when the kernel says the read emptied the receive queue.)
        ///
        /// Cancel-safe; dropping the future removes its waker.
        pub async fn readable(&self) -> std::io::Result<()> {
            self.inner.readable().await
        }

        /// Waits until the socket is writable, as far as the reactor knows. The same as
        /// [`readable`](Self::readable), for writes.
        pub async fn writable(&self) -> std::io::Result<()> {
            self.inner.writable().await
        }

        /// Waits until the socket is ready in one of the directions of `interest` (as far
        /// as the reactor knows, as [`readable`](Self::readable) says) and returns the
        /// directions it is ready in. Follow it with `try_*` operations; one that returns
        /// `WouldBlock` clears its direction, so the next `ready` waits for an event.
        ///
        /// Cancel-safe; dropping the future removes its wakers.
        pub async fn ready(&self, interest: crate::Interest) -> std::io::Result<crate::Ready> {
            self.inner.ready(interest).await
        }

        /// Runs `f`, a non-blocking operation of your own on the socket, until it does not
        /// return `WouldBlock`, waiting for readiness in `interest` (a single direction)
        /// after each `WouldBlock` (which clears that readiness, as by
        /// [`try_io`](Self::try_io)). `f` is tried at once first.
        ///
        /// Cancel-safe if `f` is: dropping the future between tries runs nothing more.
        pub async fn async_io<R>(
            &self,
            interest: crate::Interest,
            mut f: impl FnMut() -> std::io::Result<R>,
        ) -> std::io::Result<R> {
            loop {
                match self.inner.try_io(interest, |_| f()) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    r => return r,
                }
                self.inner.ready(interest).await?;
            }
        }

        /// Runs `f`, a non-blocking operation of your own on the socket (through its raw
        /// descriptor, or `socket2::SockRef`), and clears the readiness of `interest` if it
        /// returns `WouldBlock`, so that the next [`readable`](Self::readable) or
        /// [`writable`](Self::writable) waits for an event, as it should. Other results
        /// leave the readiness as it is.
        ///
        /// `f` runs whether or not the socket is known to be ready; `try_io` never waits
        /// (and spends no cooperative budget).
        pub fn try_io<R>(
            &self,
            interest: crate::Interest,
            f: impl FnOnce() -> std::io::Result<R>,
        ) -> std::io::Result<R> {
            self.inner.try_io(interest, |_| f())
        }
    };
}
pub(crate) use readiness;

/// The non-waiting and polled operations of a stream type (`TcpStream`, `UnixStream`)
/// whose `inner` is a `Polled<Arc<Async<$std>>>`, and its `into_std`.
macro_rules! stream_api {
    ($std:ty) => {
        /// Polls until the stream is readable, as far as the reactor knows (see
        /// [`readable`](Self::readable)); spends a unit of the task's cooperative budget
        /// when it is.
        ///
        /// Callers through `&self` share one waker per direction (see
        /// [`Async::poll_readable`](crate::Async::poll_readable)): only the most recent
        /// caller's is kept (the replaced one is woken).
        pub fn poll_read_ready(
            &self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.inner.poll_readable(cx)
        }

        /// Polls until the stream is writable, as far as the reactor knows. See
        /// [`poll_read_ready`](Self::poll_read_ready).
        pub fn poll_write_ready(
            &self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.inner.poll_writable(cx)
        }

        crate::net::read_api!(inner);
        crate::net::write_api!(inner);

        /// Polls to [`peek`](Self::peek) (tokio's takes a `ReadBuf`; here, a slice, and
        /// the length peeked is returned). See [`poll_read_ready`](Self::poll_read_ready)
        /// for the budget and the waker.
        pub fn poll_peek(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            // The stream's own `Async` (the `Polled`'s `poll_read_with` needs `&mut self`),
            // with the shared waker of `&self` callers.
            self.inner
                .get()
                .poll_read_with(cx, |s| crate::net::buf::peek(socket2::SockRef::from(s), buf))
        }

        /// The pending error of the socket (`SO_ERROR`), cleared by the call.
        pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
            socket2::SockRef::from(self.inner.get_ref()).take_error()
        }

        #[doc = concat!("Deregisters the stream from the reactor and returns the standard library's [`", stringify!($std), "`], still in non-blocking mode (call `set_nonblocking(false)` to use it blocking).")]
        ///
        /// # Errors
        ///
        /// If the reactor fails to deregister the descriptor (the stream is then closed).
        pub fn into_std(self) -> std::io::Result<$std> {
            let shared = self.inner.into_inner();
            match std::sync::Arc::try_unwrap(shared) {
                Ok(io) => io.into_inner(),
                // `split` borrows the stream and `into_split` consumes it: a stream holds
                // the only reference to its socket.
                Err(_) => unreachable!("a stream shares its socket with nobody"),
            }
        }
    };
}
pub(crate) use stream_api;

/// `into_std` for a socket type whose `inner` is an `Async<$std>`.
macro_rules! into_std {
    ($std:ty) => {
        #[doc = concat!("Deregisters the socket from the reactor and returns the standard library's [`", stringify!($std), "`], still in non-blocking mode (call `set_nonblocking(false)` to use it blocking).")]
        ///
        /// # Errors
        ///
        /// If the reactor fails to deregister the descriptor (the socket is then closed).
        pub fn into_std(self) -> std::io::Result<$std> {
            self.inner.into_inner()
        }
    };
}
pub(crate) use into_std;

/// The non-waiting reads and `peek` of a stream or read half whose field `$f` derefs to
/// its `Async<_>`.
macro_rules! read_api {
    ($f:tt) => {
        /// Reads what has arrived into `buf`, without waiting: `Ok(0)` once the peer has
        /// closed its write side, `WouldBlock` if nothing has arrived (which clears the
        /// read readiness, so the next [`readable`](Self::readable) waits for data).
        pub fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.$f.try_io(crate::Interest::READABLE, |mut s| {
                std::io::Read::read(&mut s, buf)
            })
        }

        /// [`try_read`](Self::try_read) into several buffers, filled in order.
        pub fn try_read_vectored(
            &self,
            bufs: &mut [std::io::IoSliceMut<'_>],
        ) -> std::io::Result<usize> {
            self.$f.try_io(crate::Interest::READABLE, |mut s| {
                std::io::Read::read_vectored(&mut s, bufs)
            })
        }

        /// [`try_read`](Self::try_read) into the spare capacity of `buf`, which grows by
        /// what was read (a vector with no spare capacity gets 64 bytes reserved first).
        pub fn try_read_buf(&self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
            self.$f.try_io(crate::Interest::READABLE, |s| {
                crate::net::buf::recv_spare(socket2::SockRef::from(s), buf)
            })
        }

        /// Reads what has arrived into `buf` without taking it from the stream: the next
        /// read returns the same bytes. Waits until something has arrived; `Ok(0)` once
        /// the peer has closed its write side. Cancel-safe.
        pub async fn peek(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.$f
                .read_with(|s| crate::net::buf::peek(socket2::SockRef::from(s), buf))
                .await
        }
    };
}
pub(crate) use read_api;

/// The non-waiting writes of a stream or write half whose field `$f` derefs to its
/// `Async<_>`.
macro_rules! write_api {
    ($f:tt) => {
        /// Writes what fits of `buf` without waiting: `WouldBlock` if nothing does
        /// (which clears the write readiness, so the next [`writable`](Self::writable)
        /// waits for room).
        pub fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
            self.$f.try_io(crate::Interest::WRITABLE, |mut s| {
                std::io::Write::write(&mut s, buf)
            })
        }

        /// [`try_write`](Self::try_write) from several buffers, in order.
        pub fn try_write_vectored(&self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
            self.$f.try_io(crate::Interest::WRITABLE, |mut s| {
                std::io::Write::write_vectored(&mut s, bufs)
            })
        }
    };
}
pub(crate) use write_api;

/// tokio's methods of the halves of a stream (`$addr`: its address type): the reads,
/// `peek`, `readable` and `ready` on the read halves, the writes, `writable` and `ready`
/// on the write halves, and both addresses on each.
macro_rules! half_api {
    ($addr:ty, read: $($rh:ty),*; write: $($wh:ty),*) => {
        $(impl $rh {
            crate::net::read_api!(0);

            /// Waits until the stream is readable, as far as the reactor knows (see the
            /// stream's `readable`). Cancel-safe; dropping the future removes its waker.
            pub async fn readable(&self) -> std::io::Result<()> {
                self.0.readable().await
            }

            crate::net::half_api!(@common $addr);
        })*
        $(impl $wh {
            crate::net::write_api!(0);

            /// Waits until the stream is writable, as far as the reactor knows (see the
            /// stream's `writable`). Cancel-safe; dropping the future removes its waker.
            pub async fn writable(&self) -> std::io::Result<()> {
                self.0.writable().await
            }

            crate::net::half_api!(@common $addr);
        })*
    };
    (@common $addr:ty) => {
        /// Waits until the stream is ready in one of the directions of `interest`, and
        /// returns those it is ready in (see the stream's `ready`).
        pub async fn ready(&self, interest: crate::Interest) -> std::io::Result<crate::Ready> {
            self.0.ready(interest).await
        }

        /// The remote address.
        pub fn peer_addr(&self) -> std::io::Result<$addr> {
            self.0.get_ref().peer_addr()
        }

        /// The local address.
        pub fn local_addr(&self) -> std::io::Result<$addr> {
            self.0.get_ref().local_addr()
        }
    };
}
pub(crate) use half_api;

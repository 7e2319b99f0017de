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
    ($ty:ty, $this:ident => $io:expr, read) => {
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

        // For tokio's `AsyncRead` (crate::tokio_io): a receive into memory not yet
        // initialized, with this type's own waker slot.
        #[cfg(feature = "tokio-io")]
        impl crate::tokio_io::PollRecvUninit for $ty {
            fn poll_recv_uninit(
                &mut self,
                cx: &mut std::task::Context<'_>,
                buf: &mut [std::mem::MaybeUninit<u8>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = self;
                $io.poll_read_with(cx, |s| socket2::SockRef::from(s).recv(buf))
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
    ($stream:ident, $std:ty, $rh:ident, $wh:ident, $orh:ident, $owh:ident) => {
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

        crate::net::impl_stream_io!($stream, this => this.inner, read);
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

        crate::net::impl_stream_io!($rh<'_>, this => this.0, read);
        crate::net::impl_stream_io!($wh<'_>, this => this.0, write);
        crate::net::impl_stream_io!($orh, this => this.0, read);
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
        /// `readable` never waits.
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

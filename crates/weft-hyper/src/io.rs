//! `HyperIo`: weft's streams as hyper's `rt::Read` and `rt::Write`.
//!
//! The only module of the crate with `unsafe` code. hyper hands a read its own buffer's
//! spare capacity, which is not initialized (`ReadBufCursor`). weft's sockets read straight
//! into it with `recv(2)` under the reactor's readiness protocol (`poll_read_uninit`), so a
//! connection owns no read buffer of its own and nothing is zeroed or copied: an idle
//! keep-alive connection costs what hyper's own state costs (docs/measuring.md, "Memory per
//! idle HTTP connection"). Streams that only speak `futures-io` (TLS, a user's own) take
//! `&mut [u8]`, which must be initialized: for them the spare capacity is zeroed first
//! ([`poll_read_initialized`]); rustls decrypts into its own buffer and copies out anyway.
//!
//! # Fewer system calls per request
//!
//! Two habits of hyper's HTTP/2 connection task cost a system call each per request when
//! taken literally, and `HyperIo` answers both (docs/measuring.md, "HTTP/2: one write per
//! response, and reads that find nothing"):
//!
//! - The task is woken by every stream task that finishes a response, and polls its socket
//!   for reads each time. A read of weft's sockets is tried only when the reactor says the
//!   socket is readable (`poll_read_ready`): after a read found nothing, the next one waits
//!   for an event instead of calling `recv(2)` again to find nothing again. On Linux a TCP
//!   read also learns whether it emptied the receive queue (`TCP_INQ`, in weft-reactor's
//!   `poll_read_uninit`), and then clears the readiness itself: the read hyper makes after
//!   each response (HTTP/1 too) is not tried at all. 1.9 `recv` calls per HTTP/1 request
//!   become 1.0 (docs/measuring.md, "Reads that know they emptied the queue").
//! - It writes what it has at each poll. A woken task runs at once from its worker's LIFO
//!   slot, before the other stream tasks have finished, so each response went out in a
//!   `writev` of its own. The first write after a completed flush (`batch_open` false)
//!   yields instead: the task wakes itself and returns `Pending`, which queues it behind
//!   the tasks already queued, and the next poll writes what they added too. One yield
//!   per flush; writes after it, in that poll or the next, go straight through. Only
//!   HTTP/2 connections batch (`Batching`, decided by the first bytes written: the client
//!   preface, or the server's first `SETTINGS` frame): an HTTP/1 connection has one
//!   response in flight, so a yield would only delay it.
//!
//! Soundness rests on two facts, each checked where it is used: the bytes the kernel writes
//! are initialized, and a count above the slice's length (a broken `AsyncRead`, or a kernel
//! that misbehaves) is an error, never an `advance` past what was written.

#![allow(unsafe_code)]

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use hyper::rt::ReadBufCursor;

/// A weft stream as hyper's `rt::Read + rt::Write`.
///
/// Reads go through [`HyperRead`] (implemented for weft's `TcpStream` and `UnixStream`, and
/// with the `tls` feature for futures-rustls' streams); writes through `futures-io`'s
/// `AsyncWrite`. Any other `futures-io` stream: [`HyperIo::generic`].
pub struct HyperIo<T> {
    io: T,
    /// Whether writes are batched: decided by the connection's first write (module header).
    batching: Batching,
    /// A write batch is open: the first write since the last completed flush has yielded
    /// once, so writes go through until the next flush completes (module header).
    batch_open: bool,
}

impl<T: std::fmt::Debug> std::fmt::Debug for HyperIo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("HyperIo").field(&self.io).finish()
    }
}

impl<T> HyperIo<T> {
    /// Wraps a stream.
    ///
    /// ```
    /// # weft::run(async {
    /// let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let stream = weft::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    /// let io = weft_hyper::HyperIo::new(stream);
    /// assert!(io.get_ref().peer_addr().is_ok());
    /// # });
    /// ```
    pub fn new(io: T) -> HyperIo<T> {
        HyperIo {
            io,
            batching: Batching::Undecided,
            batch_open: false,
        }
    }

    /// The stream.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// The stream, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.io
    }

    /// Gives the stream back.
    pub fn into_inner(self) -> T {
        self.io
    }
}

impl<T> HyperIo<FuturesIo<T>> {
    /// Wraps any `futures-io` stream (a read half, a pipe, a stream of your own). Its reads
    /// zero hyper's buffer first: weft's own streams need no such step, use
    /// [`HyperIo::new`] for them.
    ///
    /// ```
    /// # weft::run(async {
    /// let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let stream = weft::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    /// let (read, _write) = stream.into_split();
    /// let io = weft_hyper::HyperIo::generic(read);
    /// # drop(io);
    /// # });
    /// ```
    pub fn generic(io: T) -> HyperIo<FuturesIo<T>> {
        HyperIo::new(FuturesIo(io))
    }
}

/// How [`HyperIo`] reads a stream into hyper's buffer.
///
/// Implemented for weft's `TcpStream` and `UnixStream` (straight into the buffer's spare
/// capacity, no zeroing, no copy), for [`FuturesIo`], and with the `tls` feature for
/// futures-rustls' `TlsStream`s. For a `futures-io` stream type of your own, implement it
/// with [`poll_read_initialized`].
pub trait HyperRead {
    /// Reads what is available into `buf`'s unfilled part, as hyper's `rt::Read::poll_read`:
    /// `Ready(Ok(()))` with nothing added means end of stream.
    fn poll_read_hyper(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>>;
}

/// Zeroed bytes at most per read of a `futures-io` stream: one TLS record's plaintext.
const ZEROED_READ: usize = 16 * 1024;

/// Reads a `futures-io` stream into hyper's buffer: zeroes (at most 16 KiB of) the unfilled
/// part, which `AsyncRead` needs initialized, and reads into it. What [`HyperRead`] does for
/// TLS streams and [`FuturesIo`].
pub fn poll_read_initialized<T: futures_io::AsyncRead + ?Sized>(
    io: Pin<&mut T>,
    cx: &mut Context<'_>,
    mut buf: ReadBufCursor<'_>,
) -> Poll<io::Result<()>> {
    let len = buf.remaining().min(ZEROED_READ);
    let n = ready!(io.poll_read(cx, buf.initialize_unfilled_to(len)))?;
    check_count(n, len)?;
    // SAFETY: `initialize_unfilled_to(len)` initialized the first `len` unfilled bytes and
    // `n <= len` (checked above), so the bytes `advance` marks filled are initialized.
    unsafe { buf.advance(n) };
    Poll::Ready(Ok(()))
}

/// A byte count above the buffer's length is a broken reader: refuse it rather than mark
/// bytes filled that nobody wrote.
fn check_count(n: usize, len: usize) -> io::Result<()> {
    if n > len {
        return Err(io::Error::other(format!(
            "a read reported {n} bytes into a buffer of {len}"
        )));
    }
    Ok(())
}

/// The direct path of weft's sockets: a receive into the cursor's spare capacity with the
/// stream's `poll_read_uninit` (readiness, waker and cooperative budget as its own reads).
fn poll_read_socket(
    mut buf: ReadBufCursor<'_>,
    poll_read_uninit: impl FnOnce(&mut [MaybeUninit<u8>]) -> Poll<io::Result<usize>>,
) -> Poll<io::Result<()>> {
    // `as_mut` hands out the unfilled part, not initialized; the caller must not write
    // uninitialized bytes into it (de-initializing what hyper may have initialized).
    // SAFETY: only `recv(2)` writes there (`poll_read_uninit`), bytes the kernel
    // initialized; user code never sees the slice.
    let dst = unsafe { buf.as_mut() };
    let len = dst.len();
    let n = ready!(poll_read_uninit(dst))?;
    check_count(n, len)?;
    // SAFETY: the receive returned `n <= len` (checked above): it wrote and so initialized
    // the first `n` bytes of the unfilled part, the bytes `advance` marks filled.
    unsafe { buf.advance(n) };
    Poll::Ready(Ok(()))
}

/// [`HyperRead`] by the direct path, for weft's stream types.
macro_rules! socket_hyper_read {
    ($($ty:ty),*) => {$(
        impl HyperRead for $ty {
            fn poll_read_hyper(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                let this = self.get_mut();
                // Not readable since a read found nothing: wait for an event, no `recv(2)`.
                ready!(this.poll_read_ready(cx))?;
                poll_read_socket(buf, |dst| this.poll_read_uninit(cx, dst))
            }
        }
    )*};
}

socket_hyper_read!(weft::net::TcpStream, weft::net::UnixStream);

/// Any `futures-io` stream, for [`HyperIo`]: see [`HyperIo::generic`].
#[derive(Debug)]
pub struct FuturesIo<T>(pub T);

impl<T: futures_io::AsyncRead + Unpin> HyperRead for FuturesIo<T> {
    fn poll_read_hyper(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        poll_read_initialized(Pin::new(&mut self.get_mut().0), cx, buf)
    }
}

/// Delegates `futures-io`'s `AsyncWrite` to the wrapped stream.
macro_rules! delegate_async_write {
    ($ty:ident, $this:ident => $io:expr) => {
        impl<T: futures_io::AsyncWrite + Unpin> futures_io::AsyncWrite for $ty<T> {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let $this = self.get_mut();
                Pin::new(&mut $io).poll_write(cx, buf)
            }
            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let $this = self.get_mut();
                Pin::new(&mut $io).poll_write_vectored(cx, bufs)
            }
            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let $this = self.get_mut();
                Pin::new(&mut $io).poll_flush(cx)
            }
            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let $this = self.get_mut();
                Pin::new(&mut $io).poll_close(cx)
            }
        }
    };
}

delegate_async_write!(FuturesIo, this => this.0);

impl<T: HyperRead + Unpin> hyper::rt::Read for HyperIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read_hyper(cx, buf)
    }
}

/// Whether a connection's writes are batched (module header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Batching {
    /// Nothing written yet.
    Undecided,
    /// HTTP/2: the first write of a batch yields once.
    Multiplexed,
    /// Anything else: every write goes straight through.
    Direct,
}

/// The HTTP/2 client connection preface (RFC 9113, section 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame type of `SETTINGS`, the first frame an HTTP/2 server sends (RFC 9113, 6.5).
const H2_SETTINGS: u8 = 0x4;

/// True if `first`, a connection's first bytes written, begin HTTP/2: the client preface,
/// or a `SETTINGS` frame header on stream 0 (an HTTP/1 response begins `HTTP/`).
fn starts_http2(first: &[u8]) -> bool {
    first.starts_with(H2_PREFACE)
        || (first.len() >= 9 && first[3] == H2_SETTINGS && first[5..9] == [0; 4])
}

impl<T> HyperIo<T> {
    /// Before a write of `first` (the first bytes of the write): on an HTTP/2 connection, if
    /// no batch is open, opens one and yields (wakes the task and returns `Pending`), so
    /// tasks queued before this one add their frames first (module header).
    fn open_batch(&mut self, cx: &mut Context<'_>, first: &[u8]) -> Poll<()> {
        if self.batching == Batching::Undecided && !first.is_empty() {
            self.batching = if starts_http2(first) {
                Batching::Multiplexed
            } else {
                Batching::Direct
            };
        }
        if self.batch_open || self.batching != Batching::Multiplexed {
            return Poll::Ready(());
        }
        self.batch_open = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<T: futures_io::AsyncWrite + Unpin> hyper::rt::Write for HyperIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.open_batch(cx, buf));
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        ready!(self.open_batch(cx, first));
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(Pin::new(&mut self.io).poll_flush(cx))?;
        self.batch_open = false;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that claims more bytes than it was given room for.
    struct Liar;

    impl futures_io::AsyncRead for Liar {
        fn poll_read(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(buf.len() + 1))
        }
    }

    #[test]
    fn only_http2_first_writes_turn_batching_on() {
        // The client preface, and a server's empty SETTINGS frame: HTTP/2.
        assert!(starts_http2(H2_PREFACE));
        assert!(starts_http2(&[0, 0, 0, H2_SETTINGS, 0, 0, 0, 0, 0]));
        // HTTP/1 responses and requests, a SETTINGS header on a stream, short writes: not.
        assert!(!starts_http2(b"HTTP/1.1 200 OK\r\n"));
        assert!(!starts_http2(b"GET / HTTP/1.1\r\n"));
        assert!(!starts_http2(&[0, 0, 0, H2_SETTINGS, 0, 0, 0, 0, 1]));
        assert!(!starts_http2(&[0, 0, 0, H2_SETTINGS]));
    }

    #[test]
    fn a_count_above_the_buffer_is_an_error_not_a_fill() {
        let mut storage = [MaybeUninit::<u8>::uninit(); 8];
        let mut buf = hyper::rt::ReadBuf::uninit(&mut storage);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let r = poll_read_initialized(Pin::new(&mut Liar), &mut cx, buf.unfilled());
        assert!(matches!(r, Poll::Ready(Err(_))));
        assert!(buf.filled().is_empty());
    }
}

//! tokio's I/O traits (feature `tokio-io`): `tokio::io::AsyncRead` and `AsyncWrite` for the
//! streams and their halves, the child's pipes and `Async<T>`, implemented directly on
//! weft's types (no wrapper), so crates written for tokio's traits (tokio-postgres,
//! tokio-rustls, tokio-util's codecs) run on weft's reactor. Only tokio's traits come with
//! the feature: `tokio` is a dependency without default features, so no tokio runtime,
//! reactor or timer exists in the program because of it.
//!
//! # Reading into a `ReadBuf`
//!
//! tokio hands `poll_read` a `ReadBuf` whose unfilled part may be uninitialized (tokio-util's
//! codecs pass the spare capacity of a `BytesMut`, fresh on every read). Zeroing it first
//! would cost a `memset` of the whole spare capacity on each read; instead:
//!
//! - The sockets and pipes, whose read is a system call of ours, receive straight into the
//!   uninitialized memory: `recv(2)` through `socket2::Socket::recv` (which takes
//!   `&mut [MaybeUninit<u8>]`), `read(2)` through [`read_uninit`] for the pipes. Neither
//!   makes a `&[u8]` of uninitialized bytes; the kernel writes the bytes it returns, and
//!   only those are then marked initialized ([`poll_read_into`], the one unsafe place).
//! - `Async<T>` reads through `T`'s own `Read`, code we do not know, which may look at the
//!   buffer: there the unfilled part is initialized first (`ReadBuf::initialize_unfilled`,
//!   which zeroes only what was never initialized), which is safe whatever `T` does.
//!
//! Writes, flushes and shutdowns go to the `futures_io` implementations of the same types:
//! one code path for both trait families. `poll_shutdown` shuts the write side down (a
//! socket's peer reads end of stream; a child's stdin is closed).

use crate::async_fd::Async;
use crate::net::tcp::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, TcpStream, WriteHalf};
use crate::net::unix::{
    OwnedUnixReadHalf, OwnedUnixWriteHalf, UnixReadHalf, UnixStream, UnixWriteHalf,
};
use crate::process::{ChildStderr, ChildStdin, ChildStdout};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::ReadBuf;

/// A read into memory that may be uninitialized, by a type whose read is a system call
/// that only writes into the buffer (`recv(2)`, `read(2)`). Implemented beside each type
/// (it needs the type's waker slot); `poll_read_into` builds tokio's `poll_read` on it.
pub(crate) trait PollRecvUninit {
    /// Like `futures_io::AsyncRead::poll_read`, into `buf`; `Ok(n)`: the first `n` bytes
    /// of `buf` were written.
    fn poll_recv_uninit(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>>;
}

/// `read(2)` into memory that may be uninitialized (for the pipes, which `socket2` cannot
/// `recv` from).
pub(crate) fn read_uninit(fd: BorrowedFd<'_>, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: `buf` is a unique borrow, valid for writes of `buf.len()` bytes for the whole
    // call, and `fd` is open while borrowed. read(2) only writes into the buffer (at most
    // `buf.len()` bytes), and uninitialized memory is never viewed as `u8` here.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    // Negative: the call failed, and errno says why.
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// tokio's `poll_read` on a [`PollRecvUninit`]: receives into the unfilled part of `buf`
/// without initializing it first, then marks the received bytes initialized and filled.
fn poll_read_into(
    io: &mut impl PollRecvUninit,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    let remaining = buf.remaining();
    if remaining == 0 {
        // Nothing to read into: done at once, as tokio's readers expect (a zero-length
        // `recv` on a Unix socket would wait for data instead).
        return Poll::Ready(Ok(()));
    }
    // SAFETY: `unfilled_mut` asks that no initialized byte be de-initialized through the
    // slice. It only goes to `poll_recv_uninit`, whose implementations hand it to recv(2)
    // or read(2): they store bytes, never uninitialized ones.
    let unfilled = unsafe { buf.unfilled_mut() };
    let n = ready!(io.poll_recv_uninit(cx, unfilled))?;
    if n > remaining {
        // The system calls never return more than asked; refuse rather than trust it.
        return Poll::Ready(Err(io::Error::other(
            "a read returned more bytes than the buffer holds",
        )));
    }
    // SAFETY: the read wrote its first `n` bytes (`n <= remaining`, checked above): the
    // kernel returns the count of bytes it stored at the start of the buffer.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Poll::Ready(Ok(()))
}

/// `tokio::io::AsyncRead` through [`PollRecvUninit`].
macro_rules! tokio_read {
    ($($ty:ty),* $(,)?) => {$(
        impl tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                poll_read_into(self.get_mut(), cx, buf)
            }
        }
    )*};
}

/// `tokio::io::AsyncWrite` through the type's `futures_io::AsyncWrite` (vectored writes
/// included; `poll_shutdown` is `poll_close`).
macro_rules! tokio_write {
    ($($ty:ty),* $(,)?) => {$(
        impl tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                futures_io::AsyncWrite::poll_write(self, cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                futures_io::AsyncWrite::poll_write_vectored(self, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                futures_io::AsyncWrite::poll_flush(self, cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                futures_io::AsyncWrite::poll_close(self, cx)
            }
        }
    )*};
}

tokio_read!(
    TcpStream,
    ReadHalf<'_>,
    OwnedReadHalf,
    UnixStream,
    UnixReadHalf<'_>,
    OwnedUnixReadHalf,
    ChildStdout,
    ChildStderr,
);

tokio_write!(
    TcpStream,
    WriteHalf<'_>,
    OwnedWriteHalf,
    UnixStream,
    UnixWriteHalf<'_>,
    OwnedUnixWriteHalf,
    ChildStdin,
);

/// Reads through `T`'s own `Read` (as [`Async::poll_read_with`] does, so callers share
/// one waker per direction): the unfilled part of the buffer is initialized first, since
/// `T`'s code may look at it.
impl<T> tokio::io::AsyncRead for Async<T>
where
    T: AsFd,
    for<'a> &'a T: io::Read,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let dst = buf.initialize_unfilled();
        let n = ready!(self.poll_read_with(cx, |mut t| io::Read::read(&mut t, dst)))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

/// Writes through `T`'s own `Write`, waiting for writability when it would block.
/// `poll_shutdown` only flushes: an arbitrary `T` has no write side to shut down (the
/// stream types' `poll_shutdown` does shut theirs down).
impl<T> tokio::io::AsyncWrite for Async<T>
where
    T: AsFd,
    for<'a> &'a T: io::Write,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |mut t| io::Write::write(&mut t, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |mut t| io::Write::write_vectored(&mut t, bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_with(cx, |mut t| io::Write::flush(&mut t))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use tokio::io::{AsyncRead, AsyncWrite};

    fn runtime() -> weft_executor::Runtime {
        crate::install(&mut weft_executor::Builder::new())
            .unwrap()
            .build()
            .unwrap()
    }

    /// Reads once through tokio's trait into uninitialized memory.
    async fn read_some(r: &mut (impl AsyncRead + Unpin), cap: usize) -> io::Result<Vec<u8>> {
        let mut storage = vec![MaybeUninit::<u8>::uninit(); cap];
        let mut buf = ReadBuf::uninit(&mut storage);
        poll_fn(|cx| Pin::new(&mut *r).poll_read(cx, &mut buf)).await?;
        Ok(buf.filled().to_vec())
    }

    async fn write_all(w: &mut (impl AsyncWrite + Unpin), mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = poll_fn(|cx| Pin::new(&mut *w).poll_write(cx, data)).await?;
            data = &data[n..];
        }
        Ok(())
    }

    async fn read_to_end(r: &mut (impl AsyncRead + Unpin)) -> io::Result<Vec<u8>> {
        let mut all = Vec::new();
        loop {
            let got = read_some(r, 4096).await?;
            if got.is_empty() {
                return Ok(all);
            }
            all.extend_from_slice(&got);
        }
    }

    #[test]
    fn tcp_stream_and_owned_halves_through_tokio_traits() {
        runtime().block_on(async {
            let listener = crate::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = weft_executor::spawn(async move {
                let (conn, _) = listener.accept().await.unwrap();
                let (mut r, mut w) = conn.into_split();
                // Echo until the client shuts its side down, then shut ours.
                loop {
                    let got = read_some(&mut r, 3).await.unwrap();
                    if got.is_empty() {
                        break;
                    }
                    write_all(&mut w, &got).await.unwrap();
                }
                poll_fn(|cx| Pin::new(&mut w).poll_shutdown(cx))
                    .await
                    .unwrap();
            });
            let mut client = TcpStream::connect(addr).await.unwrap();
            let message: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
            let (mut r, mut w) = client.split();
            let sent = async {
                write_all(&mut w, &message).await.unwrap();
                poll_fn(|cx| Pin::new(&mut w).poll_shutdown(cx))
                    .await
                    .unwrap();
            };
            let (_, echoed) = futures_lite::future::zip(sent, read_to_end(&mut r)).await;
            assert_eq!(echoed.unwrap(), message);
            drop((r, w));
            server.await.unwrap();
            // The stream itself, after both sides closed: end of stream.
            assert!(read_some(&mut client, 8).await.unwrap().is_empty());
        });
    }

    #[test]
    fn unix_stream_through_tokio_traits_and_a_partially_filled_buffer() {
        runtime().block_on(async {
            let (mut a, mut b) = UnixStream::pair().unwrap();
            write_all(&mut a, b"hello world").await.unwrap();
            // A buffer already holding bytes: the read appends after them.
            let mut storage = [MaybeUninit::<u8>::uninit(); 32];
            let mut buf = ReadBuf::uninit(&mut storage);
            buf.put_slice(b">> ");
            poll_fn(|cx| Pin::new(&mut b).poll_read(cx, &mut buf))
                .await
                .unwrap();
            assert_eq!(buf.filled(), b">> hello world");
            // An empty unfilled part reads nothing, at once (nothing is there to read).
            let mut full: [u8; 0] = [];
            let mut buf = ReadBuf::new(&mut full);
            poll_fn(|cx| Pin::new(&mut b).poll_read(cx, &mut buf))
                .await
                .unwrap();
            let (mut br, _bw) = b.into_split();
            drop(a);
            assert!(read_some(&mut br, 8).await.unwrap().is_empty());
        });
    }

    #[test]
    fn child_pipes_through_tokio_traits() {
        runtime().block_on(async {
            let mut child = crate::process::Command::new("cat")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let mut stdout = child.stdout.take().unwrap();
            let data = vec![b'x'; 200_000];
            let writer = async {
                write_all(&mut stdin, &data).await.unwrap();
                poll_fn(|cx| Pin::new(&mut stdin).poll_shutdown(cx))
                    .await
                    .unwrap();
            };
            let (_, out) = futures_lite::future::zip(writer, read_to_end(&mut stdout)).await;
            assert_eq!(out.unwrap(), data);
            assert!(child.wait().await.unwrap().success());
        });
    }

    #[test]
    fn async_of_a_std_stream_through_tokio_traits() {
        runtime().block_on(async {
            let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
            let mut a = Async::new(a).unwrap();
            let mut b = Async::new(b).unwrap();
            write_all(&mut a, b"ping").await.unwrap();
            poll_fn(|cx| Pin::new(&mut a).poll_shutdown(cx))
                .await
                .unwrap();
            assert_eq!(read_some(&mut b, 16).await.unwrap(), b"ping");
        });
    }
}

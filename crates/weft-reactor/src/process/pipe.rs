//! The child's standard streams on the parent's side: non-blocking pipes in the reactor.

use crate::Async;
use futures_io::{AsyncRead, AsyncWrite};
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};

/// One end of a pipe, registered (non-blocking only on our side: the child's end is
/// another open file description, left as the child expects it).
struct Pipe(Async<File>);

impl Pipe {
    fn new(fd: impl Into<OwnedFd>) -> io::Result<Pipe> {
        Ok(Pipe(Async::new(File::from(fd.into()))?))
    }

    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.0.poll_read_with(cx, |f| (&*f).read(buf))
    }

    fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.0.poll_write_with(cx, |f| (&*f).write(buf))
    }

    fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_write_with(cx, |f| (&*f).write_vectored(bufs))
    }
}

/// The parent's end of the child's standard input ([`Child::stdin`](super::Child::stdin)),
/// with `Stdio::piped()`. Implements `futures_io::AsyncWrite`.
///
/// Closing it (`close().await`, or dropping it) gives the child end of file. Writing
/// after the child has closed its end (or exited) fails with `BrokenPipe`: Rust programs
/// ignore `SIGPIPE`, so it does not kill the process.
pub struct ChildStdin {
    /// `None` once closed.
    pipe: Option<Pipe>,
}

impl ChildStdin {
    /// Registers a standard library pipe end with the current runtime's reactor.
    ///
    /// # Errors
    ///
    /// Outside a runtime with a reactor, or if registration fails.
    pub fn from_std(stdin: std::process::ChildStdin) -> io::Result<ChildStdin> {
        Ok(ChildStdin {
            pipe: Some(Pipe::new(stdin)?),
        })
    }

    fn pipe(&self) -> io::Result<&Pipe> {
        self.pipe.as_ref().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the child's stdin was closed by `close`",
            )
        })
    }
}

impl AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.pipe()?.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.pipe()?.poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A pipe has no user-space buffer: every write went to the kernel.
        Poll::Ready(Ok(()))
    }

    /// Closes the pipe: the child reads end of file.
    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.pipe = None;
        Poll::Ready(Ok(()))
    }
}

/// Reads `pipe` to its end into `out`, from a poll function (for `wait_with_output`).
pub(super) fn poll_read_to_end(
    pipe: &mut (impl AsyncRead + Unpin),
    out: &mut Vec<u8>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    const CHUNK: usize = 32 * 1024;
    loop {
        let len = out.len();
        out.resize(len + CHUNK, 0);
        let res = Pin::new(&mut *pipe).poll_read(cx, &mut out[len..]);
        let n = match &res {
            Poll::Ready(Ok(n)) => *n,
            _ => 0,
        };
        out.truncate(len + n);
        match res {
            Poll::Ready(Ok(0)) => return Poll::Ready(Ok(())),
            Poll::Ready(Ok(_)) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// Debug without the descriptor's internals.
macro_rules! opaque_debug {
    ($($ty:ident),*) => {$(
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty)).finish_non_exhaustive()
            }
        }
    )*};
}

opaque_debug!(ChildStdin);

/// The two read ends: the same code, each its own type (as in std and tokio).
macro_rules! read_end {
    ($(#[$doc:meta])* $ty:ident, $std:ty) => {
        $(#[$doc])*
        pub struct $ty {
            pipe: Pipe,
        }

        impl $ty {
            /// Registers a standard library pipe end with the current runtime's reactor.
            ///
            /// # Errors
            ///
            /// Outside a runtime with a reactor, or if registration fails.
            pub fn from_std(end: $std) -> io::Result<$ty> {
                Ok($ty {
                    pipe: Pipe::new(end)?,
                })
            }
        }

        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.pipe.poll_read(cx, buf)
            }
        }

        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.pipe.0.as_fd()
            }
        }

        // For tokio's `AsyncRead` (crate::tokio_io): a read into memory not yet initialized.
        #[cfg(feature = "tokio-io")]
        impl crate::tokio_io::PollRecvUninit for $ty {
            fn poll_recv_uninit(
                &mut self,
                cx: &mut Context<'_>,
                buf: &mut [std::mem::MaybeUninit<u8>],
            ) -> Poll<io::Result<usize>> {
                self.pipe
                    .0
                    .poll_read_with(cx, |f| crate::tokio_io::read_uninit(f.as_fd(), buf))
            }
        }

        opaque_debug!($ty);
    };
}

read_end!(
    /// The parent's end of the child's standard output
    /// ([`Child::stdout`](super::Child::stdout)), with `Stdio::piped()`. Implements
    /// `futures_io::AsyncRead`; `Ok(0)` once the child closed it (or exited).
    ChildStdout,
    std::process::ChildStdout
);

read_end!(
    /// The parent's end of the child's standard error
    /// ([`Child::stderr`](super::Child::stderr)), with `Stdio::piped()`. Implements
    /// `futures_io::AsyncRead`; `Ok(0)` once the child closed it (or exited).
    ChildStderr,
    std::process::ChildStderr
);

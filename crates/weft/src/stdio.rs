//! `stdin`, `stdout`, `stderr` on the blocking pool, through the same buffered state
//! machine as `File`.

use crate::blocking_io::{Blocking, Policy, Raw};
use std::fmt;
use std::io::{self, Read, SeekFrom, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

fn unsupported() -> io::Error {
    io::Error::from(io::ErrorKind::Unsupported)
}

struct In(io::Stdin);
struct Out(io::Stdout);
struct Err(io::Stderr);

impl Raw for In {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
    fn write_all(&mut self, _: &[u8]) -> io::Result<()> {
        Result::Err(unsupported())
    }
    fn seek(&mut self, _: SeekFrom) -> io::Result<u64> {
        Result::Err(unsupported())
    }
}

impl Raw for Out {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Result::Err(unsupported())
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        // Past std's own line buffer too, so that a flush here is a flush of the fd.
        let mut out = self.0.lock();
        out.write_all(buf)?;
        out.flush()
    }
    fn seek(&mut self, _: SeekFrom) -> io::Result<u64> {
        Result::Err(unsupported())
    }
}

impl Raw for Err {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Result::Err(unsupported())
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut out = self.0.lock();
        out.write_all(buf)?;
        out.flush()
    }
    fn seek(&mut self, _: SeekFrom) -> io::Result<u64> {
        Result::Err(unsupported())
    }
}

/// The process's standard input, read on weft's blocking pool (see [`stdin`]).
pub struct Stdin {
    io: Blocking<In>,
}

/// The process's standard output, written on weft's blocking pool (see [`stdout`]).
pub struct Stdout {
    io: Blocking<Out>,
}

/// The process's standard error, written on weft's blocking pool (see [`stderr`]).
pub struct Stderr {
    io: Blocking<Err>,
}

/// A handle to standard input, with [`AsyncRead`](crate::io::AsyncRead) and
/// [`AsyncBufRead`](crate::io::AsyncBufRead) (so `lines()` works).
///
/// ```no_run
/// use weft::io::AsyncBufReadExt;
/// use weft::stream::StreamExt;
///
/// weft::run(async {
///     let mut lines = weft::io::stdin().lines();
///     while let Some(line) = lines.next().await {
///         println!("you said: {}", line.unwrap());
///     }
/// });
/// ```
///
/// Each handle reads ahead up to 64 KiB into its own buffer, so use one handle for the
/// whole program: a second one would not see what the first read ahead.
///
/// # Cancellation
///
/// A read, once started, is a blocking `read(2)` that cannot be interrupted: dropping its
/// future leaves it waiting for input on the pool, and what it reads is kept for the next
/// read on the same handle (or lost with the handle). A runtime dropped meanwhile waits for
/// it (use [`Runtime::shutdown_timeout`](crate::Runtime::shutdown_timeout) not to).
pub fn stdin() -> Stdin {
    Stdin {
        io: Blocking::new(In(io::stdin()), Policy::Full),
    }
}

/// A handle to standard output, with [`AsyncWrite`](crate::io::AsyncWrite).
///
/// ```
/// use weft::io::AsyncWriteExt;
///
/// weft::run(async {
///     let mut out = weft::io::stdout();
///     out.write_all(b"hello from weft\n").await.unwrap();
///     out.flush().await.unwrap();
/// });
/// ```
///
/// Like std's, it is line buffered: a write holding a newline, a full 64 KiB buffer or a
/// flush hands what was written to the OS in one blocking call. Flush before the program
/// exits: a handle dropped with data writes it in the background, which a process exit
/// may cut short. Writes from several handles interleave at those calls' boundaries.
/// Dropping a write future loses nothing that it reported as written.
pub fn stdout() -> Stdout {
    Stdout {
        io: Blocking::new(Out(io::stdout()), Policy::Line),
    }
}

/// A handle to standard error, with [`AsyncWrite`](crate::io::AsyncWrite).
///
/// Unbuffered like std's: each write is handed to the OS in its own blocking call (the
/// next write waits for it), so flushing is needed only to hear the last write's error.
pub fn stderr() -> Stderr {
    Stderr {
        io: Blocking::new(Err(io::stderr()), Policy::Eager),
    }
}

impl futures_lite::AsyncRead for Stdin {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().io.poll_read(cx, buf)
    }
}

impl futures_lite::AsyncBufRead for Stdin {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        self.get_mut().io.poll_fill_buf(cx)
    }
    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().io.consume(amt)
    }
}

macro_rules! async_write {
    ($t:ty) => {
        impl futures_lite::AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.get_mut().io.poll_write(cx, buf)
            }
            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().io.poll_flush(cx)
            }
            /// Flushes; the process's descriptor stays open.
            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().io.poll_flush(cx)
            }
        }
    };
}

async_write!(Stdout);
async_write!(Stderr);

impl fmt::Debug for Stdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Stdin").field(&self.io).finish()
    }
}

impl fmt::Debug for Stdout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Stdout").field(&self.io).finish()
    }
}

impl fmt::Debug for Stderr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Stderr").field(&self.io).finish()
    }
}

//! `Async<T>`: any non-blocking file descriptor, registered with the reactor.

use crate::reactor::Reactor;
use crate::source::{AfterBlock, Direction, Source};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::task::{Context, Poll};
use weft_executor::Handle;

const SHUT_DOWN: &str = "the weft runtime that owns this I/O object has shut down";

pub(crate) const NO_REACTOR: &str = "weft sockets need a weft runtime with a reactor: create \
them inside `weft::run` or `Runtime::block_on` (with `weft-executor` alone, install \
`weft_reactor::ReactorDriver` as the driver and its `reactor()` as an extension)";

/// An I/O object (a socket, a pipe: anything with a file descriptor) registered with the
/// runtime's reactor, in non-blocking mode.
///
/// Reads and writes are tried at once; only when the operating system says `WouldBlock`
/// does the task wait for the reactor to report readiness, then tries again. Several tasks
/// may wait on the same direction of the same object.
///
/// Dropping it deregisters the descriptor, then closes it.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use weft_reactor::Async;
/// # let rt = weft_reactor::install(&mut weft_executor::Builder::new()).unwrap().build().unwrap();
/// rt.block_on(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     let a = Async::new(a).unwrap();
///     let b = Async::new(b).unwrap();
///     a.write_with(|s| (&*s).write(b"hi")).await.unwrap();
///     let mut buf = [0; 2];
///     b.read_with(|s| (&*s).read(&mut buf)).await.unwrap();
///     assert_eq!(&buf, b"hi");
/// });
/// ```
pub struct Async<T: AsFd> {
    io: Option<T>,
    source: Arc<Source>,
    reactor: Arc<Reactor>,
}

impl<T: AsFd + fmt::Debug> fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Async").field("io", &self.io).finish()
    }
}

impl<T: AsFd> Async<T> {
    /// Puts `io` in non-blocking mode and registers it with the current runtime's reactor.
    ///
    /// # Errors
    ///
    /// Outside a runtime with a reactor (kind `Other`, with a message that says how to get
    /// one), or if registration fails.
    pub fn new(io: T) -> io::Result<Async<T>> {
        Async::with_reactor(io, current_reactor()?)
    }

    /// Like [`new`](Async::new), with an explicit reactor.
    pub fn with_reactor(io: T, reactor: Arc<Reactor>) -> io::Result<Async<T>> {
        socket2::SockRef::from(&io).set_nonblocking(true)?;
        Async::register(io, reactor)
    }

    /// Registers `io`, already non-blocking, with the current runtime's reactor.
    pub(crate) fn new_nonblocking(io: T) -> io::Result<Async<T>> {
        Async::register(io, current_reactor()?)
    }

    fn register(io: T, reactor: Arc<Reactor>) -> io::Result<Async<T>> {
        let source = reactor.register(io.as_fd())?;
        Ok(Async {
            io: Some(io),
            source,
            reactor,
        })
    }

    /// The I/O object.
    pub fn get_ref(&self) -> &T {
        self.io.as_ref().expect("present until into_inner or drop")
    }

    /// Deregisters the object and gives it back (still non-blocking).
    pub fn into_inner(mut self) -> io::Result<T> {
        let io = self.io.take().expect("present until into_inner or drop");
        self.reactor.deregister(&self.source, io.as_fd())?;
        Ok(io)
    }

    /// The reactor this object is registered with.
    pub(crate) fn reactor(&self) -> &Arc<Reactor> {
        &self.reactor
    }

    /// About to wait: fails if nobody will ever report readiness again (the runtime shut
    /// down); in oneshot mode, arms the registration.
    fn before_wait(&self) -> io::Result<()> {
        if self.reactor.is_shut_down() {
            return Err(io::Error::other(SHUT_DOWN));
        }
        self.reactor.rearm(&self.source, self.get_ref().as_fd())
    }

    fn poll_ready(&self, dir: Direction, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.source.poll_ready(dir, cx) {
            Poll::Ready(()) => Poll::Ready(Ok(())),
            Poll::Pending => match self.before_wait() {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
        }
    }

    /// Waits until the reactor reports the object readable. (It may then still return
    /// `WouldBlock`, e.g. if another task read first.)
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(Direction::Read, cx)
    }

    /// Waits until the reactor reports the object writable.
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(Direction::Write, cx)
    }

    /// Waits until the reactor reports the object readable.
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_readable(cx)).await
    }

    /// Waits until the reactor reports the object writable.
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_writable(cx)).await
    }

    fn poll_with<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            let before = self.source.snapshot();
            match op(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    match self.source.clear_and_wait(dir, before, cx) {
                        AfterBlock::Retry => continue,
                        AfterBlock::Wait => {
                            return match self.before_wait() {
                                Ok(()) => Poll::Pending,
                                Err(e) => Poll::Ready(Err(e)),
                            };
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                res => return Poll::Ready(res),
            }
        }
    }

    /// Runs a read-like operation, waiting for readability whenever it would block.
    pub fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_with(Direction::Read, cx, op)
    }

    /// Runs a write-like operation, waiting for writability whenever it would block.
    pub fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_with(Direction::Write, cx, op)
    }

    /// Runs a read-like operation until it does not return `WouldBlock`.
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_read_with(cx, &mut op)).await
    }

    /// Runs a write-like operation until it does not return `WouldBlock`.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_write_with(cx, &mut op)).await
    }
}

fn current_reactor() -> io::Result<Arc<Reactor>> {
    Handle::current_extension::<Reactor>().ok_or_else(|| io::Error::other(NO_REACTOR))
}

impl<T: AsFd> AsFd for Async<T> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsFd> Drop for Async<T> {
    fn drop(&mut self) {
        if let Some(io) = self.io.take() {
            // Out of the poller first, then closed (when `io` drops).
            let _ = self.reactor.deregister(&self.source, io.as_fd());
        }
    }
}

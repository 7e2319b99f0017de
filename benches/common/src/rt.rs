//! The operations workloads use, as traits each runtime implements in its own file:
//! [`Rt`] (tasks and time) and [`Net`] (TCP). tokio's I/O traits differ from the
//! futures-io ones weft and smol share, so [`Net`] names each socket operation.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// The reads and writes of a futures-io stream (weft's and smol's), for a [`Net`] impl.
macro_rules! futures_io_net {
    () => {
        fn read<'a>(
            s: &'a mut Self::Stream,
            buf: &'a mut [u8],
        ) -> impl std::future::Future<Output = std::io::Result<usize>> + Send + 'a {
            futures_lite::AsyncReadExt::read(s, buf)
        }
        fn read_exact<'a>(
            s: &'a mut Self::Stream,
            buf: &'a mut [u8],
        ) -> impl std::future::Future<Output = std::io::Result<()>> + Send + 'a {
            futures_lite::AsyncReadExt::read_exact(s, buf)
        }
        fn write_all<'a>(
            s: &'a mut Self::Stream,
            buf: &'a [u8],
        ) -> impl std::future::Future<Output = std::io::Result<()>> + Send + 'a {
            futures_lite::AsyncWriteExt::write_all(s, buf)
        }
    };
}

mod smol;
mod tokio;
mod weft;

pub use self::smol::{Smol, SmolLocal};
pub use self::tokio::Tokio;
pub use self::weft::Weft;

/// A runtime's tasks and timers, as the workloads use them.
pub trait Rt {
    /// What [`Rt::spawn`] returns: awaits the task's output.
    type Join<T: Send + 'static>: Future<Output = T> + Send + 'static;
    /// What [`Rt::sleep_until`] returns.
    type Sleep: Future<Output = ()> + Send + 'static;
    /// The runtime's name in reports.
    fn name(&self) -> &'static str;
    /// Spawns `f` from inside the runtime.
    fn spawn<F>(f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    /// Runs `f` as a task on the runtime and waits for it from this thread.
    fn run<F>(&self, f: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    /// Gives the worker to the next task once.
    fn yield_now() -> impl Future<Output = ()> + Send;
    /// Completes at `deadline`.
    fn sleep_until(deadline: Instant) -> Self::Sleep;
    /// Spawns a task nobody will await (smol cancels a task whose handle is dropped, so
    /// each runtime says how to let one run on its own).
    fn detach<F>(f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(Self::spawn(f));
    }
    /// Spawns from a thread that is not one of the runtime's.
    fn spawn_outside<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
}

/// A runtime's TCP sockets, as the workloads use them.
pub trait Net: Rt {
    /// The runtime's TCP listener.
    type Listener: Send + Sync + 'static;
    /// The runtime's TCP stream.
    type Stream: Send + 'static;
    /// A listener on 127.0.0.1, any port, and its address.
    fn bind() -> impl Future<Output = (Self::Listener, SocketAddr)> + Send;
    /// The next connection.
    fn accept(l: &Self::Listener) -> impl Future<Output = Self::Stream> + Send;
    /// A connection to `addr`.
    fn connect(addr: SocketAddr) -> impl Future<Output = Self::Stream> + Send;
    /// Turns Nagle's algorithm off.
    fn set_nodelay(s: &Self::Stream);
    /// Reads what is there, up to `buf.len()` bytes.
    fn read<'a>(
        s: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;
    /// Fills `buf`.
    fn read_exact<'a>(
        s: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
    /// Writes all of `buf`.
    fn write_all<'a>(
        s: &'a mut Self::Stream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
}

/// Unwraps a `Result`-returning join handle so all three have the same shape.
#[derive(Debug)]
pub struct Unwrap<J>(J);

impl<J: Future<Output = Result<T, E>> + Unpin, T, E: std::fmt::Debug> Future for Unwrap<J> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.expect("task failed"))
    }
}

//! The I/O reactor of weft, on `polling`, and async TCP, UDP and Unix sockets.
//!
//! - [`Reactor`] and [`ReactorDriver`]: one poller per runtime, plugged into the executor
//!   as its driver: an idle worker waits in `Poller::wait`, events wake their tasks on that
//!   worker, busy workers poll without blocking every 61 ticks.
//! - [`Async`]: any non-blocking file descriptor, registered.
//! - Sockets: [`TcpListener`], [`TcpStream`], [`UdpSocket`], and on Unix [`UnixListener`],
//!   [`UnixStream`], [`UnixDatagram`]. Streams implement `futures_io::AsyncRead` and
//!   `AsyncWrite`. [`TcpSocket`] sets a TCP socket up before it connects or listens.
//! - tokio's socket methods under tokio's names: `ready(Interest)` returning [`Ready`],
//!   `try_read`/`try_write` (and vectored), `peek`, `poll_read_ready`, `try_send`/
//!   `try_recv`, `recv_buf` into a `Vec`'s spare capacity, the socket options, and
//!   `into_std`/`from_std` on every socket type.
//!
//! Sockets must be created inside a runtime that has a reactor (every runtime of the
//! `weft` crate has one); elsewhere creating one returns an error that says so.
//!
//! # Cooperation
//!
//! Every socket and `Async` operation that completes (a read, write, send, receive,
//! accept, or a `readable`/`writable` that finds the direction ready) spends one unit of
//! the task's cooperative budget (`weft_executor::coop`); when the budget is spent it
//! returns `Pending` and wakes the task, so a task over a socket that always has data
//! still lets the other tasks, timers and I/O of its worker run. An operation that has to
//! wait costs nothing.
//!
//! # Readiness, and I/O of your own
//!
//! A direction's readiness is set by the reactor's events and cleared when an operation
//! returns `WouldBlock`. `readable()` and `writable()` complete while it is set, so they
//! may complete though the next operation would block (after one that succeeded, say);
//! that operation then clears it. Non-blocking I/O of your own on the raw descriptor goes
//! through `try_io(Interest::READABLE, ..)` (or `WRITABLE`), which clears the readiness
//! when your operation says `WouldBlock`, so that the next `readable()` waits.
//!
//! The `try_*` methods (`try_read`, `try_send`, ...) are such operations: each tries once,
//! never waits, and spends no cooperative budget; its `WouldBlock` clears the readiness
//! of its direction, so `readable()` (or `writable()`, `ready(interest)`) after it waits
//! for the next event, as with tokio.
//!
//! # Waiters
//!
//! The futures of the async methods, and streams polled through `&mut self` (the
//! `AsyncRead`/`AsyncWrite` of streams and their halves, `Incoming`), keep their waker
//! once and take it out when dropped: a wait given up under a `timeout` leaves nothing
//! behind. Callers of the `poll_*` methods through `&self` share one waker per direction
//! (see [`Async::poll_readable`]).
//!
//! # Faults
//!
//! What a peer or the operating system does is returned as an `io::Error`, never a panic:
//! a refused connection is `ConnectionRefused`; a peer that closes gives `Ok(0)` on read;
//! writing to a reset peer gives `BrokenPipe` or `ConnectionReset` (Rust programs start
//! with `SIGPIPE` ignored, so the write fails instead of killing the process; a host
//! program that restores `SIGPIPE` would change that for vectored and Unix-socket writes,
//! which do not pass `MSG_NOSIGNAL`); an
//! `accept` that fails (`EMFILE`) returns the error and the listener keeps working.
//!
//! # tokio's I/O traits
//!
//! With the feature `tokio-io`, the streams and their halves, the child's pipes and
//! `Async<T>` (for a `T` whose `&T` reads or writes) also implement `tokio::io::AsyncRead`
//! and `AsyncWrite`, for crates written against tokio's traits. Only the traits come
//! along: `tokio` without default features, so no tokio runtime exists.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations)]
#![cfg_attr(weft_loom, allow(dead_code, unused_imports))]

#[cfg(not(weft_loom))]
mod async_fd;
#[cfg(not(weft_loom))]
pub mod net;
#[cfg(all(unix, not(weft_loom)))]
pub mod process;
#[cfg(not(weft_loom))]
mod reactor;
#[cfg(all(unix, not(weft_loom)))]
pub mod signal;
mod source;
#[cfg(all(unix, feature = "tokio-io", not(weft_loom)))]
mod tokio_io;

#[cfg(not(weft_loom))]
pub use async_fd::{Async, Interest, Ready};
#[cfg(not(weft_loom))]
pub use net::socket::TcpSocket;
#[cfg(not(weft_loom))]
pub use net::tcp::{
    Incoming, OwnedReadHalf, OwnedWriteHalf, ReadHalf, TcpListener, TcpStream, WriteHalf,
};
#[cfg(not(weft_loom))]
pub use net::udp::UdpSocket;
#[cfg(all(unix, not(weft_loom)))]
pub use net::unix::{
    OwnedUnixReadHalf, OwnedUnixWriteHalf, UnixDatagram, UnixIncoming, UnixListener, UnixReadHalf,
    UnixStream, UnixWriteHalf,
};
#[cfg(not(weft_loom))]
pub use net::ToSocketAddrs;
#[cfg(not(weft_loom))]
pub use reactor::{install, Reactor, ReactorDriver};

// The crate's own tests reach it by its name, as the integration tests' helpers do.
#[cfg(all(test, not(weft_loom)))]
extern crate self as weft_reactor;
#[cfg(all(test, not(weft_loom)))]
mod tests_oneshot;

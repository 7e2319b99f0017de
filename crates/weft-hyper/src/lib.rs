//! Runs hyper 1.x on weft.
//!
//! hyper is runtime-agnostic through three traits; this crate implements them for weft:
//!
//! - [`HyperIo`]: hyper's `rt::Read` and `rt::Write` for any `futures-io` stream (weft's
//!   `TcpStream`, `UnixStream`, ...).
//! - [`WeftExecutor`]: hyper's `rt::Executor`, spawning on the current weft runtime.
//! - [`WeftTimer`]: hyper's `rt::Timer`, on weft's timing wheel.
//!
//! # Examples
//!
//! A server and a client on loopback:
//!
//! ```
//! use http_body_util::{BodyExt, Full};
//! use hyper::body::Bytes;
//! use hyper::{Request, Response};
//! use weft_hyper::{HyperIo, WeftTimer};
//!
//! weft::run(async {
//!     let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     weft::spawn(async move {
//!         let (stream, _) = listener.accept().await.unwrap();
//!         let service = hyper::service::service_fn(|_req: Request<hyper::body::Incoming>| async {
//!             Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("hi"))))
//!         });
//!         hyper::server::conn::http1::Builder::new()
//!             .timer(WeftTimer)
//!             .serve_connection(HyperIo::new(stream), service)
//!             .await
//!             .unwrap();
//!     });
//!     let stream = weft::net::TcpStream::connect(addr).await.unwrap();
//!     let (mut sender, conn) =
//!         hyper::client::conn::http1::handshake(HyperIo::new(stream)).await.unwrap();
//!     weft::spawn(conn);
//!     let req = Request::get("/").header("host", "localhost").body(Full::new(Bytes::new())).unwrap();
//!     let res = sender.send_request(req).await.unwrap();
//!     let body = res.into_body().collect().await.unwrap().to_bytes();
//!     assert_eq!(&body[..], b"hi");
//! });
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A `futures-io` stream as hyper's `rt::Read + rt::Write`.
pub struct HyperIo<T> {
    io: T,
    /// Reads land here, then are copied into hyper's buffer (see `poll_read`). Zeroed once.
    buf: Box<[u8]>,
}

impl<T: std::fmt::Debug> std::fmt::Debug for HyperIo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("HyperIo").field(&self.io).finish()
    }
}

impl<T> HyperIo<T> {
    /// Wraps a stream.
    pub fn new(io: T) -> HyperIo<T> {
        HyperIo {
            io,
            buf: vec![0; READ_CHUNK].into_boxed_slice(),
        }
    }

    /// The stream.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// Gives the stream back.
    pub fn into_inner(self) -> T {
        self.io
    }
}

/// Bytes read per call: what fits in a small stack buffer.
const READ_CHUNK: usize = 16 * 1024;

impl<T: futures_io::AsyncRead + Unpin> hyper::rt::Read for HyperIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // Read into initialised memory and copy: hyper's zero-copy path needs `unsafe`,
        // which this crate forbids; a copy costs little next to HTTP parsing.
        let this = self.get_mut();
        let want = buf.remaining().min(READ_CHUNK);
        match Pin::new(&mut this.io).poll_read(cx, &mut this.buf[..want]) {
            Poll::Ready(Ok(n)) => {
                buf.put_slice(&this.buf[..n]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: futures_io::AsyncWrite + Unpin> hyper::rt::Write for HyperIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_close(cx)
    }
}

/// hyper's `rt::Executor`: spawns on the current weft runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct WeftExecutor;

impl<F> hyper::rt::Executor<F> for WeftExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        drop(weft::spawn(future));
    }
}

/// hyper's `rt::Timer`, on weft's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct WeftTimer;

/// A weft sleep as hyper's `rt::Sleep`.
#[derive(Debug)]
struct HyperSleep(weft::time::Sleep);

impl Future for HyperSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}

impl hyper::rt::Timer for WeftTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(weft::time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(weft::time::sleep_until(deadline)))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        // Ours: move the timer entry in place. Another timer's sleep: replace it.
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            Some(mut ours) => ours.0.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

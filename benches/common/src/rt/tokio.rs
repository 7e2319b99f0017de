//! tokio's multi-thread runtime, with everything enabled.

use super::{Net, Rt, Unwrap};
use crate::http::{self, HelloServer};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Instant;

/// A tokio multi-thread runtime with the bench's worker count.
#[derive(Debug)]
pub struct Tokio(tokio::runtime::Runtime);

fn runtime(workers: usize) -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
}

impl Tokio {
    /// `n` workers, I/O and time enabled.
    pub fn new(n: usize) -> Tokio {
        Tokio(runtime(n).unwrap())
    }

    /// tokio's current-thread runtime, I/O and time enabled.
    pub fn current_thread() -> Tokio {
        Tokio(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        )
    }
}

impl Rt for Tokio {
    type Join<T: Send + 'static> = Unwrap<tokio::task::JoinHandle<T>>;
    type Sleep = Pin<Box<tokio::time::Sleep>>;
    fn name(&self) -> &'static str {
        "tokio"
    }
    fn spawn<F>(f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(tokio::spawn(f))
    }
    fn run<F>(&self, f: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.block_on(self.0.spawn(f)).unwrap()
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
    fn sleep_until(deadline: Instant) -> Self::Sleep {
        // tokio's Sleep is !Unpin; boxing it is what users of a trait object do too.
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }
    fn spawn_outside<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(self.0.spawn(f))
    }
}

impl Net for Tokio {
    type Listener = tokio::net::TcpListener;
    type Stream = tokio::net::TcpStream;
    async fn bind() -> (Self::Listener, SocketAddr) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        (l, addr)
    }
    async fn accept(l: &Self::Listener) -> Self::Stream {
        l.accept().await.unwrap().0
    }
    async fn connect(addr: SocketAddr) -> Self::Stream {
        tokio::net::TcpStream::connect(addr).await.unwrap()
    }
    fn set_nodelay(s: &Self::Stream) {
        s.set_nodelay(true).unwrap();
    }
    fn read<'a>(
        s: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        tokio::io::AsyncReadExt::read(s, buf)
    }
    async fn read_exact<'a>(s: &'a mut Self::Stream, buf: &'a mut [u8]) -> io::Result<()> {
        tokio::io::AsyncReadExt::read_exact(s, buf).await.map(drop)
    }
    fn write_all<'a>(
        s: &'a mut Self::Stream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        tokio::io::AsyncWriteExt::write_all(s, buf)
    }
}

/// Accepts on the `block_on` thread (as `#[tokio::main]` would) and serves each
/// connection in a task, through hyper-util's `TokioIo` and `TokioTimer`.
impl HelloServer for Tokio {
    fn serve_hello(
        workers: usize,
        listener: std::net::TcpListener,
        proto: http::Proto,
    ) -> io::Result<()> {
        let rt = runtime(workers)?;
        rt.block_on(async move {
            listener.set_nonblocking(true)?;
            let listener = tokio::net::TcpListener::from_std(listener)?;
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) if http::transient_accept_error(&e) => continue,
                    Err(e) => return Err(e),
                };
                stream.set_nodelay(true)?;
                tokio::spawn(http::serve_connection(
                    hyper_util::rt::TokioIo::new(stream),
                    hyper_util::rt::TokioTimer::new(),
                    hyper_util::rt::TokioExecutor::new(),
                    proto,
                ));
            }
        })
    }
}

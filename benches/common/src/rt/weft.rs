//! weft, built as its users build it: through `weft::Builder`.

use super::{Net, Rt, Unwrap};
use crate::http::{self, HelloServer};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

/// A weft runtime with the bench's worker count.
#[derive(Debug)]
pub struct Weft(weft::Runtime);

impl Weft {
    /// `n` workers, the reactor and the timer, as `weft::Builder` stacks them.
    pub fn new(n: usize) -> Weft {
        Weft(weft::Builder::new().worker_threads(n).build().unwrap())
    }

    /// The current-thread flavour: the tasks run on the thread in `run`.
    pub fn current_thread() -> Weft {
        Weft(weft::Builder::new_current_thread().build().unwrap())
    }
}

impl Rt for Weft {
    type Join<T: Send + 'static> = Unwrap<weft::JoinHandle<T>>;
    type Sleep = weft::time::Sleep;
    fn name(&self) -> &'static str {
        "weft"
    }
    fn spawn<F>(f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(weft::spawn(f))
    }
    fn run<F>(&self, f: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.block_on(self.0.spawn(f)).unwrap()
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        weft::task::yield_now()
    }
    fn sleep_until(deadline: Instant) -> Self::Sleep {
        weft::time::sleep_until(deadline)
    }
    fn spawn_outside<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(self.0.spawn(f))
    }
}

impl Net for Weft {
    type Listener = weft::net::TcpListener;
    type Stream = weft::net::TcpStream;
    async fn bind() -> (Self::Listener, SocketAddr) {
        let l = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        (l, addr)
    }
    async fn accept(l: &Self::Listener) -> Self::Stream {
        l.accept().await.unwrap().0
    }
    async fn connect(addr: SocketAddr) -> Self::Stream {
        weft::net::TcpStream::connect(addr).await.unwrap()
    }
    fn set_nodelay(s: &Self::Stream) {
        s.set_nodelay(true).unwrap();
    }
    futures_io_net!();
}

/// Accepts on the `block_on` thread and serves each connection in a task, as
/// `examples/http_server` does, through `weft-hyper`.
impl HelloServer for Weft {
    fn serve_hello(
        workers: usize,
        listener: std::net::TcpListener,
        proto: http::Proto,
    ) -> io::Result<()> {
        let rt = weft::Builder::new().worker_threads(workers).build()?;
        rt.block_on(async move {
            let listener = weft::net::TcpListener::from_std(listener)?;
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) if http::transient_accept_error(&e) => continue,
                    Err(e) => return Err(e),
                };
                stream.set_nodelay(true)?;
                weft::spawn(http::serve_connection(
                    weft_hyper::HyperIo::new(stream),
                    weft_hyper::WeftTimer,
                    weft_hyper::WeftExecutor,
                    proto,
                ));
            }
        })
    }
}

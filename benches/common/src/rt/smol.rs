//! smol: async-executor on N threads, each inside `async_io::block_on`, so they also
//! drive async-io's reactor and timers when idle (smol's recommended setup); and its
//! `LocalExecutor` on the calling thread, the peer of the current-thread runtimes.

use super::{Net, Rt};
use crate::http::{self, HelloServer};
use async_executor::{Executor, LocalExecutor, Task};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::thread;
use std::time::Instant;

/// smol's executor on N threads, until dropped.
#[derive(Debug)]
pub struct Smol {
    stop: Option<async_channel::Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

/// The executor the workloads spawn on (`Rt::spawn` has no `self`, as tokio's and weft's
/// `spawn` find their runtime from the thread).
fn executor() -> &'static Executor<'static> {
    static SMOL: OnceLock<Executor<'static>> = OnceLock::new();
    SMOL.get_or_init(Executor::new)
}

/// Runs `ex` on `n` threads until `stop` closes.
fn run_threads(
    n: usize,
    ex: impl Fn() -> &'static Executor<'static>,
    stop: async_channel::Receiver<()>,
) -> Vec<thread::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let (ex, stop) = (ex(), stop.clone());
            thread::spawn(move || {
                let _ = async_io::block_on(ex.run(stop.recv()));
            })
        })
        .collect()
}

impl Smol {
    /// `n` threads running the shared executor.
    pub fn new(n: usize) -> Smol {
        let (tx, rx) = async_channel::bounded::<()>(1);
        Smol {
            stop: Some(tx),
            threads: run_threads(n, executor, rx),
        }
    }
}

impl Drop for Smol {
    fn drop(&mut self) {
        drop(self.stop.take());
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
    }
}

/// async-io's `Timer` as a `()` future.
#[derive(Debug)]
pub struct SmolSleep(async_io::Timer);

impl Future for SmolSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

/// The parts of `Rt` both smol adapters share, on the executor `$ex()` returns.
macro_rules! smol_rt_common {
    ($ex:ident) => {
        fn spawn<F>(f: F) -> Task<F::Output>
        where
            F: Future + Send + 'static,
            F::Output: Send + 'static,
        {
            $ex().spawn(f)
        }
        fn yield_now() -> impl Future<Output = ()> + Send {
            futures_lite::future::yield_now()
        }
        fn sleep_until(deadline: Instant) -> SmolSleep {
            SmolSleep(async_io::Timer::at(deadline))
        }
        fn detach<F>(f: F)
        where
            F: Future<Output = ()> + Send + 'static,
        {
            $ex().spawn(f).detach();
        }
        fn spawn_outside<F>(&self, f: F) -> Self::Join<F::Output>
        where
            F: Future + Send + 'static,
            F::Output: Send + 'static,
        {
            $ex().spawn(f)
        }
    };
}

impl Rt for Smol {
    type Join<T: Send + 'static> = Task<T>;
    type Sleep = SmolSleep;
    fn name(&self) -> &'static str {
        "smol"
    }
    fn run<F>(&self, f: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        futures_lite::future::block_on(executor().spawn(f))
    }
    smol_rt_common!(executor);
}

/// async-io's sockets, for both smol adapters.
macro_rules! async_io_net {
    () => {
        type Listener = async_io::Async<std::net::TcpListener>;
        type Stream = async_io::Async<std::net::TcpStream>;
        async fn bind() -> (Self::Listener, SocketAddr) {
            let l = async_io::Async::<std::net::TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
            let addr = l.get_ref().local_addr().unwrap();
            (l, addr)
        }
        async fn accept(l: &Self::Listener) -> Self::Stream {
            l.accept().await.unwrap().0
        }
        async fn connect(addr: SocketAddr) -> Self::Stream {
            async_io::Async::<std::net::TcpStream>::connect(addr)
                .await
                .unwrap()
        }
        fn set_nodelay(s: &Self::Stream) {
            s.get_ref().set_nodelay(true).unwrap();
        }
        futures_io_net!();
    };
}

impl Net for Smol {
    async_io_net!();
}

/// `workers` threads run a fresh executor; this thread accepts in `async_io::block_on`
/// (not in the executor, so it is not a third worker) and spawns each connection there,
/// through smol-hyper's `FuturesIo` and `SmolTimer`.
impl HelloServer for Smol {
    fn serve_hello(
        workers: usize,
        listener: std::net::TcpListener,
        proto: http::Proto,
    ) -> io::Result<()> {
        // One server per process: the executor lives as long as the process.
        let ex: &'static Executor<'static> = Box::leak(Box::new(Executor::new()));
        let (_stop, never) = async_channel::bounded::<()>(1);
        let _threads = run_threads(workers, || ex, never);
        async_io::block_on(async move {
            let listener = async_io::Async::new(listener)?;
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) if http::transient_accept_error(&e) => continue,
                    Err(e) => return Err(e),
                };
                stream.get_ref().set_nodelay(true)?;
                ex.spawn(http::serve_connection(
                    smol_hyper::rt::FuturesIo::new(stream),
                    smol_hyper::rt::SmolTimer::new(),
                    smol_hyper::rt::SmolExecutor::new(Leaked(ex)),
                    proto,
                ))
                .detach();
            }
        })
    }
}

/// The server's leaked executor, as smol-hyper's `SmolExecutor` wants it (`AsRef`).
#[derive(Clone, Copy, Debug)]
struct Leaked(&'static Executor<'static>);

impl AsRef<Executor<'static>> for Leaked {
    fn as_ref(&self) -> &Executor<'static> {
        self.0
    }
}

/// smol's single-threaded `LocalExecutor`, run by the thread in `run` inside
/// `async_io::block_on` (so that thread drives async-io's reactor and timers too): the peer
/// of weft's and tokio's current-thread runtimes. One executor per thread, leaked (the
/// bench's process keeps it to the end).
#[derive(Debug)]
pub struct SmolLocal(());

thread_local! {
    static LOCAL: &'static LocalExecutor<'static> = Box::leak(Box::new(LocalExecutor::new()));
}

fn local() -> &'static LocalExecutor<'static> {
    LOCAL.with(|ex| *ex)
}

impl SmolLocal {
    /// The executor of the calling thread.
    pub fn new() -> SmolLocal {
        SmolLocal(())
    }
}

impl Default for SmolLocal {
    fn default() -> Self {
        SmolLocal::new()
    }
}

impl Rt for SmolLocal {
    type Join<T: Send + 'static> = Task<T>;
    type Sleep = SmolSleep;
    fn name(&self) -> &'static str {
        "smol"
    }
    fn run<F>(&self, f: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let ex = local();
        async_io::block_on(ex.run(ex.spawn(f)))
    }
    smol_rt_common!(local);
}

impl Net for SmolLocal {
    async_io_net!();
}

//! A runtime with the reactor and the timer stacked, as the `weft` crate builds it.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;
use weft_executor::{Builder, Handle, Runtime};
use weft_reactor::{Reactor, ReactorDriver, TcpListener, TcpStream};
use weft_timer::TimerDriver;

/// Turns a hang into a failure; never a statement about speed.
pub const HANG: Duration = Duration::from_secs(60);

pub fn runtime(workers: usize) -> Runtime {
    with_reactor(workers, ReactorDriver::new().unwrap())
}

pub fn with_reactor(workers: usize, reactor: ReactorDriver) -> Runtime {
    let timer = TimerDriver::new(Arc::new(reactor.clone()));
    Builder::new()
        .worker_threads(workers)
        .driver(Arc::new(timer.clone()))
        .extension(reactor.reactor())
        .extension(timer.timer())
        .build()
        .unwrap()
}

pub fn reactor() -> Arc<Reactor> {
    Handle::current().extension::<Reactor>().unwrap()
}

/// Awaits `f`, failing the test (instead of hanging) after `HANG`.
pub async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    weft_timer::timeout(HANG, f).await.expect("hung")
}

/// Awaits every handle, each must succeed, failing the test (instead of hanging) after
/// `HANG`.
pub async fn all_ok<T>(handles: Vec<weft_executor::JoinHandle<T>>) -> Vec<T> {
    bounded(async {
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    })
    .await
}

/// A connected pair over loopback: (client, server side), each step bounded.
pub async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = weft_executor::spawn(async move { TcpStream::connect(addr).await.unwrap() });
    let (server, _) = bounded(listener.accept()).await.unwrap();
    (bounded(client).await.unwrap(), server)
}

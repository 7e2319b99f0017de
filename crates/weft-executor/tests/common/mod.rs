//! Helpers shared by the executor's integration tests.

#![allow(dead_code)]

use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;
use weft_executor::{Builder, Driver, ParkDriver, Runtime};

/// A runtime with `n` workers.
pub fn rt(n: usize) -> Runtime {
    Builder::new().worker_threads(n).build().unwrap()
}

/// The message of the panic `f` must raise.
pub fn panic_message(f: impl FnOnce()) -> String {
    let err =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap()
}

/// Counts its own drops in the shared counter.
pub struct DropCount(pub Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A one-time signal: `open` wakes the task waiting in `wait`.
#[derive(Clone, Default)]
pub struct Gate(Arc<Mutex<(bool, Option<Waker>)>>);

impl Gate {
    pub fn open(&self) {
        let waker = {
            let mut g = self.0.lock().unwrap();
            g.0 = true;
            g.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    pub async fn wait(&self) {
        poll_fn(|cx| {
            let mut g = self.0.lock().unwrap();
            if g.0 {
                Poll::Ready(())
            } else {
                g.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// A driver that counts how it is called, and sleeps as `ParkDriver` does.
#[derive(Default)]
pub struct Recording {
    pub inner: ParkDriver,
    pub parked_now: AtomicUsize,
    pub max_parked: AtomicUsize,
    pub parks: AtomicUsize,
    pub polls: AtomicUsize,
    pub due_polls: AtomicUsize,
    pub shutdowns: AtomicUsize,
}

impl Driver for Recording {
    fn park(&self, timeout: Option<Duration>) {
        let now = self.parked_now.fetch_add(1, SeqCst) + 1;
        self.max_parked.fetch_max(now, SeqCst);
        self.parks.fetch_add(1, SeqCst);
        self.inner.park(timeout);
        self.parked_now.fetch_sub(1, SeqCst);
    }
    fn unpark(&self) {
        self.inner.unpark();
    }
    fn poll(&self) {
        self.polls.fetch_add(1, SeqCst);
    }
    fn poll_due(&self) {
        self.due_polls.fetch_add(1, SeqCst);
    }
    fn shutdown(&self) {
        self.shutdowns.fetch_add(1, SeqCst);
    }
}

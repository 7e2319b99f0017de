//! Helpers shared by the executor's integration tests.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use weft_executor::{Builder, Runtime};

/// A runtime with `n` workers.
pub fn rt(n: usize) -> Runtime {
    Builder::new().worker_threads(n).build().unwrap()
}

/// Counts its own drops in the shared counter.
pub struct DropCount(pub Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

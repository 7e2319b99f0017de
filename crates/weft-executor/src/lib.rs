//! The task executor of weft: a multi-threaded, work-stealing async runtime.
//!
//! Spawn futures as tasks, await their [`JoinHandle`]s, and let a pool of worker threads
//! run them: each worker has its own queue and steals from the others when it runs dry.
//!
//! ```
//! let rt = weft_executor::Runtime::new()?;
//! let total = rt.block_on(async {
//!     let handles: Vec<_> = (0..10u64)
//!         .map(|i| weft_executor::spawn(async move { i * i }))
//!         .collect();
//!     let mut sum = 0;
//!     for h in handles {
//!         sum += h.await.unwrap();
//!     }
//!     sum
//! });
//! assert_eq!(total, 285);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # The parts
//!
//! - Tasks (`task/`): one allocation each: a state word, the future (then its output), the
//!   join waker. Wakers point at it and allocate nothing.
//! - The scheduler (`scheduler/`): per-worker FIFO queues with a stealable LIFO slot, a
//!   global injector, searching and parking workers. Its protocol is explained at the top
//!   of `scheduler/worker.rs`.
//! - The [`Driver`] hook, through which a reactor and a timer plug into the idle path.
//! - The blocking pool ([`spawn_blocking`]) and [`block_on`].
//!
//! The weft facade crate re-exports all of this with the timer and the reactor wired in;
//! depend on it unless you are building your own driver.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations)]
// Under the loom models only the modelled parts are built; the rest would be dead code.
#![cfg_attr(weft_loom, allow(dead_code, unused_imports))]

#[cfg(not(weft_loom))]
mod block_on;
#[cfg(not(weft_loom))]
mod blocking;
#[cfg(not(weft_loom))]
mod context;
pub mod coop;
mod driver;
#[cfg(not(weft_loom))]
mod join_set;
#[cfg(not(weft_loom))]
mod runtime;
mod scheduler;
mod sync;
mod task;
#[cfg(not(weft_loom))]
mod task_local;
mod unwind;
#[cfg(not(weft_loom))]
mod yield_now;

#[cfg(not(weft_loom))]
pub use block_on::block_on;
pub use driver::{wake_contained, Driver, ParkDriver};
#[cfg(not(weft_loom))]
pub use join_set::JoinSet;
#[cfg(not(weft_loom))]
pub use runtime::{
    spawn, spawn_blocking, Builder, EnterGuard, Handle, Runtime, RuntimeMetrics, TryCurrentError,
    MAX_WORKER_THREADS, WORKER_THREADS_ENV,
};
#[cfg(not(weft_loom))]
pub use scheduler::trace::{TaskSource, Trace, TraceEvent, TraceKind};
pub use task::{AbortHandle, JoinError, JoinHandle};
#[cfg(not(weft_loom))]
pub use task_local::{AccessError, LocalKey, TaskLocalFuture};
#[cfg(not(weft_loom))]
pub use yield_now::{yield_now, YieldNow};

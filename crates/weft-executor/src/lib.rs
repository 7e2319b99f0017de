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
//! # The layers
//!
//! Each layer uses only the layers below it (every `use` points down this list):
//!
//! 1. Foundations: `sync` (std or loom primitives, crossbeam's deque or its loom
//!    stand-in), `unwind` (nothing the runtime calls outside a poll unwinds into it),
//!    `coop` (the cooperative budget) and `driver` (the [`Driver`] hook, through which a
//!    reactor and a timer plug into the idle path).
//! 2. Tasks (`task/`): one allocation each (a state word, the future then its output,
//!    the join waker), wakers that point at it and allocate nothing, join and abort
//!    handles, the owned-task list with its per-worker batches, the cell caches. It knows
//!    a scheduler only as the `task::Schedule` trait.
//! 3. The scheduler (`scheduler/`): the state the workers share, the workers (their
//!    protocol is explained at the top of `scheduler/worker.rs`), the current-thread
//!    flavour that lends the one worker to `block_on` (`scheduler/current_thread.rs`), stealing, the idle
//!    protocol, parking, the LIFO slot, the thread-local context, the blocking pool, the
//!    settings (`Config`), metrics and traces.
//! 4. The public layer: [`Builder`] (`builder.rs`), [`Runtime`] (`runtime.rs`),
//!    [`Handle`] with [`spawn`] and [`spawn_blocking`] (`handle.rs`), [`TaskBuilder`]
//!    (`task_builder.rs`), [`RuntimeMetrics`] (`metrics.rs`), and on them [`block_on`],
//!    [`block_in_place`], [`JoinSet`], [`yield_now`], task-locals ([`LocalKey`]) and local
//!    tasks ([`LocalSet`], [`spawn_local`], `local_set.rs`).
//!
//! The weft facade crate re-exports all of this with the timer and the reactor wired in;
//! depend on it unless you are building your own driver.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs, missing_debug_implementations)]
// Under the loom models only the modelled parts are built; the rest would be dead code.
#![cfg_attr(weft_loom, allow(dead_code, unused_imports))]

// Layer 1.
pub mod coop;
mod driver;
mod sync;
mod unwind;
// Layer 2.
mod task;
// Layer 3.
mod scheduler;
// Layer 4.
#[cfg(not(weft_loom))]
mod block_in_place;
#[cfg(not(weft_loom))]
mod block_on;
#[cfg(not(weft_loom))]
mod builder;
#[cfg(not(weft_loom))]
mod dump;
#[cfg(not(weft_loom))]
mod handle;
#[cfg(not(weft_loom))]
mod join_set;
#[cfg(not(weft_loom))]
mod local_set;
#[cfg(not(weft_loom))]
mod metrics;
#[cfg(not(weft_loom))]
mod runtime;
#[cfg(not(weft_loom))]
mod task_builder;
#[cfg(not(weft_loom))]
mod task_local;
#[cfg(not(weft_loom))]
mod yield_now;

#[cfg(not(weft_loom))]
pub use block_in_place::block_in_place;
#[cfg(not(weft_loom))]
pub use block_on::block_on;
#[cfg(not(weft_loom))]
pub use builder::{Builder, MAX_WORKER_THREADS, WORKER_THREADS_ENV};
pub use driver::{wake_contained, Driver, ParkDriver};
#[cfg(not(weft_loom))]
pub use dump::{TaskDump, TaskInfo, TaskState};
#[cfg(not(weft_loom))]
pub use handle::{spawn, spawn_blocking, EnterGuard, Handle, TryCurrentError};
#[cfg(not(weft_loom))]
pub use join_set::JoinSet;
#[cfg(not(weft_loom))]
pub use local_set::{spawn_local, LocalSet, RunUntil};
#[cfg(not(weft_loom))]
pub use metrics::RuntimeMetrics;
#[cfg(not(weft_loom))]
pub use runtime::Runtime;
#[cfg(not(weft_loom))]
pub use scheduler::poll::SlowPoll;
#[cfg(not(weft_loom))]
pub use scheduler::trace::{ParkEnd, Place, TaskSource, Trace, TraceEvent, TraceKind};
pub use task::{task_id, try_task_id, AbortHandle, Id as TaskId, JoinError, JoinHandle};
#[cfg(not(weft_loom))]
pub use task_builder::TaskBuilder;
#[cfg(not(weft_loom))]
pub use task_local::{AccessError, LocalKey, TaskLocalFuture};
#[cfg(not(weft_loom))]
pub use yield_now::{yield_now, YieldNow};

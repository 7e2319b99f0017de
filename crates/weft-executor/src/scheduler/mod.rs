//! The scheduler: multi-threaded and work-stealing, or on the current thread. It runs the tasks of `task/` and knows
//! nothing of the public `Runtime`/`Handle` built on it.
//!
//! - `shared`: `Shared`, the state all workers and handles share; the paths by which a
//!   task enters a queue (spawn, wake, yield); the teardown at shutdown.
//! - `config`: the settings a running runtime keeps.
//! - `current_thread`: the current-thread flavour: the thread in `block_on` runs the
//!   tasks as the one worker, between polls of its own future.
//! - `local`: sets of local tasks (not `Send`), run on their owner thread.
//! - `worker`: the worker loop, with the protocol (ticks, stealing, parking, shutdown)
//!   explained at its top.
//! - `steal`: how a worker takes work from the injector and from other workers.
//! - `lifo`: the stealable LIFO slot.
//! - `seeded`: a seeded current-thread runtime's schedule, drawn from its seed.
//! - `rng`: the generator workers draw steal victims and seeded schedules from.
//! - `idle`: counts of searching and sleeping workers, and whom to wake.
//! - `park`: how one worker sleeps (in the driver or on its condvar).
//! - `context`: the thread-local context (the runtime entered, the worker running here).
//! - `blocking`: the blocking pool.
//! - `thread`: starting a worker or blocking thread.
//! - `spin`: looking for work a while before sleeping (the blocking pool, `block_on`).
//! - `metrics`: per-worker counters.
//! - `poll`: the poll site, what every scheduler loop does around a poll (poll counts,
//!   slow-poll reports).
//! - `trace`: per-worker event records (off unless asked for).

#[cfg(not(weft_loom))]
pub(crate) mod blocking;
#[cfg(not(weft_loom))]
pub(crate) mod config;
#[cfg(not(weft_loom))]
pub(crate) mod context;
#[cfg(not(weft_loom))]
pub(crate) mod current_thread;
pub(crate) mod idle;
pub(crate) mod lifo;
#[cfg(not(weft_loom))]
pub(crate) mod local;
pub(crate) mod metrics;
pub(crate) mod park;
#[cfg(not(weft_loom))]
pub(crate) mod poll;
#[cfg(not(weft_loom))]
mod rng;
#[cfg(not(weft_loom))]
mod seeded;
#[cfg(not(weft_loom))]
mod shared;
#[cfg(not(weft_loom))]
pub(crate) mod spin;
#[cfg(not(weft_loom))]
mod steal;
#[cfg(not(weft_loom))]
pub(crate) mod thread;
#[cfg(not(weft_loom))]
pub(crate) mod trace;
#[cfg(not(weft_loom))]
mod trace_svg;
#[cfg(not(weft_loom))]
pub(crate) mod worker;

#[cfg(all(test, weft_loom))]
mod tests_loom;

#[cfg(not(weft_loom))]
pub(crate) use shared::*;

//! `block_in_place`: blocking code inside a task, without stalling the tasks queued behind
//! it (the hand-off is explained in `scheduler/worker.rs`, "Blocking in place").

use crate::scheduler::{context, worker};

/// Runs `f`, which may block, on the current thread, after handing the calling worker's
/// queued tasks to another thread so that nothing waits behind it.
///
/// Called from a task on a worker of the multi-thread runtime, the worker's queues, its
/// LIFO slot (the task it would have run next) and everything else it holds move to a new
/// worker thread before `f` runs; the task then goes on with the rest of its poll on this
/// thread, which leaves the runtime's workers when that poll returns. The task itself is
/// not moved: it awaits nothing while `f` runs. For blocking work that need not run inside
/// the task, [`spawn_blocking`](crate::spawn_blocking) is cheaper: it uses a pool thread
/// and lets the task await the result.
///
/// Outside a worker (no runtime, inside `block_on`, on a blocking-pool thread, or nested in
/// another `block_in_place`), `f` just runs.
///
/// # Panics
///
/// On a current-thread runtime (in its tasks or its `block_on` future), whose one thread
/// runs every task: use `spawn_blocking(f).await` there.
///
/// # Examples
///
/// ```
/// let rt = weft_executor::Runtime::new().unwrap();
/// let n = rt.block_on(async {
///     weft_executor::spawn(async {
///         // A synchronous call that blocks for a while: the worker's other tasks move to
///         // another thread first.
///         weft_executor::block_in_place(|| {
///             std::thread::sleep(std::time::Duration::from_millis(10));
///             42
///         })
///     })
///     .await
///     .unwrap()
/// });
/// assert_eq!(n, 42);
/// ```
#[track_caller]
pub fn block_in_place<F, R>(f: F) -> R
where
    F: FnOnce() -> R,
{
    // On a current-thread runtime's `block_on` thread there is no other thread to hand
    // the tasks to: they would all stall while `f` blocks.
    let current_thread =
        context::with_worker(|w| w.is_some_and(|w| w.shared.config.current_thread));
    if current_thread {
        panic!("{CURRENT_THREAD_BLOCK_IN_PLACE}");
    }
    worker::hand_off();
    f()
}

/// What `block_in_place` says on the current-thread flavour.
pub(crate) const CURRENT_THREAD_BLOCK_IN_PLACE: &str = "`block_in_place` was called on a \
current-thread runtime, whose one thread would stop running every task while `f` blocks: \
use `spawn_blocking(f).await` instead, or a multi-thread runtime (`Builder::new()`)";

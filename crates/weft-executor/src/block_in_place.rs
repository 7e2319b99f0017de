//! `block_in_place`: blocking code inside a task, without stalling the tasks queued behind
//! it (the hand-off is explained in `scheduler/worker.rs`, "Blocking in place").

use crate::scheduler::worker;

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
/// another `block_in_place`), `f` just runs. So it does, still blocking the worker and the
/// tasks queued on it, where the worker cannot be given away: outside a task's poll (in a
/// destructor the runtime runs, such as a task's output or a `JoinHandle`'s waker being
/// dropped), once the runtime's shutdown began, or if the OS refuses a new thread.
///
/// Only after a hand-off is the calling thread off the workers, so only then may `f` call
/// [`block_on`](crate::block_on); where `f` runs in place on a worker,
/// `block_on` panics as it does in any task.
///
/// Shutdown waits for the thread that runs `f` after a hand-off as for a blocking task,
/// within [`Runtime::shutdown_timeout`](crate::Runtime::shutdown_timeout). Where `f` ran in
/// place on a worker thread, shutdown joins that thread, with no bound (not even
/// `shutdown_timeout`'s): an `f` that waits for the runtime to stop would wait forever.
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
    // On a current-thread runtime's `block_on` thread (its worker is not one `run_worker`
    // runs) there is no other thread to hand the tasks to: they would all stall while `f`
    // blocks.
    if worker::hand_off() == worker::HandOff::Pinned {
        panic!("{CURRENT_THREAD_BLOCK_IN_PLACE}");
    }
    f()
}

/// What `block_in_place` says on the current-thread flavour.
pub(crate) const CURRENT_THREAD_BLOCK_IN_PLACE: &str = "`block_in_place` was called on a \
current-thread runtime, whose one thread would stop running every task while `f` blocks: \
use `spawn_blocking(f).await` instead, or a multi-thread runtime (`Builder::new()`)";

//! `LocalSet` and `spawn_local`: tasks whose futures are not `Send`, run on one thread.

use crate::runtime::Runtime;
use crate::scheduler::local::{EnterLocal, LocalShared};
use crate::task::spawned::Spawned;
use crate::task::JoinHandle;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A set of local tasks: futures that need not be `Send`, all run on the thread that runs
/// the set.
///
/// Run it with [`run_until`](LocalSet::run_until) (a future, for any executor on this
/// thread), [`block_on`](LocalSet::block_on) (a runtime's `block_on` with the set running
/// beside the future), or by awaiting the set itself (until every task in it finished).
/// Inside, [`spawn_local`] spawns onto it. Dropping the set drops the futures of the
/// tasks still in it (their [`JoinHandle`]s resolve to cancelled errors). The set is not
/// `Send`: its tasks never leave its thread. Their `JoinHandle`s are `Send` when the output
/// is, and wake-ups of its tasks may come from any thread.
///
/// On a current-thread runtime ([`Builder::new_current_thread`](crate::Builder::new_current_thread))
/// no set is needed: each `block_on` runs one for its whole call.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let rt = weft_executor::Runtime::new().unwrap(); // multi-thread
/// let local = weft_executor::LocalSet::new();
/// let shared = Rc::new(RefCell::new(Vec::new()));
/// local.block_on(&rt, async {
///     let hs: Vec<_> = (0..3)
///         .map(|i| {
///             let shared = shared.clone(); // an Rc: not Send
///             weft_executor::spawn_local(async move { shared.borrow_mut().push(i) })
///         })
///         .collect();
///     for h in hs {
///         h.await.unwrap();
///     }
/// });
/// assert_eq!(*shared.borrow(), [0, 1, 2]);
/// ```
pub struct LocalSet {
    shared: Arc<LocalShared>,
    _not_send: PhantomData<*const ()>,
}

impl LocalSet {
    /// An empty set.
    pub fn new() -> LocalSet {
        LocalSet {
            shared: LocalShared::new(),
            _not_send: PhantomData,
        }
    }

    /// Spawns a local task onto this set; it runs while the set runs.
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.spawn_local_as(future, Spawned::at(Location::caller()))
    }

    /// `spawn_local`, with the name and spawn location given (`TaskBuilder`).
    pub(crate) fn spawn_local_as<F>(&self, future: F, spawned: Spawned) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.shared.spawn(future, spawned)
    }

    /// A future that runs `future`, and the set's tasks beside it, until `future`
    /// completes. Tasks still running then stay in the set.
    pub fn run_until<F: Future>(&self, future: F) -> RunUntil<'_, F> {
        RunUntil { set: self, future }
    }

    /// Runs `future` on `rt` with `rt.block_on`, with this set running beside it on the
    /// calling thread.
    ///
    /// # Panics
    ///
    /// As [`Runtime::block_on`].
    #[track_caller]
    pub fn block_on<F: Future>(&self, rt: &Runtime, future: F) -> F::Output {
        rt.block_on(self.run_until(future))
    }

    /// Makes this set the one [`spawn_local`] spawns onto here, until the guard drops.
    pub(crate) fn enter(&self) -> EnterLocal {
        self.shared.enter()
    }

    /// Registers the runner's waker and runs a batch of tasks; true if some are left.
    fn tick(&self, cx: &mut Context<'_>) -> bool {
        self.shared.register(cx.waker());
        let more = self.shared.run_some();
        if more {
            // Let the executor run its other work, then come back.
            cx.waker().wake_by_ref();
        }
        more
    }
}

impl Default for LocalSet {
    fn default() -> Self {
        LocalSet::new()
    }
}

impl Drop for LocalSet {
    fn drop(&mut self) {
        // Destructors of the tasks may spawn_local: onto this set, which refuses them now.
        let _enter = self.enter();
        self.shared.shutdown();
    }
}

impl fmt::Debug for LocalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSet")
            .field("tasks", &self.shared.alive())
            .finish()
    }
}

/// Awaiting the set runs its tasks until all of them have finished.
impl Future for LocalSet {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let _enter = self.enter();
        if !self.tick(cx) && self.shared.alive() == 0 {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

pin_project_lite::pin_project! {
    /// The future of [`LocalSet::run_until`].
    pub struct RunUntil<'a, F> {
        set: &'a LocalSet,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for RunUntil<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let me = self.project();
        let _enter = me.set.enter();
        if let Poll::Ready(v) = me.future.poll(cx) {
            return Poll::Ready(v);
        }
        me.set.tick(cx);
        Poll::Pending
    }
}

impl<F> fmt::Debug for RunUntil<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunUntil").finish_non_exhaustive()
    }
}

const NO_LOCAL_SET: &str = "spawn_local was called where no local task set runs: call it \
inside a current-thread runtime's `block_on` (`Builder::new_current_thread`), or run a \
`LocalSet` (`LocalSet::run_until`, `LocalSet::block_on`) on this thread, or use `spawn` for a \
`Send` future";

/// Spawns a future that need not be `Send` onto the local task set running on this thread:
/// the [`LocalSet`] being run here, or on a current-thread runtime the set its `block_on`
/// runs. The task runs on this thread only.
///
/// # Panics
///
/// Where no local set runs (a multi-thread runtime's worker or `block_on` without a
/// `LocalSet`, or outside any runtime), with a message that says what to use instead.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
///
/// let rt = weft_executor::Builder::new_current_thread().build().unwrap();
/// let v = rt.block_on(async {
///     let not_send = Rc::new(5);
///     weft_executor::spawn_local(async move { *not_send * 2 }).await.unwrap()
/// });
/// assert_eq!(v, 10);
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    spawn_local_as(future, Spawned::at(Location::caller()))
}

/// `spawn_local`, with the name and spawn location given (`TaskBuilder`).
pub(crate) fn spawn_local_as<F>(future: F, spawned: Spawned) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    match LocalShared::current() {
        Some(set) => set.spawn(future, spawned),
        None => panic!("{NO_LOCAL_SET}"),
    }
}

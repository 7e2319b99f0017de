//! `JoinSet`: a group of tasks whose outputs arrive in completion order.

use crate::handle::Handle;
use crate::task::{JoinError, JoinHandle};
use parking_lot::Mutex;
use slab::Slab;
use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// A set of tasks, awaited in the order they finish: asyncio's `gather` and `TaskGroup`.
///
/// Dropping the set aborts the tasks still in it. Each task is polled only when it has
/// something to report: awaiting the next result costs the same whether the set holds ten
/// tasks or a million.
///
/// # Examples
///
/// ```
/// use weft_executor::{JoinSet, Runtime};
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut set = JoinSet::new();
///     for i in 0..10u64 {
///         set.spawn(async move { i * 2 });
///     }
///     let mut total = 0;
///     while let Some(r) = set.join_next().await {
///         total += r.unwrap();
///     }
///     assert_eq!(total, 90);
///     assert!(set.is_empty());
/// });
/// ```
pub struct JoinSet<T> {
    /// The tasks, by the index their wakers report.
    entries: Slab<Entry<T>>,
    shared: Arc<Shared>,
}

struct Entry<T> {
    handle: JoinHandle<T>,
    waker: Waker,
}

/// Which entries were woken, and who waits on the set.
struct Shared {
    state: Mutex<(VecDeque<usize>, Option<Waker>)>,
}

/// The waker handed to one task's `JoinHandle`: marks its entry ready, wakes the set.
struct EntryWaker {
    index: usize,
    shared: Arc<Shared>,
}

impl Wake for EntryWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let waiter = {
            let mut st = self.shared.state.lock();
            st.0.push_back(self.index);
            st.1.take()
        };
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        JoinSet {
            entries: Slab::new(),
            shared: Arc::new(Shared {
                state: Mutex::new((VecDeque::new(), None)),
            }),
        }
    }

    /// Tasks in the set (running, or finished and not yet returned by `join_next`).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Aborts every task in the set. They stay in it until `join_next` returns their
    /// (cancelled, or already produced) results.
    pub fn abort_all(&self) {
        for (_, e) in self.entries.iter() {
            e.handle.abort();
        }
    }
}

impl<T: Send + 'static> JoinSet<T> {
    /// Spawns a task on the current runtime and adds it to the set.
    ///
    /// # Panics
    ///
    /// Outside a runtime, like [`spawn`](crate::spawn).
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> crate::AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(crate::spawn(future))
    }

    /// Spawns a task on the runtime of `handle` and adds it to the set.
    #[track_caller]
    pub fn spawn_on<F>(&mut self, future: F, handle: &Handle) -> crate::AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(handle.spawn(future))
    }

    /// Aborts every task and waits until all have finished, discarding their results.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    fn insert(&mut self, handle: JoinHandle<T>) -> crate::AbortHandle {
        let abort = handle.abort_handle();
        let slot = self.entries.vacant_entry();
        let index = slot.key();
        let waker = Waker::from(Arc::new(EntryWaker {
            index,
            shared: self.shared.clone(),
        }));
        // Queued as ready, so its first poll registers the entry's waker.
        waker.wake_by_ref();
        slot.insert(Entry { handle, waker });
        abort
    }

    /// Waits for the next task to finish and returns its result; `None` once the set is
    /// empty. Cancel-safe: a result is taken from the set only by the poll returning it.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// Polls for the next result; see [`join_next`](JoinSet::join_next).
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if self.entries.is_empty() {
            return Poll::Ready(None);
        }
        // One unit of the cooperative budget per result (see `coop.rs`); the handles are
        // then polled without it, so an exhausted budget is seen here, with the set's
        // waker, not by a handle with its entry's waker.
        let coop = std::task::ready!(crate::coop::poll_proceed(cx));
        loop {
            let next = {
                let mut st = self.shared.state.lock();
                match st.0.pop_front() {
                    Some(i) => i,
                    None => {
                        let same = st.1.as_ref().is_some_and(|w| w.will_wake(cx.waker()));
                        let old = if same {
                            None
                        } else {
                            st.1.replace(cx.waker().clone())
                        };
                        drop(st);
                        // The waiter we replaced is dropped outside the lock: its drop is
                        // user code (it may own a task that owns this set).
                        drop(old);
                        return Poll::Pending;
                    }
                }
            };
            // A stale index (entry already returned) is skipped. (If a new task took its
            // slot, that task is polled once for nothing: it registers the same waker.)
            let Some(entry) = self.entries.get_mut(next) else {
                continue;
            };
            let mut ecx = Context::from_waker(&entry.waker);
            let polled = crate::coop::with_unlimited(|| Pin::new(&mut entry.handle).poll(&mut ecx));
            if let Poll::Ready(res) = polled {
                self.entries.remove(next);
                coop.made_progress();
                return Poll::Ready(Some(res));
            }
        }
    }

    /// Waits for every task and returns their outputs, in completion order.
    ///
    /// # Panics
    ///
    /// If a task panicked (its panic is resumed here) or was cancelled.
    pub async fn join_all(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(r) = self.join_next().await {
            match r {
                Ok(v) => out.push(v),
                Err(e) => match e.try_into_panic() {
                    Ok(p) => std::panic::resume_unwind(p),
                    Err(e) => panic!("a task of a JoinSet passed to join_all was {e}"),
                },
            }
        }
        out
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}

impl<T: Send + 'static> futures_core::Stream for JoinSet<T> {
    type Item = Result<T, JoinError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_join_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), Some(self.len()))
    }
}

/// tokio's non-waiting join and collecting a set from futures. (Kept apart from the set's
/// storage above: `take_notified` is the one place here that knows it.)
impl<T: Send + 'static> JoinSet<T> {
    /// Returns the result of a task that has finished, if one has, without waiting; `None`
    /// if none has (or the set is empty). Leaves the waker of a pending
    /// [`join_next`](JoinSet::join_next) as it is, and spends no cooperative budget.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_executor::{JoinSet, Runtime};
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = JoinSet::new();
    ///     assert!(set.try_join_next().is_none()); // empty
    ///     set.spawn(async { 7 });
    ///     let out = loop {
    ///         match set.try_join_next() {
    ///             Some(r) => break r.unwrap(),
    ///             None => weft_executor::yield_now().await, // not finished yet
    ///         }
    ///     };
    ///     assert_eq!(out, 7);
    /// });
    /// ```
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        loop {
            let index = self.shared.state.lock().0.pop_front()?;
            if let Some(res) = self.take_notified(index) {
                return Some(res);
            }
        }
    }

    /// Polls the handle of the entry at `index` (woken) with the entry's waker, and
    /// takes it out of the set if its task has finished. `None` if it has not, or the
    /// index is stale.
    fn take_notified(&mut self, index: usize) -> Option<Result<T, JoinError>> {
        let entry = self.entries.get_mut(index)?;
        let mut ecx = Context::from_waker(&entry.waker);
        let polled = crate::coop::with_unlimited(|| Pin::new(&mut entry.handle).poll(&mut ecx));
        let Poll::Ready(res) = polled else {
            return None;
        };
        self.entries.remove(index);
        Some(res)
    }
}

/// Spawns each future on the current runtime into the set, as [`JoinSet::spawn`] does.
///
/// # Panics
///
/// Outside a runtime, like [`spawn`](crate::spawn).
///
/// # Examples
///
/// ```
/// use weft_executor::{JoinSet, Runtime};
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut set: JoinSet<u32> = (1..=3).map(|i| async move { i * 10 }).collect();
///     set.extend([async { 40 }]);
///     let mut all = set.join_all().await;
///     all.sort();
///     assert_eq!(all, [10, 20, 30, 40]);
/// });
/// ```
impl<T, F> Extend<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    #[track_caller]
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        for future in iter {
            self.spawn(future);
        }
    }
}

/// Spawns each future on the current runtime into a new set; see the
/// `Extend` implementation.
///
/// # Panics
///
/// Outside a runtime, like [`spawn`](crate::spawn).
impl<T, F> FromIterator<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    #[track_caller]
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
        let mut set = JoinSet::new();
        set.extend(iter);
        set
    }
}

//! Task ids: a number per task, never reused while the process runs.
//!
//! Ids come from one process-wide counter, but a thread takes them in blocks of
//! `ID_BLOCK` (`THREAD_IDS`, a thread-local): a spawn takes the next id of its thread's
//! block and touches the shared counter once per `ID_BLOCK` spawns, so workers spawning
//! at once do not write one cache line per spawn. Ids of different threads interleave:
//! an id says which task, not in which order tasks were spawned. A thread that exits
//! leaves the rest of its block unused (at 2^64 ids, that is never a shortage).

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
// Not the loom shim's: the counter is no part of a modelled protocol (each fetch-add hands
// out its own range), and a loom atomic cannot be a static.
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// Ids a thread takes from the shared counter at a time.
const ID_BLOCK: u64 = 1024;

/// The first id of the next block. Ids start at 1 (0 is never an id).
static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's block: the next id to hand out, and the end of the block.
    static THREAD_IDS: (Cell<u64>, Cell<u64>) = const { (Cell::new(0), Cell::new(0)) };
}

/// A task's id: unique among all tasks the process ever spawned, on any runtime.
///
/// Read it with [`JoinHandle::id`](crate::JoinHandle::id),
/// [`AbortHandle::id`](crate::AbortHandle::id), or from inside the task with
/// [`task_id`](crate::task_id). It is printed as a plain number, and names the task in
/// panic reports, traces, task dumps and slow-poll reports. Ids say nothing about the
/// order in which tasks were spawned.
///
/// # Examples
///
/// ```
/// let rt = weft_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let h = weft_executor::spawn(async { weft_executor::task_id() });
///     let id = h.id();
///     assert_eq!(h.await.unwrap(), id);
///     let other = weft_executor::spawn(async {});
///     assert_ne!(other.id(), id);
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(NonZeroU64);

impl Id {
    /// A fresh id, from this thread's block.
    #[inline]
    pub(crate) fn next() -> Id {
        let n = THREAD_IDS
            .try_with(|(next, end)| {
                let n = next.get();
                if n != end.get() {
                    next.set(n + 1);
                    return n;
                }
                let first = NEXT_BLOCK.fetch_add(ID_BLOCK, Relaxed);
                next.set(first + 1);
                end.set(first + ID_BLOCK);
                first
            })
            // During the thread's own destruction: one id straight from the counter.
            .unwrap_or_else(|_| NEXT_BLOCK.fetch_add(1, Relaxed));
        Id(NonZeroU64::new(n).expect("task ids start at 1"))
    }

    /// An id made of a given number, for tests of code that reads ids.
    #[cfg(test)]
    pub(crate) fn for_test(n: u64) -> Id {
        Id(NonZeroU64::new(n).expect("ids are not 0"))
    }

    /// The id as a number (as it is printed).
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_across_threads_and_blocks() {
        let per_thread = 3 * ID_BLOCK as usize + 7;
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(move || (0..per_thread).map(|_| Id::next()).collect::<Vec<_>>())
            })
            .collect();
        let mut all = HashSet::new();
        for t in threads {
            for id in t.join().unwrap() {
                assert!(all.insert(id), "{id:?} handed out twice");
            }
        }
        assert_eq!(all.len(), 4 * per_thread);
    }

    #[test]
    fn an_id_prints_as_its_number() {
        let id = Id::for_test(42);
        assert_eq!(id.to_string(), "42");
        assert_eq!(format!("{id:?}"), "Id(42)");
    }
}

//! The thread-to-shard picker: which of `n` shards of a sharded structure (the executor's
//! owned-task list, the timer's wheels) the calling thread uses.

use std::cell::Cell;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;

/// The calling thread's shard among `n` (`n > 0`): threads are dealt numbers round-robin
/// on first use, and keep theirs, so threads that start together land on different shards
/// and each keeps to one (its lock stays in its cache).
///
/// One numbering serves every sharded structure: a thread has the same number for all.
///
/// # Panics
///
/// If `n` is 0.
///
/// ```
/// let a = weft_sync::thread_shard(4);
/// assert!(a < 4);
/// assert_eq!(weft_sync::thread_shard(4), a, "a thread keeps its shard");
/// ```
#[inline]
pub fn thread_shard(n: usize) -> usize {
    assert!(n > 0, "thread_shard: no shard to pick from (n = 0)");
    let t = thread_number();
    // Shard counts are mostly powers of two (worker counts): a mask then, not a
    // division, which takes tens of cycles on the path of every timer registration.
    if n.is_power_of_two() {
        t & (n - 1)
    } else {
        t % n
    }
}

/// This thread's number, dealt on first use.
fn thread_number() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    MINE.with(|m| {
        if m.get() == usize::MAX {
            // Relaxed: the number only spreads threads; nothing is published with it.
            m.set(NEXT.fetch_add(1, Relaxed));
        }
        m.get()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_dealt_shards_round_robin_and_keep_them() {
        let n = 4;
        // One after another, so nothing else takes a number in between (the only other
        // test of this crate panics before taking one).
        let shards: Vec<usize> = (0..n)
            .map(|_| {
                std::thread::spawn(move || {
                    let first = thread_shard(n);
                    assert_eq!(thread_shard(n), first, "a thread keeps its shard");
                    first
                })
                .join()
                .unwrap()
            })
            .collect();
        let mut sorted = shards.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            [0, 1, 2, 3],
            "each thread its own shard: {shards:?}"
        );
    }

    #[test]
    #[should_panic(expected = "no shard")]
    fn zero_shards_is_refused() {
        thread_shard(0);
    }
}

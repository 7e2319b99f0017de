//! A hierarchical timing wheel: a plain data structure, no threads, no clocks of its own.
//!
//! Six levels of 64 slots. A slot of level 0 is 1 ms wide, so level 0 spans 64 ms; a slot
//! of level `L` is `64^L` ms wide, so level 5 spans `64^6` ms, about 2.2 years. Level 0 is
//! a window sliding with the wheel's time: every entry due within the next 64 ms lives
//! there. A farther entry lives in the lowest level whose (aligned) slot width separates
//! it from the current time; as time reaches a higher-level slot, its entries *cascade*
//! into lower levels. So timers shorter than 64 ms never cascade.
//! Each level keeps a 64-bit occupancy bitmap, so the next non-empty slot is found with a
//! rotate and a trailing-zero count, whatever the number of entries.
//!
//! Entries live in a slab holding their values (`entry.rs`). A slot does not link its
//! entries: it is a vector of small *items*, each an entry's exact deadline (nanoseconds
//! since the wheel's base), its slab index and a stamp. Everything the wheel decides by
//! deadline (which slot, which entry fires first, when to cascade) reads these contiguous
//! items, not the entries: when a millisecond holding thousands of timers came due,
//! walking a linked list through the slab cost a cache miss per entry under the lock
//! (measured: 50-600 us per slot with 100,000 sleeps on 2 workers). An entry is read when
//! it is about to fire (to check its item is current, and for its value), when it
//! cascades, when it is removed or moved, and when it holds the earliest item of the slot
//! `next_deadline` looks at.
//!
//! Removing or moving an entry makes its item stale wherever it is; stale items are
//! dropped when met (at the top of the due heap, when a slot cascades, when a slot's
//! earliest item turns out stale) and by a purge (`purge.rs`).
//!
//! Slots are 1 ms wide, but every item keeps its exact deadline: an entry fires only once
//! its exact deadline has passed, never early, and [`Wheel::next_deadline`] reports the
//! exact earliest deadline among the entries due next, so a driver can sleep until that
//! instant rather than to the next millisecond. When a level-0 slot's millisecond arrives,
//! its items move to a small binary heap ordered by exact deadline (the *due* heap), from
//! which they fire one by one as their instants pass: a millisecond holding thousands of
//! timers is sorted once, not rescanned at every wake-up.
//!
//! Deadlines beyond the wheel's range (about 2.2 years ahead) are not an error: the entry
//! is placed in the farthest slot and, when that slot comes due, placed again; it still
//! fires only at its exact deadline. A deadline before the wheel's base counts as the
//! base (it is past either way).
//!
//! The parts: this file, the public API; `entry.rs`, the entries and their stamps;
//! `level.rs`, the levels and the placement; `purge.rs`, the purge; `tests.rs`.

mod entry;
mod level;
mod purge;
#[cfg(test)]
mod tests;

pub use entry::Key;

use entry::{Entries, Item};
use level::{Level, LEVELS, RANGE_MASK};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

const NANOS_PER_MS: u64 = 1_000_000;
/// A slot's vector keeps at most this much capacity (items) once emptied: a burst of a
/// million timers must not pin 24 MB in the wheel for good.
const KEEP_CAPACITY: usize = 4096;

/// The span of the wheel: deadlines farther ahead are placed at its far end, then again.
pub const RANGE: Duration = Duration::from_millis(RANGE_MASK + 1);

/// A hierarchical timing wheel holding values of type `T` (wakers, in the runtime).
pub struct Wheel<T> {
    /// On the heap: 9 KB of slot vectors would overflow a small stack (loom's threads).
    levels: Box<[Level]>,
    entries: Entries<T>,
    /// Items whose millisecond has come, by exact deadline.
    due: BinaryHeap<Reverse<Item>>,
    /// Items in slots and in the heap, live or stale.
    items: usize,
    /// Where a purge pass under way resumes: slot (level * 64 + slot) and index in it;
    /// the due heap after the last slot.
    purge_at: Option<(usize, usize)>,
    /// An emptied slot's vector, kept to be the next one taken's (its capacity reused).
    spare: Vec<Item>,
    /// The wheel's current time, in ms since `base`. Every item's slot is at or after it.
    elapsed: u64,
    base: Instant,
}

impl<T> std::fmt::Debug for Wheel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wheel")
            .field("len", &self.len())
            .field("elapsed_ms", &self.elapsed)
            .finish_non_exhaustive()
    }
}

impl<T> Wheel<T> {
    /// An empty wheel whose time starts at `base`.
    pub fn new(base: Instant) -> Wheel<T> {
        Wheel {
            levels: (0..LEVELS).map(|_| Level::new()).collect(),
            entries: Entries::new(),
            due: BinaryHeap::new(),
            items: 0,
            purge_at: None,
            spare: Vec::new(),
            elapsed: 0,
            base,
        }
    }

    /// Number of entries in the wheel.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if the wheel holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of entries whose deadline is after `t`, without advancing the wheel: it
    /// walks every item, so it takes time in proportion to the entries (and the stale
    /// items, which are at most about twice as many).
    pub fn len_after(&self, t: Instant) -> usize {
        let t = self.nanos(t);
        let counts = |item: &Item| item.deadline > t && self.entries.is_current(item);
        let in_slots = self
            .levels
            .iter()
            .flat_map(|l| l.slots.iter().flatten())
            .filter(|item| counts(item))
            .count();
        in_slots + self.due.iter().filter(|Reverse(item)| counts(item)).count()
    }

    fn ms(&self, t: Instant) -> u64 {
        self.nanos(t) / NANOS_PER_MS
    }

    /// Nanoseconds since the base (0 before it, `u64::MAX` past 584 years).
    fn nanos(&self, t: Instant) -> u64 {
        let ns = t.saturating_duration_since(self.base).as_nanos();
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    fn instant(&self, nanos: u64) -> Instant {
        self.base + Duration::from_nanos(nanos)
    }

    /// Adds an entry firing at `deadline`. A deadline already past fires at the next
    /// [`advance`](Wheel::advance).
    pub fn insert(&mut self, deadline: Instant, value: T) -> Key {
        self.insert_nanos(self.nanos(deadline), value)
    }

    /// [`insert`](Wheel::insert) with the deadline given in nanoseconds since the wheel's
    /// base, for a caller that has it already (the runtime's timer does: it saves an
    /// `Instant` subtraction per timer, about 37 instructions).
    pub fn insert_nanos(&mut self, deadline: u64, value: T) -> Key {
        let (key, item) = self.entries.insert(deadline, value);
        self.add(item);
        key
    }

    /// Removes an entry; `None` if it already fired or was removed.
    pub fn remove(&mut self, key: Key) -> Option<T> {
        let value = self.entries.remove(key)?;
        self.maybe_purge();
        Some(value)
    }

    /// Moves an entry to a new deadline. Returns false if it already fired or was removed.
    pub fn reset(&mut self, key: Key, deadline: Instant) -> bool {
        self.reset_nanos(key, self.nanos(deadline))
    }

    /// [`reset`](Wheel::reset) with the deadline in nanoseconds since the wheel's base (see
    /// [`insert_nanos`](Wheel::insert_nanos)).
    pub fn reset_nanos(&mut self, key: Key, deadline: u64) -> bool {
        let Some(item) = self.entries.restamp(key, deadline) else {
            return false;
        };
        self.add(item);
        self.maybe_purge();
        true
    }

    /// Mutable access to an entry's value (to replace a waker), if it is still in the wheel.
    pub fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        self.entries.get_mut(key)
    }

    /// Places a new item (counted in `items`).
    fn add(&mut self, item: Item) {
        self.items += 1;
        self.place(item);
    }

    /// Removes every entry, whatever its deadline, and returns the values.
    pub fn drain(&mut self) -> Vec<T> {
        let out = self.entries.drain().collect();
        for level in self.levels.iter_mut() {
            level.slots.iter_mut().for_each(Vec::clear);
            level.occupied = 0;
        }
        self.due.clear();
        self.items = 0;
        self.purge_at = None;
        out
    }

    /// Drops stale items from the top of the due heap; returns the live top.
    fn due_top(&mut self) -> Option<Item> {
        while let Some(&Reverse(item)) = self.due.peek() {
            if self.entries.is_current(&item) {
                return Some(item);
            }
            self.due.pop();
            self.items -= 1;
        }
        None
    }

    /// The exact earliest deadline of all entries (`None` if empty): the smaller of the
    /// top of the due heap and, for each level, the earliest item of its first non-empty
    /// slot, which holds that level's earliest deadlines. A level whose first slot starts
    /// after the best found so far is not scanned.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        if self.is_empty() {
            return None;
        }
        let mut best = self.due_top().map(|item| item.deadline);
        for level in 0..LEVELS {
            // A slot of stale items only is emptied by `slot_min`: look again.
            while let Some((slot, start)) = self.level_next(level) {
                // Everything in that slot is at or after its start.
                if best.is_some_and(|b| b <= start * NANOS_PER_MS) {
                    break;
                }
                if let Some(min) = self.slot_min(level, slot) {
                    best = Some(best.map_or(min.deadline, |b| b.min(min.deadline)));
                    break;
                }
            }
        }
        best.map(|ns| self.instant(ns))
    }

    /// Advances the wheel's time to `now` and fires every entry whose exact deadline is at
    /// or before `now`, in deadline order, by pushing `(key, value)` to `fired`.
    pub fn advance(&mut self, now: Instant, fired: &mut Vec<(Key, T)>) {
        let now_ms = self.ms(now);
        let now_ns = self.nanos(now);
        loop {
            let clamped = self.collect_due_slots(now_ms);
            // Items clamped into a level-0 slot whose real millisecond is later are
            // placed again from the new time. If one of them is due by now, run the
            // collection again; otherwise they wait in their new slots.
            let again = clamped.iter().any(|item| item.when() <= now_ms);
            for item in clamped {
                self.place(item);
            }
            if !again {
                break;
            }
        }
        // Fire, in deadline order, what is due.
        while let Some(item) = self.due_top() {
            if item.deadline > now_ns {
                break;
            }
            self.due.pop();
            self.items -= 1;
            fired.push(self.entries.fire(&item));
        }
        // A pass under way takes a step here too.
        self.maybe_purge();
    }
}

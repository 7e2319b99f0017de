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
//! Entries live in a slab (a `Vec` with a free list) holding their values. A slot does
//! not link its entries: it is a vector of small *items*, each an entry's exact deadline
//! (nanoseconds since the wheel's base), its slab index and a tag. Everything the wheel
//! decides by deadline (which slot, which entry fires first, when to cascade) reads
//! these contiguous items, not the entries: when a millisecond holding thousands of
//! timers came due, walking a linked list through the slab cost a cache miss per entry
//! under the lock (measured: 50-600 us per slot with 100,000 sleeps on 2 workers).
//! An entry is read when it is about to fire (to check its item is current, and for its
//! value), when it cascades, when it is removed or moved, and when it holds the earliest
//! item of the slot `next_deadline` looks at.
//!
//! Removing or moving an entry bumps its tag, which makes its item stale wherever it is
//! (in a slot or in the due heap); stale items are dropped when met: at the top of the
//! due heap, when a slot cascades, when a slot's earliest item turns out stale, and by a
//! purge pass once they outnumber the live entries by more than 1,024. A pass goes
//! through the slots 256 items at a time, a step at each removal, reset and advance, then
//! through the due heap at once (it holds the timers of the current millisecond or so),
//! so resetting a timeout over and over cannot grow a slot without bound, and no single
//! operation holds the shard's lock for a whole purge.
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

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: u64 = 1 << SLOT_BITS;
/// Wheel-time offsets (in ms) must differ from the current time only below this bit.
const RANGE_MASK: u64 = (1 << (SLOT_BITS * LEVELS as u32)) - 1;
const NIL: u32 = u32::MAX;
const NANOS_PER_MS: u64 = 1_000_000;
/// Stale items tolerated beyond the number of live entries before they are all dropped.
const STALE_SLACK: usize = 1024;
/// A slot's vector keeps at most this much capacity (items) once emptied: a burst of a
/// million timers must not pin 16 MB in the wheel for good.
const KEEP_CAPACITY: usize = 4096;
/// When an entry's tag crosses a multiple of this, a pass drops every stale item: so no
/// stale item lives through 2^32 bumps of its entry's tag, whose wrap would make it look
/// current again.
const TAG_PURGE: u32 = 1 << 31;
/// Items a step of a purge pass examines.
const PURGE_STEP: usize = 256;

/// The span of the wheel: deadlines farther ahead are placed at its far end, then again.
pub const RANGE: Duration = Duration::from_millis(RANGE_MASK + 1);

/// Identifies an entry. Stale keys (of entries fired or removed) are recognised and
/// ignored, even after the slab index is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    index: u32,
    generation: u32,
}

struct Entry<T> {
    /// `Some` while the entry is in the wheel.
    value: Option<T>,
    /// Bumped whenever the entry's item is replaced (reset) or the entry leaves: an item
    /// carrying another tag is stale.
    tag: u32,
    /// Bumped when the entry leaves: a key carrying another generation is stale.
    generation: u32,
    /// Next free index while the entry is free.
    next_free: u32,
}

/// Where an entry is due: in a slot's vector or in the due heap. Ordered by deadline.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Item {
    /// Nanoseconds since the wheel's base.
    deadline: u64,
    index: u32,
    tag: u32,
}

impl Item {
    /// The millisecond of its deadline, in wheel time.
    fn when(&self) -> u64 {
        self.deadline / NANOS_PER_MS
    }
}

struct Level {
    occupied: u64,
    slots: [Vec<Item>; SLOTS as usize],
}

/// A hierarchical timing wheel holding values of type `T` (wakers, in the runtime).
pub struct Wheel<T> {
    /// On the heap: 9 KB of slot vectors would overflow a small stack (loom's threads).
    levels: Box<[Level]>,
    entries: Vec<Entry<T>>,
    free: u32,
    /// Items whose millisecond has come, by exact deadline.
    due: BinaryHeap<Reverse<Item>>,
    /// Items in slots and in the heap, live or stale.
    items: usize,
    /// An entry's tag crossed a multiple of `TAG_PURGE`: a purge pass must begin.
    purge_due: bool,
    /// Where a purge pass under way resumes: slot (level * 64 + slot) and index in it;
    /// the due heap after the last slot.
    purge_at: Option<(usize, usize)>,
    /// An emptied slot's vector, kept to be the next one taken's (its capacity reused).
    spare: Vec<Item>,
    /// The wheel's current time, in ms since `base`. Every item's slot is at or after it.
    elapsed: u64,
    base: Instant,
    len: usize,
}

impl<T> std::fmt::Debug for Wheel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wheel")
            .field("len", &self.len)
            .field("elapsed_ms", &self.elapsed)
            .finish_non_exhaustive()
    }
}

impl<T> Wheel<T> {
    /// An empty wheel whose time starts at `base`.
    pub fn new(base: Instant) -> Wheel<T> {
        Wheel {
            levels: (0..LEVELS)
                .map(|_| Level {
                    occupied: 0,
                    slots: std::array::from_fn(|_| Vec::new()),
                })
                .collect(),
            entries: Vec::new(),
            free: NIL,
            due: BinaryHeap::new(),
            items: 0,
            purge_due: false,
            purge_at: None,
            spare: Vec::new(),
            elapsed: 0,
            base,
            len: 0,
        }
    }

    /// Number of entries in the wheel.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the wheel holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of entries whose deadline is after `t`, without advancing the wheel: it
    /// walks every item, so it takes time in proportion to the entries (and the stale
    /// items, which are at most about twice as many).
    pub fn len_after(&self, t: Instant) -> usize {
        let t = self.nanos(t);
        let counts = |item: &Item| item.deadline > t && self.current(item);
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
        let index = if self.free != NIL {
            let i = self.free;
            let e = &mut self.entries[i as usize];
            self.free = e.next_free;
            e.value = Some(value);
            i
        } else {
            let i = u32::try_from(self.entries.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("more than 4 billion timers at once");
            self.entries.push(Entry {
                value: Some(value),
                tag: 0,
                generation: 0,
                next_free: NIL,
            });
            i
        };
        self.len += 1;
        let e = &self.entries[index as usize];
        let key = Key {
            index,
            generation: e.generation,
        };
        let item = Item {
            deadline: self.nanos(deadline),
            index,
            tag: e.tag,
        };
        self.add(item);
        key
    }

    fn live(&self, key: Key) -> bool {
        self.entries
            .get(key.index as usize)
            .is_some_and(|e| e.generation == key.generation && e.value.is_some())
    }

    /// Whether `item` is its entry's current item.
    fn current(&self, item: &Item) -> bool {
        is_current(&self.entries, item)
    }

    /// Removes an entry; `None` if it already fired or was removed.
    pub fn remove(&mut self, key: Key) -> Option<T> {
        if !self.live(key) {
            return None;
        }
        let value = self.release(key.index);
        self.maybe_purge();
        Some(value)
    }

    /// Moves an entry to a new deadline. Returns false if it already fired or was removed.
    pub fn reset(&mut self, key: Key, deadline: Instant) -> bool {
        if !self.live(key) {
            return false;
        }
        let deadline = self.nanos(deadline);
        let tag = self.bump_tag(key.index);
        let item = Item {
            deadline,
            index: key.index,
            tag,
        };
        self.add(item);
        self.maybe_purge();
        true
    }

    /// Mutable access to an entry's value (to replace a waker), if it is still in the wheel.
    pub fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        if !self.live(key) {
            return None;
        }
        self.entries[key.index as usize].value.as_mut()
    }

    /// Frees an entry (its item goes stale) and returns its value.
    fn release(&mut self, index: u32) -> T {
        let e = &mut self.entries[index as usize];
        let value = e.value.take().expect("released a free entry");
        e.generation = e.generation.wrapping_add(1);
        e.next_free = self.free;
        self.free = index;
        self.len -= 1;
        self.bump_tag(index);
        value
    }

    /// Makes the entry's current item stale; returns the new tag.
    fn bump_tag(&mut self, index: u32) -> u32 {
        let e = &mut self.entries[index as usize];
        e.tag = e.tag.wrapping_add(1);
        if e.tag % TAG_PURGE == 0 {
            self.purge_due = true;
        }
        e.tag
    }

    /// Places a new item (counted in `items`).
    fn add(&mut self, item: Item) {
        self.items += 1;
        self.place(item);
    }

    /// Puts an item in the slot its deadline calls for, given the current time.
    fn place(&mut self, item: Item) {
        let elapsed = self.elapsed;
        // Past deadlines go to the current slot; too-far ones to the farthest slot of the
        // current top-level span (they are placed again when it comes due).
        let when = item.when().max(elapsed).min(elapsed | RANGE_MASK);
        let level = level_for(elapsed, when);
        let slot = ((when >> (SLOT_BITS * level as u32)) & (SLOTS - 1)) as usize;
        let l = &mut self.levels[level];
        l.slots[slot].push(item);
        l.occupied |= 1 << slot;
    }

    /// Once stale items outnumber the live entries (plus some slack), or an entry's tag
    /// crossed a multiple of `TAG_PURGE`, starts a pass that drops every stale item; a
    /// pass runs a step at each removal, reset and advance (see `purge_step`), so no
    /// single operation pays for all of it under the shard's lock.
    fn maybe_purge(&mut self) {
        if self.purge_at.is_none() {
            if self.items <= 2 * self.len + STALE_SLACK && !self.purge_due {
                return;
            }
            // A flag raised from now on calls for a later pass: this one may already be
            // past the items concerned.
            self.purge_due = false;
            self.purge_at = Some((0, 0));
        }
        self.purge_step();
    }

    /// Examines the next `PURGE_STEP` items of the pass (resuming inside a slot: a slot's
    /// order does not matter, so a stale item is swapped out with the last), and the due
    /// heap at its end, in one go. Stale items only ever move forward, from a slot into
    /// the heap, so a pass sees every item that was stale when it began: a slot taken or
    /// compacted meanwhile (`collect_due_slots`, `slot_min`) dropped its stale items or
    /// moved them to the heap.
    fn purge_step(&mut self) {
        let Some((mut at, mut offset)) = self.purge_at else {
            return;
        };
        let mut budget = PURGE_STEP;
        let entries = &self.entries;
        while at < LEVELS * SLOTS as usize {
            let (level, slot) = (at / SLOTS as usize, at % SLOTS as usize);
            let l = &mut self.levels[level];
            if l.occupied & (1 << slot) == 0 {
                at += 1;
                offset = 0;
                continue;
            }
            let items = &mut l.slots[slot];
            while offset < items.len() && budget > 0 {
                budget -= 1;
                if is_current(entries, &items[offset]) {
                    offset += 1;
                } else {
                    items.swap_remove(offset);
                    self.items -= 1;
                }
            }
            if budget == 0 && offset < items.len() {
                self.purge_at = Some((at, offset));
                return;
            }
            if items.is_empty() {
                l.occupied &= !(1 << slot);
            }
            items.shrink_to(KEEP_CAPACITY.max(2 * items.len()));
            at += 1;
            offset = 0;
            if budget == 0 {
                self.purge_at = Some((at, 0));
                return;
            }
        }
        let before = self.due.len();
        self.due.retain(|Reverse(item)| is_current(entries, item));
        self.items -= before - self.due.len();
        self.purge_at = None;
    }

    /// The earliest non-empty slot of `level`, with its start in wheel ms.
    fn level_next(&self, level: usize) -> Option<(usize, u64)> {
        let l = &self.levels[level];
        if l.occupied == 0 {
            return None;
        }
        let shift = SLOT_BITS * level as u32;
        let block = self.elapsed >> shift;
        let current = (block & (SLOTS - 1)) as u32;
        let distance = l.occupied.rotate_right(current).trailing_zeros() as u64;
        let slot = ((current as u64 + distance) & (SLOTS - 1)) as usize;
        let start = ((block + distance) << shift).max(self.elapsed);
        Some((slot, start))
    }

    /// The non-empty slot that starts first: `(level, slot, start in wheel ms)`. Level 0
    /// is a window sliding with time while higher levels are aligned blocks, so a higher
    /// level's slot may start before level 0's next one; on a tie the higher level comes
    /// first, so its entries cascade into that very millisecond before it is taken.
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        let mut best: Option<(usize, usize, u64)> = None;
        for level in (0..LEVELS).rev() {
            if let Some((slot, start)) = self.level_next(level) {
                if best.is_none_or(|(_, _, b)| start < b) {
                    best = Some((level, slot, start));
                }
            }
        }
        best
    }

    /// Removes every entry, whatever its deadline, and returns the values.
    pub fn drain(&mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len);
        for i in 0..self.entries.len() as u32 {
            if self.entries[i as usize].value.is_some() {
                out.push(self.release(i));
            }
        }
        for level in self.levels.iter_mut() {
            level.slots.iter_mut().for_each(Vec::clear);
            level.occupied = 0;
        }
        self.due.clear();
        self.items = 0;
        self.purge_due = false;
        self.purge_at = None;
        out
    }

    /// Drops stale items from the top of the due heap; returns the live top.
    fn due_top(&mut self) -> Option<Item> {
        while let Some(&Reverse(item)) = self.due.peek() {
            if self.current(&item) {
                return Some(item);
            }
            self.due.pop();
            self.items -= 1;
        }
        None
    }

    /// The earliest live item of a slot, dropping the slot's stale items if its earliest
    /// one is stale (each stale item is dropped once, so this stays linear overall).
    fn slot_min(&mut self, level: usize, slot: usize) -> Option<Item> {
        let min = self.levels[level].slots[slot].iter().min().copied()?;
        if self.current(&min) {
            return Some(min);
        }
        let entries = &self.entries;
        let items = &mut self.levels[level].slots[slot];
        let before = items.len();
        items.retain(|item| is_current(entries, item));
        self.items -= before - items.len();
        if items.is_empty() {
            self.levels[level].occupied &= !(1 << slot);
        }
        items.iter().min().copied()
    }

    /// The exact earliest deadline of all entries (`None` if empty): the smaller of the
    /// top of the due heap and, for each level, the earliest item of its first non-empty
    /// slot, which holds that level's earliest deadlines. A level whose first slot starts
    /// after the best found so far is not scanned.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        if self.len == 0 {
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

    /// Moves the items of every slot whose time has come (up to `now_ms`) into the due
    /// heap, cascading higher levels down first. Returns the live items found clamped
    /// into a level-0 slot earlier than their real millisecond (placing them again here
    /// could land them in the very slot being processed, at the far end of the range).
    fn collect_due_slots(&mut self, now_ms: u64) -> Vec<Item> {
        let mut clamped = Vec::new();
        while let Some((level, slot, start)) = self.next_slot() {
            if start > now_ms {
                break;
            }
            let mut items = std::mem::replace(
                &mut self.levels[level].slots[slot],
                std::mem::take(&mut self.spare),
            );
            self.levels[level].occupied &= !(1 << slot);
            self.elapsed = start;
            if level == 0 && items.iter().all(|item| item.when() <= start) {
                // The common case: no entry is read, the heap takes them all.
                self.due.extend(items.drain(..).map(Reverse));
            } else {
                for item in items.drain(..) {
                    if level == 0 && item.when() <= start {
                        self.due.push(Reverse(item));
                    } else if !self.current(&item) {
                        self.items -= 1;
                    } else if level > 0 {
                        // Cascade: place it again, lower down, from the slot's time.
                        self.place(item);
                    } else {
                        clamped.push(item);
                    }
                }
            }
            items.shrink_to(KEEP_CAPACITY);
            self.spare = items;
            if level == 0 && start < now_ms {
                self.elapsed = start + 1;
            }
        }
        self.elapsed = self.elapsed.max(now_ms);
        clamped
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
            let generation = self.entries[item.index as usize].generation;
            let value = self.release(item.index);
            fired.push((
                Key {
                    index: item.index,
                    generation,
                },
                value,
            ));
        }
        // Firing bumped tags too (see `TAG_PURGE`).
        self.maybe_purge();
    }
}

/// Whether `item` is its entry's current item (a separate function so that the slots can
/// be borrowed mutably meanwhile).
fn is_current<T>(entries: &[Entry<T>], item: &Item) -> bool {
    let e = &entries[item.index as usize];
    e.tag == item.tag && e.value.is_some()
}

/// The level for an entry at wheel time `when` (not before `elapsed`), the wheel being
/// at `elapsed`. Level 0 is a sliding window: anything due within the next 64 ms goes
/// there, whatever the alignment, so short timers never cascade (with aligned blocks, a
/// 10 ms timer set at 60 ms would sit in level 1 until 64 ms, and at every 64 ms boundary
/// all such timers would move at once, under the lock: measured at 0.8-1.2 ms for 30,000
/// timers). Farther entries go to the lowest level whose aligned slot width separates
/// them from `elapsed`.
fn level_for(elapsed: u64, when: u64) -> usize {
    if when.wrapping_sub(elapsed) < SLOTS {
        return 0;
    }
    let masked = (elapsed ^ when) | (SLOTS - 1);
    let significant = 63 - masked.leading_zeros() as usize;
    (significant / SLOT_BITS as usize).min(LEVELS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn fires_at_the_exact_deadline_not_the_slot() {
        let base = Instant::now();
        let mut w = Wheel::new(base);
        let d = base + Duration::from_micros(5_300);
        w.insert(d, "a");
        assert_eq!(w.next_deadline(), Some(d));
        let mut fired = Vec::new();
        // Same millisecond, before the deadline: nothing.
        w.advance(base + Duration::from_micros(5_100), &mut fired);
        assert!(fired.is_empty());
        assert_eq!(w.next_deadline(), Some(d));
        w.advance(d, &mut fired);
        assert_eq!(fired.len(), 1);
        assert!(w.is_empty());
    }

    #[test]
    fn cascades_from_every_level() {
        let base = Instant::now();
        let mut w = Wheel::new(base);
        let offsets = [
            1,
            63,
            64,
            65,
            4095,
            4096,
            300_000,
            20_000_000,
            1_000_000_000,
            60_000_000_000,
        ];
        for &o in &offsets {
            w.insert(base + ms(o), o);
        }
        let mut order = Vec::new();
        let mut fired = Vec::new();
        while let Some(next) = w.next_deadline() {
            w.advance(next, &mut fired);
            for (_, o) in fired.drain(..) {
                order.push(o);
            }
        }
        assert_eq!(order, offsets);
    }

    #[test]
    fn deadlines_beyond_the_range_do_not_fire_early() {
        let base = Instant::now();
        let mut w = Wheel::new(base);
        let far = base + RANGE * 3 + ms(7);
        w.insert(far, ());
        let mut fired = Vec::new();
        let mut steps = 0;
        while let Some(next) = w.next_deadline() {
            assert!(next <= far);
            w.advance(next, &mut fired);
            steps += 1;
            assert!(steps < 100, "no progress");
        }
        assert_eq!(fired.len(), 1);
        // The wheel only fired once its time reached the real deadline.
        assert_eq!(w.ms(far), w.elapsed);
    }

    #[test]
    fn remove_and_reset() {
        let base = Instant::now();
        let mut w = Wheel::new(base);
        let a = w.insert(base + ms(10), 'a');
        let b = w.insert(base + ms(20), 'b');
        assert_eq!(w.remove(a), Some('a'));
        assert_eq!(w.remove(a), None);
        assert!(w.reset(b, base + ms(5)));
        assert_eq!(w.next_deadline(), Some(base + ms(5)));
        let c = w.insert(base + ms(1), 'c');
        assert_ne!(a, c, "a reused slot gets a new generation");
        let mut fired = Vec::new();
        w.advance(base + ms(30), &mut fired);
        let got: Vec<char> = fired.iter().map(|(_, v)| *v).collect();
        assert_eq!(got, ['c', 'b']);
        assert!(!w.reset(b, base + ms(40)));
        assert!(w.is_empty());
    }

    #[test]
    fn past_deadlines_fire_at_the_next_advance() {
        let base = Instant::now();
        let mut w = Wheel::new(base);
        let mut fired = Vec::new();
        w.advance(base + ms(100), &mut fired);
        w.insert(base + ms(50), 1);
        w.advance(base + ms(100), &mut fired);
        assert_eq!(fired.len(), 1);
    }

    #[test]
    fn drain_takes_everything() {
        let base = Instant::now();
        let mut w = Wheel::new(base);
        w.insert(base + ms(1), 1);
        w.insert(base + RANGE * 10, 2);
        let mut fired = Vec::new();
        w.advance(base + ms(1), &mut fired);
        w.insert(base, 3);
        let mut got = w.drain();
        got.sort();
        assert_eq!(got, [2, 3]);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn a_higher_level_slot_that_starts_first_is_taken_first() {
        // A at 70 ms, set at 0: level 1 (its slot starts at 64). B at 100 ms, set at 40:
        // level 0 (the window slides). Level 1's slot must cascade at 64 although level
        // 0 is not empty, or A would fire at 100.
        let base = Instant::now();
        let mut w = Wheel::new(base);
        let a = w.insert(base + ms(70), 'a');
        let mut fired = Vec::new();
        w.advance(base + ms(40), &mut fired);
        let b = w.insert(base + ms(100), 'b');
        assert_eq!(w.next_deadline(), Some(base + ms(70)));
        w.advance(base + ms(71), &mut fired);
        assert_eq!(fired, [(a, 'a')]);
        assert_eq!(w.next_deadline(), Some(base + ms(100)));
        w.advance(base + ms(100), &mut fired);
        assert_eq!(fired, [(a, 'a'), (b, 'b')]);
    }

    #[test]
    fn stale_items_are_skipped_and_do_not_pile_up() {
        let base = Instant::now();
        let mut w = Wheel::new(base);
        let a = w.insert(base + ms(5), 'a');
        let b = w.insert(base + ms(10), 'b');
        w.remove(a);
        // A's slot holds only its stale item: the next deadline is B's.
        assert_eq!(w.next_deadline(), Some(base + ms(10)));
        // A timeout pushed back 10,000 times: the stale items are dropped as they go, by
        // passes of a few steps each (a step per reset).
        for i in 0..10_000u64 {
            assert!(w.reset(b, base + ms(20) + Duration::from_micros(i * 7)));
            assert!(
                w.items <= 2 * (2 * w.len() + STALE_SLACK),
                "{} items",
                w.items
            );
        }
        let last = base + ms(20) + Duration::from_micros(9_999 * 7);
        assert_eq!(w.next_deadline(), Some(last));
        let mut fired = Vec::new();
        w.advance(last - Duration::from_nanos(1), &mut fired);
        assert!(fired.is_empty(), "fired early");
        w.advance(last, &mut fired);
        assert_eq!(fired, [(b, 'b')]);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn a_tag_crossing_half_its_range_drops_every_stale_item() {
        // A stale item must not live through 2^32 bumps of its entry's tag (it would look
        // current again): crossing a multiple of 2^31 purges, whatever the counts.
        let base = Instant::now();
        let mut w = Wheel::new(base);
        let far = w.insert(base + ms(1_000), 'f');
        let k = w.insert(base + ms(10), 'k');
        w.reset(k, base + ms(20)); // one stale item, far below the count-based threshold
        assert_eq!(w.items, 3);
        w.entries[k.index as usize].tag = TAG_PURGE - 1;
        assert!(w.reset(k, base + ms(30)));
        assert_eq!(w.items, 2, "the purge dropped both stale items of k");
        let mut fired = Vec::new();
        w.advance(base + ms(1_000), &mut fired);
        assert_eq!(fired, [(k, 'k'), (far, 'f')]);
    }

    #[test]
    fn purge_passes_running_across_operations_lose_and_fire_nothing_wrongly() {
        // Thousands of timers over every level, most of them reset or cancelled many
        // times, interleaved with advances: passes start and run in steps while slots are
        // taken, cascade and move into the due heap. Checked against a model.
        use std::collections::BTreeMap;
        let base = Instant::now();
        let mut w = Wheel::new(base);
        let mut model: BTreeMap<(Instant, u64), Key> = BTreeMap::new();
        let mut live: Vec<(u64, Key, Instant)> = Vec::new();
        let mut now = base;
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut rand = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut fired = Vec::new();
        let mut passes = 0;
        for id in 0..60_000u64 {
            let was_purging = w.purge_at.is_some();
            let op = rand(10);
            if op < 4 || live.is_empty() {
                let d = now + Duration::from_micros(rand(200_000) + rand(3) * rand(5_000_000));
                let k = w.insert(d, id);
                model.insert((d, id), k);
                live.push((id, k, d));
            } else if op < 6 {
                let i = rand(live.len() as u64) as usize;
                let (id, k, d) = live.swap_remove(i);
                assert_eq!(w.remove(k), Some(id));
                model.remove(&(d, id));
            } else if op < 9 {
                let i = rand(live.len() as u64) as usize;
                let (id, k, d) = live[i];
                // Often far ahead: stale items then wait in high levels for a pass.
                let nd = now + Duration::from_micros(rand(300_000) + rand(2) * 5_000_000);
                assert!(w.reset(k, nd));
                model.remove(&(d, id));
                model.insert((nd, id), k);
                live[i].2 = nd;
            } else {
                now += Duration::from_micros(rand(3_000));
                fired.clear();
                w.advance(now, &mut fired);
                let due: Vec<(Instant, u64)> =
                    model.range(..=(now, u64::MAX)).map(|(k, _)| *k).collect();
                assert_eq!(fired.len(), due.len(), "exactly the due entries fire");
                let deadline_of: std::collections::HashMap<u64, Instant> =
                    due.iter().map(|&(d, id)| (id, d)).collect();
                let got: Vec<Instant> = fired.iter().map(|(_, id)| deadline_of[id]).collect();
                assert!(got.windows(2).all(|p| p[0] <= p[1]), "in deadline order");
                for (d, id) in &due {
                    assert!(*d <= now, "never early");
                    model.remove(&(*d, *id));
                }
                live.retain(|(id, _, _)| !fired.iter().any(|(_, f)| f == id));
            }
            if was_purging && w.purge_at.is_none() {
                passes += 1;
            }
            assert_eq!(w.len(), model.len());
            assert!(
                w.items <= 2 * (2 * w.len() + STALE_SLACK),
                "{} items",
                w.items
            );
        }
        assert!(passes > 0, "no purge pass ran to its end");
        assert_eq!(w.next_deadline(), model.keys().next().map(|(d, _)| *d));
    }

    #[test]
    fn level_selection() {
        assert_eq!(level_for(0, 0), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(60, 70), 0, "level 0 slides: 10 ms ahead");
        assert_eq!(level_for(60, 123), 0);
        assert_eq!(level_for(60, 124), 1);
        assert_eq!(level_for(0, 4095), 1);
        assert_eq!(level_for(0, 4096), 2);
        assert_eq!(level_for(0, RANGE_MASK), 5);
    }
}

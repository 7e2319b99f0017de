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
//! Entries live in a slab (a `Vec` with a free list) and each slot is a doubly linked list
//! through slab indices, so insert and cancel are O(1) with no scan and no allocation
//! beyond the slab's growth.
//!
//! Slots are 1 ms wide, but every entry keeps its exact `Instant`: an entry fires only once
//! its exact deadline has passed, never early, and [`Wheel::next_deadline`] reports the
//! exact earliest deadline among the entries due next, so a driver can sleep until that
//! instant rather than to the next millisecond. When a level-0 slot's millisecond arrives,
//! its entries move to a small binary heap ordered by exact deadline (the *due* heap), from
//! which they fire one by one as their instants pass: a millisecond holding thousands of
//! timers is sorted once, not rescanned at every wake-up.
//!
//! Deadlines beyond the wheel's range (about 2.2 years ahead) are not an error: the entry
//! is placed in the farthest slot and, when that slot comes due, placed again; it still
//! fires only at its exact deadline.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: u64 = 1 << SLOT_BITS;
/// Wheel-time offsets (in ms) must differ from the current time only below this bit.
const RANGE_MASK: u64 = (1 << (SLOT_BITS * LEVELS as u32)) - 1;
const NIL: u32 = u32::MAX;
/// `Entry::level` of an entry in the due heap rather than in a slot.
const IN_HEAP: u8 = u8::MAX;

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
    deadline: Instant,
    /// Wheel time (ms since `base`, floored) of `deadline`, before any clamping.
    when: u64,
    level: u8,
    slot: u8,
    /// Bumped each time the entry enters the due heap; a heap item with an older tag is
    /// stale (the entry was removed or reset since).
    heap_tag: u32,
    prev: u32,
    /// Next in the slot's list, or next free index while the entry is free.
    next: u32,
    generation: u32,
}

#[derive(Clone, Copy)]
struct List {
    head: u32,
}

struct Level {
    occupied: u64,
    slots: [List; SLOTS as usize],
}

/// A hierarchical timing wheel holding values of type `T` (wakers, in the runtime).
pub struct Wheel<T> {
    levels: [Level; LEVELS],
    entries: Vec<Entry<T>>,
    free: u32,
    /// Entries whose millisecond has come, by exact deadline: `(deadline, index, tag)`.
    due: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    /// The wheel's current time, in ms since `base`. Every entry's slot is at or after it.
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
            levels: std::array::from_fn(|_| Level {
                occupied: 0,
                slots: [List { head: NIL }; SLOTS as usize],
            }),
            entries: Vec::new(),
            free: NIL,
            due: BinaryHeap::new(),
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

    fn ms(&self, t: Instant) -> u64 {
        let ms = t.saturating_duration_since(self.base).as_millis();
        u64::try_from(ms).unwrap_or(u64::MAX)
    }

    /// Adds an entry firing at `deadline`. A deadline already past fires at the next
    /// [`advance`](Wheel::advance).
    pub fn insert(&mut self, deadline: Instant, value: T) -> Key {
        let when = self.ms(deadline);
        let index = if self.free != NIL {
            let i = self.free;
            let e = &mut self.entries[i as usize];
            self.free = e.next;
            e.value = Some(value);
            e.deadline = deadline;
            e.when = when;
            i
        } else {
            let i = u32::try_from(self.entries.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("more than 4 billion timers at once");
            self.entries.push(Entry {
                value: Some(value),
                deadline,
                when,
                level: 0,
                slot: 0,
                heap_tag: 0,
                prev: NIL,
                next: NIL,
                generation: 0,
            });
            i
        };
        self.len += 1;
        self.link(index);
        Key {
            index,
            generation: self.entries[index as usize].generation,
        }
    }

    fn live(&self, key: Key) -> bool {
        self.entries
            .get(key.index as usize)
            .is_some_and(|e| e.generation == key.generation && e.value.is_some())
    }

    /// Removes an entry; `None` if it already fired or was removed.
    pub fn remove(&mut self, key: Key) -> Option<T> {
        if !self.live(key) {
            return None;
        }
        self.unlink(key.index);
        Some(self.release(key.index))
    }

    /// Moves an entry to a new deadline. Returns false if it already fired or was removed.
    pub fn reset(&mut self, key: Key, deadline: Instant) -> bool {
        if !self.live(key) {
            return false;
        }
        self.unlink(key.index);
        let when = self.ms(deadline);
        let e = &mut self.entries[key.index as usize];
        e.deadline = deadline;
        e.when = when;
        self.link(key.index);
        true
    }

    /// Mutable access to an entry's value (to replace a waker), if it is still in the wheel.
    pub fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        if !self.live(key) {
            return None;
        }
        self.entries[key.index as usize].value.as_mut()
    }

    /// The exact deadline of an entry still in the wheel.
    pub fn deadline(&self, key: Key) -> Option<Instant> {
        self.live(key)
            .then(|| self.entries[key.index as usize].deadline)
    }

    /// Frees a slot-less entry and returns its value.
    fn release(&mut self, index: u32) -> T {
        let e = &mut self.entries[index as usize];
        let value = e.value.take().expect("released a free entry");
        e.generation = e.generation.wrapping_add(1);
        e.next = self.free;
        self.free = index;
        self.len -= 1;
        value
    }

    /// Puts entry `index` in the slot its `when` calls for, given the current time.
    fn link(&mut self, index: u32) {
        let elapsed = self.elapsed;
        let e = &self.entries[index as usize];
        // Past deadlines go to the current slot; too-far ones to the farthest slot of the
        // current top-level span (they are placed again when it comes due).
        let when = e.when.max(elapsed).min(elapsed | RANGE_MASK);
        let level = level_for(elapsed, when);
        let slot = ((when >> (SLOT_BITS * level as u32)) & (SLOTS - 1)) as usize;
        let list = &mut self.levels[level].slots[slot];
        let old_head = list.head;
        list.head = index;
        self.levels[level].occupied |= 1 << slot;
        if old_head != NIL {
            self.entries[old_head as usize].prev = index;
        }
        let e = &mut self.entries[index as usize];
        e.level = level as u8;
        e.slot = slot as u8;
        e.prev = NIL;
        e.next = old_head;
    }

    fn unlink(&mut self, index: u32) {
        let (level, slot, prev, next) = {
            let e = &mut self.entries[index as usize];
            if e.level == IN_HEAP {
                // Leaving the heap: make its heap item stale.
                e.heap_tag = e.heap_tag.wrapping_add(1);
                e.level = 0;
                return;
            }
            (e.level as usize, e.slot as usize, e.prev, e.next)
        };
        if prev == NIL {
            self.levels[level].slots[slot].head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
        if self.levels[level].slots[slot].head == NIL {
            self.levels[level].occupied &= !(1 << slot);
        }
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

    /// Takes every entry of a slot out of its list (they stay allocated).
    fn take_slot(&mut self, level: usize, slot: usize) -> Vec<u32> {
        let mut out = Vec::new();
        let mut i = self.levels[level].slots[slot].head;
        while i != NIL {
            out.push(i);
            i = self.entries[i as usize].next;
        }
        self.levels[level].slots[slot].head = NIL;
        self.levels[level].occupied &= !(1 << slot);
        out
    }

    /// Removes every entry, whatever its deadline, and returns the values.
    pub fn drain(&mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len);
        for i in 0..self.entries.len() as u32 {
            if self.entries[i as usize].value.is_some() {
                self.unlink(i);
                out.push(self.release(i));
            }
        }
        self.due.clear();
        out
    }

    /// Drops stale items from the top of the due heap; returns the live top's deadline.
    fn due_top(&mut self) -> Option<Instant> {
        while let Some(&Reverse((deadline, index, tag))) = self.due.peek() {
            let e = &self.entries[index as usize];
            if e.value.is_some() && e.level == IN_HEAP && e.heap_tag == tag {
                return Some(deadline);
            }
            self.due.pop();
        }
        None
    }

    /// The exact earliest deadline of all entries (`None` if empty): the smaller of the
    /// top of the due heap and, for each level, the earliest entry of its first non-empty
    /// slot, which holds that level's earliest deadlines. A level whose first slot starts
    /// after the best found so far is not scanned.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let mut best = self.due_top();
        for level in 0..LEVELS {
            let Some((slot, start)) = self.level_next(level) else {
                continue;
            };
            // Everything in that slot is at or after its start.
            if best.is_some_and(|b| b <= self.base + Duration::from_millis(start)) {
                continue;
            }
            let mut i = self.levels[level].slots[slot].head;
            while i != NIL {
                let e = &self.entries[i as usize];
                best = Some(best.map_or(e.deadline, |m| m.min(e.deadline)));
                i = e.next;
            }
        }
        best
    }

    /// Moves the entries of every slot whose time has come (up to `now_ms`) into the due
    /// heap, cascading higher levels down first. Returns the entries found clamped into a
    /// level-0 slot earlier than their real millisecond (placing them again here could land
    /// them in the very slot being processed, at the far end of the wheel's range).
    fn collect_due_slots(&mut self, now_ms: u64) -> Vec<u32> {
        let mut clamped = Vec::new();
        while let Some((level, slot, start)) = self.next_slot() {
            if start > now_ms {
                break;
            }
            let entries = self.take_slot(level, slot);
            self.elapsed = start;
            for i in entries {
                let e = &mut self.entries[i as usize];
                if level > 0 {
                    // Cascade: place it again, lower down, from the slot's time.
                    self.link(i);
                } else if e.when <= start {
                    e.level = IN_HEAP;
                    e.heap_tag = e.heap_tag.wrapping_add(1);
                    self.due.push(Reverse((e.deadline, i, e.heap_tag)));
                } else {
                    clamped.push(i);
                }
            }
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
        loop {
            let clamped = self.collect_due_slots(now_ms);
            // Entries clamped into a level-0 slot whose real millisecond is later are
            // placed again from the new time. If one of them is due by now, run the
            // collection again; otherwise they wait in their new slots.
            let again = clamped
                .iter()
                .any(|&i| self.entries[i as usize].when <= now_ms);
            for i in clamped {
                self.link(i);
            }
            if !again {
                break;
            }
        }
        // Fire, in deadline order, what is due.
        while let Some(deadline) = self.due_top() {
            if deadline > now {
                break;
            }
            let Reverse((_, i, _)) = self.due.pop().expect("peeked");
            let generation = self.entries[i as usize].generation;
            let value = self.release(i);
            fired.push((
                Key {
                    index: i,
                    generation,
                },
                value,
            ));
        }
    }
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

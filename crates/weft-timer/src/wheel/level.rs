//! The levels and the placement of items: which slot an item goes to, which slot comes
//! due next, and the cascade of a higher level's slot into lower ones.

use super::entry::{Entries, Item};
use super::{Wheel, KEEP_CAPACITY};
use std::cmp::Reverse;

pub(super) const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
pub(super) const SLOTS: u64 = 1 << SLOT_BITS;
/// Wheel-time offsets (in ms) must differ from the current time only below this bit.
pub(super) const RANGE_MASK: u64 = (1 << (SLOT_BITS * LEVELS as u32)) - 1;

pub(super) struct Level {
    /// Bit `i` set: slot `i` holds items (live or stale).
    pub(super) occupied: u64,
    pub(super) slots: [Vec<Item>; SLOTS as usize],
}

impl Level {
    pub(super) fn new() -> Level {
        Level {
            occupied: 0,
            slots: std::array::from_fn(|_| Vec::new()),
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
pub(super) fn level_for(elapsed: u64, when: u64) -> usize {
    if when.wrapping_sub(elapsed) < SLOTS {
        return 0;
    }
    let masked = (elapsed ^ when) | (SLOTS - 1);
    let significant = 63 - masked.leading_zeros() as usize;
    (significant / SLOT_BITS as usize).min(LEVELS - 1)
}

/// Drops the stale items of `items` (a slot's); returns how many went.
pub(super) fn retain_current<T>(entries: &Entries<T>, items: &mut Vec<Item>) -> usize {
    let before = items.len();
    items.retain(|item| entries.is_current(item));
    before - items.len()
}

impl<T> Wheel<T> {
    /// Puts an item in the slot its deadline calls for, given the current time.
    pub(super) fn place(&mut self, item: Item) {
        let elapsed = self.elapsed;
        // Past deadlines go to the current slot; too-far ones to the farthest slot of the
        // current top-level span (they are placed again when it comes due).
        let when = item.when().max(elapsed).min(elapsed | RANGE_MASK);
        let level = level_for(elapsed, when);
        let slot = ((when >> (SLOT_BITS * level as u32)) & (SLOTS - 1)) as usize;
        let l = &mut self.levels[level];
        let items = &mut l.slots[slot];
        // The slot's last item stale (its timer was cancelled, as a server's request
        // timeouts mostly are): the new item takes its place instead of growing the slot,
        // and the purge has one stale item fewer to find. (A purge pass under way keeps
        // its place: the slot's length does not change.)
        if let Some(last) = items.last_mut() {
            if !self.entries.is_current(last) {
                *last = item;
                self.items -= 1;
                return;
            }
        }
        items.push(item);
        l.occupied |= 1 << slot;
    }

    /// The earliest non-empty slot of `level`, with its start in wheel ms.
    pub(super) fn level_next(&self, level: usize) -> Option<(usize, u64)> {
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

    /// The earliest live item of a slot, dropping the slot's stale items if its earliest
    /// one is stale (each stale item is dropped once, so this stays linear overall).
    pub(super) fn slot_min(&mut self, level: usize, slot: usize) -> Option<Item> {
        let min = self.levels[level].slots[slot].iter().min().copied()?;
        if self.entries.is_current(&min) {
            return Some(min);
        }
        let items = &mut self.levels[level].slots[slot];
        self.items -= retain_current(&self.entries, items);
        if items.is_empty() {
            self.levels[level].occupied &= !(1 << slot);
        }
        items.iter().min().copied()
    }

    /// Moves the items of every slot whose time has come (up to `now_ms`) into the due
    /// heap, cascading higher levels down first. Returns the live items found clamped
    /// into a level-0 slot earlier than their real millisecond (placing them again here
    /// could land them in the very slot being processed, at the far end of the range).
    pub(super) fn collect_due_slots(&mut self, now_ms: u64) -> Vec<Item> {
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
                    } else if !self.entries.is_current(&item) {
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
}

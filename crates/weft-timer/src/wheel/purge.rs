//! The purge: removing or moving an entry leaves its old item stale wherever it is (a
//! slot, the due heap); stale items are dropped when met, and by passes of this module
//! once they outnumber the live entries, so that resetting a timeout over and over, or
//! cancelling every timer set (a server's request timeouts), cannot grow a slot without
//! bound.
//!
//! A pass goes through the slots `PURGE_STEP` items at a time, a step at each removal,
//! reset and advance, then through the due heap at once (it holds the timers of the
//! current millisecond or so): no single operation holds the shard's lock for a whole
//! purge. Stale items only ever move forward, from a slot into the heap, so a pass sees
//! every item that was stale when it began: a slot taken or compacted meanwhile
//! (`collect_due_slots`, `slot_min`) dropped its stale items or moved them to the heap.
//! (A stale item can never look current again, whatever its age: see `entry.rs`.)

use super::level::{LEVELS, SLOTS};
use super::{Wheel, KEEP_CAPACITY};
use std::cmp::Reverse;

/// Stale items tolerated beyond the number of live entries before a pass starts.
pub(super) const STALE_SLACK: usize = 1024;
/// Items a step of a purge pass examines.
const PURGE_STEP: usize = 256;

impl<T> Wheel<T> {
    /// Once stale items outnumber the live entries (plus some slack), starts a pass that
    /// drops every stale item, and runs the pass under way one step further. (Inlined:
    /// every cancel calls it, and almost always returns at the first test.)
    #[inline]
    pub(super) fn maybe_purge(&mut self) {
        if self.purge_at.is_none() {
            if self.items <= 2 * self.entries.len() + STALE_SLACK {
                return;
            }
            self.purge_at = Some((0, 0));
        }
        self.purge_step();
    }

    /// Examines the next `PURGE_STEP` items of the pass (resuming inside a slot: a slot's
    /// order does not matter, so a stale item is swapped out with the last), and the due
    /// heap at its end, in one go.
    #[inline(never)]
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
                if entries.is_current(&items[offset]) {
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
        self.due.retain(|Reverse(item)| entries.is_current(item));
        self.items -= before - self.due.len();
        self.purge_at = None;
    }
}

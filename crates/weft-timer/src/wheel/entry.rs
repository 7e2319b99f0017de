//! The entries of the wheel and their stamps: what a [`Key`] names and what an [`Item`]
//! points at.
//!
//! Entries live in a slab (the `slab` crate) and hold their values. Every entry carries
//! two numbers drawn from one counter of the wheel, which only grows (64 bits: it does not
//! wrap in centuries of insertions): `id`, given at insertion, which its key carries, and
//! `stamp`, given at insertion and at every reset, which its current item carries. A key
//! or an item whose number does not match the entry found at its index is stale, even
//! after the slab gave the index to a new entry, which has numbers of its own.

use slab::Slab;

/// Identifies an entry. Stale keys (of entries fired or removed) are recognised and
/// ignored, even after the slab index is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    index: u32,
    id: u64,
}

/// Where an entry is due: in a slot's vector or in the due heap. Ordered by deadline.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Item {
    /// Nanoseconds since the wheel's base.
    pub(super) deadline: u64,
    /// The entry's stamp when this item was made.
    stamp: u64,
    index: u32,
}

impl Item {
    /// The millisecond of its deadline, in wheel time.
    pub(super) fn when(&self) -> u64 {
        self.deadline / super::NANOS_PER_MS
    }
}

struct Entry<T> {
    value: T,
    /// Given at insertion; carried by the entry's key.
    id: u64,
    /// Given at insertion and at every reset; carried by the entry's current item.
    stamp: u64,
}

/// The entries of a wheel.
pub(super) struct Entries<T> {
    slab: Slab<Entry<T>>,
    /// The next id or stamp to give.
    next: u64,
}

impl<T> Entries<T> {
    pub(super) fn new() -> Entries<T> {
        Entries {
            slab: Slab::new(),
            next: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.slab.len()
    }

    fn number(&mut self) -> u64 {
        let n = self.next;
        self.next += 1;
        n
    }

    /// Adds an entry due at `deadline` (nanoseconds since the base): its key and item.
    pub(super) fn insert(&mut self, deadline: u64, value: T) -> (Key, Item) {
        let n = self.number();
        let slot = self.slab.vacant_entry();
        let index = u32::try_from(slot.key())
            .ok()
            .filter(|&i| i != u32::MAX)
            .expect("more than 4 billion timers at once");
        slot.insert(Entry {
            value,
            id: n,
            stamp: n,
        });
        let key = Key { index, id: n };
        let item = Item {
            deadline,
            stamp: n,
            index,
        };
        (key, item)
    }

    fn entry(&self, key: Key) -> Option<&Entry<T>> {
        self.slab.get(key.index as usize).filter(|e| e.id == key.id)
    }

    /// The value of a live entry.
    pub(super) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        self.slab
            .get_mut(key.index as usize)
            .filter(|e| e.id == key.id)
            .map(|e| &mut e.value)
    }

    /// Whether `item` is its entry's current item.
    #[inline]
    pub(super) fn is_current(&self, item: &Item) -> bool {
        self.slab
            .get(item.index as usize)
            .is_some_and(|e| e.stamp == item.stamp)
    }

    /// Removes a live entry (its item goes stale); `None` if `key` is stale.
    pub(super) fn remove(&mut self, key: Key) -> Option<T> {
        self.entry(key)?;
        Some(self.slab.remove(key.index as usize).value)
    }

    /// Removes the entry of `item`, a current item: its key and value.
    pub(super) fn fire(&mut self, item: &Item) -> (Key, T) {
        let e = self.slab.remove(item.index as usize);
        debug_assert_eq!(e.stamp, item.stamp, "fired a stale item");
        let key = Key {
            index: item.index,
            id: e.id,
        };
        (key, e.value)
    }

    /// Gives a live entry a new item due at `deadline` (its old item goes stale); `None`
    /// if `key` is stale.
    pub(super) fn restamp(&mut self, key: Key, deadline: u64) -> Option<Item> {
        let n = self.number();
        let e = self
            .slab
            .get_mut(key.index as usize)
            .filter(|e| e.id == key.id)?;
        e.stamp = n;
        Some(Item {
            deadline,
            stamp: n,
            index: key.index,
        })
    }

    /// Removes every entry; returns their values.
    pub(super) fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.slab.drain().map(|e| e.value)
    }
}

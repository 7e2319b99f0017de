//! Where a task was spawned, its name if it was given one, and its owned-list shard: one
//! word of the header.
//!
//! The word is `[pointer: 48 | shard: 16]`. Most tasks have no name, and for them the
//! pointer is the `&'static Location` that `#[track_caller]` recorded at the spawn: no
//! allocation. A named task's pointer is a boxed [`Named`] (the name and the location),
//! told apart by the pointer's low bit (both a `Location` and a `Named` are aligned to
//! more than 1). The shard (see `list.rs`) rides in the low 16 bits: every task pays for
//! the header, and the shard and the location are both fixed at spawn, so they share a
//! word instead of taking two (`cell.rs`: the header is 40 bytes).
//!
//! A pointer fits in 48 bits because user-space addresses do on every 64-bit target weft
//! runs on (x86-64 and AArch64 give user space 47 or 48 bits unless a program maps memory
//! above that on purpose, with a hint address; 32-bit pointers fit anyway). `Spawned::at`
//! and `Spawned::new` check it and panic, naming the reason, if not. Written once before
//! the task is shared, read by anyone holding a reference, freed with the cell.

use std::panic::Location;
use std::sync::Arc;

/// The low bit of the pointer that marks a boxed `Named`.
const NAMED: u64 = 1;
const _: () = assert!(std::mem::align_of::<Location<'static>>() as u64 > NAMED);
const _: () = assert!(std::mem::align_of::<Named>() as u64 > NAMED);
/// Where the pointer starts in the word; below it is the shard.
const PTR_SHIFT: u32 = 16;

/// A named task's metadata.
struct Named {
    name: Arc<str>,
    location: &'static Location<'static>,
}

/// See the module comment.
pub(crate) struct Spawned(u64);

// SAFETY: it owns (or borrows for 'static) immutable data of Send + Sync types.
unsafe impl Send for Spawned {}
// SAFETY: shared, it is only read.
unsafe impl Sync for Spawned {}

/// The word for pointer address `addr` (with its mark) in shard 0.
#[inline]
fn pack(addr: usize) -> u64 {
    let addr = addr as u64;
    assert!(
        addr >> (u64::BITS - PTR_SHIFT) == 0,
        "weft: a pointer above 2^48 (memory mapped above the usual user-space range); \
         task headers pack spawn locations into 48 bits"
    );
    addr << PTR_SHIFT
}

impl Spawned {
    /// An unnamed task spawned at `location`.
    #[inline]
    pub(crate) fn at(location: &'static Location<'static>) -> Spawned {
        Spawned(pack(std::ptr::from_ref(location).expose_provenance()))
    }

    /// A task spawned at `location`, named if `name` is given.
    pub(crate) fn new(location: &'static Location<'static>, name: Option<Arc<str>>) -> Spawned {
        match name {
            None => Spawned::at(location),
            Some(name) => {
                let boxed = Box::into_raw(Box::new(Named { name, location }));
                let word = pack(boxed.expose_provenance() | NAMED as usize);
                Spawned(word)
            }
        }
    }

    /// The same, in list shard `shard`.
    #[inline]
    pub(crate) fn in_shard(self, shard: u16) -> Spawned {
        let word = (self.0 & !u64::from(u16::MAX)) | u64::from(shard);
        std::mem::forget(self);
        Spawned(word)
    }

    /// The owned-list shard.
    #[inline]
    pub(crate) fn shard(&self) -> u16 {
        self.0 as u16
    }

    /// The pointer's address, with its mark.
    #[inline]
    fn addr(&self) -> usize {
        (self.0 >> PTR_SHIFT) as usize
    }

    fn named(&self) -> Option<&Named> {
        let addr = self.addr();
        if addr & NAMED as usize == 0 {
            return None;
        }
        let p = std::ptr::with_exposed_provenance::<Named>(addr & !(NAMED as usize));
        // SAFETY: a marked address came from `Box::into_raw` in `new` (its provenance
        // exposed there) and lives until drop.
        Some(unsafe { &*p })
    }

    /// Where the task was spawned.
    pub(crate) fn location(&self) -> &'static Location<'static> {
        match self.named() {
            Some(n) => n.location,
            // SAFETY: an unmarked address is the `&'static Location` of `at`, whose
            // provenance `at` exposed.
            None => unsafe { &*std::ptr::with_exposed_provenance(self.addr()) },
        }
    }

    /// The task's name, if it has one.
    pub(crate) fn name(&self) -> Option<&Arc<str>> {
        self.named().map(|n| &n.name)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let addr = self.addr();
        if addr & NAMED as usize != 0 {
            let p = std::ptr::with_exposed_provenance_mut::<Named>(addr & !(NAMED as usize));
            // SAFETY: a marked address came from `Box::into_raw` in `new`; dropped once.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unnamed_and_named_keep_their_location_name_and_shard() {
        let here = Location::caller();
        let a = Spawned::at(here).in_shard(65_535);
        assert!(a.name().is_none());
        assert_eq!(a.location(), here);
        assert_eq!(a.shard(), 65_535);
        let b = Spawned::new(here, Some("conn 7".into())).in_shard(3);
        assert_eq!(b.name().map(|n| &**n), Some("conn 7"));
        assert_eq!(b.location(), here);
        assert_eq!(b.shard(), 3);
        assert_eq!(std::mem::size_of::<Spawned>(), 8);
    }
}

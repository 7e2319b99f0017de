//! Where a task was spawned, and its name if it was given one: one word of the header.
//!
//! Most tasks have no name, and for them the word is the `&'static Location` that
//! `#[track_caller]` recorded at the spawn: no allocation. A named task's word points at a
//! boxed [`Named`] (the name and the location), told apart by the pointer's low bit (both
//! a `Location` and a `Named` are aligned to more than 1). Written once before the task
//! is shared, read by anyone holding a reference, freed with the cell.

use std::panic::Location;
use std::ptr::NonNull;
use std::sync::Arc;

/// The low bit that marks a pointer to a boxed `Named`.
const NAMED: usize = 1;
const _: () = assert!(std::mem::align_of::<Location<'static>>() > NAMED);
const _: () = assert!(std::mem::align_of::<Named>() > NAMED);

/// A named task's metadata.
struct Named {
    name: Arc<str>,
    location: &'static Location<'static>,
}

/// See the module comment.
pub(crate) struct Spawned(NonNull<()>);

// SAFETY: it owns (or borrows for 'static) immutable data of Send + Sync types.
unsafe impl Send for Spawned {}
// SAFETY: shared, it is only read.
unsafe impl Sync for Spawned {}

impl Spawned {
    /// An unnamed task spawned at `location`.
    #[inline]
    pub(crate) fn at(location: &'static Location<'static>) -> Spawned {
        Spawned(NonNull::from(location).cast())
    }

    /// A task spawned at `location`, named if `name` is given.
    pub(crate) fn new(location: &'static Location<'static>, name: Option<Arc<str>>) -> Spawned {
        match name {
            None => Spawned::at(location),
            Some(name) => {
                let boxed = Box::into_raw(Box::new(Named { name, location }));
                // SAFETY: `Box::into_raw` is never null; the mark keeps it so.
                Spawned(unsafe { NonNull::new_unchecked(boxed.map_addr(|a| a | NAMED).cast()) })
            }
        }
    }

    fn named(&self) -> Option<&Named> {
        let p = self.0.as_ptr();
        if p.addr() & NAMED == 0 {
            return None;
        }
        // SAFETY: a marked pointer came from `Box::into_raw` in `new` and lives until drop.
        Some(unsafe { &*p.map_addr(|a| a & !NAMED).cast::<Named>() })
    }

    /// Where the task was spawned.
    pub(crate) fn location(&self) -> &'static Location<'static> {
        match self.named() {
            Some(n) => n.location,
            // SAFETY: an unmarked pointer is the `&'static Location` of `at`.
            None => unsafe { self.0.cast::<Location<'static>>().as_ref() },
        }
    }

    /// The task's name, if it has one.
    pub(crate) fn name(&self) -> Option<&Arc<str>> {
        self.named().map(|n| &n.name)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let p = self.0.as_ptr();
        if p.addr() & NAMED != 0 {
            // SAFETY: a marked pointer came from `Box::into_raw` in `new`; dropped once.
            drop(unsafe { Box::from_raw(p.map_addr(|a| a & !NAMED).cast::<Named>()) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unnamed_and_named_keep_their_location_and_name() {
        let here = Location::caller();
        let a = Spawned::at(here);
        assert!(a.name().is_none());
        assert_eq!(a.location(), here);
        let b = Spawned::new(here, Some("conn 7".into()));
        assert_eq!(b.name().map(|n| &**n), Some("conn 7"));
        assert_eq!(b.location(), here);
        assert_eq!(std::mem::size_of::<Spawned>(), std::mem::size_of::<usize>());
    }
}

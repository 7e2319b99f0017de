//! Primitives the weft crates share, written once: the locks, atomics and cells every
//! atomic protocol of weft is written against (swapped for loom's when built with
//! `--cfg weft_loom`, so the same code runs in production and under the model checker),
//! and [`thread_shard`], which spreads threads over sharded locks.
//!
//! This crate is internal to weft (the executor, the timer and the reactor depend on it):
//! its API follows their needs and has no stability promise. Depend on `weft` instead.
//!
//! It is a crate of its own rather than a hidden module of `weft-executor` so that the
//! executor's public API holds only what its users need, and so that a primitive the
//! timer or the reactor uses does not have to be exported by the executor (whose layers
//! it is not part of).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations)]

mod shard;
mod sync;

pub use shard::thread_shard;
pub use sync::*;

//! Child processes whose exit is heard through pidfds (where the kernel has them; else
//! through SIGCHLD, as in `process_sigchld.rs`).

#![cfg(all(unix, not(weft_loom)))]

mod common;

const SIGCHLD_REAPER: bool = false;

include!("common/process_cases.rs");

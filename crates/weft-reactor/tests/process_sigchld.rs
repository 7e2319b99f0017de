//! Child processes whose exit is heard through SIGCHLD, the path for kernels without
//! pidfds: the same cases as `process.rs`.

#![cfg(all(unix, not(weft_loom)))]

mod common;

const SIGCHLD_REAPER: bool = true;

include!("common/process_cases.rs");

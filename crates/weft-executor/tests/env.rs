//! `WEFT_WORKER_THREADS`. Alone in its own test binary (its own process): setting an
//! environment variable while another thread reads the environment is undefined behaviour
//! in C libraries, and other tests' threads do read it (the panic machinery does).

#![cfg(not(weft_loom))]

use weft_executor::{Builder, Runtime, WORKER_THREADS_ENV};

#[test]
fn worker_threads_from_the_environment() {
    // SAFETY: the only test in this process, and no runtime thread exists yet.
    unsafe { std::env::set_var(WORKER_THREADS_ENV, "3") };
    let rt = Runtime::new().unwrap();
    assert_eq!(rt.metrics().num_workers(), 3);
    drop(rt);
    // The builder wins over the variable.
    let rt = Builder::new().worker_threads(1).build().unwrap();
    assert_eq!(rt.metrics().num_workers(), 1);
    drop(rt);
    // SAFETY: as above; the runtimes above are dropped and their threads joined.
    unsafe { std::env::set_var(WORKER_THREADS_ENV, "lots") };
    let err = Runtime::new().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    // SAFETY: as above.
    unsafe { std::env::remove_var(WORKER_THREADS_ENV) };
}

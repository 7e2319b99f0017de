//! What weft's benchmarks share, so that every workload is written once and run
//! identically on weft, tokio and smol:
//!
//! - [`rt`]: the [`Rt`] and [`Net`] traits a workload is written against, and one adapter
//!   file per runtime ([`Weft`], [`Tokio`], [`Smol`]) implementing them;
//! - [`workload`]: the workloads and their sizes, each defined once;
//! - [`http`]: the hyper hello server on each runtime, and [`wrk`] (HTTP/1.1) and
//!   [`h2load`] (HTTP/2) to load it;
//! - [`report`]: timing, medians and ratios.
//!
//! All three runtimes use the same number of worker threads: [`workers`], from
//! `WEFT_BENCH_WORKERS`, default 2.

#![warn(missing_docs, missing_debug_implementations)]

pub mod h2load;
pub mod http;
pub mod report;
pub mod rt;
pub mod workload;
pub mod wrk;

pub use rt::{Net, Rt, Smol, SmolLocal, Tokio, Weft};

/// Worker threads per runtime: `WEFT_BENCH_WORKERS`, default 2.
pub fn workers() -> usize {
    std::env::var("WEFT_BENCH_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

/// Evaluates `$body` once per runtime with `$rt` bound to each, into an array in the order
/// weft, tokio, smol (a workload is generic over the runtime, a closure cannot be).
#[macro_export]
macro_rules! each {
    ($weft:expr, $tokio:expr, $smol:expr, |$rt:ident| $body:expr) => {
        [
            {
                let $rt = $weft;
                $body
            },
            {
                let $rt = $tokio;
                $body
            },
            {
                let $rt = $smol;
                $body
            },
        ]
    };
}

/// One criterion benchmark per runtime in group `$g`, named after the runtime (the bench
/// using it depends on `criterion`; this crate does not).
#[macro_export]
macro_rules! bench_each {
    ($g:expr, $weft:expr, $tokio:expr, $smol:expr, |$rt:ident| $body:expr) => {
        $crate::each!($weft, $tokio, $smol, |$rt| {
            $g.bench_function(
                criterion::BenchmarkId::from_parameter($crate::Rt::name($rt)),
                |b| b.iter(|| $body),
            );
        })
    };
}

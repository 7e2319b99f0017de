//! The workloads, each written once against [`Rt`](crate::Rt) or [`Net`](crate::Net),
//! with their sizes. Each checks its own result.

pub mod net;
pub mod tasks;
pub mod timers;

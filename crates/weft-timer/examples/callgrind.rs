//! A fixed workload for counting the timer's instructions under callgrind (see
//! docs/measuring.md, "Timer insert and cancel").
//!
//! `cargo run --release -p weft-timer --example callgrind -- <count>`: inside a task on a
//! runtime of one worker, make `<count>` sleeps a minute or two out, poll each once (which
//! registers it in the wheel) and drop it (which cancels it), as the timer bench's
//! `insert_cancel` does. A run with 0 measures the runtime's start and stop alone, to
//! subtract.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::Duration;
use weft_timer::Instant;

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .expect("usage: callgrind <count>");
    let rt = weft_timer::install(weft_executor::Builder::new().worker_threads(1))
        .build()
        .expect("a runtime");
    let pending = rt.block_on(async move {
        weft_executor::spawn(async move {
            let now = Instant::now();
            let mut cx = Context::from_waker(Waker::noop());
            let mut pending = 0;
            for i in 0..count {
                // 60-110 s out, spread over the wheel's slots.
                let out = Duration::from_millis(60_000 + (i as u64 * 7919) % 50_000);
                let mut s = pin!(weft_timer::sleep_until(now + out));
                if s.as_mut().poll(&mut cx).is_pending() {
                    pending += 1;
                }
            }
            pending
        })
        .await
        .expect("the task")
    });
    assert_eq!(pending, count);
}

//! asyncio.gather: start several coroutines as tasks and await them all. They run at the
//! same time, so the total is about the longest, not the sum.
//!
//! `cargo run --example gather`

use std::time::{Duration, Instant};
use weft::task::JoinSet;

async fn fetch(name: &'static str, ms: u64) -> (&'static str, u64) {
    weft::time::sleep(Duration::from_millis(ms)).await;
    (name, ms)
}

#[weft::main]
async fn main() {
    let start = Instant::now();
    let work = [("users", 300), ("orders", 100), ("stock", 200)];

    // Like asyncio.create_task, one task each; JoinSet returns them as they finish.
    let mut set = JoinSet::new();
    for (name, ms) in work {
        set.spawn(fetch(name, ms));
    }
    while let Some(done) = set.join_next().await {
        let (name, ms) = done.expect("a fetch failed");
        println!(
            "{name:>6} done after {ms} ms (at {:>3} ms)",
            start.elapsed().as_millis()
        );
    }

    let total = start.elapsed();
    let sum: u64 = work.iter().map(|(_, ms)| ms).sum();
    println!(
        "total {} ms; the sum of the waits is {sum} ms: {}",
        total.as_millis(),
        if total < Duration::from_millis(sum) {
            "they ran concurrently"
        } else {
            "they did NOT overlap"
        }
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_to_the_end() {
        super::main();
    }
}

//! An async generator as a `Stream`: pages of a paginated source, fetched lazily, one at a
//! time, only as the consumer asks for them.
//!
//! ```python
//! async def pages():
//!     page = 0
//!     while page < 3:
//!         await asyncio.sleep(0.05)   # fetch the page
//!         yield [f"item {page}.{i}" for i in range(3)]
//!         page += 1
//!
//! async for items in pages(): ...
//! ```
//!
//! `cargo run --example stream`

use std::time::Duration;
use weft::stream::{self, StreamExt};

/// Pages 0, 1, 2 of three items each, each page "fetched" when the consumer asks.
fn pages() -> impl weft::stream::Stream<Item = Vec<String>> {
    stream::unfold(0u32, |page| async move {
        if page == 3 {
            return None; // the generator returns: the stream ends
        }
        println!("  (fetching page {page})");
        weft::time::sleep(Duration::from_millis(50)).await;
        let items = (0..3).map(|i| format!("item {page}.{i}")).collect();
        Some((items, page + 1))
    })
}

#[weft::main]
async fn main() {
    let mut s = pages().boxed();
    while let Some(items) = s.next().await {
        println!("got {items:?}");
    }
    // Streams compose: all items of all pages, numbered, the first five only.
    let firsts: Vec<String> = pages().flat_map(stream::iter).take(5).collect().await;
    println!("first five: {firsts:?}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_to_the_end() {
        super::main();
    }
}

//! asyncio's first program: a coroutine that fetches data, awaited from `main`.
//!
//! ```python
//! async def fetch_data():
//!     print("Start fetching")
//!     await asyncio.sleep(2)
//!     print("Done fetching")
//!     return {"data": 1}
//!
//! async def main():
//!     print(await fetch_data())
//!
//! asyncio.run(main())
//! ```
//!
//! `cargo run --example hello` (it sleeps 0.2 s instead of 2, to keep tests quick).

use std::time::Duration;

async fn fetch_data() -> Vec<(&'static str, u32)> {
    println!("Start fetching");
    weft::time::sleep(Duration::from_millis(200)).await;
    println!("Done fetching");
    vec![("data", 1)]
}

fn main() {
    // weft::run is asyncio.run: start a runtime, run the future, shut down.
    let data = weft::run(fetch_data());
    println!("{data:?}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_to_the_end() {
        super::main();
    }
}

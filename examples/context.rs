//! asyncio's `async with`: a resource whose cleanup must run, and a timeout scope.
//!
//! Rust has no `async with`; the same guarantees come from two things:
//! - an explicit `async fn close(self)` for cleanup that needs to await (flushing a
//!   connection, say), which consumes the resource so it cannot be used after;
//! - `Drop` as the safety net: if the code in between fails or is cancelled, the guard
//!   still releases the resource (synchronously), and says so.
//!
//! `asyncio.timeout(0.1)` is `weft::time::timeout(Duration, future)`.
//!
//! `cargo run --example context`

use std::time::Duration;
use weft::time::{sleep, timeout};

struct Connection {
    name: &'static str,
    closed: bool,
}

impl Connection {
    async fn open(name: &'static str) -> Connection {
        sleep(Duration::from_millis(10)).await;
        println!("{name}: opened");
        Connection {
            name,
            closed: false,
        }
    }

    async fn query(&self, q: &str) -> String {
        sleep(Duration::from_millis(10)).await;
        format!("{}: result of {q:?}", self.name)
    }

    /// The `__aexit__`: awaits whatever cleanup needs.
    async fn close(mut self) {
        sleep(Duration::from_millis(10)).await;
        println!("{}: closed cleanly", self.name);
        self.closed = true;
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if !self.closed {
            println!("{}: not closed; released by its guard", self.name);
        }
    }
}

#[weft::main]
async fn main() {
    // The happy path: open, use, close.
    let db = Connection::open("db").await;
    println!("{}", db.query("select 1").await);
    db.close().await;

    // A failure in the middle: the guard still runs.
    let r: Result<(), &str> = async {
        let cache = Connection::open("cache").await;
        cache.query("get k").await;
        Err("the query went wrong")?;
        cache.close().await;
        Ok(())
    }
    .await;
    println!("outcome: {r:?}");

    // A timeout scope: the slow work is cancelled (dropped) at the deadline, and its
    // resource is released by the guard.
    let slow = async {
        let c = Connection::open("slow").await;
        sleep(Duration::from_secs(10)).await;
        c.close().await;
    };
    match timeout(Duration::from_millis(100), slow).await {
        Ok(()) => println!("finished in time"),
        Err(e) => println!("timeout scope: {e}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_to_the_end() {
        super::main();
    }
}

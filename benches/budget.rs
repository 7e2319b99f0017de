//! What the cooperative budget costs and buys, on one worker: a task reading a loopback
//! socket that always has data (16-byte reads, a thread writing 64 KiB chunks as fast as
//! it can) beside a task sleeping 1 ms in a loop. Printed per round: the reader's
//! throughput and how late the sleeps woke, with the budget and with the reader wrapped in
//! `weft::task::unconstrained` (no budget: the sleeps then wait until the reader's socket
//! happens to run dry).
//!
//! `cargo bench -p weft-benches --bench budget [-- ROUNDS]`. To try another budget size,
//! change `weft_executor::coop::BUDGET` and run it again (docs/measuring.md has the figures).

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the sleeper measures for.
const SPAN: Duration = Duration::from_millis(1500);

struct Round {
    mean_late: Duration,
    max_late: Duration,
    mb_per_s: f64,
}

fn round(budgeted: bool) -> Round {
    let rt = weft::Builder::new().worker_threads(1).build().unwrap();
    rt.block_on(async move {
        let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let writer = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                let chunk = vec![7u8; 64 * 1024];
                while !stop.load(Relaxed) && s.write_all(&chunk).is_ok() {}
            }
        });
        let (conn, _) = listener.accept().await.unwrap();
        let bytes = Arc::new(AtomicU64::new(0));
        let read_loop = {
            let (bytes, stop) = (bytes.clone(), stop.clone());
            async move {
                let mut buf = [0u8; 16];
                while !stop.load(Relaxed) {
                    match conn.read(&mut buf).await {
                        Ok(n) => bytes.fetch_add(n as u64, Relaxed),
                        Err(_) => break,
                    };
                }
            }
        };
        let reader = if budgeted {
            weft::spawn(read_loop)
        } else {
            weft::spawn(weft::task::unconstrained(read_loop))
        };
        let start = Instant::now();
        let sleeper = weft::spawn(async {
            let mut late = Vec::new();
            let begin = Instant::now();
            while begin.elapsed() < SPAN {
                let t0 = Instant::now();
                weft::time::sleep(Duration::from_millis(1)).await;
                late.push(t0.elapsed().saturating_sub(Duration::from_millis(1)));
            }
            late
        });
        let late = sleeper.await.unwrap();
        let secs = start.elapsed().as_secs_f64();
        stop.store(true, Relaxed);
        let _ = reader.await;
        writer.join().unwrap();
        Round {
            mean_late: late.iter().sum::<Duration>() / late.len().max(1) as u32,
            max_late: late.iter().max().copied().unwrap_or_default(),
            mb_per_s: bytes.load(Relaxed) as f64 / secs / 1e6,
        }
    })
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3);
    println!(
        "budget {} units; {rounds} rounds, alternating",
        weft_executor::coop::BUDGET
    );
    for _ in 0..rounds {
        for budgeted in [true, false] {
            let r = round(budgeted);
            println!(
                "{:<13} reader {:>6.1} MB/s   1 ms sleeps late: mean {:>9.0} us, max {:>9.0} us",
                if budgeted { "budget" } else { "unconstrained" },
                r.mb_per_s,
                r.mean_late.as_secs_f64() * 1e6,
                r.max_late.as_secs_f64() * 1e6
            );
        }
    }
}

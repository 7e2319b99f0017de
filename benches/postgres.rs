//! The same tokio-postgres client on weft and on tokio, side by side in one run: only the
//! runtime differs (its TCP stream, reactor, timer and workers; both connect with
//! `Config::connect_raw` over their own `TcpStream` with `TCP_NODELAY`, and spawn the
//! `Connection` future on themselves).
//!
//! Run with `cargo bench -p weft-benches --bench postgres` (the server in `WEFT_PG_URL`, by default
//! `host=127.0.0.1 user=root dbname=test`; workers: `WEFT_BENCH_WORKERS`, default 2).
//!
//! - `select1`: 8 connections, one task on each, sequential round trips of a prepared
//!   `SELECT 1`; reported as queries per second.
//! - `mixed`: 8 connections, one task on each, alternating a prepared `INSERT` of a row and a
//!   prepared `SELECT` of it by its key; reported as statements per second.
//!
//! The runtimes take turns, round by round; the medians and their ratio are printed.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::{Client, Config, NoTls, Statement};

const CONNS: usize = 8;
const ROUNDS: usize = 7;
const SELECTS_PER_CONN: usize = 1500;
const PAIRS_PER_CONN: usize = 500;

/// One connection's prepared statements.
struct Conn {
    client: Client,
    select1: Statement,
    insert: Statement,
    select_row: Statement,
}

async fn prepare(client: Client, table: &str) -> Conn {
    let select1 = client.prepare("SELECT 1::int4").await.unwrap();
    let insert = client
        .prepare(&format!("INSERT INTO {table} (id, v) VALUES ($1, $2)"))
        .await
        .unwrap();
    let select_row = client
        .prepare(&format!("SELECT v FROM {table} WHERE id = $1"))
        .await
        .unwrap();
    Conn {
        client,
        select1,
        insert,
        select_row,
    }
}

async fn select1(conn: Arc<Conn>) {
    for _ in 0..SELECTS_PER_CONN {
        let row = conn.client.query_one(&conn.select1, &[]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), 1);
    }
}

async fn mixed(conn: Arc<Conn>, ids: Arc<AtomicI32>) {
    for _ in 0..PAIRS_PER_CONN {
        let id = ids.fetch_add(1, Ordering::Relaxed);
        let v = format!("value {id}");
        conn.client.execute(&conn.insert, &[&id, &v]).await.unwrap();
        let row = conn
            .client
            .query_one(&conn.select_row, &[&id])
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), v);
    }
}

/// A runtime under test, with its connections: the same code for both, written once
/// (`runtime!`) over each runtime's own `TcpStream`, `spawn` and `block_on`.
trait Runtime {
    fn name(&self) -> &'static str;
    /// Runs `f(conn)` for each connection in its own task, concurrently; the elapsed time.
    fn run_each(&self, f: Workload, ids: &Arc<AtomicI32>) -> Duration;
}

type Task = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// A workload: what one connection's task runs.
type Workload = fn(Arc<Conn>, Arc<AtomicI32>) -> Task;

macro_rules! runtime {
    ($name:ident, $label:literal, $rt:ty, $tcp:path, $spawn:path) => {
        struct $name {
            rt: $rt,
            conns: Vec<Arc<Conn>>,
        }

        impl $name {
            fn new(rt: $rt, config: &Config, table: &str) -> $name {
                let conns = rt.block_on(async {
                    let mut conns = Vec::new();
                    for _ in 0..CONNS {
                        let (host, port) = tcp_target(config);
                        let stream = <$tcp>::connect((host.as_str(), port)).await.unwrap();
                        stream.set_nodelay(true).unwrap();
                        let (client, connection) = config.connect_raw(stream, NoTls).await.unwrap();
                        $spawn(connection);
                        conns.push(Arc::new(prepare(client, table).await));
                    }
                    conns
                });
                $name { rt, conns }
            }
        }

        impl Runtime for $name {
            fn name(&self) -> &'static str {
                $label
            }
            fn run_each(&self, f: Workload, ids: &Arc<AtomicI32>) -> Duration {
                self.rt.block_on(async {
                    let start = Instant::now();
                    let tasks: Vec<_> = self
                        .conns
                        .iter()
                        .map(|c| $spawn(f(c.clone(), ids.clone())))
                        .collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                    start.elapsed()
                })
            }
        }
    };
}

runtime!(
    Weft,
    "weft",
    weft::Runtime,
    weft::net::TcpStream,
    weft::spawn
);
runtime!(
    Tokio,
    "tokio",
    tokio::runtime::Runtime,
    tokio::net::TcpStream,
    tokio::spawn
);

fn tcp_target(config: &Config) -> (String, u16) {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => panic!("the benchmark needs a TCP host in WEFT_PG_URL"),
    };
    (host, config.get_ports().first().copied().unwrap_or(5432))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing else: run
    // only when benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let url = std::env::var("WEFT_PG_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 user=root dbname=test".into());
    let config: Config = url.parse().expect("WEFT_PG_URL");
    let workers: usize = std::env::var("WEFT_BENCH_WORKERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let table = format!("weft_bench_{}", std::process::id());

    // The table must exist before the statements on it are prepared.
    let setup = weft::Builder::new().worker_threads(1).build().unwrap();
    setup.block_on(async {
        let (host, port) = tcp_target(&config);
        let stream = weft::net::TcpStream::connect((host.as_str(), port))
            .await
            .unwrap();
        let (client, connection) = config.connect_raw(stream, NoTls).await.unwrap();
        weft::spawn(connection);
        client
            .batch_execute(&format!(
                "CREATE TABLE {table} (id int4 PRIMARY KEY, v text NOT NULL)"
            ))
            .await
            .unwrap();
    });
    let weft_rt = weft::Builder::new()
        .worker_threads(workers)
        .build()
        .unwrap();
    let weft = Weft::new(weft_rt, &config, &table);
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    let tokio = Tokio::new(tokio_rt, &config, &table);
    let runtimes: [&dyn Runtime; 2] = [&weft, &tokio];
    let ids = Arc::new(AtomicI32::new(0));

    let workloads: [(&str, Workload, usize); 2] = [
        (
            "select1",
            |c, _| Box::pin(select1(c)),
            CONNS * SELECTS_PER_CONN,
        ),
        (
            "mixed",
            |c, ids| Box::pin(mixed(c, ids)),
            CONNS * PAIRS_PER_CONN * 2,
        ),
    ];
    println!("tokio-postgres, {CONNS} connections, {workers} workers, {ROUNDS} alternating rounds");
    for (name, f, statements) in workloads {
        // One warm-up round each, not counted.
        for rt in runtimes {
            rt.run_each(f, &ids);
        }
        let mut rates = [Vec::new(), Vec::new()];
        for round in 0..ROUNDS {
            // Alternate who goes first.
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let t = runtimes[i].run_each(f, &ids);
                rates[i].push(statements as f64 / t.as_secs_f64());
            }
        }
        let [w, t] = rates.map(median);
        println!(
            "{name:8} {}: {w:9.0}/s   {}: {t:9.0}/s   weft/tokio = {:.3}",
            runtimes[0].name(),
            runtimes[1].name(),
            w / t
        );
    }
    weft.rt.block_on(async {
        weft.conns[0]
            .client
            .batch_execute(&format!("DROP TABLE {table}"))
            .await
            .unwrap();
    });
}

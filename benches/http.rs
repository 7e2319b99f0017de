//! A server benchmark: the same hyper 1.x hello server (HTTP/1.1, keep-alive) on weft
//! (through weft-hyper), tokio (hyper-util's `TokioIo`) and smol (async-executor and
//! async-io, through smol-hyper), each in a fresh process with the same worker count,
//! loaded by `wrk -t1 -cN -dSs --latency` at each connection count, the runtimes
//! alternating (each round starts with the next runtime). Prints every run, then per
//! connection count and runtime the medians over the rounds of req/s, p50, p99 and p99.9
//! with their ratios to tokio's.
//!
//! `cargo bench -p weft-benches --bench http -- [--rounds 3] [--seconds 4] [--warmup 1]
//! [--connections 50,1000] [--workers 2] [--runtimes weft,tokio,smol]`
//!
//! Run it while nothing else runs (`flock /tmp/weft-build.lock` on the shared machine):
//! wrk shares the CPUs with the server. Each measured run follows a `--warmup`-second wrk
//! run on the same server (0 skips it). Installs wrk with apt-get when it is missing, and
//! raises the open-file limit the largest connection count needs (saying so, or saying
//! that it could not).
//!
//! The servers are this binary re-run as `--serve RUNTIME --workers N`: it prints the
//! address it listens on and serves until killed.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use weft_bench_common::report::{latency, print_http, HttpMedians};
use weft_bench_common::wrk::{self, WrkResult};
use weft_bench_common::{http, workers};

struct Opts {
    rounds: usize,
    seconds: u32,
    warmup: u32,
    connections: Vec<usize>,
    workers: usize,
    runtimes: Vec<String>,
}

fn opts(args: &[String]) -> Opts {
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let number =
        |name: &str, default: usize| value(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    Opts {
        rounds: number("--rounds", 3).max(1),
        seconds: number("--seconds", 4).max(1) as u32,
        warmup: number("--warmup", 1) as u32,
        connections: value("--connections")
            .map(|v| v.split(',').filter_map(|c| c.parse().ok()).collect())
            .unwrap_or_else(|| vec![50, 1000]),
        workers: number("--workers", workers()),
        runtimes: value("--runtimes")
            .map(|v| v.split(',').map(String::from).collect())
            .unwrap_or_else(|| http::RUNTIMES.map(String::from).to_vec()),
    }
}

/// The server side: bind, say where, serve until killed.
fn serve(runtime: &str, workers: usize) -> ! {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    println!("{}", listener.local_addr().unwrap());
    let e = match http::serve(runtime, workers, listener) {
        Ok(()) => "stopped".to_string(),
        Err(e) => e.to_string(),
    };
    eprintln!("{runtime} server: {e}");
    std::process::exit(1)
}

/// A server process, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(runtime: &str, workers: usize) -> Server {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--serve", runtime, "--workers", &workers.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("could not re-run the benchmark binary as a server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{runtime} server did not start: {line:?}"));
        Server { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Raises the soft open-file limit to `need` (the hard one too if need be, which root may
/// do), and says what it did; wrk and the servers inherit it.
fn raise_open_files(need: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for getrlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        eprintln!("cannot read the open-file limit: runs may fail past about 1,000 connections");
        return;
    }
    if lim.rlim_cur >= need {
        println!("open-file limit {} (needs {need})", lim.rlim_cur);
        return;
    }
    let before = lim.rlim_cur;
    lim.rlim_cur = need;
    lim.rlim_max = lim.rlim_max.max(need);
    // SAFETY: `lim` is a valid rlimit; setrlimit only reads it.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } == 0 {
        println!("raised the open-file limit from {before} to {need} (ulimit -n)");
    } else {
        eprintln!(
            "cannot raise the open-file limit from {before} to {need} ({}): the runs with \
             the most connections may fail; raise `ulimit -n` and run again",
            std::io::Error::last_os_error()
        );
    }
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_default();
    format!("{cpus} CPUs ({model})")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let o = opts(&args);
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        serve(&args[i + 1], o.workers);
    }
    let max_conns = o.connections.iter().copied().max().unwrap_or(0) as u64;
    // A descriptor per connection in wrk and in the server, and a margin for the rest.
    raise_open_files(max_conns + 256);
    if let Err(e) = wrk::ensure_installed() {
        eprintln!("{e}");
        std::process::exit(1);
    }
    println!(
        "hyper hello server, {} workers per runtime, on {}; wrk -t1 -cN -d{}s --latency \
         ({} s warm-up), {} rounds, runtimes alternating\n",
        o.workers,
        machine(),
        o.seconds,
        o.warmup,
        o.rounds
    );
    let n = o.runtimes.len();
    // runs[conns index][runtime index]: one result per round.
    let mut runs: Vec<Vec<Vec<WrkResult>>> = vec![vec![Vec::new(); n]; o.connections.len()];
    for round in 0..o.rounds {
        for (ci, &conns) in o.connections.iter().enumerate() {
            for k in 0..n {
                let ri = (round + k) % n;
                let name = &o.runtimes[ri];
                let server = Server::start(name, o.workers);
                if o.warmup > 0 {
                    let _ = wrk::run(server.addr, conns, o.warmup);
                }
                let r = wrk::run(server.addr, conns, o.seconds).unwrap_or_else(|e| {
                    eprintln!("{name} at {conns} connections: {e}");
                    wrk::remove_script();
                    std::process::exit(1)
                });
                drop(server);
                println!(
                    "round {} c{conns:<5} {name:<5} {:>9.0} req/s  p50 {:>9}  p99 {:>9}  p99.9 {:>9}  errors {}",
                    round + 1,
                    r.req_per_s(),
                    latency(r.p50_us),
                    latency(r.p99_us),
                    latency(r.p999_us),
                    r.errors
                );
                runs[ci][ri].push(r);
            }
        }
    }
    println!("\nMedians over {} rounds:\n", o.rounds);
    let mut rows = Vec::new();
    for (ci, &conns) in o.connections.iter().enumerate() {
        for (ri, name) in o.runtimes.iter().enumerate() {
            rows.push((conns, name.as_str(), HttpMedians::of(&runs[ci][ri])));
        }
    }
    print_http(&rows);
    wrk::remove_script();

    // ---------------------------------------------------------------- HTTP/2: not yet
    // HTTP/2 (h2load, Debian package nghttp2-client, 100 streams per connection) goes
    // here once weft-hyper serves HTTP/2: an h2c hello server per runtime beside
    // `HelloServer` (hyper's `http2::Builder`, with each runtime's executor), a `--serve-h2`
    // mode, and `h2load -c<N> -m100 -D<S> http://ADDR/` parsed like wrk's output. Nothing
    // is measured for it until then.
    println!("\nHTTP/2 (h2load, 100 streams): not measured, weft-hyper has no HTTP/2 server yet.");
}

//! A server benchmark: the same hyper 1.x hello server on weft (through weft-hyper), tokio
//! (hyper-util's `TokioIo` and `TokioExecutor`) and smol (async-executor and async-io,
//! through smol-hyper), each in a fresh process with the same worker count, the runtimes
//! alternating (each round starts with the next runtime):
//!
//! - HTTP/1.1 with keep-alive, loaded by `wrk -t1 -cN -dSs --latency` at each connection
//!   count;
//! - HTTP/2 over cleartext (prior knowledge), loaded by `h2load -t1 -cC -mM -DS`: C
//!   connections of M concurrent streams each (10 x 10 by default: 100 streams in flight).
//!
//! Prints every run, then per load and runtime the medians over the rounds of req/s, p50,
//! p99 and p99.9 with their ratios to tokio's.
//!
//! `cargo bench -p weft-benches --bench http -- [--rounds 3] [--seconds 4] [--warmup 1]
//! [--connections 50,1000] [--workers 2] [--runtimes weft,tokio,smol] [--load wrk,h2load]
//! [--h2-clients 10] [--h2-streams 10]`
//!
//! Run it while nothing else runs (`flock /tmp/weft-build.lock` on the shared machine):
//! the load generator shares the CPUs with the server. Each measured run follows a
//! `--warmup`-second run of the same load on the same server (0 skips it). Installs wrk
//! and h2load (Debian packages `wrk` and `nghttp2-client`) with apt-get when they are
//! missing, and raises the open-file limit the largest connection count needs (saying so,
//! or saying that it could not).
//!
//! The servers are this binary re-run as `--serve RUNTIME --proto h1|h2 --workers N`: it
//! prints the address it listens on and serves until killed.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use weft_bench_common::http::Proto;
use weft_bench_common::report::{latency, print_http, HttpMedians};
use weft_bench_common::wrk::{self, WrkResult};
use weft_bench_common::{h2load, http, workers};

struct Opts {
    rounds: usize,
    seconds: u32,
    warmup: u32,
    connections: Vec<usize>,
    workers: usize,
    runtimes: Vec<String>,
    wrk: bool,
    h2load: bool,
    h2_clients: usize,
    h2_streams: usize,
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
        wrk: value("--load").is_none_or(|v| v.split(',').any(|l| l == "wrk")),
        h2load: value("--load").is_none_or(|v| v.split(',').any(|l| l == "h2load")),
        h2_clients: number("--h2-clients", 10).max(1),
        h2_streams: number("--h2-streams", 10).max(1),
    }
}

/// The server side: bind, say where, serve until killed.
fn serve(runtime: &str, workers: usize, proto: Proto) -> ! {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    println!("{}", listener.local_addr().unwrap());
    let e = match http::serve(runtime, workers, listener, proto) {
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
    fn start(runtime: &str, workers: usize, proto: Proto) -> Server {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--serve", runtime, "--proto", proto.name()])
            .args(["--workers", &workers.to_string()])
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

/// The machine's CPU time so far, from the first line of /proc/stat (Linux): `(stolen,
/// all)` in clock ticks, where stolen is the time the hypervisor gave this machine's
/// vCPUs to others. `None` elsewhere.
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .map(|t| t.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest times are inside user).
    let all = ticks.iter().take(8).sum();
    Some((*ticks.get(7)?, all))
}

/// The share of CPU time stolen by the hypervisor between two `cpu_ticks`.
fn stolen_share(before: Option<(u64, u64)>, after: Option<(u64, u64)>) -> Option<f64> {
    let ((s0, a0), (s1, a1)) = (before?, after?);
    (a1 > a0).then(|| (s1 - s0) as f64 / (a1 - a0) as f64)
}

/// One measured run of `load` against a fresh `runtime` server, after its warm-up, and
/// the share of CPU time the hypervisor stole meanwhile; exits on a failed run (printing
/// why).
fn measure(o: &Opts, runtime: &str, load: &Load) -> (WrkResult, Option<f64>) {
    let (proto, what) = match load {
        Load::Wrk(c) => (Proto::Http1, format!("wrk at {c} connections")),
        Load::H2load => (Proto::Http2, "h2load".to_string()),
    };
    let server = Server::start(runtime, o.workers, proto);
    let run = |seconds| match load {
        Load::Wrk(c) => wrk::run(server.addr, *c, seconds),
        Load::H2load => h2load::run(server.addr, o.h2_clients, o.h2_streams, seconds),
    };
    if o.warmup > 0 {
        let _ = run(o.warmup);
    }
    let before = cpu_ticks();
    let r = run(o.seconds).unwrap_or_else(|e| {
        eprintln!("{runtime} under {what}: {e}");
        wrk::remove_script();
        std::process::exit(1)
    });
    (r, stolen_share(before, cpu_ticks()))
}

/// A load the bench puts on each server.
enum Load {
    /// wrk, HTTP/1.1, at this many connections.
    Wrk(usize),
    /// h2load, HTTP/2, with the options' clients and streams.
    H2load,
}

/// Runs every load on every runtime, `o.rounds` times alternating; prints each run, and
/// returns per load (in `loads`' order) and runtime the runs.
fn rounds(o: &Opts, loads: &[(String, Load)]) -> (Vec<Vec<Vec<WrkResult>>>, Vec<f64>) {
    let n = o.runtimes.len();
    // runs[load index][runtime index]: one result per round.
    let mut runs: Vec<Vec<Vec<WrkResult>>> = vec![vec![Vec::new(); n]; loads.len()];
    let mut stolen = Vec::new();
    for round in 0..o.rounds {
        for (li, (label, load)) in loads.iter().enumerate() {
            for k in 0..n {
                let ri = (round + k) % n;
                let name = &o.runtimes[ri];
                let (r, steal) = measure(o, name, load);
                let steal_note = steal.map_or(String::new(), |s| {
                    stolen.push(s);
                    format!("  stolen {:>3.0}%", s * 100.0)
                });
                println!(
                    "round {} {label:<9} {name:<5} {:>9.0} req/s  p50 {:>9}  p99 {:>9}  p99.9 {:>9}  errors {}{steal_note}",
                    round + 1,
                    r.req_per_s(),
                    latency(r.p50_us),
                    latency(r.p99_us),
                    latency(r.p999_us),
                    r.errors
                );
                runs[li][ri].push(r);
            }
        }
    }
    (runs, stolen)
}

/// Prints the medians table of `loads`, first column `column`.
fn table(o: &Opts, column: &str, loads: &[(String, Load)], runs: &[Vec<Vec<WrkResult>>]) {
    let mut rows = Vec::new();
    for (li, (label, _)) in loads.iter().enumerate() {
        for (ri, name) in o.runtimes.iter().enumerate() {
            rows.push((label.clone(), name.as_str(), HttpMedians::of(&runs[li][ri])));
        }
    }
    print_http(column, &rows);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let o = opts(&args);
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        let proto = args
            .iter()
            .position(|a| a == "--proto")
            .and_then(|p| Proto::from_name(args.get(p + 1)?))
            .unwrap_or(Proto::Http1);
        serve(&args[i + 1], o.workers, proto);
    }
    let max_conns = o.connections.iter().copied().max().unwrap_or(0) as u64;
    // A descriptor per connection in the load generator and in the server, and a margin.
    raise_open_files(max_conns.max(o.h2_clients as u64) + 256);
    let installed = [
        o.wrk.then(wrk::ensure_installed),
        o.h2load.then(h2load::ensure_installed),
    ];
    if let Some(Err(e)) = installed.into_iter().flatten().find(Result::is_err) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    println!(
        "hyper hello server, {} workers per runtime, on {}; {} s runs ({} s warm-up), {} rounds, \
         runtimes alternating",
        o.workers,
        machine(),
        o.seconds,
        o.warmup,
        o.rounds
    );
    let mut loads = Vec::new();
    if o.wrk {
        println!("HTTP/1.1: wrk -t1 -cN -d{}s --latency", o.seconds);
        loads.extend(
            o.connections
                .iter()
                .map(|&c| (format!("c{c}"), Load::Wrk(c))),
        );
    }
    if o.h2load {
        println!(
            "HTTP/2 (h2c, prior knowledge): h2load -t1 -c{} -m{} -D{} ({} streams in flight)",
            o.h2_clients,
            o.h2_streams,
            o.seconds,
            o.h2_clients * o.h2_streams
        );
        loads.push((format!("{}x{}", o.h2_clients, o.h2_streams), Load::H2load));
    }
    println!();
    let (runs, mut stolen) = rounds(&o, &loads);
    println!("\nMedians over {} rounds:", o.rounds);
    let split = if o.wrk { o.connections.len() } else { 0 };
    if o.wrk {
        println!("\nHTTP/1.1 (wrk):\n");
        table(&o, "connections", &loads[..split], &runs[..split]);
    }
    if o.h2load {
        println!("\nHTTP/2 (h2load):\n");
        table(&o, "clients x streams", &loads[split..], &runs[split..]);
    }
    if !stolen.is_empty() {
        // A virtual machine's vCPUs lose time to other guests; runs that lost much of it
        // measure the host as much as the runtimes (the p99 most of all).
        stolen.sort_by(f64::total_cmp);
        println!(
            "\nCPU time stolen by the hypervisor during the measured runs: median {:.0}%, \
             {:.0}-{:.0}%",
            stolen[stolen.len() / 2] * 100.0,
            stolen[0] * 100.0,
            stolen[stolen.len() - 1] * 100.0
        );
    }
    wrk::remove_script();
}

//! File operations on weft (`weft::fs`, on weft's blocking pool), tokio (`tokio::fs`) and
//! smol (`async-fs`, on the `blocking` crate's pool), side by side in one run:
//!
//! - `write_1000`: write 1,000 files of 4 KiB, one after another, from one task;
//! - `read_1000`: read them back, from the main future of the runtime's `block_on`;
//! - `read_1000 spawned`: the same from a task spawned on the runtime's workers;
//! - `stream_1GiB`: read one 1 GiB file through the runtime's `File` with 64 KiB reads.
//!
//! Every operation is a hop to a blocking thread and back; the 1 GiB file is read from the
//! page cache (it is written, and read once, before the runs). After a warm-up pass each,
//! the runtimes take turns pass by pass, each round starting with the next one, so a slow
//! phase of the host, or the fast first overwrite of freshly created files, falls on all
//! of them alike. `cargo bench -p weft-benches --bench fs
//! [-- ITERATIONS] [WORKLOAD...]` prints medians (minimum in brackets) and weft's ratio to
//! the faster peer; naming workloads (`write`, `read`, `stream`) or runtimes (`weft`,
//! `tokio`, `smol`) runs only those, e.g. to profile one. The files live in a fresh directory under the system's temp dir, removed after.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const FILES: usize = 1_000;
const FILE_SIZE: usize = 4 * 1024;
const BIG: usize = 1 << 30;
const CHUNK: usize = 64 * 1024;
const WORKERS: usize = 2;

fn small_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("f{i}"))
}

/// The three workloads for one runtime, written against its own fs API.
trait Fs {
    fn name(&self) -> &'static str;
    fn write_1000(&self, dir: &Path);
    fn read_1000(&self, dir: &Path) -> usize;
    /// `read_1000` from a task spawned on the runtime's workers (the caller awaits it).
    fn read_1000_spawned(&self, dir: &Path) -> usize;
    fn stream(&self, big: &Path) -> usize;
}

struct Weft(weft::Runtime);
struct Tokio(tokio::runtime::Runtime);
/// async-fs; the spawned-task workload runs on async-executor on `WORKERS` threads.
struct Smol(weft_bench_common::Smol);

impl Fs for Weft {
    fn name(&self) -> &'static str {
        "weft"
    }
    fn write_1000(&self, dir: &Path) {
        self.0.block_on(async {
            let data = vec![1u8; FILE_SIZE];
            for i in 0..FILES {
                weft::fs::write(small_path(dir, i), &data).await.unwrap();
            }
        })
    }
    fn read_1000(&self, dir: &Path) -> usize {
        self.0.block_on(async {
            let mut n = 0;
            for i in 0..FILES {
                n += weft::fs::read(small_path(dir, i)).await.unwrap().len();
            }
            n
        })
    }
    fn read_1000_spawned(&self, dir: &Path) -> usize {
        let dir = dir.to_owned();
        self.0.block_on(async {
            weft::spawn(async move {
                let mut n = 0;
                for i in 0..FILES {
                    n += weft::fs::read(small_path(&dir, i)).await.unwrap().len();
                }
                n
            })
            .await
            .unwrap()
        })
    }
    fn stream(&self, big: &Path) -> usize {
        use weft::io::AsyncReadExt;
        self.0.block_on(async {
            let mut f = weft::fs::File::open(big).await.unwrap();
            let mut buf = vec![0u8; CHUNK];
            let mut n = 0;
            loop {
                match f.read(&mut buf).await.unwrap() {
                    0 => return n,
                    k => n += k,
                }
            }
        })
    }
}

impl Fs for Tokio {
    fn name(&self) -> &'static str {
        "tokio"
    }
    fn write_1000(&self, dir: &Path) {
        self.0.block_on(async {
            let data = vec![1u8; FILE_SIZE];
            for i in 0..FILES {
                tokio::fs::write(small_path(dir, i), &data).await.unwrap();
            }
        })
    }
    fn read_1000(&self, dir: &Path) -> usize {
        self.0.block_on(async {
            let mut n = 0;
            for i in 0..FILES {
                n += tokio::fs::read(small_path(dir, i)).await.unwrap().len();
            }
            n
        })
    }
    fn read_1000_spawned(&self, dir: &Path) -> usize {
        let dir = dir.to_owned();
        self.0.block_on(async {
            tokio::spawn(async move {
                let mut n = 0;
                for i in 0..FILES {
                    n += tokio::fs::read(small_path(&dir, i)).await.unwrap().len();
                }
                n
            })
            .await
            .unwrap()
        })
    }
    fn stream(&self, big: &Path) -> usize {
        use tokio::io::AsyncReadExt;
        self.0.block_on(async {
            let mut f = tokio::fs::File::open(big).await.unwrap();
            let mut buf = vec![0u8; CHUNK];
            let mut n = 0;
            loop {
                match f.read(&mut buf).await.unwrap() {
                    0 => return n,
                    k => n += k,
                }
            }
        })
    }
}

impl Fs for Smol {
    fn name(&self) -> &'static str {
        "smol"
    }
    fn write_1000(&self, dir: &Path) {
        async_io::block_on(async {
            let data = vec![1u8; FILE_SIZE];
            for i in 0..FILES {
                async_fs::write(small_path(dir, i), &data).await.unwrap();
            }
        })
    }
    fn read_1000(&self, dir: &Path) -> usize {
        async_io::block_on(async {
            let mut n = 0;
            for i in 0..FILES {
                n += async_fs::read(small_path(dir, i)).await.unwrap().len();
            }
            n
        })
    }
    fn read_1000_spawned(&self, dir: &Path) -> usize {
        use weft_bench_common::Rt;
        let dir = dir.to_owned();
        async_io::block_on(self.0.spawn_outside(async move {
            let mut n = 0;
            for i in 0..FILES {
                n += async_fs::read(small_path(&dir, i)).await.unwrap().len();
            }
            n
        }))
    }
    fn stream(&self, big: &Path) -> usize {
        use futures_lite::AsyncReadExt;
        async_io::block_on(async {
            let mut f = async_fs::File::open(big).await.unwrap();
            let mut buf = vec![0u8; CHUNK];
            let mut n = 0;
            loop {
                match f.read(&mut buf).await.unwrap() {
                    0 => return n,
                    k => n += k,
                }
            }
        })
    }
}

/// Median and minimum of `iters` timed runs of `f` (after one warm-up run).
/// Times `iters` passes of each runtime's `run` (after one warm-up pass each), the runtimes
/// taking turns pass by pass, each round starting with the next one: a slow phase of the
/// host, or the file system's state (the first overwrite of freshly created files is the
/// fast one), falls on all of them alike. Median and minimum per runtime.
fn time_interleaved(
    iters: usize,
    runtimes: &[usize],
    mut run: impl FnMut(usize),
) -> Vec<(Duration, Duration)> {
    for &r in runtimes {
        run(r);
    }
    let mut t: Vec<Vec<Duration>> = vec![Vec::with_capacity(iters); runtimes.len()];
    for round in 0..iters {
        for k in 0..runtimes.len() {
            let i = (round + k) % runtimes.len();
            let s = Instant::now();
            run(runtimes[i]);
            t[i].push(s.elapsed());
        }
    }
    t.into_iter()
        .map(|mut t| {
            t.sort();
            (t[t.len() / 2], t[0])
        })
        .collect()
}

fn main() {
    let iters: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(9);
    // Any other argument but cargo's own `--bench` picks workloads by name.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a.parse::<usize>().is_err() && !a.starts_with("--"))
        .collect();
    let dir = std::env::temp_dir().join(format!("weft-bench-fs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("big");
    std::fs::write(&big, vec![3u8; BIG]).unwrap();
    let _ = std::fs::read(&big).unwrap().len(); // into the page cache
    let runtimes: [Box<dyn Fs>; 3] = [
        Box::new(Weft(
            weft::Builder::new()
                .worker_threads(WORKERS)
                .build()
                .unwrap(),
        )),
        Box::new(Tokio(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(WORKERS)
                .enable_all()
                .build()
                .unwrap(),
        )),
        Box::new(Smol(weft_bench_common::Smol::new(WORKERS))),
    ];
    println!("weft vs tokio::fs vs async-fs, {iters} iterations; medians (minimum) in ms\n");
    let names: Vec<&str> = runtimes.iter().map(|r| r.name()).collect();
    println!("| workload | {} | weft/best |", names.join(" | "));
    println!("|---|---|---|---|---|");
    type Workload = (&'static str, fn(&dyn Fs, &Path, &Path));
    let workloads: [Workload; 4] = [
        ("write_1000 x 4 KiB", |rt, dir, _| rt.write_1000(dir)),
        ("read_1000 x 4 KiB", |rt, dir, _| {
            assert_eq!(rt.read_1000(dir), FILES * FILE_SIZE)
        }),
        ("read_1000 x 4 KiB, spawned task", |rt, dir, _| {
            assert_eq!(rt.read_1000_spawned(dir), FILES * FILE_SIZE)
        }),
        ("stream_1GiB, 64 KiB reads", |rt, _, big| {
            assert_eq!(rt.stream(big), BIG)
        }),
    ];
    for (name, work) in workloads {
        let by_name = only.iter().filter(|o| !names.contains(&o.as_str()));
        if by_name.clone().next().is_some() && !by_name.clone().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let picked = |rt: &str| {
            !only.iter().any(|o| names.contains(&o.as_str())) || only.iter().any(|o| o == rt)
        };
        let chosen: Vec<usize> = (0..runtimes.len())
            .filter(|&i| picked(runtimes[i].name()))
            .collect();
        let mut timed =
            time_interleaved(iters, &chosen, |i| work(&*runtimes[i], &dir, &big)).into_iter();
        let results: Vec<Option<(Duration, Duration)>> = (0..runtimes.len())
            .map(|i| chosen.contains(&i).then(|| timed.next().unwrap()))
            .collect();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let best_peer = results[1..].iter().flatten().map(|r| r.0).min();
        let cells: Vec<String> = results
            .iter()
            .map(|r| {
                r.map_or("-".into(), |(med, min)| {
                    format!("{:.2} ({:.2})", ms(med), ms(min))
                })
            })
            .collect();
        let ratio = match (results[0], best_peer) {
            (Some(w), Some(p)) => format!("**{:.2}**", ms(w.0) / ms(p)),
            _ => "-".into(),
        };
        println!("| {name} | {} | {ratio} |", cells.join(" | "));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

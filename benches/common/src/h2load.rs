//! Runs `h2load` (Debian package `nghttp2-client`) against an HTTP/2 server over cleartext
//! (prior knowledge, h2c) and reads its results into a [`WrkResult`], so that HTTP/2 runs
//! are reported as the wrk runs are. h2load prints no percentiles: it writes every
//! request's latency to a `--log-file` (tab-separated: start time, status, microseconds),
//! from which p50, p99 and p99.9 are computed here.

use crate::wrk::WrkResult;
use std::io;
use std::net::SocketAddr;
use std::process::Command;

/// Checks that `h2load` runs; if it is missing, installs the Debian package
/// `nghttp2-client` with apt-get, saying so on stderr.
pub fn ensure_installed() -> io::Result<()> {
    crate::wrk::ensure_debian_package("h2load", "--version", "nghttp2-client")
}

/// A duration as h2load prints it (`4.00s`, `812.34ms`, `95us`), in seconds.
fn seconds(s: &str) -> Option<f64> {
    let (num, scale) = if let Some(n) = s.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|v| v * scale)
}

/// The number before `name` in a `requests: 10 total, 10 started, ...` line.
fn count(line: &str, name: &str) -> Option<u64> {
    line.split(',').find_map(|part| {
        let mut words = part.split_whitespace().rev();
        (words.next()? == name).then_some(())?;
        words.next()?.parse().ok()
    })
}

/// The `p`th percentile (0-100) of sorted `v`, nearest rank.
fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    // (The small bias keeps float noise from rounding an exact rank up: 99.9% of 1,000.)
    let rank = ((p / 100.0) * v.len() as f64 - 1e-9).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// Reads h2load's summary (`stdout`) and its per-request log (`log`). Requests are the
/// succeeded ones; errors are the failed, errored and timed-out ones.
pub fn parse(stdout: &str, log: &str) -> Option<WrkResult> {
    let finished = stdout.lines().find(|l| l.starts_with("finished in "))?;
    let duration = finished
        .strip_prefix("finished in ")?
        .split(',')
        .next()
        .and_then(|d| seconds(d.trim()))?;
    let requests = stdout.lines().find(|l| l.starts_with("requests: "))?;
    let succeeded = count(requests, "succeeded")?;
    let errors =
        count(requests, "failed")? + count(requests, "errored")? + count(requests, "timeout")?;
    let mut lat: Vec<f64> = log
        .lines()
        .filter_map(|l| l.split('\t').nth(2)?.trim().parse().ok())
        .collect();
    if lat.is_empty() {
        return None;
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Some(WrkResult {
        requests: succeeded,
        seconds: duration,
        p50_us: percentile(&lat, 50.0),
        p99_us: percentile(&lat, 99.0),
        p999_us: percentile(&lat, 99.9),
        errors,
    })
}

/// `h2load -t1 -c<clients> -m<streams> -D<seconds>` against `http://addr/` (HTTP/2 prior
/// knowledge): `clients * streams` requests in flight at any time.
pub fn run(
    addr: SocketAddr,
    clients: usize,
    streams: usize,
    seconds: u32,
) -> io::Result<WrkResult> {
    let log = std::env::temp_dir().join(format!("weft-bench-h2load-{}.log", std::process::id()));
    let out = Command::new("h2load")
        .args(["-t1", &format!("-c{clients}"), &format!("-m{streams}")])
        .arg(format!("-D{seconds}"))
        .arg(format!("--log-file={}", log.display()))
        .arg(format!("http://{addr}/"))
        .output()?;
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    parse(&String::from_utf8_lossy(&out.stdout), &logged)
        .ok_or_else(|| crate::wrk::no_result("h2load", &out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "starting benchmark...\nspawning thread #0: 10 total client(s). \
        Timing-based test with 0s of warm-up time and 4s of main duration for measurements.\n\n\
        finished in 4.00s, 118497.50 req/s, 4.23MB/s\n\
        requests: 473990 total, 474990 started, 473990 done, 473985 succeeded, 3 failed, \
        1 errored, 1 timeout\nstatus codes: 473985 2xx, 0 3xx, 0 4xx, 0 5xx\n";

    #[test]
    fn parses_the_summary_and_the_log() {
        let log: String = (1..=1000)
            .map(|i| format!("1700000000000000\t200\t{i}\n"))
            .collect();
        let r = parse(OUT, &log).unwrap();
        assert_eq!(r.requests, 473_985);
        assert_eq!(r.seconds, 4.0);
        assert_eq!(r.errors, 5);
        assert_eq!((r.p50_us, r.p99_us, r.p999_us), (500.0, 990.0, 999.0));
    }

    #[test]
    fn durations_in_each_unit() {
        let near = |s: &str, want: f64| (seconds(s).unwrap() - want).abs() < 1e-12;
        assert!(near("4.00s", 4.0));
        assert!(near("250.00ms", 0.25));
        assert!(near("500us", 0.0005));
        assert_eq!(seconds("4.00"), None);
    }

    #[test]
    fn no_summary_or_an_empty_log_is_none() {
        assert_eq!(parse("connect: Connection refused\n", "1\t200\t5\n"), None);
        assert_eq!(parse(OUT, ""), None);
    }
}

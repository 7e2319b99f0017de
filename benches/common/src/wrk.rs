//! Runs `wrk` (Debian package `wrk`) against a server and reads its results: requests
//! per second and the latency percentiles, including p99.9, which `wrk --latency` does not
//! print (a Lua `done` hook reports them, as one machine-readable line).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// wrk calls `done` once at the end; latencies are in microseconds.
const SCRIPT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "wrk-result requests=%d duration_us=%d p50_us=%.1f p99_us=%.1f p999_us=%.1f errors=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"#;

/// One wrk run's results.
#[derive(Clone, Debug, PartialEq)]
pub struct WrkResult {
    /// Responses received.
    pub requests: u64,
    /// How long the run lasted, in seconds.
    pub seconds: f64,
    /// Median latency, in microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, in microseconds.
    pub p99_us: f64,
    /// 99.9th percentile latency, in microseconds.
    pub p999_us: f64,
    /// Connect, read, write and timeout errors, and responses other than 2xx or 3xx.
    pub errors: u64,
}

impl WrkResult {
    /// Requests per second over the run.
    pub fn req_per_s(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// Reads the `wrk-result` line [`run`]'s script prints.
pub fn parse(stdout: &str) -> Option<WrkResult> {
    let line = stdout.lines().find(|l| l.starts_with("wrk-result "))?;
    let field = |name: &str| -> Option<f64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))?
            .parse()
            .ok()
    };
    Some(WrkResult {
        requests: field("requests")? as u64,
        seconds: field("duration_us")? / 1e6,
        p50_us: field("p50_us")?,
        p99_us: field("p99_us")?,
        p999_us: field("p999_us")?,
        errors: field("errors")? as u64,
    })
}

/// Checks that `wrk` runs; if it is missing, installs the Debian package with apt-get,
/// saying so on stderr.
pub fn ensure_installed() -> io::Result<()> {
    ensure_debian_package("wrk", "-v", "wrk")
}

/// Checks that `program` runs (with `probe_arg`); if it is missing, installs the Debian
/// package `package` with apt-get (after an `apt-get update` if the first try fails),
/// saying so on stderr.
pub fn ensure_debian_package(program: &str, probe_arg: &str, package: &str) -> io::Result<()> {
    let present = || Command::new(program).arg(probe_arg).output().is_ok();
    if present() {
        return Ok(());
    }
    eprintln!("{program} is not installed: installing the Debian package `{package}` with apt-get");
    let apt = |args: &[&str]| Command::new("apt-get").args(args).status();
    if !matches!(apt(&["install", "-y", package]), Ok(s) if s.success()) {
        apt(&["update"])?;
        apt(&["install", "-y", package])?;
    }
    if present() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{program} is missing and apt-get could not install it: install the `{package}` package"),
        ))
    }
}

/// The script, written once per process into the temp dir.
static SCRIPT_PATH: OnceLock<PathBuf> = OnceLock::new();

fn script() -> io::Result<&'static PathBuf> {
    if let Some(p) = SCRIPT_PATH.get() {
        return Ok(p);
    }
    let p = std::env::temp_dir().join(format!("weft-bench-wrk-{}.lua", std::process::id()));
    std::fs::write(&p, SCRIPT)?;
    Ok(SCRIPT_PATH.get_or_init(|| p))
}

/// Removes the script [`run`] wrote, if it wrote one.
pub fn remove_script() {
    if let Some(p) = SCRIPT_PATH.get() {
        let _ = std::fs::remove_file(p);
    }
}

/// `wrk -t1 -c<connections> -d<seconds>s --latency` against `http://addr/`.
pub fn run(addr: SocketAddr, connections: usize, seconds: u32) -> io::Result<WrkResult> {
    let out = Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s")])
        .arg("--latency")
        .arg("-s")
        .arg(script()?)
        .arg(format!("http://{addr}/"))
        .output()?;
    parse(&String::from_utf8_lossy(&out.stdout)).ok_or_else(|| no_result("wrk", &out))
}

/// The error of a load generator run that printed no result: its status and output.
pub(crate) fn no_result(tool: &str, out: &std::process::Output) -> io::Error {
    io::Error::other(format!(
        "{tool} printed no result ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_result_line_among_wrks_own_output() {
        let out = "Running 4s test @ http://127.0.0.1:3000/\n  1 threads and 50 connections\n\
                   wrk-result requests=600000 duration_us=4000000 p50_us=230.0 p99_us=3800.5 \
                   p999_us=9100.0 errors=2\n";
        let r = parse(out).unwrap();
        assert_eq!(r.requests, 600_000);
        assert_eq!(r.req_per_s(), 150_000.0);
        assert_eq!((r.p50_us, r.p99_us, r.p999_us), (230.0, 3800.5, 9100.0));
        assert_eq!(r.errors, 2);
    }

    #[test]
    fn the_script_is_written_once_and_removed() {
        let p = script().unwrap().clone();
        assert!(std::fs::read_to_string(&p).unwrap().contains("wrk-result"));
        assert_eq!(script().unwrap(), &p);
        remove_script();
        assert!(!p.exists());
    }

    #[test]
    fn no_result_line_is_none() {
        assert_eq!(
            parse("unable to connect to 127.0.0.1:1 Connection refused\n"),
            None
        );
        assert_eq!(parse("wrk-result requests=1\n"), None);
    }
}

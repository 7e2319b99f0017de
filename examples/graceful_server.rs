//! An HTTP/1.1 server that shuts down gracefully on SIGTERM or Ctrl-C: it stops accepting
//! (new connections are refused), tells every open connection to finish its request in
//! flight and close, waits for them up to a deadline, then exits 0 (1 if the deadline
//! passed with connections still open; they are then dropped).
//!
//! `cargo run --example graceful_server [ADDR]` (default 127.0.0.1:3000); each request
//! takes 200 ms. Then `curl http://127.0.0.1:3000/` and `kill -TERM <pid>` or Ctrl-C.
//!
//! The pieces: a [`CancellationToken`] tells the connections to stop, a [`TaskTracker`]
//! waits for them, hyper's `graceful_shutdown()` finishes each one, and "whichever comes
//! first" is [`weft::future::or`] (see the `weft::future` docs for the `select!` idiom).

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response};
use std::future::Future;
use std::io;
use std::pin::pin;
use std::process::ExitCode;
use std::time::Duration;
use weft::future::FutureExt;
use weft::net::TcpListener;
use weft::signal::{signal, SignalKind};
use weft::sync::{CancellationToken, TaskTracker};
use weft_hyper::{HyperIo, WeftTimer};

/// How long the connections open at shutdown get to finish.
const DEADLINE: Duration = Duration::from_secs(5);
/// What each request costs (a stand-in for real work).
const WORK: Duration = Duration::from_millis(200);
/// The size of each response body, large enough that a cut-off response shows.
const BODY_LEN: usize = 32 * 1024;

async fn handle(
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    // Read the whole request body first (a client sending `Expect: 100-continue` gets its
    // `100 Continue` here), then work, then answer.
    req.into_body().collect().await?;
    weft::time::sleep(WORK).await;
    Ok(Response::new(Full::new(Bytes::from(vec![b'w'; BODY_LEN]))))
}

fn main() -> ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    match weft::run(run(&addr)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("graceful_server: {e}");
            ExitCode::from(2)
        }
    }
}

/// Serves on `addr` until SIGTERM or Ctrl-C; whether every connection finished in time.
async fn run(addr: &str) -> io::Result<bool> {
    // Listen to SIGTERM and SIGINT (Ctrl-C) before announcing the address, so that a
    // signal sent as soon as the address is known finds weft's handler, not the default
    // disposition (or, in a background job of a shell, SIGINT ignored). `ctrl_c()` would
    // only install its handler when first polled.
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let listener = TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let shutdown = async move {
        let sigterm = async {
            terminate.recv().await;
        };
        let ctrl_c = async {
            interrupt.recv().await;
        };
        sigterm.or(ctrl_c).await;
    };
    serve(listener, shutdown, DEADLINE).await
}

/// Serves until `shutdown` completes, then drains for at most `deadline`: whether every
/// connection finished in time.
async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    deadline: Duration,
) -> io::Result<bool> {
    let token = CancellationToken::new();
    let tracker = TaskTracker::new();
    let mut shutdown = pin!(shutdown);
    loop {
        // Whichever comes first: the shutdown signal or a connection. `or` polls its first
        // future first, so a flood of connections cannot hide the signal (the "biased"
        // select); both futures are cancellation-safe, so the loser loses nothing.
        let stop = async {
            shutdown.as_mut().await;
            None
        };
        let accept = async { Some(listener.accept().await) };
        let (stream, peer) = match stop.or(accept).await {
            None => break,
            Some(Ok(accepted)) => accepted,
            Some(Err(e)) => {
                // Out of descriptors, say: pause instead of spinning, then carry on.
                eprintln!("accept: {e}");
                weft::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let token = token.clone();
        tracker.spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(WeftTimer)
                .serve_connection(HyperIo::new(stream), hyper::service::service_fn(handle));
            let mut conn = pin!(conn);
            let finished = async { Some(conn.as_mut().await) }
                .or(async {
                    token.cancelled().await;
                    None
                })
                .await;
            let result = match finished {
                Some(result) => result,
                None => {
                    // Finish the request in flight (if any), answer it with
                    // `connection: close`, and close; an idle connection closes now.
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                eprintln!("{peer}: {e}");
            }
        });
    }
    drop(listener); // new connections are refused from here
    token.cancel();
    tracker.close();
    println!("shutting down: {} connection(s) to finish", tracker.len());
    if weft::time::timeout(deadline, tracker.wait()).await.is_ok() {
        println!("all connections finished");
        Ok(true)
    } else {
        eprintln!(
            "deadline of {deadline:?} passed: dropping {} connection(s)",
            tracker.len()
        );
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    //! The example's `main` is not the entry point of its test build, so the test runs
    //! the server by re-executing this test binary with only `child_server` selected.

    use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::process::{Child, Command, Stdio};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    const CHILD_ENV: &str = "WEFT_GRACEFUL_SERVER_CHILD";
    /// A bound that only turns a hang into a failure.
    const HANG: Duration = Duration::from_secs(60);
    const CLIENTS: usize = 20;

    /// The server, as `main` runs it, in the child process started by `sigterm_mid_load`.
    #[test]
    // Ignored: it is the server half of `sigterm_mid_load`, which starts this binary
    // again with `--ignored --exact` and the environment it needs; run alone it would
    // serve until killed.
    #[ignore = "the server process of sigterm_mid_load, which runs it"]
    fn child_server() {
        if std::env::var_os(CHILD_ENV).is_none() {
            eprintln!("child_server runs only as sigterm_mid_load's child process");
            return;
        }
        let drained = weft::run(super::run("127.0.0.1:0")).unwrap();
        assert!(
            drained,
            "the deadline passed before every connection finished"
        );
    }

    /// Kills the server if the test fails before it exits.
    struct Server(Child);

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    enum Outcome {
        /// A full, correct response; whether the server closes the connection after it.
        Complete { close: bool },
        /// The connection closed before any byte of a response: the request was not
        /// accepted (it came after the server stopped reading this connection).
        NotAccepted,
        /// Part of a response, or a wrong one.
        Broken(String),
    }

    /// Reads one response (skipping a `100 Continue`).
    fn read_response(conn: &mut BufReader<TcpStream>) -> Outcome {
        let mut status = String::new();
        loop {
            status.clear();
            match conn.read_line(&mut status) {
                Ok(0) => return Outcome::NotAccepted,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Outcome::NotAccepted,
                Err(e) => return Outcome::Broken(format!("status line: {e}")),
                Ok(_) => {}
            }
            if !status.starts_with("HTTP/1.1 100") {
                break;
            }
            let mut blank = String::new();
            if conn.read_line(&mut blank).is_err() || blank != "\r\n" {
                return Outcome::Broken("after 100 Continue".into());
            }
        }
        if !status.starts_with("HTTP/1.1 200") {
            return Outcome::Broken(format!("status {status:?}"));
        }
        let (mut len, mut close) = (None, false);
        loop {
            let mut header = String::new();
            match conn.read_line(&mut header) {
                Ok(0) | Err(_) => return Outcome::Broken("headers cut off".into()),
                Ok(_) if header == "\r\n" => break,
                Ok(_) => {}
            }
            let lower = header.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse::<usize>().ok();
            }
            if lower.starts_with("connection:") && lower.contains("close") {
                close = true;
            }
        }
        if len != Some(super::BODY_LEN) {
            return Outcome::Broken(format!("content-length {len:?}"));
        }
        let mut body = vec![0; super::BODY_LEN];
        if let Err(e) = conn.read_exact(&mut body) {
            return Outcome::Broken(format!("body cut off: {e}"));
        }
        if body.iter().any(|&b| b != b'w') {
            return Outcome::Broken("wrong body".into());
        }
        Outcome::Complete { close }
    }

    #[derive(Default)]
    struct Report {
        complete: usize,
        /// Requests written before SIGTERM was sent, answered in full after it was.
        in_flight_finished: usize,
        broken: Vec<String>,
        refused_at_end: bool,
    }

    struct Clock {
        killing: AtomicBool,
        killed: AtomicBool,
        complete: AtomicUsize,
    }

    /// Requests on keep-alive connections, reconnecting when the server closes one, until
    /// a connection is refused.
    fn client(addr: SocketAddr, clock: &Clock) -> Report {
        let mut report = Report::default();
        let start = Instant::now();
        while start.elapsed() < HANG {
            let stream = match TcpStream::connect(addr) {
                Ok(s) => s,
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                    report.refused_at_end = true;
                    return report;
                }
                Err(e) => {
                    report.broken.push(format!("connect: {e}"));
                    return report;
                }
            };
            stream.set_read_timeout(Some(HANG)).unwrap();
            let mut conn = BufReader::new(stream);
            loop {
                let before_kill = !clock.killing.load(Ordering::SeqCst);
                if conn
                    .get_mut()
                    .write_all(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n")
                    .is_err()
                {
                    break; // closed by the server before this request: not accepted
                }
                match read_response(&mut conn) {
                    Outcome::Complete { close } => {
                        report.complete += 1;
                        clock.complete.fetch_add(1, Ordering::SeqCst);
                        if before_kill && clock.killed.load(Ordering::SeqCst) {
                            report.in_flight_finished += 1;
                        }
                        if close {
                            break;
                        }
                    }
                    Outcome::NotAccepted => break,
                    Outcome::Broken(why) => {
                        report.broken.push(why);
                        break;
                    }
                }
            }
        }
        report
            .broken
            .push("still running after the hang bound".into());
        report
    }

    #[test]
    fn sigterm_mid_load() {
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new(exe)
            .args(["tests::child_server", "--exact", "--ignored", "--nocapture"])
            .env(CHILD_ENV, "1")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut server = Server(child);
        let mut lines = BufReader::new(stdout).lines();
        let addr: SocketAddr = loop {
            let line = lines
                .next()
                .expect("the server exited before listening")
                .unwrap();
            if let Some(addr) = line.strip_prefix("listening on http://") {
                break addr.parse().unwrap();
            }
        };
        let output = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());

        let clock = Arc::new(Clock {
            killing: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            complete: AtomicUsize::new(0),
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let clock = clock.clone();
                std::thread::spawn(move || client(addr, &clock))
            })
            .collect();

        // A request held open by its client: its handler waits for a body sent only once
        // new connections are seen refused, which proves the server was still draining.
        let held = TcpStream::connect(addr).unwrap();
        held.set_read_timeout(Some(HANG)).unwrap();
        let mut held = BufReader::new(held);
        held.get_mut()
            .write_all(
                b"POST /held HTTP/1.1\r\nhost: t\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n",
            )
            .unwrap();
        let mut line = String::new();
        held.read_line(&mut line).unwrap();
        assert!(line.starts_with("HTTP/1.1 100"), "got {line:?}");
        held.read_line(&mut line).unwrap();

        // Mid-load: once every client has had about one answer.
        let start = Instant::now();
        while clock.complete.load(Ordering::SeqCst) < CLIENTS {
            assert!(start.elapsed() < HANG, "no load");
            std::thread::sleep(Duration::from_millis(5));
        }
        clock.killing.store(true, Ordering::SeqCst);
        let pid = libc::pid_t::try_from(server.0.id()).unwrap();
        // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our own child,
        // not yet reaped (it is reaped only by `Server`'s drop or the `try_wait` below).
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let killed_at = Instant::now();
        clock.killed.store(true, Ordering::SeqCst);

        // New connections are refused while the held request still runs.
        loop {
            match TcpStream::connect(addr) {
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => break,
                Err(e) => panic!("connect: {e}"),
                Ok(_) => {
                    assert!(killed_at.elapsed() < HANG, "still accepting");
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        assert!(
            server.0.try_wait().unwrap().is_none(),
            "exited before draining"
        );

        // The held request completes.
        held.get_mut().write_all(b"hello").unwrap();
        match read_response(&mut held) {
            Outcome::Complete { close } => assert!(close, "no connection: close at shutdown"),
            Outcome::NotAccepted => panic!("the held request got no response"),
            Outcome::Broken(why) => panic!("the held request: {why}"),
        }

        // The process exits 0 (the server drained within its deadline), before it.
        let status = loop {
            if let Some(status) = server.0.try_wait().unwrap() {
                break status;
            }
            assert!(killed_at.elapsed() < HANG, "the server does not exit");
            std::thread::sleep(Duration::from_millis(10));
        };
        let drain = killed_at.elapsed();
        assert!(status.success(), "server exited with {status}");
        assert!(drain < super::DEADLINE, "took {drain:?}");

        let reports: Vec<Report> = clients.into_iter().map(|c| c.join().unwrap()).collect();
        let broken: Vec<&String> = reports.iter().flat_map(|r| &r.broken).collect();
        assert!(broken.is_empty(), "broken responses: {broken:?}");
        assert!(reports.iter().all(|r| r.refused_at_end));
        let in_flight: usize = reports.iter().map(|r| r.in_flight_finished).sum();
        let complete: usize = reports.iter().map(|r| r.complete).sum();
        assert!(in_flight > 0, "no request in flight at SIGTERM finished");
        let output = output.join().unwrap();
        assert!(
            output.iter().any(|l| l == "all connections finished"),
            "{output:?}"
        );
        eprintln!(
            "{complete} responses, {in_flight} of them in flight at SIGTERM; drained in {drain:?}"
        );
    }
}

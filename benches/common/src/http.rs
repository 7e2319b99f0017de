//! The same hyper 1.x hello server on each runtime: HTTP/1.1, keep-alive (hyper's
//! default), `TCP_NODELAY` on every connection, a header-read timeout on the runtime's own
//! timer (hyper arms it once a timer is set), and a fixed 14-byte body. Each runtime
//! accepts on its `block_on` thread and serves each connection in a task on its workers;
//! only the glue differs (weft-hyper, hyper-util, smol-hyper), in each [`HelloServer`]
//! impl.

use crate::{Smol, Tokio, Weft};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use std::convert::Infallible;
use std::future::Future;
use std::io;

/// The runtimes that serve, in the order reports list them.
pub const RUNTIMES: [&str; 3] = ["weft", "tokio", "smol"];

/// What every request gets back.
pub const HELLO: &[u8] = b"Hello, world!\n";

/// A runtime's hello server.
pub trait HelloServer {
    /// Builds the runtime with `workers` workers and serves on `listener` (blocking, in
    /// the default mode) until an accept fails for a reason other than a peer's.
    fn serve_hello(workers: usize, listener: std::net::TcpListener) -> io::Result<()>;
}

/// Serves on `listener` with the runtime named `runtime` (one of [`RUNTIMES`]).
pub fn serve(runtime: &str, workers: usize, listener: std::net::TcpListener) -> io::Result<()> {
    match runtime {
        "weft" => Weft::serve_hello(workers, listener),
        "tokio" => Tokio::serve_hello(workers, listener),
        "smol" => Smol::serve_hello(workers, listener),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no runtime named {other:?}: use one of {RUNTIMES:?}"),
        )),
    }
}

/// The service: the same response for every request.
async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(HELLO))))
}

/// One connection, served until the client closes it. Its errors (a client going away
/// mid-request, as wrk's connections do when a run ends) end it quietly.
pub fn serve_connection<I, T>(io: I, timer: T) -> impl Future<Output = ()> + Send + 'static
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    T: hyper::rt::Timer + Send + Sync + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(timer)
        .serve_connection(io, hyper::service::service_fn(hello));
    async move {
        let _ = conn.await;
    }
}

/// An accept error a server should survive: the peer gave up before it was accepted.
pub fn transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    /// Sends a GET on `s` and reads one whole response.
    fn get(s: &mut TcpStream) -> String {
        s.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !got.ends_with(HELLO) {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(got).unwrap()
    }

    /// Each server answers two requests on one connection (keep-alive), with its body.
    #[test]
    fn every_runtime_serves_hello_with_keep_alive() {
        for name in RUNTIMES {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            // The server runs until the test process ends.
            std::thread::spawn(move || serve(name, 2, listener));
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            for _ in 0..2 {
                let res = get(&mut s);
                assert!(res.starts_with("HTTP/1.1 200 OK\r\n"), "{name}: {res}");
                assert!(res.contains("content-length: 14\r\n"), "{name}: {res}");
            }
        }
    }

    #[test]
    fn an_unknown_runtime_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let e = serve("node", 2, listener).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}

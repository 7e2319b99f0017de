//! The same hyper 1.x hello server on each runtime: HTTP/1.1, keep-alive (hyper's
//! default), `TCP_NODELAY` on every connection, a header-read timeout on the runtime's own
//! timer (hyper arms it once a timer is set), and a fixed 14-byte body. Each runtime
//! accepts on its `block_on` thread and serves each connection in a task on its workers;
//! only the glue differs (weft-hyper, hyper-util, smol-hyper), in each [`HelloServer`]
//! impl. With [`Proto::Http2`] the same service is served by hyper's HTTP/2 server over
//! cleartext (prior knowledge, as `h2load` speaks it), each stream a task spawned through
//! the runtime's own hyper executor.

use crate::{Smol, Tokio, Weft};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use std::convert::Infallible;
use std::future::{ready, Ready};
use std::io;

/// The runtimes that serve, in the order reports list them.
pub const RUNTIMES: [&str; 3] = ["weft", "tokio", "smol"];

/// What every request gets back.
pub const HELLO: &[u8] = b"Hello, world!\n";

/// Which HTTP the server speaks on each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// HTTP/1.1 with keep-alive (wrk).
    Http1,
    /// HTTP/2 over cleartext, prior knowledge (h2load).
    Http2,
}

impl Proto {
    /// `h1` or `h2`, as the bench's `--serve` mode names them.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Http1 => "h1",
            Proto::Http2 => "h2",
        }
    }

    /// The protocol [`Proto::name`] names.
    pub fn from_name(name: &str) -> Option<Proto> {
        [Proto::Http1, Proto::Http2]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

/// A runtime's hello server.
pub trait HelloServer {
    /// Builds the runtime with `workers` workers and serves `proto` on `listener`
    /// (blocking, in the default mode) until an accept fails for a reason other than a
    /// peer's.
    fn serve_hello(workers: usize, listener: std::net::TcpListener, proto: Proto)
        -> io::Result<()>;
}

/// Serves `proto` on `listener` with the runtime named `runtime` (one of [`RUNTIMES`]).
pub fn serve(
    runtime: &str,
    workers: usize,
    listener: std::net::TcpListener,
    proto: Proto,
) -> io::Result<()> {
    match runtime {
        "weft" => Weft::serve_hello(workers, listener, proto),
        "tokio" => Tokio::serve_hello(workers, listener, proto),
        "smol" => Smol::serve_hello(workers, listener, proto),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no runtime named {other:?}: use one of {RUNTIMES:?}"),
        )),
    }
}

/// The service: the same response for every request, ready at once.
#[derive(Clone, Copy, Debug)]
pub struct Hello;

/// What [`Hello`] answers with.
pub type HelloFuture = Ready<Result<Response<Full<Bytes>>, Infallible>>;

impl hyper::service::Service<Request<Incoming>> for Hello {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = HelloFuture;
    fn call(&self, _: Request<Incoming>) -> HelloFuture {
        ready(Ok(Response::new(Full::new(Bytes::from_static(HELLO)))))
    }
}

/// One connection, served in `proto` until the client closes it; HTTP/2 streams are
/// spawned with `exec`. Its errors (a client going away mid-request, as wrk's
/// connections do when a run ends) end it quietly.
pub async fn serve_connection<I, T, E>(io: I, timer: T, exec: E, proto: Proto)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    T: hyper::rt::Timer + Send + Sync + 'static,
    E: hyper::rt::bounds::Http2ServerConnExec<HelloFuture, Full<Bytes>> + Send + Sync + 'static,
{
    match proto {
        Proto::Http1 => {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(timer)
                .serve_connection(io, Hello);
            let _ = conn.await;
        }
        Proto::Http2 => {
            let conn = hyper::server::conn::http2::Builder::new(exec)
                .timer(timer)
                .serve_connection(io, Hello);
            let _ = conn.await;
        }
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
            std::thread::spawn(move || serve(name, 2, listener, Proto::Http1));
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            for _ in 0..2 {
                let res = get(&mut s);
                assert!(res.starts_with("HTTP/1.1 200 OK\r\n"), "{name}: {res}");
                assert!(res.contains("content-length: 14\r\n"), "{name}: {res}");
            }
        }
    }

    /// Each server answers 20 concurrent HTTP/2 requests on one connection (prior
    /// knowledge), read by hyper's HTTP/2 client on weft.
    #[test]
    fn every_runtime_serves_hello_over_http2() {
        use http_body_util::BodyExt;
        for name in RUNTIMES {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            std::thread::spawn(move || serve(name, 2, listener, Proto::Http2));
            weft::run(async move {
                let tcp = weft::net::TcpStream::connect(addr).await.unwrap();
                let (sender, conn) =
                    hyper::client::conn::http2::Builder::new(weft_hyper::WeftExecutor)
                        .timer(weft_hyper::WeftTimer)
                        .handshake(weft_hyper::HyperIo::new(tcp))
                        .await
                        .unwrap();
                weft::spawn(conn);
                let gets = (0..20).map(|_| {
                    let mut sender = sender.clone();
                    weft::spawn(async move {
                        let req = Request::get(format!("http://{addr}/"))
                            .body(Full::new(Bytes::new()))
                            .unwrap();
                        let res = sender.send_request(req).await.unwrap();
                        assert_eq!(res.version(), hyper::Version::HTTP_2);
                        res.into_body().collect().await.unwrap().to_bytes()
                    })
                });
                for get in gets.collect::<Vec<_>>() {
                    assert_eq!(&get.await.unwrap()[..], HELLO, "{name}");
                }
            });
        }
    }

    #[test]
    fn protocol_names_round_trip() {
        for p in [Proto::Http1, Proto::Http2] {
            assert_eq!(Proto::from_name(p.name()), Some(p));
        }
        assert_eq!(Proto::from_name("h3"), None);
    }

    #[test]
    fn an_unknown_runtime_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let e = serve("node", 2, listener, Proto::Http1).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}

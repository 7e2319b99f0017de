//! Runs hyper 1.x on weft: HTTP/1 and HTTP/2 servers, a pooled client, and HTTPS.
//!
//! hyper is runtime-agnostic through three traits; this crate implements them for weft:
//!
//! - [`HyperIo`]: hyper's `rt::Read` and `rt::Write` for weft's `TcpStream` and
//!   `UnixStream` (read straight into hyper's buffer), TLS streams, and any `futures-io`
//!   stream through [`HyperIo::generic`].
//! - [`WeftExecutor`]: hyper's `rt::Executor`, spawning on the current weft runtime (HTTP/2
//!   runs each stream and the connection's background work as tasks).
//! - [`WeftTimer`]: hyper's `rt::Timer`, on weft's timing wheel (header and keep-alive
//!   timeouts, HTTP/2 pings, the client pool's idle expiry).
//!
//! On top of them, with hyper-util:
//!
//! - [`server::builder`]: hyper-util's `server::conn::auto` builder (HTTP/1 and HTTP/2 on
//!   one port) with weft's executor and timer set; [`server::GracefulShutdown`] to drain
//!   connections.
//! - [`client`]: hyper-util's pooled `client::legacy::Client` with [`client::WeftConnector`]
//!   (names resolved on weft's blocking pool, connect timeout, optional TLS): aiohttp's
//!   `ClientSession`.
//! - [`tls`] (feature `tls`, on by default): futures-rustls with rustls' `ring` provider.
//!
//! No tokio runtime runs anywhere: hyper-util's `client-legacy` and `server-graceful`
//! features compile parts of tokio (`sync`, and `net` for hyper-util's own `HttpConnector`,
//! which this crate does not use), but every task, socket and timer here is weft's.
//!
//! # Examples
//!
//! A server and a client on loopback:
//!
//! ```
//! use http_body_util::{BodyExt, Full};
//! use hyper::body::Bytes;
//! use hyper::{Request, Response};
//! use weft_hyper::{HyperIo, WeftTimer};
//!
//! weft::run(async {
//!     let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     weft::spawn(async move {
//!         let (stream, _) = listener.accept().await.unwrap();
//!         let service = hyper::service::service_fn(|_req: Request<hyper::body::Incoming>| async {
//!             Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("hi"))))
//!         });
//!         hyper::server::conn::http1::Builder::new()
//!             .timer(WeftTimer)
//!             .serve_connection(HyperIo::new(stream), service)
//!             .await
//!             .unwrap();
//!     });
//!     let stream = weft::net::TcpStream::connect(addr).await.unwrap();
//!     let (mut sender, conn) =
//!         hyper::client::conn::http1::handshake(HyperIo::new(stream)).await.unwrap();
//!     weft::spawn(conn);
//!     let req = Request::get("/").header("host", "localhost").body(Full::new(Bytes::new())).unwrap();
//!     let res = sender.send_request(req).await.unwrap();
//!     let body = res.into_body().collect().await.unwrap().to_bytes();
//!     assert_eq!(&body[..], b"hi");
//! });
//! ```

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations)]

pub mod client;
mod io;
mod rt;
pub mod server;
#[cfg(feature = "tls")]
pub mod tls;

pub use io::{poll_read_initialized, FuturesIo, HyperIo, HyperRead};
pub use rt::{WeftExecutor, WeftTimer};

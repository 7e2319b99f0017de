//! Serving HTTP/1 and HTTP/2 on one port, and draining connections on shutdown.
//!
//! [`builder`] is hyper-util's `server::conn::auto::Builder` with weft's executor and
//! timer: it reads the first bytes of a connection and serves HTTP/2 if they are the HTTP/2
//! preface (prior knowledge, or `h2` chosen by ALPN over TLS), HTTP/1.1 otherwise.
//! [`GracefulShutdown`] (hyper-util's) tells every watched connection to finish its
//! requests in flight and close: HTTP/1 connections close after their current response,
//! HTTP/2 ones send `GOAWAY` and finish their open streams.
//!
//! ```
//! use std::convert::Infallible;
//! use weft_hyper::{server, HyperIo};
//!
//! async fn hello(_: hyper::Request<hyper::body::Incoming>) -> Result<hyper::Response<String>, Infallible> {
//!     Ok(hyper::Response::new("hello".to_string()))
//! }
//!
//! weft::run(async {
//!     let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let graceful = server::GracefulShutdown::new();
//!     let stop = weft::time::sleep(std::time::Duration::from_millis(10));
//!     let mut stop = std::pin::pin!(stop);
//!     loop {
//!         let accepted = weft::future::or(
//!             async { Some(listener.accept().await) },
//!             async { (&mut stop).await; None },
//!         );
//!         let Some(accepted) = accepted.await else { break };
//!         let (stream, _) = accepted.unwrap();
//!         let conn = server::builder()
//!             .serve_connection(HyperIo::new(stream), hyper::service::service_fn(hello))
//!             .into_owned();
//!         let conn = graceful.watch(conn);
//!         weft::spawn(async move { let _ = conn.await; });
//!     }
//!     // Stop accepting, then wait for the connections to finish what they started.
//!     drop(listener);
//!     graceful.shutdown().await;
//! });
//! ```

use crate::{WeftExecutor, WeftTimer};

pub use hyper_util::server::conn::auto::Builder;
pub use hyper_util::server::graceful::GracefulShutdown;

/// hyper-util's auto (HTTP/1 and HTTP/2) connection builder, with weft's executor and its
/// timer set for both protocols (so header-read and keep-alive timeouts work).
///
/// Tune each protocol through `.http1()` and `.http2()`; serve one protocol only with
/// `.http1_only()` or `.http2_only()`.
pub fn builder() -> Builder<WeftExecutor> {
    let mut b = Builder::new(WeftExecutor);
    b.http1().timer(WeftTimer);
    b.http2().timer(WeftTimer);
    b
}

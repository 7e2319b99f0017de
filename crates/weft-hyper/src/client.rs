//! A pooled HTTP client: hyper-util's `client::legacy::Client` on weft, aiohttp's
//! `ClientSession`.
//!
//! [`builder`] is hyper-util's client builder with weft's executor and timer set (the timer
//! also expires idle pooled connections); [`WeftConnector`] opens its connections: names
//! resolved on weft's blocking pool, a connect timeout, `TCP_NODELAY`, and with the `tls`
//! feature `https://` through rustls, with ALPN so that a server that speaks HTTP/2 gets it.
//! Connections are kept alive and reused per host; HTTP/2 connections carry many requests
//! at once.
//!
//! ```
//! use http_body_util::{BodyExt, Empty};
//! use hyper::body::Bytes;
//! use weft_hyper::client::{self, WeftConnector};
//!
//! weft::run(async {
//!     # let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     # let addr = listener.local_addr().unwrap();
//!     # weft::spawn(async move {
//!     #     let (stream, _) = listener.accept().await.unwrap();
//!     #     let svc = hyper::service::service_fn(|_req| async {
//!     #         Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(Bytes::from("hi"))))
//!     #     });
//!     #     let _ = weft_hyper::server::builder()
//!     #         .serve_connection(weft_hyper::HyperIo::new(stream), svc)
//!     #         .await;
//!     # });
//!     let client: client::Client<Empty<Bytes>> = client::builder().build(WeftConnector::new());
//!     let res = client.get(format!("http://{addr}/").parse().unwrap()).await.unwrap();
//!     assert!(res.status().is_success());
//!     let body = res.into_body().collect().await.unwrap().to_bytes();
//!     assert_eq!(&body[..], b"hi");
//! });
//! ```

use crate::{HyperIo, HyperRead, WeftExecutor, WeftTimer};
use hyper::rt::ReadBufCursor;
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The pooled client with weft's connector. `B` is the request body type.
pub type Client<B> = hyper_util::client::legacy::Client<WeftConnector, B>;

/// hyper-util's client builder with weft's executor, timer and pool timer set (so idle
/// connections expire after `pool_idle_timeout`, 90 s unless changed). Build with
/// [`WeftConnector`]: `builder().build(WeftConnector::new())`.
///
/// ```
/// use std::time::Duration;
/// use weft_hyper::client::{builder, Client, WeftConnector};
///
/// weft::run(async {
///     let client: Client<http_body_util::Empty<hyper::body::Bytes>> = builder()
///         .pool_idle_timeout(Duration::from_secs(30))
///         .pool_max_idle_per_host(8)
///         .build(WeftConnector::new().connect_timeout(Some(Duration::from_secs(5))));
///     # drop(client);
/// });
/// ```
pub fn builder() -> hyper_util::client::legacy::Builder {
    let mut b = hyper_util::client::legacy::Client::builder(WeftExecutor);
    b.timer(WeftTimer).pool_timer(WeftTimer);
    b
}

/// Opens the pooled client's connections on weft: TCP, and with the `tls` feature TLS.
///
/// - Host names are resolved with the system resolver on weft's blocking pool, and each
///   address is tried in turn.
/// - The connect timeout (default 10 s) covers resolution, connecting and the TLS
///   handshake; when it passes, the error is of kind `TimedOut`.
/// - `TCP_NODELAY` is set (default), as HTTP clients do.
/// - `https://` URLs need TLS: [`https`](WeftConnector::https) (the Mozilla roots of
///   `webpki-roots`) or [`tls_config`](WeftConnector::tls_config); without it they are
///   refused with an `InvalidInput` error that says so.
#[derive(Clone)]
pub struct WeftConnector {
    connect_timeout: Option<Duration>,
    nodelay: bool,
    #[cfg(feature = "tls")]
    tls: Option<futures_rustls::TlsConnector>,
}

impl std::fmt::Debug for WeftConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("WeftConnector");
        d.field("connect_timeout", &self.connect_timeout)
            .field("nodelay", &self.nodelay);
        #[cfg(feature = "tls")]
        d.field("tls", &self.tls.is_some());
        d.finish()
    }
}

impl Default for WeftConnector {
    fn default() -> Self {
        WeftConnector::new()
    }
}

impl WeftConnector {
    /// A connector for `http://` URLs, with a 10 s connect timeout.
    pub fn new() -> WeftConnector {
        WeftConnector {
            connect_timeout: Some(Duration::from_secs(10)),
            nodelay: true,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The time allowed to resolve, connect and finish the TLS handshake; `None`: no limit.
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> WeftConnector {
        self.connect_timeout = timeout;
        self
    }

    /// Whether to set `TCP_NODELAY` on new connections (default: yes).
    pub fn nodelay(mut self, nodelay: bool) -> WeftConnector {
        self.nodelay = nodelay;
        self
    }

    /// Also `https://`, trusting the Mozilla root certificates (`webpki-roots`), offering
    /// HTTP/2 and HTTP/1.1 by ALPN: [`tls::client_config`](crate::tls::client_config).
    #[cfg(feature = "tls")]
    pub fn https(self) -> WeftConnector {
        self.tls_config(crate::tls::client_config(crate::tls::webpki_roots()))
    }

    /// Also `https://`, with this rustls configuration (its trusted roots, its ALPN list:
    /// offer `h2` for the client to use HTTP/2 where the server agrees).
    #[cfg(feature = "tls")]
    pub fn tls_config(
        mut self,
        config: std::sync::Arc<futures_rustls::rustls::ClientConfig>,
    ) -> WeftConnector {
        self.tls = Some(futures_rustls::TlsConnector::from(config));
        self
    }

    async fn connect(self, uri: Uri) -> io::Result<HyperIo<ClientStream>> {
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{uri}: only http:// and https:// URLs can be fetched"),
                ))
            }
        };
        let host = uri.host().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{uri}: no host"))
        })?;
        // `[::1]` in a URL: the address inside the brackets.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let open = self.open(host, port, https);
        let stream = match self.connect_timeout {
            None => open.await?,
            Some(limit) => weft::time::timeout(limit, open).await.map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connecting to {host}:{port} took more than {limit:?}"),
                )
            })??,
        };
        Ok(HyperIo::new(stream))
    }

    async fn open(&self, host: &str, port: u16, https: bool) -> io::Result<ClientStream> {
        #[cfg(feature = "tls")]
        let tls = self.tls.as_ref().filter(|_| https);
        #[cfg(not(feature = "tls"))]
        let tls: Option<()> = None;
        if https && tls.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{host}:{port}: https:// needs TLS: build the connector with `.https()` or \
                     `.tls_config(..)` (feature `tls` of weft-hyper)"
                ),
            ));
        }
        let tcp = weft::net::TcpStream::connect((host, port)).await?;
        tcp.set_nodelay(self.nodelay)?;
        match tls {
            None => Ok(ClientStream::Tcp(tcp)),
            #[cfg(feature = "tls")]
            Some(tls) => crate::tls::connect(tls, host, tcp)
                .await
                .map(|s| ClientStream::Tls(Box::new(s))),
            #[cfg(not(feature = "tls"))]
            Some(()) => unreachable!("no TLS without the `tls` feature"),
        }
    }
}

impl tower_service::Service<Uri> for WeftConnector {
    type Response = HyperIo<ClientStream>;
    type Error = io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Connecting {
        Connecting(Box::pin(self.clone().connect(uri)))
    }
}

/// A connection being opened by [`WeftConnector`].
#[must_use = "futures do nothing unless polled"]
pub struct Connecting(Pin<Box<dyn Future<Output = io::Result<HyperIo<ClientStream>>> + Send>>);

impl std::fmt::Debug for Connecting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connecting")
    }
}

impl Future for Connecting {
    type Output = io::Result<HyperIo<ClientStream>>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

/// A connection opened by [`WeftConnector`]: plain TCP, or TLS over TCP.
#[derive(Debug)]
pub enum ClientStream {
    /// `http://`.
    Tcp(weft::net::TcpStream),
    /// `https://`.
    #[cfg(feature = "tls")]
    Tls(Box<futures_rustls::client::TlsStream<weft::net::TcpStream>>),
}

impl ClientStream {
    /// The TCP connection underneath.
    pub fn tcp(&self) -> &weft::net::TcpStream {
        match self {
            ClientStream::Tcp(s) => s,
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => s.get_ref().0,
        }
    }

    /// The protocol the server chose by ALPN (`b"h2"`, `b"http/1.1"`), if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        match self {
            ClientStream::Tcp(_) => None,
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => s.get_ref().1.alpn_protocol(),
        }
    }
}

impl HyperRead for ClientStream {
    fn poll_read_hyper(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Tcp(s) => Pin::new(s).poll_read_hyper(cx, buf),
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => Pin::new(&mut **s).poll_read_hyper(cx, buf),
        }
    }
}

/// One arm per variant of [`ClientStream`], each calling `$call` on its stream.
macro_rules! each_stream {
    ($self:expr, $s:ident => $call:expr) => {
        match $self.get_mut() {
            ClientStream::Tcp($s) => $call,
            #[cfg(feature = "tls")]
            ClientStream::Tls($s) => $call,
        }
    };
}

impl futures_io::AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self, s => Pin::new(s).poll_write(cx, buf))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self, s => Pin::new(s).poll_flush(cx))
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self, s => Pin::new(s).poll_close(cx))
    }
}

impl Connection for HyperIo<ClientStream> {
    fn connected(&self) -> Connected {
        let connected = Connected::new();
        match self.get_ref().alpn_protocol() {
            Some(b"h2") => connected.negotiated_h2(),
            _ => connected,
        }
    }
}

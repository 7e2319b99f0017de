//! HTTPS: futures-rustls over weft's sockets, with rustls' `ring` provider (no C toolchain
//! beyond the C compiler `ring` builds with; no aws-lc).
//!
//! futures-rustls speaks `futures-io`, as weft's streams do, so a TLS stream over a weft
//! `TcpStream` needs no glue: `TlsAcceptor::accept(tcp)` on a server, then
//! [`HyperIo::new`](crate::HyperIo::new) around the result. What lives here is what every
//! user would otherwise write again: rustls configurations with the `ring` provider and the
//! ALPN list for HTTP/2 and HTTP/1.1, and [`HyperRead`] for the TLS stream types.
//!
//! A server that serves HTTP/1.1 and HTTP/2 over TLS, and a client that trusts its
//! certificate:
//!
//! ```
//! use std::sync::Arc;
//! use weft_hyper::tls::{self, futures_rustls::TlsAcceptor};
//! use weft_hyper::client::{self, WeftConnector};
//!
//! let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
//! let chain = vec![cert.cert.der().clone()];
//! let key = tls::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
//! let acceptor = TlsAcceptor::from(tls::server_config(chain.clone(), key).unwrap());
//! let mut roots = tls::RootCertStore::empty();
//! roots.add(chain[0].clone()).unwrap();
//!
//! weft::run(async move {
//!     let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let port = listener.local_addr().unwrap().port();
//!     weft::spawn(async move {
//!         let (tcp, _) = listener.accept().await.unwrap();
//!         let stream = acceptor.accept(tcp).await.unwrap();
//!         let svc = hyper::service::service_fn(|req: hyper::Request<_>| async move {
//!             let body = format!("{:?}", req.version());
//!             Ok::<_, std::convert::Infallible>(hyper::Response::new(body))
//!         });
//!         let _ = weft_hyper::server::builder()
//!             .serve_connection(weft_hyper::HyperIo::new(stream), svc)
//!             .await;
//!     });
//!     let connector = WeftConnector::new().tls_config(tls::client_config(roots));
//!     let client: client::Client<String> = client::builder().build(connector);
//!     let url = format!("https://localhost:{port}/").parse().unwrap();
//!     let res = client.get(url).await.unwrap();
//!     assert_eq!(res.version(), hyper::Version::HTTP_2); // ALPN chose h2
//! });
//! ```

use crate::{poll_read_initialized, HyperRead};
use futures_rustls::rustls::{self, ClientConfig, ServerConfig};
use hyper::rt::ReadBufCursor;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

pub use futures_rustls;
pub use futures_rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
pub use futures_rustls::rustls::RootCertStore;

/// The protocols offered by ALPN, most preferred first: HTTP/2, then HTTP/1.1.
pub const ALPN_H2_HTTP1: [&[u8]; 2] = [b"h2", b"http/1.1"];

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The Mozilla root certificates, from `webpki-roots`.
pub fn webpki_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// A client configuration (rustls' `ring` provider, TLS 1.2 and 1.3) trusting `roots` and
/// offering `h2` and `http/1.1` by ALPN.
pub fn client_config(roots: RootCertStore) -> Arc<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports rustls' default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = ALPN_H2_HTTP1.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A server configuration (rustls' `ring` provider) presenting `cert_chain` (leaf first)
/// with its `key`, and choosing `h2` when the client offers it, `http/1.1` otherwise.
///
/// A key that does not match the certificate, or that `ring` cannot use, is an error of
/// kind `InvalidInput`.
pub fn server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> io::Result<Arc<ServerConfig>> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports rustls' default protocol versions")
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    config.alpn_protocols = ALPN_H2_HTTP1.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Runs the TLS handshake of a client over `tcp` for `host`. A failure names the host and
/// says what went wrong (an untrusted certificate: "invalid peer certificate:
/// UnknownIssuer"), keeping rustls' error kind (`InvalidData`).
pub(crate) async fn connect(
    connector: &futures_rustls::TlsConnector,
    host: &str,
    tcp: weft::net::TcpStream,
) -> io::Result<futures_rustls::client::TlsStream<weft::net::TcpStream>> {
    let name = ServerName::try_from(host.to_string()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{host:?} is not a valid TLS server name: {e}"),
        )
    })?;
    connector
        .connect(name, tcp)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("TLS handshake with {host} failed: {e}")))
}

/// [`HyperRead`] for the TLS stream types: rustls copies the plaintext out of its own
/// buffer, into an initialized one ([`poll_read_initialized`]).
macro_rules! tls_hyper_read {
    ($($ty:ty),*) => {$(
        impl<S> HyperRead for $ty
        where
            S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
        {
            fn poll_read_hyper(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                poll_read_initialized(self, cx, buf)
            }
        }
    )*};
}

tls_hyper_read!(
    futures_rustls::client::TlsStream<S>,
    futures_rustls::server::TlsStream<S>,
    futures_rustls::TlsStream<S>
);

//! tokio-rustls (rustls' `ring` provider) straight over weft's `TcpStream`, through the
//! facade's `tokio-io` feature: no wrapper, no tokio runtime. Certificates are made at
//! test time by rcgen; everything runs on loopback.

use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::RootCertStore;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use weft_hyper::tls;

/// A bound far above any expected time: only turns a hang into a failure.
const LIMIT: Duration = Duration::from_secs(60);

/// A test CA and a certificate it signed for `localhost`.
struct Pki {
    ca: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn pki() -> Pki {
    pki_of("weft tokio-rustls test CA")
}

/// A CA named `ca_name` and its `localhost` certificate.
fn pki_of(ca_name: &str) -> Pki {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    Pki {
        ca: ca.der().clone(),
        chain: vec![leaf.der().clone(), ca.der().clone()],
        key: PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    }
}

fn roots(ca: &CertificateDer<'static>) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    roots
}

/// A TLS server on loopback answering one HTTP/1.1-shaped request per connection with the
/// protocol ALPN chose; it sends each handshake's outcome (the ALPN protocol, or the error
/// as text) on the channel.
async fn server(
    pki: &Pki,
) -> (
    u16,
    async_channel::Receiver<Result<Option<Vec<u8>>, String>>,
) {
    let acceptor =
        TlsAcceptor::from(tls::server_config(pki.chain.clone(), pki.key.clone_key()).unwrap());
    let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = async_channel::unbounded();
    weft::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            weft::spawn(async move {
                assert!(tokio::runtime::Handle::try_current().is_err());
                let mut tls = match acceptor.accept(tcp).await {
                    Ok(tls) => tls,
                    Err(e) => return drop(tx.send(Err(e.to_string())).await),
                };
                let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                let _ = tx.send(Ok(alpn.clone())).await;
                // Read the request head, then answer and close.
                let mut head = Vec::new();
                let mut buf = [0; 1024];
                while !head.ends_with(b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let body = format!(
                    "{} over {}",
                    String::from_utf8_lossy(head.split(|&b| b == b'\r').next().unwrap()),
                    String::from_utf8_lossy(&alpn.unwrap_or_default())
                );
                let res = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                tls.write_all(res.as_bytes()).await.unwrap();
                tls.shutdown().await.unwrap();
            });
        }
    });
    (port, rx)
}

/// A client's handshake over a fresh weft `TcpStream`.
async fn connect(
    config: Arc<tokio_rustls::rustls::ClientConfig>,
    port: u16,
    name: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<weft::net::TcpStream>> {
    let tcp =
        weft::net::TcpStream::connect(std::net::SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let name = ServerName::try_from(name.to_string()).unwrap();
    TlsConnector::from(config).connect(name, tcp).await
}

/// Handshake, ALPN `h2` (both sides offer `h2` and `http/1.1`), and a request and its
/// response over the encrypted stream, all on weft's workers with no tokio runtime.
#[test]
fn handshake_alpn_h2_and_a_request_over_tokio_rustls() {
    let pki = pki();
    weft::run(async move {
        assert!(tokio::runtime::Handle::try_current().is_err());
        let (port, handshakes) = server(&pki).await;
        let client = weft::spawn(async move {
            assert!(tokio::runtime::Handle::try_current().is_err());
            let mut tls = connect(tls::client_config(roots(&pki.ca)), port, "localhost")
                .await
                .unwrap();
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
            tls.write_all(b"GET /hello HTTP/1.1\r\nhost: localhost\r\n\r\n")
                .await
                .unwrap();
            let mut res = String::new();
            tls.read_to_string(&mut res).await.unwrap();
            res
        });
        let res = weft::time::timeout(LIMIT, client).await.unwrap().unwrap();
        assert!(res.starts_with("HTTP/1.1 200 OK\r\n"), "{res}");
        assert!(
            res.ends_with("\r\n\r\nGET /hello HTTP/1.1 over h2"),
            "{res}"
        );
        assert_eq!(handshakes.recv().await.unwrap(), Ok(Some(b"h2".to_vec())));
    });
}

/// A client offering only `http/1.1` gets it: ALPN is a real negotiation.
#[test]
fn alpn_falls_back_to_http1_when_the_client_offers_only_that() {
    let pki = pki();
    weft::run(async move {
        let (port, handshakes) = server(&pki).await;
        let mut config = (*tls::client_config(roots(&pki.ca))).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tls = weft::time::timeout(LIMIT, connect(Arc::new(config), port, "localhost"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert_eq!(
            handshakes.recv().await.unwrap(),
            Ok(Some(b"http/1.1".to_vec()))
        );
    });
}

/// A certificate from a CA the client does not trust is refused, with an error that says
/// so (rustls' `InvalidData`: "invalid peer certificate: UnknownIssuer"); the server sees
/// the client's alert. A name the certificate does not cover is refused too.
#[test]
fn an_untrusted_certificate_is_rejected_with_an_error_that_says_so() {
    let pki = pki();
    let other = pki_roots_of_another_ca();
    weft::run(async move {
        let (port, handshakes) = server(&pki).await;
        let err = weft::time::timeout(LIMIT, connect(tls::client_config(other), port, "localhost"))
            .await
            .unwrap()
            .expect_err("a certificate from an unknown CA was accepted");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
        assert!(
            err.to_string()
                .contains("invalid peer certificate: UnknownIssuer"),
            "{err}"
        );
        let server_side = handshakes.recv().await.unwrap().unwrap_err();
        assert!(server_side.contains("UnknownCA"), "{server_side}");

        let err = connect(tls::client_config(roots(&pki.ca)), port, "weft.invalid")
            .await
            .expect_err("a certificate for another name was accepted");
        assert!(
            err.to_string()
                .contains("certificate not valid for name \"weft.invalid\""),
            "{err}"
        );
    });
}

/// Roots holding only another CA, of another name, that signed nothing the server
/// presents.
fn pki_roots_of_another_ca() -> RootCertStore {
    roots(&pki_of("another CA").ca)
}

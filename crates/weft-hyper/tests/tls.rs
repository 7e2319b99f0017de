//! HTTPS on weft: futures-rustls (rustls' `ring` provider) over weft's sockets, with
//! certificates made at test time by rcgen.
#![cfg(feature = "tls")]

mod common;

use common::LIMIT;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::Request;
use std::sync::Arc;
use weft_hyper::client::{self, Client, WeftConnector};
use weft_hyper::tls::{self, futures_rustls, CertificateDer, PrivateKeyDer, RootCertStore};
use weft_hyper::{server, HyperIo};

/// A test CA and a certificate it signed for `localhost`.
struct Pki {
    ca: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn pki() -> Pki {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "weft test CA");
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

/// A client configuration trusting the test CA, offering only HTTP/1.1 by ALPN.
fn http1_only_config(pki: &Pki) -> Arc<tls::futures_rustls::rustls::ClientConfig> {
    let mut config = (*tls::client_config(roots(&pki.ca))).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// An HTTPS server on loopback (HTTP/1.1 and HTTP/2, chosen by ALPN); it reports each
/// handshake's outcome: the protocol ALPN chose, or the error.
async fn https_server(
    pki: &Pki,
) -> (
    u16,
    weft::channel::Receiver<Result<Option<Vec<u8>>, String>>,
) {
    let config = tls::server_config(pki.chain.clone(), pki.key.clone_key()).unwrap();
    let acceptor = futures_rustls::TlsAcceptor::from(config);
    let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = weft::channel::unbounded();
    weft::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            weft::spawn(async move {
                let stream = match acceptor.accept(tcp).await {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string())).await;
                        return;
                    }
                };
                let alpn = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                let _ = tx.send(Ok(alpn)).await;
                let svc = hyper::service::service_fn(common::handler);
                let _ = server::builder()
                    .serve_connection(HyperIo::new(stream), svc)
                    .await;
            });
        }
    });
    (port, rx)
}

#[weft::test]
async fn handshake_and_a_request_over_loopback() {
    let pki = pki();
    let (port, handshakes) = https_server(&pki).await;
    // futures-rustls by hand, and hyper's HTTP/1 client on the TLS stream.
    let connector = futures_rustls::TlsConnector::from(http1_only_config(&pki));
    let tcp = weft::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = tls::ServerName::try_from("localhost").unwrap();
    let stream = connector.connect(name, tcp).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
        .await
        .unwrap();
    weft::spawn(conn);
    let req = Request::post("/echo")
        .header("host", "localhost")
        .body(http_body_util::Full::new(Bytes::from("over TLS")))
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"over TLS");
    assert_eq!(
        handshakes.recv().await.unwrap(),
        Ok(Some(b"http/1.1".to_vec()))
    );
}

#[weft::test]
async fn alpn_picks_h2_when_both_sides_offer_it() {
    let pki = pki();
    let (port, handshakes) = https_server(&pki).await;
    let connector = WeftConnector::new().tls_config(tls::client_config(roots(&pki.ca)));
    let client: Client<Empty<Bytes>> = client::builder().build(connector);
    let url: hyper::Uri = format!("https://localhost:{port}/version").parse().unwrap();
    let res = weft::time::timeout(LIMIT, client.get(url))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(res.version(), hyper::Version::HTTP_2);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"HTTP/2.0");
    assert_eq!(handshakes.recv().await.unwrap(), Ok(Some(b"h2".to_vec())));

    // A client that offers only HTTP/1.1 gets HTTP/1.1 from the same server.
    let client: Client<Empty<Bytes>> =
        client::builder().build(WeftConnector::new().tls_config(http1_only_config(&pki)));
    let url: hyper::Uri = format!("https://localhost:{port}/version").parse().unwrap();
    let res = client.get(url).await.unwrap();
    assert_eq!(res.version(), hyper::Version::HTTP_11);
    assert_eq!(
        handshakes.recv().await.unwrap(),
        Ok(Some(b"http/1.1".to_vec()))
    );
}

#[weft::test]
async fn an_untrusted_certificate_is_rejected_with_an_error_that_says_so() {
    let pki = pki();
    let (port, handshakes) = https_server(&pki).await;
    // The public roots do not include the test CA.
    let client: Client<Empty<Bytes>> = client::builder().build(WeftConnector::new().https());
    let url: hyper::Uri = format!("https://localhost:{port}/").parse().unwrap();
    let err = weft::time::timeout(LIMIT, client.get(url))
        .await
        .unwrap()
        .expect_err("a certificate from an unknown CA was accepted");
    assert!(err.is_connect(), "{err:?}");
    let chain = common::error_chain(&err);
    assert!(
        chain.contains("TLS handshake with localhost failed")
            && chain.contains("invalid peer certificate: UnknownIssuer"),
        "{chain}"
    );
    // The server saw the client give up on its certificate.
    let server_side = handshakes.recv().await.unwrap().unwrap_err();
    assert!(server_side.contains("UnknownCA"), "{server_side}");

    // A name the certificate does not cover is refused too.
    let client: Client<Empty<Bytes>> = client::builder()
        .build(WeftConnector::new().tls_config(tls::client_config(roots(&pki.ca))));
    let url: hyper::Uri = format!("https://127.0.0.1:{port}/").parse().unwrap();
    let chain = common::error_chain(&client.get(url).await.unwrap_err());
    assert!(chain.contains("invalid peer certificate"), "{chain}");
}

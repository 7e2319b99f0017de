//! An HTTPS server: HTTP/1.1 and HTTP/2 (chosen by ALPN) over TLS, hyper on weft through
//! weft-hyper, with futures-rustls over weft's sockets. Runs until stopped.
//!
//! `cargo run -p weft-ecosystem-examples --example https_server [ADDR] [CERT.pem KEY.pem]` (default 127.0.0.1:3443).
//! Without a certificate it makes a self-signed one for `localhost` (rcgen) and writes it
//! to `weft-localhost.pem`, so that
//! `cargo run -p weft-ecosystem-examples --example http_get -- --cacert weft-localhost.pem https://localhost:3443/`
//! (or `curl --cacert weft-localhost.pem https://localhost:3443/`) trusts it.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use weft_hyper::tls::futures_rustls::pki_types::pem::PemObject;
use weft_hyper::tls::futures_rustls::{rustls::ServerConfig, TlsAcceptor};
use weft_hyper::tls::{self, CertificateDer, PrivateKeyDer};
use weft_hyper::{server, HyperIo};

async fn hello(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!(
        "Hello over TLS from weft! {:?} {}\n",
        req.version(),
        req.uri().path()
    );
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// The certificate and key from PEM files, or a new self-signed one for `localhost`
/// (written to `weft-localhost.pem`).
fn server_config(
    files: Option<(&str, &str)>,
) -> Result<Arc<ServerConfig>, Box<dyn std::error::Error>> {
    let (chain, key) = match files {
        Some((cert, key)) => (
            CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?,
            PrivateKeyDer::from_pem_file(key)?,
        ),
        None => {
            let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
            std::fs::write("weft-localhost.pem", made.cert.pem())?;
            println!("self-signed certificate for localhost written to weft-localhost.pem");
            (
                vec![made.cert.der().clone()],
                PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into()),
            )
        }
    };
    Ok(tls::server_config(chain, key)?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args
        .first()
        .map_or("127.0.0.1:3443", String::as_str)
        .to_string();
    let files = match (args.get(1), args.get(2)) {
        (Some(c), Some(k)) => Some((c.as_str(), k.as_str())),
        _ => None,
    };
    let acceptor = TlsAcceptor::from(server_config(files)?);
    weft::run(async move {
        let listener = weft::net::TcpListener::bind(addr.as_str()).await?;
        println!("listening on https://{}", listener.local_addr()?);
        serve(listener, acceptor).await
    })?;
    Ok(())
}

async fn serve(listener: weft::net::TcpListener, acceptor: TlsAcceptor) -> std::io::Result<()> {
    loop {
        let (tcp, peer) = listener.accept().await?;
        let acceptor = acceptor.clone();
        weft::spawn(async move {
            // A client that never finishes its handshake does not hold a task forever.
            let stream =
                match weft::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => return eprintln!("{peer}: TLS handshake failed: {e}"),
                    Err(_) => return eprintln!("{peer}: TLS handshake timed out"),
                };
            let builder = server::builder();
            let conn =
                builder.serve_connection(HyperIo::new(stream), hyper::service::service_fn(hello));
            if let Err(e) = conn.await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use weft_hyper::client::{self, Client, WeftConnector};
    use weft_hyper::tls;

    #[weft::test]
    async fn serves_http2_over_tls_chosen_by_alpn() {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let config = tls::server_config(
            vec![made.cert.der().clone()],
            tls::PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into()),
        )
        .unwrap();
        let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        weft::spawn(super::serve(listener, config.into()));
        let mut roots = tls::RootCertStore::empty();
        roots.add(made.cert.der().clone()).unwrap();
        let client: Client<Empty<Bytes>> =
            client::builder().build(WeftConnector::new().tls_config(tls::client_config(roots)));
        let res = client
            .get(format!("https://localhost:{port}/x").parse().unwrap())
            .await
            .unwrap();
        assert_eq!(res.version(), hyper::Version::HTTP_2);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"Hello over TLS from weft! HTTP/2.0 /x\n");
    }
}

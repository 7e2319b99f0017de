//! Fetches a URL and prints the status and the body: the aiohttp example of asyncio
//! tutorials, in Rust. `http://` and `https://` (HTTP/2 when the server offers it by ALPN),
//! through weft-hyper's pooled client. Exits with a non-zero code on failure.
//!
//! `cargo run -p weft-ecosystem-examples --example http_get [--cacert FILE.pem] [URL]` (default http://127.0.0.1:3000/).
//! `--cacert` trusts the certificates in FILE besides the public roots: the one
//! `cargo run -p weft-ecosystem-examples --example https_server` writes, say.

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{StatusCode, Uri, Version};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use weft_hyper::client::{self, Client, WeftConnector};
use weft_hyper::tls::{self, futures_rustls::pki_types::pem::PemObject, CertificateDer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What came back: status, HTTP version, body.
type Fetched = (StatusCode, Version, String);

async fn get(url: &str, cacert: Option<&Path>) -> Result<Fetched, BoxError> {
    let uri: Uri = url.parse()?;
    let mut roots = tls::webpki_roots();
    if let Some(path) = cacert {
        for cert in CertificateDer::pem_file_iter(path)? {
            roots.add(cert?)?;
        }
    }
    let connector = WeftConnector::new()
        .connect_timeout(Some(Duration::from_secs(10)))
        .tls_config(tls::client_config(roots));
    let client: Client<Empty<Bytes>> = client::builder().build(connector);
    let res = weft::time::timeout(Duration::from_secs(30), client.get(uri)).await??;
    let (status, version) = (res.status(), res.version());
    let body = res.into_body().collect().await?.to_bytes();
    Ok((status, version, String::from_utf8_lossy(&body).into_owned()))
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let cacert = match args.iter().position(|a| a == "--cacert") {
        Some(i) if i + 1 < args.len() => {
            let path = args.remove(i + 1);
            args.remove(i);
            Some(path)
        }
        Some(_) => {
            eprintln!("http_get: --cacert needs a file");
            return ExitCode::FAILURE;
        }
        None => None,
    };
    let url = args
        .first()
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:3000/".into());
    match weft::run(async { get(&url, cacert.as_deref().map(Path::new)).await }) {
        Ok((status, version, body)) => {
            println!("{status} ({version:?})");
            print!("{body}");
            if status.is_success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Err(e) => {
            eprintln!("http_get {url}: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use weft_hyper::{server, tls, HyperIo};

    async fn ok(
        _req: hyper::Request<hyper::body::Incoming>,
    ) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
        Ok(hyper::Response::new(Full::new(Bytes::from("ok"))))
    }

    #[test]
    fn fetches_from_a_local_server_and_fails_cleanly_without_one() {
        let rt = weft::Builder::new().build().unwrap();
        let url = rt.block_on(async {
            let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            weft::spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                let _ = server::builder()
                    .serve_connection(HyperIo::new(stream), hyper::service::service_fn(ok))
                    .await;
            });
            format!("http://{addr}/")
        });
        let (status, version, body) = rt.block_on(super::get(&url, None)).unwrap();
        assert!(status.is_success());
        assert_eq!(version, hyper::Version::HTTP_11);
        assert_eq!(body, "ok");
        // Nothing listens there any more: an error, not a panic.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(rt
            .block_on(super::get(&format!("http://{closed}/"), None))
            .is_err());
        assert!(rt
            .block_on(super::get("ftp://example.invalid/", None))
            .is_err());
    }

    #[test]
    fn fetches_https_over_http2_trusting_a_cacert_file() {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let pem = std::env::temp_dir().join(format!("weft-http-get-{}.pem", std::process::id()));
        std::fs::write(&pem, cert.cert.pem()).unwrap();
        let config = tls::server_config(
            vec![cert.cert.der().clone()],
            tls::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into()),
        )
        .unwrap();
        let acceptor = tls::futures_rustls::TlsAcceptor::from(config);
        let rt = weft::Builder::new().build().unwrap();
        let port = rt.block_on(async {
            let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            weft::spawn(async move {
                loop {
                    let (tcp, _) = listener.accept().await.unwrap();
                    let acceptor = acceptor.clone();
                    weft::spawn(async move {
                        let Ok(stream) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let _ = server::builder()
                            .serve_connection(HyperIo::new(stream), hyper::service::service_fn(ok))
                            .await;
                    });
                }
            });
            port
        });
        let url = format!("https://localhost:{port}/");
        let (status, version, body) = rt.block_on(super::get(&url, Some(&pem))).unwrap();
        assert!(status.is_success());
        assert_eq!(version, hyper::Version::HTTP_2);
        assert_eq!(body, "ok");
        // Without the certificate file, the self-signed server is not trusted.
        let err = rt.block_on(super::get(&url, None)).unwrap_err();
        let mut text = err.to_string();
        let mut source = err.source();
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        assert!(text.contains("invalid peer certificate"), "{text}");
        std::fs::remove_file(pem).unwrap();
    }
}

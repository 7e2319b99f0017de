//! Fetches a URL over HTTP/1.1 and prints the status and the body: the aiohttp example of
//! asyncio tutorials, in Rust. Exits with a non-zero code on failure.
//!
//! `cargo run --example http_get [URL]` (default http://127.0.0.1:3000/)

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use std::process::ExitCode;
use weft_hyper::HyperIo;

async fn get(url: &str) -> Result<(hyper::StatusCode, String), Box<dyn std::error::Error>> {
    let uri: Uri = url.parse()?;
    if uri.scheme_str() != Some("http") {
        return Err("only http:// URLs are supported".into());
    }
    let host = uri.host().ok_or("the URL has no host")?.to_string();
    let port = uri.port_u16().unwrap_or(80);
    let stream = weft::net::TcpStream::connect((host.as_str(), port)).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream)).await?;
    weft::spawn(async move {
        if let Err(e) = conn.await {
            eprintln!("connection error: {e}");
        }
    });
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let req = Request::get(path)
        .header("host", format!("{host}:{port}"))
        .body(Empty::<Bytes>::new())?;
    let res =
        weft::time::timeout(std::time::Duration::from_secs(30), sender.send_request(req)).await??;
    let status = res.status();
    let body = res.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn main() -> ExitCode {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:3000/".into());
    match weft::run(async { get(&url).await }) {
        Ok((status, body)) => {
            println!("{status}");
            print!("{body}");
            if status.is_success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Err(e) => {
            eprintln!("http_get {url}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::Full;
    use hyper::body::Bytes;

    #[test]
    fn fetches_from_a_local_server_and_fails_cleanly_without_one() {
        let rt = weft::Builder::new().build().unwrap();
        let url = rt.block_on(async {
            let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            weft::spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                let svc = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(
                        "ok",
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(weft_hyper::HyperIo::new(stream), svc)
                    .await;
            });
            format!("http://{addr}/")
        });
        let (status, body) = rt.block_on(super::get(&url)).unwrap();
        assert!(status.is_success());
        assert_eq!(body, "ok");
        // Nothing listens there any more: an error, not a panic.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(rt
            .block_on(super::get(&format!("http://{closed}/")))
            .is_err());
        assert!(rt.block_on(super::get("ftp://example.invalid/")).is_err());
    }
}

//! An HTTP/1.1 server: hyper 1.x on weft (through `weft-hyper`), until stopped.
//!
//! `cargo run --example http_server [ADDR]` (default 127.0.0.1:3000), then
//! `cargo run -p weft-ecosystem-examples --example http_get` or `curl http://127.0.0.1:3000/`.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use std::convert::Infallible;
use weft_hyper::{HyperIo, WeftTimer};

async fn hello(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("Hello from weft! You asked for {}\n", req.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

#[weft::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = weft::net::TcpListener::bind(addr.as_str()).await?;
    println!("listening on http://{}", listener.local_addr()?);
    serve(listener).await
}

async fn serve(listener: weft::net::TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        weft::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(WeftTimer)
                .serve_connection(HyperIo::new(stream), hyper::service::service_fn(hello));
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

    #[weft::test]
    async fn answers_a_get() {
        let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        weft::spawn(super::serve(listener));
        let stream = weft::net::TcpStream::connect(addr).await.unwrap();
        let (mut tx, conn) =
            hyper::client::conn::http1::handshake(weft_hyper::HyperIo::new(stream))
                .await
                .unwrap();
        weft::spawn(conn);
        let req = hyper::Request::get("/x")
            .header("host", "localhost")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let res = tx.send_request(req).await.unwrap();
        assert!(res.status().is_success());
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"Hello from weft! You asked for /x\n");
    }
}

//! A test server: hyper-util's auto builder (HTTP/1 and HTTP/2) on weft, counting accepts.
#![allow(dead_code)] // each test file uses its own part of it

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use weft_hyper::{server, HyperIo};

/// Answers `/version` with the request's HTTP version, `/slow` after 50 ms, `/echo` with
/// the request body, anything else with "hello".
pub async fn handler(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let text = match req.uri().path() {
        "/version" => format!("{:?}", req.version()),
        "/slow" => {
            weft::time::sleep(Duration::from_millis(50)).await;
            "slow".to_string()
        }
        "/echo" => {
            let body = req.into_body().collect().await.map(|b| b.to_bytes());
            String::from_utf8_lossy(&body.unwrap_or_default()).into_owned()
        }
        _ => "hello".to_string(),
    };
    Ok(Response::new(Full::new(Bytes::from(text))))
}

/// A running server: its address, how many connections it accepted and how many of them
/// have ended.
pub struct Server {
    pub addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
}

impl Server {
    pub fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }

    pub fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

/// Binds loopback and serves [`handler`] on every connection until the runtime ends.
pub async fn start() -> Server {
    let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepts = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    let (counted, ended) = (accepts.clone(), closed.clone());
    weft::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            counted.fetch_add(1, Ordering::SeqCst);
            let ended = ended.clone();
            weft::spawn(async move {
                let _ = server::builder()
                    .serve_connection(HyperIo::new(stream), hyper::service::service_fn(handler))
                    .await;
                ended.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    Server {
        addr,
        accepts,
        closed,
    }
}

/// A bound on waits that should take milliseconds: a hang becomes a failure.
pub const LIMIT: Duration = Duration::from_secs(30);

/// An error and its sources, joined by ": ".
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

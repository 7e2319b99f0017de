//! HTTP/2 on weft: many streams on one connection, HTTP/1 and HTTP/2 on one port, graceful
//! shutdown of both kinds of connection.

mod common;

use common::LIMIT;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use weft_hyper::{server, HyperIo, WeftExecutor};

async fn h2_handshake(
    addr: std::net::SocketAddr,
) -> hyper::client::conn::http2::SendRequest<Empty<Bytes>> {
    let tcp = weft::net::TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http2::handshake(WeftExecutor, HyperIo::new(tcp))
        .await
        .unwrap();
    weft::spawn(conn);
    sender
}

async fn body_text(res: Response<Incoming>) -> String {
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// An HTTP/1.1 connection to `addr`, its connection task spawned.
async fn h1_handshake(
    addr: std::net::SocketAddr,
) -> (
    hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    weft::JoinHandle<hyper::Result<()>>,
) {
    let tcp = weft::net::TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(tcp))
        .await
        .unwrap();
    (sender, weft::spawn(conn))
}

fn h1_get(path: &str) -> Request<Empty<Bytes>> {
    Request::get(path)
        .header("host", "localhost")
        .body(Empty::new())
        .unwrap()
}

fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::get(format!("http://localhost{path}"))
        .body(Empty::new())
        .unwrap()
}

#[weft::test]
async fn a_hundred_concurrent_streams_on_one_connection() {
    // Every handler waits at a barrier of 100: the test completes only if all 100 streams
    // are open on the server at the same time.
    const STREAMS: usize = 100;
    let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let barrier = Arc::new(weft::sync::Barrier::new(STREAMS));
    let accepts = Arc::new(AtomicUsize::new(0));
    let counted = accepts.clone();
    weft::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            counted.fetch_add(1, Ordering::SeqCst);
            let barrier = barrier.clone();
            weft::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let barrier = barrier.clone();
                    async move {
                        barrier.wait().await;
                        let body = format!("{} {:?}", req.uri().path(), req.version());
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                    }
                });
                let _ = server::builder()
                    .serve_connection(HyperIo::new(stream), svc)
                    .await;
            });
        }
    });
    let sender = h2_handshake(addr).await;
    let mut set = weft::task::JoinSet::new();
    for i in 0..STREAMS {
        let mut sender = sender.clone();
        set.spawn(async move {
            let res = sender.send_request(get(&format!("/{i}"))).await.unwrap();
            (i, body_text(res).await)
        });
    }
    let all = weft::time::timeout(LIMIT, set.join_all())
        .await
        .expect("100 streams did not all run at once");
    assert_eq!(all.len(), STREAMS);
    for (i, body) in all {
        assert_eq!(body, format!("/{i} HTTP/2.0"));
    }
    assert_eq!(
        accepts.load(Ordering::SeqCst),
        1,
        "one connection carried them all"
    );
}

#[weft::test]
async fn http1_and_http2_on_one_port() {
    let server = common::start().await;
    let mut h2 = h2_handshake(server.addr).await;
    let res = h2.send_request(get("/version")).await.unwrap();
    assert_eq!(body_text(res).await, "HTTP/2.0");

    let (mut h1, _conn) = h1_handshake(server.addr).await;
    let res = h1.send_request(h1_get("/version")).await.unwrap();
    assert_eq!(body_text(res).await, "HTTP/1.1");
    assert_eq!(server.accepts(), 2);
}

#[weft::test]
async fn graceful_shutdown_finishes_requests_in_flight_then_closes_connections() {
    let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = weft::sync::CancellationToken::new();
    let (started_tx, started_rx) = weft::channel::unbounded::<()>();
    let stopping = stop.clone();
    let server = weft::spawn(async move {
        let graceful = server::GracefulShutdown::new();
        loop {
            let accepted = weft::future::or(async { Some(listener.accept().await) }, async {
                stopping.cancelled().await;
                None
            });
            let Some(accepted) = accepted.await else {
                break;
            };
            let (stream, _) = accepted.unwrap();
            let started_tx = started_tx.clone();
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let started_tx = started_tx.clone();
                async move {
                    if req.uri().path() == "/hold" {
                        started_tx.send(()).await.unwrap();
                        weft::time::sleep(Duration::from_millis(100)).await;
                    }
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("done"))))
                }
            });
            let conn = server::builder()
                .serve_connection(HyperIo::new(stream), svc)
                .into_owned();
            let conn = graceful.watch(conn);
            weft::spawn(async move {
                let _ = conn.await;
            });
        }
        drop(listener);
        graceful.shutdown().await;
    });

    // An idle HTTP/1 keep-alive connection, served once.
    let (mut idle, idle_conn) = h1_handshake(addr).await;
    let res = idle.send_request(h1_get("/")).await.unwrap();
    assert_eq!(body_text(res).await, "done");

    // An HTTP/1 and an HTTP/2 request in flight when the shutdown starts.
    let (mut h1, _h1_conn) = h1_handshake(addr).await;
    let h1_res = weft::spawn(async move {
        let res = h1.send_request(h1_get("/hold")).await?;
        Ok::<_, hyper::Error>(body_text(res).await)
    });
    let mut h2 = h2_handshake(addr).await;
    let h2_res = weft::spawn(async move {
        let res = h2.send_request(get("/hold")).await?;
        Ok::<_, hyper::Error>(body_text(res).await)
    });
    for _ in 0..2 {
        weft::time::timeout(LIMIT, started_rx.recv())
            .await
            .unwrap()
            .unwrap();
    }
    stop.cancel();

    assert_eq!(h1_res.await.unwrap().unwrap(), "done");
    assert_eq!(h2_res.await.unwrap().unwrap(), "done");
    weft::time::timeout(LIMIT, server)
        .await
        .expect("graceful shutdown did not end")
        .unwrap();
    // The idle connection was closed by the server, not left open.
    weft::time::timeout(LIMIT, idle_conn)
        .await
        .expect("the idle connection was left open")
        .unwrap()
        .unwrap();
    // And nothing listens any more.
    assert!(weft::net::TcpStream::connect(addr).await.is_err());
}

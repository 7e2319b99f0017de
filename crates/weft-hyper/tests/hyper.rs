//! hyper on weft: a server with the weft timer and executor, clients over loopback.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use std::convert::Infallible;
use std::time::Duration;
use weft_hyper::{HyperIo, WeftExecutor, WeftTimer};

async fn serve(listener: weft::net::TcpListener) {
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        weft::spawn(async move {
            let service =
                hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let path = req.uri().path().to_string();
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    let (status, text) = match path.as_str() {
                        "/echo" => (
                            StatusCode::OK,
                            format!("echo: {}", String::from_utf8_lossy(&body)),
                        ),
                        "/slow" => {
                            weft::time::sleep(Duration::from_millis(20)).await;
                            (StatusCode::OK, "slow".to_string())
                        }
                        _ => (StatusCode::NOT_FOUND, "no such page".to_string()),
                    };
                    let mut res = Response::new(Full::new(Bytes::from(text)));
                    *res.status_mut() = status;
                    Ok::<_, Infallible>(res)
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(WeftTimer)
                .header_read_timeout(Duration::from_secs(5))
                .serve_connection(HyperIo::new(stream), service)
                .await;
        });
    }
}

async fn request(addr: std::net::SocketAddr, path: &str, body: &str) -> (StatusCode, String) {
    let stream = weft::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
        .await
        .unwrap();
    hyper::rt::Executor::execute(&WeftExecutor, async move {
        let _ = conn.await;
    });
    let req = Request::post(path)
        .header("host", "localhost")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[weft::test]
async fn requests_statuses_bodies_and_timers() {
    let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    weft::spawn(serve(listener));
    assert_eq!(
        request(addr, "/echo", "ping").await,
        (StatusCode::OK, "echo: ping".into())
    );
    assert_eq!(
        request(addr, "/slow", "").await,
        (StatusCode::OK, "slow".into())
    );
    assert_eq!(request(addr, "/nope", "").await.0, StatusCode::NOT_FOUND);
    // Many at once.
    let mut set = weft::task::JoinSet::new();
    for i in 0..50 {
        set.spawn(async move { request(addr, "/echo", &i.to_string()).await });
    }
    let mut n = 0;
    while let Some(r) = set.join_next().await {
        let (status, body) = r.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert!(body.starts_with("echo: "));
        n += 1;
    }
    assert_eq!(n, 50);
}

#[weft::test]
async fn the_timer_resets_a_sleep_in_place() {
    use hyper::rt::Timer;
    let timer = WeftTimer;
    let mut s = timer.sleep(Duration::from_secs(3600));
    // Register it, then pull it in: it must complete soon, not in an hour.
    assert!(weft::future::poll_once(&mut s).await.is_none());
    timer.reset(&mut s, std::time::Instant::now() + Duration::from_millis(5));
    weft::time::timeout(Duration::from_secs(60), s)
        .await
        .expect("the reset sleep kept its old deadline");
}

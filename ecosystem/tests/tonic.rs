//! gRPC on weft: tonic's core (default features off, so no `transport`: none of tokio's
//! runtime, reactor or timer) served by weft-hyper's HTTP/2 server and called through
//! weft-hyper's pooled client, over weft's sockets on loopback.
//!
//! tonic without `transport` is runtime-free: `tonic::server::Grpc` turns an
//! `http::Request` into a call of a service and its answer into an `http::Response`, and
//! `tonic::client::Grpc` sends calls through any tower service of `http::Request`s. What
//! `transport` adds (`Server`, `Channel`, `Endpoint`) is that HTTP/2 plumbing on tokio; on
//! weft it is weft-hyper's. Messages here are raw bytes (a codec of a few lines) rather
//! than protobuf: the generated code of `tonic-build` needs `protoc`, and changes nothing
//! at run time.

use bytes::{Buf, BufMut};
use hyper::http::uri::PathAndQuery;
use std::convert::Infallible;
use std::future::{ready, Ready};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Request, Response, Status};
use weft_hyper::client::{self, WeftConnector};

/// A bound far above any expected time: only turns a hang into a failure.
const LIMIT: Duration = Duration::from_secs(60);

const REVERSE: &str = "/weft.test.Echo/Reverse";

/// Messages as raw bytes: gRPC's framing is tonic's, the payload is the message.
#[derive(Clone, Copy, Debug, Default)]
struct Raw;

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut msg = vec![0; src.remaining()];
        src.copy_to_slice(&mut msg);
        Ok(Some(msg))
    }
}

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

/// The unary method: answers with the message reversed, refuses `fail`.
#[derive(Clone, Copy, Debug)]
struct Reverse;

impl tower_service::Service<Request<Vec<u8>>> for Reverse {
    type Response = Response<Vec<u8>>;
    type Error = Status;
    type Future = Ready<Result<Response<Vec<u8>>, Status>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: Request<Vec<u8>>) -> Self::Future {
        assert!(tokio::runtime::Handle::try_current().is_err());
        let mut msg = req.into_inner();
        if msg == b"fail" {
            return ready(Err(Status::invalid_argument("refused: fail")));
        }
        msg.reverse();
        ready(Ok(Response::new(msg)))
    }
}

/// A gRPC server on loopback: weft-hyper's server (HTTP/1 and HTTP/2 on one port; gRPC
/// clients speak HTTP/2) routing `REVERSE` to tonic's server side.
/// Returns its address and its count of accepted connections.
async fn grpc_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepts = Arc::new(AtomicUsize::new(0));
    let counted = accepts.clone();
    weft::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            counted.fetch_add(1, Ordering::Relaxed);
            weft::spawn(async move {
                let svc = hyper::service::service_fn(
                    |req: hyper::Request<hyper::body::Incoming>| async move {
                        let res = match req.uri().path() {
                            REVERSE => tonic::server::Grpc::new(Raw).unary(Reverse, req).await,
                            _ => Status::unimplemented("no such method").into_http(),
                        };
                        Ok::<_, Infallible>(res)
                    },
                );
                let _ = weft_hyper::server::builder()
                    .serve_connection(weft_hyper::HyperIo::new(tcp), svc)
                    .await;
            });
        }
    });
    (addr, accepts)
}

/// tonic's client over weft-hyper's pooled client, HTTP/2 only (prior knowledge).
fn grpc_client(addr: SocketAddr) -> tonic::client::Grpc<client::Client<tonic::body::Body>> {
    let mut builder = client::builder();
    builder.http2_only(true);
    let http = builder.build(WeftConnector::new());
    tonic::client::Grpc::with_origin(http, format!("http://{addr}").parse().unwrap())
}

/// A unary call, a call the server refuses (its status arrives as the client's error, code
/// and message intact), an unknown method, and 100 calls at once from 10 tasks, all on the
/// client's one pooled HTTP/2 connection: all on weft, with no tokio runtime.
#[test]
fn tonic_unary_calls_over_weft_hyper() {
    weft::run(async {
        assert!(tokio::runtime::Handle::try_current().is_err());
        let (addr, accepts) = grpc_server().await;
        let mut grpc = grpc_client(addr);
        let path = PathAndQuery::from_static(REVERSE);

        grpc.ready().await.unwrap();
        let res = weft::time::timeout(
            LIMIT,
            grpc.unary(Request::new(b"hello".to_vec()), path.clone(), Raw),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(res.into_inner(), b"olleh");

        grpc.ready().await.unwrap();
        let refused = grpc
            .unary(Request::new(b"fail".to_vec()), path.clone(), Raw)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert_eq!(refused.message(), "refused: fail");

        grpc.ready().await.unwrap();
        let unknown = grpc
            .unary(
                Request::new(Vec::new()),
                PathAndQuery::from_static("/weft.test.Echo/Nothing"),
                Raw,
            )
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), Code::Unimplemented, "{unknown:?}");

        let tasks: Vec<_> = (0..10u32)
            .map(|t| {
                let grpc = grpc.clone();
                let path = path.clone();
                weft::spawn(async move {
                    assert!(tokio::runtime::Handle::try_current().is_err());
                    let calls = (0..10u32).map(|i| {
                        let mut grpc = grpc.clone();
                        let path = path.clone();
                        async move {
                            let msg = format!("call {t}-{i}").into_bytes();
                            grpc.ready().await.unwrap();
                            let res = grpc
                                .unary(Request::new(msg.clone()), path, Raw)
                                .await
                                .unwrap();
                            let mut back = res.into_inner();
                            back.reverse();
                            assert_eq!(back, msg);
                        }
                    });
                    for call in calls.map(weft::spawn).collect::<Vec<_>>() {
                        call.await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            weft::time::timeout(LIMIT, task).await.unwrap().unwrap();
        }
        assert_eq!(
            accepts.load(Ordering::Relaxed),
            1,
            "one HTTP/2 connection for every call"
        );
    });
}

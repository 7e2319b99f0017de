//! tokio's socket API and the JoinSet/task-local additions, through the facade only.

#![cfg(all(feature = "net", feature = "macros", feature = "time"))]

use std::io::ErrorKind;
use weft::io::{AsyncReadExt, AsyncWriteExt, Interest, Ready};
use weft::net::{TcpListener, TcpSocket, TcpStream, UdpSocket, UnixStream};
use weft::task::JoinSet;
use weft::time::{timeout, Duration};

const HANG: Duration = Duration::from_secs(60);

#[weft::test]
async fn a_reuseport_server_through_the_facade() {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseport(true).unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener: TcpListener = socket.listen(64).unwrap();
    let addr = listener.local_addr().unwrap();
    weft::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(b"hey").await.unwrap();
    });
    let stream: TcpStream = timeout(HANG, TcpSocket::new_v4().unwrap().connect(addr))
        .await
        .unwrap()
        .unwrap();
    let ready: Ready = timeout(HANG, stream.ready(Interest::READABLE))
        .await
        .unwrap()
        .unwrap();
    assert!(ready.is_readable());
    let mut buf = [0; 3];
    assert_eq!(stream.peek(&mut buf).await.unwrap(), 3);
    let mut stream = stream;
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hey");
    let std_stream = stream.into_std().unwrap();
    assert!(std_stream.peer_addr().is_ok());
}

#[weft::test]
async fn try_operations_through_the_facade() {
    let (a, b) = UnixStream::pair().unwrap();
    assert_eq!(
        b.try_read(&mut [0; 4]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    a.try_write(b"x").unwrap();
    timeout(HANG, b.readable()).await.unwrap().unwrap();
    assert_eq!(b.try_read(&mut [0; 4]).unwrap(), 1);

    let u = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    assert_eq!(
        u.try_recv(&mut [0; 4]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    u.try_send_to(b"self", u.local_addr().unwrap()).unwrap();
    let mut v = Vec::with_capacity(8);
    let (n, from) = timeout(HANG, u.recv_buf_from(&mut v))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (n, &v[..], from),
        (4, &b"self"[..], u.local_addr().unwrap())
    );
}

weft::task_local! {
    static ID: u32;
}

#[weft::test]
async fn join_set_and_task_local_additions_through_the_facade() {
    let mut set: JoinSet<u32> = (0..4).map(|i| async move { i }).collect();
    let mut sum = 0;
    while !set.is_empty() {
        match set.try_join_next() {
            Some(r) => sum += r.unwrap(),
            None => weft::task::yield_now().await,
        }
    }
    assert_eq!(sum, 6);
    assert!(ID.try_get().is_err());
    let mut fut = Box::pin(ID.scope(9, async { ID.try_get().unwrap() }));
    assert_eq!(fut.as_mut().await, 9);
    assert_eq!(fut.as_mut().take_value(), Some(9));
}

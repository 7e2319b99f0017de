//! Loopback TCP, written once against [`Net`]: each runtime implements it with its own
//! socket API, so the workloads are the same code on all three.

use crate::Net;

/// [`echo`]: connections at once.
pub const CONNS: usize = 50;
/// [`echo`]: round trips per connection.
pub const ROUNDS: usize = 200;
/// [`echo`]: bytes per message.
pub const MSG: usize = 64;
/// [`stream`]: bytes carried.
pub const STREAM: usize = 1 << 30;
/// [`stream`]: bytes per write and per read.
pub const CHUNK: usize = 256 * 1024;

/// Loopback echo: `CONNS` connections at once, each `ROUNDS` round trips of `MSG` bytes,
/// to an echo server on the same runtime.
pub fn echo<R: Net>(rt: &R) {
    let total = rt.run(async {
        let (listener, addr) = R::bind().await;
        let server = R::spawn(async move {
            for _ in 0..CONNS {
                let mut s = R::accept(&listener).await;
                R::set_nodelay(&s);
                R::detach(async move {
                    let mut buf = [0; MSG];
                    while R::read_exact(&mut s, &mut buf).await.is_ok() {
                        R::write_all(&mut s, &buf).await.unwrap();
                    }
                });
            }
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|_| {
                R::spawn(async move {
                    let mut s = R::connect(addr).await;
                    R::set_nodelay(&s);
                    let mut buf = [7u8; MSG];
                    for _ in 0..ROUNDS {
                        R::write_all(&mut s, &buf).await.unwrap();
                        R::read_exact(&mut s, &mut buf).await.unwrap();
                    }
                    ROUNDS
                })
            })
            .collect();
        let mut total = 0;
        for c in clients {
            total += c.await;
        }
        server.await;
        total
    });
    assert_eq!(total, CONNS * ROUNDS);
}

/// One connection carries `STREAM` bytes from a writer task to a reader task.
pub fn stream<R: Net>(rt: &R) {
    let got = rt.run(async {
        let (listener, addr) = R::bind().await;
        let writer = R::spawn(async move {
            let mut s = R::accept(&listener).await;
            let buf = vec![1u8; CHUNK];
            let mut sent = 0;
            while sent < STREAM {
                R::write_all(&mut s, &buf).await.unwrap();
                sent += CHUNK;
            }
        });
        let mut s = R::connect(addr).await;
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0;
        loop {
            let n = R::read(&mut s, &mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got += n;
        }
        writer.await;
        got
    });
    assert_eq!(got, STREAM);
}

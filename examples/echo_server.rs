//! An echo server: every connection gets back what it sends.
//!
//! `cargo run --example echo_server [ADDR]` (default 127.0.0.1:7000), then
//! `cargo run --example echo_client [ADDR]`.

use weft::io::AsyncWriteExt;
use weft::net::TcpListener;

#[weft::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".into());
    let listener = TcpListener::bind(addr.as_str()).await?;
    println!("listening on {}", listener.local_addr()?);
    serve(listener).await
}

async fn serve(listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (mut conn, peer) = listener.accept().await?;
        weft::spawn(async move {
            let mut buf = vec![0; 4096];
            loop {
                match conn.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        if conn.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        eprintln!("{peer}: {e}");
                        break;
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use weft::io::{AsyncReadExt, AsyncWriteExt};

    #[weft::test]
    async fn echoes_what_it_gets() {
        let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        weft::spawn(super::serve(listener));
        let mut s = weft::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"ping").await.unwrap();
        let mut back = [0; 4];
        s.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"ping");
    }
}

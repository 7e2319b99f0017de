//! A line-based chat server: clients join with a name, every line they send goes to
//! everyone else, and the room hears when someone leaves.
//!
//! `cargo run --example chat [ADDR]` (default 127.0.0.1:7001), then connect with
//! `nc 127.0.0.1 7001` from a few terminals: the first line you type is your name.

use std::collections::HashMap;
use std::sync::Arc;
use weft::channel::{unbounded, Sender};
use weft::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use weft::net::{TcpListener, TcpStream};
use weft::sync::Mutex;

type Room = Arc<Mutex<HashMap<u64, Sender<String>>>>;

async fn broadcast(room: &Room, from: u64, line: &str) {
    for (id, tx) in room.lock().await.iter() {
        if *id != from {
            let _ = tx.try_send(line.to_string());
        }
    }
}

async fn client(room: Room, id: u64, stream: TcpStream) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    use weft::stream::StreamExt;
    writer.write_all(b"name? ").await?;
    let Some(name) = lines.next().await.transpose()? else {
        return Ok(());
    };
    let (tx, rx) = unbounded::<String>();
    room.lock().await.insert(id, tx);
    broadcast(&room, id, &format!("* {name} joined\n")).await;
    writer
        .write_all(format!("welcome, {name}\n").as_bytes())
        .await?;
    // One task writes what others say; this one reads what we say.
    let out = weft::spawn(async move {
        while let Ok(line) = rx.recv().await {
            if writer.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    while let Some(line) = lines.next().await {
        let line = line?;
        broadcast(&room, id, &format!("{name}: {line}\n")).await;
    }
    room.lock().await.remove(&id);
    out.abort();
    broadcast(&room, id, &format!("* {name} left\n")).await;
    Ok(())
}

#[weft::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7001".into());
    let listener = TcpListener::bind(addr.as_str()).await?;
    println!("chat on {}", listener.local_addr()?);
    serve(listener).await
}

async fn serve(listener: TcpListener) -> std::io::Result<()> {
    let room: Room = Arc::default();
    let mut next_id = 0;
    loop {
        let (stream, _) = listener.accept().await?;
        next_id += 1;
        let room = room.clone();
        let id = next_id;
        weft::spawn(async move {
            if let Err(e) = client(room, id, stream).await {
                eprintln!("client {id}: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use weft::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use weft::net::TcpStream;

    async fn line(r: &mut BufReader<weft::net::OwnedReadHalf>) -> String {
        let mut s = String::new();
        weft::time::timeout(std::time::Duration::from_secs(60), r.read_line(&mut s))
            .await
            .expect("hung")
            .unwrap();
        s
    }

    #[weft::test]
    async fn join_broadcast_leave() {
        let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        weft::spawn(super::serve(listener));
        let (ar, mut aw) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut ar = BufReader::new(ar);
        aw.write_all(b"ada\n").await.unwrap();
        assert_eq!(line(&mut ar).await, "name? welcome, ada\n");
        let (br, mut bw) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut br = BufReader::new(br);
        bw.write_all(b"bob\n").await.unwrap();
        assert_eq!(line(&mut br).await, "name? welcome, bob\n");
        assert_eq!(line(&mut ar).await, "* bob joined\n");
        bw.write_all(b"hi all\n").await.unwrap();
        assert_eq!(line(&mut ar).await, "bob: hi all\n");
        drop(bw);
        drop(br);
        assert_eq!(line(&mut ar).await, "* bob left\n");
    }
}

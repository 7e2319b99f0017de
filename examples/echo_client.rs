//! Sends a few lines to the echo server and prints what comes back.
//!
//! `cargo run --example echo_client [ADDR] [LINE...]`

use weft::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use weft::net::TcpStream;

#[weft::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7000".into());
    let mut lines: Vec<String> = args.collect();
    if lines.is_empty() {
        lines = vec!["hello".into(), "from".into(), "weft".into()];
    }
    for back in exchange(&addr, &lines).await? {
        println!("echoed: {back}");
    }
    Ok(())
}

/// Sends each line, returns what came back for each.
async fn exchange(addr: &str, lines: &[String]) -> std::io::Result<Vec<String>> {
    let stream = TcpStream::connect(addr).await?;
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut out = Vec::new();
    for line in lines {
        writer.write_all(format!("{line}\n").as_bytes()).await?;
        let mut back = String::new();
        reader.read_line(&mut back).await?;
        out.push(back.trim_end().to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use weft::io::AsyncWriteExt;

    #[weft::test]
    async fn gets_its_lines_back() {
        let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        weft::spawn(async move {
            let (mut c, _) = listener.accept().await.unwrap();
            let mut buf = [0; 1024];
            loop {
                match c.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => c.write_all(&buf[..n]).await.unwrap(),
                }
            }
        });
        let lines = vec!["a".to_string(), "bc".to_string()];
        let back = super::exchange(&addr.to_string(), &lines).await.unwrap();
        assert_eq!(back, lines);
    }
}

//! A client for the `chat` example that reads what you type from stdin: the lines of
//! stdin go to the server, the lines of the server go to stdout, both at once, until
//! stdin ends (Ctrl-D) and the server has said all it had to say.
//!
//! `cargo run --example chat` in one terminal, then `cargo run --example chat_client
//! [ADDR]` (default 127.0.0.1:7001) in a few others: the first line you type is your name.

use weft::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use weft::net::TcpStream;
use weft::stream::StreamExt;

/// Copies stdin's lines to `addr` and `addr`'s lines to stdout.
async fn run(addr: &str) -> std::io::Result<()> {
    let stream = TcpStream::connect(addr).await?;
    let (reader, mut writer) = stream.into_split();
    // weft's stdin reads on the blocking pool, so waiting for a line blocks no worker.
    let typed = weft::spawn(async move {
        let mut lines = BufReader::new(weft::io::stdin()).lines();
        while let Some(line) = lines.next().await {
            writer.write_all(format!("{}\n", line?).as_bytes()).await?;
        }
        // End of input: tell the server we are done writing (it may still answer).
        writer.close().await
    });
    let mut out = weft::io::stdout();
    let mut heard = BufReader::new(reader).lines();
    while let Some(line) = heard.next().await {
        out.write_all(format!("{}\n", line?).as_bytes()).await?;
    }
    out.flush().await?;
    typed.await??;
    Ok(())
}

#[weft::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7001".into());
    run(&addr).await
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};

    /// The child half: runs the client against the address in the environment, with the
    /// stdin the parent pipes in.
    #[test]
    // Ignored: it is the client half of `typed_lines_go_out_and_answers_come_back`, which
    // starts this binary again with `--ignored --exact`, the server's address and a piped
    // stdin; run alone it has no server to talk to.
    #[ignore = "run by `typed_lines_go_out_and_answers_come_back` in a child process"]
    fn child_client() {
        let addr = std::env::var("WEFT_CHAT_ADDR").expect("started by the parent test");
        weft::run(super::run(&addr)).unwrap();
    }

    #[test]
    fn typed_lines_go_out_and_answers_come_back() {
        // A stand-in server: answers each line with "echo: LINE", closes at end of input.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let mut w = conn.try_clone().unwrap();
            for line in BufReader::new(conn).lines() {
                writeln!(w, "echo: {}", line.unwrap()).unwrap();
            }
        });
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "tests::child_client", "--ignored", "--nocapture"])
            .env("WEFT_CHAT_ADDR", addr.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"alice\nhello everyone\n")
            .unwrap(); // dropped here: the client's stdin ends
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert!(child.wait().unwrap().success(), "the client failed:\n{out}");
        server.join().unwrap();
        assert!(out.contains("echo: alice\necho: hello everyone\n"), "{out}");
    }
}

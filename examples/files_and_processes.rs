//! Files, a subprocess and a thread, asyncio style: `aiofiles` / file operations,
//! `create_subprocess_exec` with `communicate()`, and `asyncio.to_thread`.
//!
//! `cargo run --example files_and_processes`

use std::time::Instant;
use weft::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use weft::process::{Command, Stdio};
use weft::stream::StreamExt;

#[weft::main]
async fn main() -> std::io::Result<()> {
    let dir = std::env::temp_dir().join(format!("weft-example-{}", std::process::id()));
    weft::fs::create_dir_all(&dir).await?;

    // File operations: each is one call on weft's blocking pool; `File` buffers, so these
    // hundred small writes cost a single trip to the pool when it is flushed.
    let path = dir.join("lines.txt");
    let mut file = weft::fs::File::create(&path).await?;
    for i in 0..100 {
        file.write_all(format!("line {i}\n").as_bytes()).await?;
    }
    file.flush().await?;
    let mut lines = BufReader::new(weft::fs::File::open(&path).await?).lines();
    let mut count = 0;
    while let Some(line) = lines.next().await {
        line?;
        count += 1;
    }
    println!("wrote and read back {count} lines of {}", path.display());
    assert_eq!(count, 100);

    // create_subprocess_exec + communicate(): write to the child's stdin, read its stdout,
    // wait for it; the pipes and the exit are watched by weft's reactor.
    let mut child = Command::new("sort")
        .arg("-r")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(b"apple\ncherry\nbanana\n").await?;
    drop(stdin); // end of input: sort can answer
    let mut sorted = String::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut sorted)
        .await?;
    let status = child.wait().await?;
    println!(
        "sort -r said {:?} and exited with {status}",
        sorted.lines().collect::<Vec<_>>()
    );
    assert_eq!(sorted, "cherry\nbanana\napple\n");

    // asyncio.to_thread: blocking work on the blocking pool, awaited like a task.
    let start = Instant::now();
    let entries = weft::task::spawn_blocking({
        let dir = dir.clone();
        move || std::fs::read_dir(dir).map(|d| d.count())
    })
    .await??;
    println!("to_thread: {entries} entry in {:?}", start.elapsed());

    // The directory, listed as a stream, then removed.
    let mut names = Vec::new();
    let mut listing = weft::fs::read_dir(&dir).await?;
    while let Some(entry) = listing.next().await {
        names.push(entry?.file_name());
    }
    assert_eq!(names.len(), 1);
    weft::fs::remove_dir_all(&dir).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_to_the_end() {
        super::main().unwrap();
    }
}

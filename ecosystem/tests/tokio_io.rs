//! The facade's `tokio-io` feature: tokio's I/O traits on weft's sockets and files, with
//! no tokio runtime anywhere.

use std::future::poll_fn;
use std::io::SeekFrom;
use std::pin::Pin;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeek, AsyncSeekExt, AsyncWriteExt};

/// tokio's extension traits drive weft's sockets on weft's workers; no tokio runtime is
/// current there (tokio's `Handle::try_current` fails in weft's tasks and in `block_on`).
#[test]
fn tokio_traits_on_weft_sockets_without_a_tokio_runtime() {
    weft::run(async {
        assert!(tokio::runtime::Handle::try_current().is_err());
        let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = weft::spawn(async move {
            assert!(tokio::runtime::Handle::try_current().is_err());
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut line = [0; 5];
            conn.read_exact(&mut line).await.unwrap();
            conn.write_all(&line).await.unwrap();
            // (`shutdown(how)` of weft's own TcpStream has tokio's name taken: call the trait's.)
            AsyncWriteExt::shutdown(&mut conn).await.unwrap();
        });
        let client = weft::spawn(async move {
            assert!(tokio::runtime::Handle::try_current().is_err());
            let mut conn = weft::net::TcpStream::connect(addr).await.unwrap();
            conn.write_all(b"hello").await.unwrap();
            let mut back = Vec::new();
            conn.read_to_end(&mut back).await.unwrap();
            back
        });
        assert_eq!(client.await.unwrap(), b"hello");
        server.await.unwrap();
    });
}

/// `cargo tree -e features` of the facade with `tokio-io` on: tokio is there, without any
/// of its `rt`, `net` or `time` features (so no tokio runtime, reactor or timer can exist).
#[test]
fn the_feature_brings_tokios_traits_only() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = std::process::Command::new(cargo)
        .args(["tree", "--offline", "--manifest-path", manifest])
        .args([
            "-p",
            "weft",
            "--features",
            "weft/tokio-io",
            "-e",
            "features",
        ])
        .args(["-i", "tokio", "--prefix", "none"])
        .output()
        .expect("cargo runs");
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        tree.lines().any(|l| l.starts_with("tokio v1")),
        "tokio is in the tree:\n{tree}"
    );
    let enabled: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.strip_prefix("tokio feature \""))
        .filter_map(|l| l.split('"').next())
        .collect();
    for forbidden in ["rt", "rt-multi-thread", "net", "time", "default", "full"] {
        assert!(
            !enabled.contains(&forbidden),
            "tokio feature {forbidden:?} is on: {enabled:?}\n{tree}"
        );
    }
}

/// The byte at offset `i` of the test files.
fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("weft-tokio-seek-{name}-{}", std::process::id()))
}

/// tokio's `AsyncSeekExt` on weft's `File` while the read-ahead pipeline runs: the
/// position a seek reports and the bytes read after it count from what the caller read,
/// not from how far the background read-ahead got.
#[test]
fn tokio_seek_accounts_for_read_ahead() {
    const LEN: usize = 3 * 1024 * 1024;
    let path = temp_path("read");
    let data: Vec<u8> = (0..LEN).map(pattern).collect();
    std::fs::write(&path, &data).unwrap();
    weft::run(async move {
        assert!(tokio::runtime::Handle::try_current().is_err());
        let mut file = weft::fs::File::open(&path).await.unwrap();
        // Sequential 10 KB reads: past two fills the file streams, 256 KiB pieces read
        // ahead up to 2 MiB past the caller.
        let mut buf = vec![0; 10_000];
        let mut at = 0;
        while at < 700_000 {
            file.read_exact(&mut buf).await.unwrap();
            assert!(buf.iter().enumerate().all(|(i, &b)| b == pattern(at + i)));
            at += buf.len();
        }
        assert_eq!(file.stream_position().await.unwrap(), at as u64);
        // Relative to the caller's position: back 123 bytes.
        assert_eq!(
            file.seek(SeekFrom::Current(-123)).await.unwrap(),
            (at - 123) as u64
        );
        let mut word = [0; 8];
        file.read_exact(&mut word).await.unwrap();
        assert_eq!(word.to_vec(), data[at - 123..at - 115].to_vec());

        // From the start, far ahead.
        assert_eq!(
            file.seek(SeekFrom::Start(2_000_001)).await.unwrap(),
            2_000_001
        );
        file.read_exact(&mut word).await.unwrap();
        assert_eq!(word.to_vec(), data[2_000_001..2_000_009].to_vec());

        // Relative to the end: the last 10 bytes, then the end of the file.
        assert_eq!(
            file.seek(SeekFrom::End(-10)).await.unwrap(),
            (LEN - 10) as u64
        );
        let mut tail = Vec::new();
        file.read_to_end(&mut tail).await.unwrap();
        assert_eq!(tail, data[LEN - 10..].to_vec());
        assert_eq!(file.seek(SeekFrom::End(0)).await.unwrap(), LEN as u64);

        // Before the start: the OS's InvalidInput, and the file is still usable.
        let e = file
            .seek(SeekFrom::End(-(LEN as i64) - 1))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(file.seek(SeekFrom::Start(5)).await.unwrap(), 5);
        file.read_exact(&mut word).await.unwrap();
        assert_eq!(word.to_vec(), data[5..13].to_vec());
        weft::fs::remove_file(&path).await.unwrap();
    });
}

/// Seeks between buffered writes (collected, then written behind in 64 KiB chunks) and
/// buffered reads (`AsyncBufRead`): a seek first hands every written byte to the OS, and
/// counts a partly consumed read buffer from what was consumed.
#[test]
fn tokio_seek_between_buffered_writes_and_reads() {
    let path = temp_path("write");
    weft::run(async move {
        let mut file = weft::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .unwrap();
        // Ten bytes, buffered, not flushed: the seek writes them first.
        file.write_all(b"0123456789").await.unwrap();
        assert_eq!(file.seek(SeekFrom::Start(2)).await.unwrap(), 2);
        let mut three = [0; 3];
        file.read_exact(&mut three).await.unwrap();
        assert_eq!(&three, b"234");

        // Overwrite in the middle, after a read: the write lands at the caller's
        // position (5), not where the read's buffer left the OS.
        file.write_all(b"XY").await.unwrap();
        assert_eq!(file.stream_position().await.unwrap(), 7);

        // 600 KB more at the end: several chunks written behind the caller.
        assert_eq!(file.seek(SeekFrom::End(0)).await.unwrap(), 10);
        let big: Vec<u8> = (0..600_000).map(pattern).collect();
        file.write_all(&big).await.unwrap();
        assert_eq!(
            file.seek(SeekFrom::Current(0)).await.unwrap(),
            600_010,
            "the position counts the bytes still being written behind"
        );
        assert_eq!(file.seek(SeekFrom::End(-3)).await.unwrap(), 600_007);
        let mut last = Vec::new();
        file.read_to_end(&mut last).await.unwrap();
        assert_eq!(last, big[big.len() - 3..].to_vec());

        // Through the buffer: fill it, consume part of it, and the position is what was
        // consumed.
        file.seek(SeekFrom::Start(0)).await.unwrap();
        let head = file.fill_buf().await.unwrap().to_vec();
        assert!(head.len() >= 10, "{} bytes buffered", head.len());
        assert_eq!(&head[..10], b"01234XY789");
        file.consume(4);
        assert_eq!(file.stream_position().await.unwrap(), 4);
        file.read_exact(&mut three).await.unwrap();
        assert_eq!(&three, b"4XY");
        drop(file);

        let back = std::fs::read(&path).unwrap();
        assert_eq!(&back[..10], b"01234XY789");
        assert_eq!(&back[10..], &big[..]);
        weft::fs::remove_file(&path).await.unwrap();
    });
}

/// tokio's two steps by hand: a second `start_seek` before `poll_complete` is refused
/// with an error that says what to do; a started seek that is never completed is made
/// before the next read.
#[test]
fn tokio_start_seek_and_poll_complete() {
    let path = temp_path("steps");
    std::fs::write(&path, b"abcdefghij").unwrap();
    weft::run(async move {
        let mut file = weft::fs::File::open(&path).await.unwrap();
        // None started: the answer comes at once, no blocking call.
        let none = poll_fn(|cx| Pin::new(&mut file).poll_complete(cx)).await;
        assert_eq!(none.unwrap(), 0);

        Pin::new(&mut file).start_seek(SeekFrom::Start(3)).unwrap();
        let e = Pin::new(&mut file)
            .start_seek(SeekFrom::Start(4))
            .unwrap_err();
        assert!(e.to_string().contains("call poll_complete"), "{e}");
        let at = poll_fn(|cx| Pin::new(&mut file).poll_complete(cx)).await;
        assert_eq!(at.unwrap(), 3);
        let mut two = [0; 2];
        file.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"de");

        // Started, never completed: the read makes it first.
        Pin::new(&mut file).start_seek(SeekFrom::End(-2)).unwrap();
        file.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"ij");
        // Completed by that read: another seek may start.
        Pin::new(&mut file).start_seek(SeekFrom::Start(0)).unwrap();
        assert_eq!(
            poll_fn(|cx| Pin::new(&mut file).poll_complete(cx))
                .await
                .unwrap(),
            0
        );
        weft::fs::remove_file(&path).await.unwrap();
    });
}

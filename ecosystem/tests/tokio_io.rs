//! The facade's `tokio-io` feature: tokio's I/O traits on weft's sockets, with no tokio
//! runtime anywhere.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

//! `accept` running out of file descriptors returns `EMFILE` as an error, and the listener
//! keeps working once descriptors are free again.
//!
//! Alone in its own test binary (so its own process): it lowers the process's descriptor
//! limit, which would disturb tests running beside it.

#![cfg(not(weft_loom))]

mod common;

use common::{bounded, runtime};
use weft_executor::spawn;
use weft_reactor::{TcpListener, TcpStream};

fn nofile() -> libc::rlimit {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
    r
}

fn set_nofile(r: libc::rlimit) {
    // SAFETY: setrlimit reads the struct we pass; lowering the soft limit is always allowed.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) }, 0);
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(64, |d| d.count() as u64)
}

#[test]
fn emfile_on_accept_is_an_error_and_the_listener_survives() {
    let rt = runtime(1);
    let original = nofile();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Ten connections wait in the backlog (their client sides are open here too).
        let clients: Vec<_> = (0..10)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        // Room for two more descriptors only.
        set_nofile(libc::rlimit {
            rlim_cur: open_fds() + 2,
            rlim_max: original.rlim_max,
        });
        let mut accepted = Vec::new();
        let mut emfile = None;
        for _ in 0..clients.len() {
            match bounded(listener.accept()).await {
                Ok((s, _)) => accepted.push(s),
                Err(e) => {
                    emfile = Some(e);
                    break;
                }
            }
        }
        let e = emfile.expect("accept never ran out of descriptors");
        assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e:?}");
        // Free descriptors: the listener works again, and the pending connection is there.
        set_nofile(original);
        drop(accepted);
        let c = spawn(async move { TcpStream::connect(addr).await.unwrap() });
        let (s, _) = bounded(listener.accept()).await.unwrap();
        drop(s);
        c.await.unwrap();
    });
}

//! After children of every kind (waited for, dropped running, dropped exited, killed on
//! drop, collected with `output`), on both exit paths, no zombie of this process remains.
//! One test, so that nothing else in the process spawns meanwhile.

#![cfg(all(target_os = "linux", not(weft_loom)))]

mod common;

use common::{bounded, runtime, HANG};
use std::time::{Duration, Instant};
use weft_reactor::process::{use_sigchld_reaper, Command, Stdio};

/// The pids of this process's children that are zombies, from /proc/*/stat.
fn zombies() -> Vec<u32> {
    children(|state| state == "Z")
}

/// The pids of this process's children whose state passes `keep`, from /proc/*/stat.
fn children(keep: impl Fn(&str) -> bool) -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            let rest = &stat[stat.rfind(')')? + 2..];
            let mut fields = rest.split(' ');
            let state = fields.next()?;
            let ppid: u32 = fields.next()?.parse().ok()?;
            (keep(state) && ppid == me).then_some(pid)
        })
        .collect()
}

#[test]
fn no_zombie_remains_after_children_of_every_kind() {
    // The scan sees a zombie: a std child, not waited for, once it exited.
    let mut unreaped = std::process::Command::new("true").spawn().unwrap();
    let deadline = Instant::now() + HANG;
    while !zombies().contains(&unreaped.id()) {
        assert!(Instant::now() < deadline, "the scan does not see zombies");
        std::thread::sleep(Duration::from_millis(5));
    }
    unreaped.wait().unwrap();
    assert!(zombies().is_empty());

    for sigchld in [false, true] {
        use_sigchld_reaper(sigchld);
        let rt = runtime(2);
        rt.block_on(async {
            let mut waited = Command::new("true").spawn().unwrap();
            bounded(waited.wait()).await.unwrap();
            let out = bounded(Command::new("echo").arg("x").output())
                .await
                .unwrap();
            assert_eq!(out.stdout, b"x\n");
            bounded(Command::new("false").status()).await.unwrap();
            for _ in 0..20 {
                drop(Command::new("true").spawn().unwrap());
                drop(
                    Command::new("sh")
                        .args(["-c", "sleep 0.05"])
                        .spawn()
                        .unwrap(),
                );
                drop(
                    Command::new("sleep")
                        .arg("1000")
                        .kill_on_drop(true)
                        .stdout(Stdio::piped())
                        .spawn()
                        .unwrap(),
                );
            }
            // Reaped by the runtime as they exit, with no further spawn. Wait until no
            // child is left at all, running or not: a child still running when the
            // runtime goes away is only reaped at a later spawn (see the end of the test).
            let deadline = Instant::now() + HANG;
            while !children(|_| true).is_empty() && Instant::now() < deadline {
                weft_timer::sleep(Duration::from_millis(10)).await;
            }
        });
        let left = zombies();
        assert!(
            left.is_empty(),
            "zombies left (SIGCHLD path: {sigchld}): {left:?}"
        );
    }
    // Children still running when the runtime went away are reaped at the next spawn
    // (in a new runtime) or by its reaper.
    use_sigchld_reaper(false);
    let rt = runtime(1);
    rt.block_on(async {
        drop(
            Command::new("sh")
                .args(["-c", "sleep 0.05"])
                .spawn()
                .unwrap(),
        );
    });
    drop(rt);
    std::thread::sleep(Duration::from_millis(200));
    let rt = runtime(1);
    rt.block_on(async {
        bounded(Command::new("true").status()).await.unwrap();
    });
    let left = zombies();
    assert!(
        left.is_empty(),
        "zombies left after a runtime shut down: {left:?}"
    );
}

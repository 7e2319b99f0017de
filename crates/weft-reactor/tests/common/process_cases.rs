// Child-process tests, included by `process.rs` (exit heard through pidfds where the
// kernel has them) and `process_sigchld.rs` (through SIGCHLD), which each define
// `SIGCHLD_REAPER` first.

use common::{bounded, runtime, HANG};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};
use weft_executor::{spawn, Runtime};
use weft_reactor::process::{Command, Stdio};

fn rt() -> Runtime {
    weft_reactor::process::use_sigchld_reaper(SIGCHLD_REAPER);
    runtime(2)
}

fn sh(script: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(script);
    c
}

/// True while `pid` names a process (a zombie included) in /proc.
fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn cat_echoes_what_is_written_to_it() {
    rt().block_on(async {
        let mut cat = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let data: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let mut stdin = cat.stdin.take().unwrap();
        let to_write = data.clone();
        // More than any pipe holds: written while the other side is read.
        let writer = spawn(async move {
            stdin.write_all(&to_write).await.unwrap();
            stdin.close().await.unwrap();
        });
        let mut echoed = Vec::new();
        let mut stdout = cat.stdout.take().unwrap();
        bounded(stdout.read_to_end(&mut echoed)).await.unwrap();
        bounded(writer).await.unwrap();
        assert!(echoed == data, "cat echoed {} bytes of {}", echoed.len(), data.len());
        assert!(bounded(cat.wait()).await.unwrap().success());
    });
}

#[test]
fn exit_codes_and_signals_come_back() {
    rt().block_on(async {
        for code in [0, 1, 7, 255] {
            let status = bounded(sh(&format!("exit {code}")).status()).await.unwrap();
            assert_eq!(status.code(), Some(code));
            assert_eq!(status.signal(), None);
        }
        for (name, num) in [("TERM", libc::SIGTERM), ("KILL", libc::SIGKILL), ("USR1", libc::SIGUSR1)] {
            let status = bounded(sh(&format!("kill -{name} $$")).status()).await.unwrap();
            assert_eq!(status.signal(), Some(num), "{name}");
            assert_eq!(status.code(), None);
        }
    });
}

#[test]
fn kill_stops_a_child() {
    rt().block_on(async {
        let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
        let pid = child.id().unwrap();
        assert!(child.try_wait().unwrap().is_none());
        bounded(child.kill()).await.unwrap();
        let status = child.try_wait().unwrap().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert_eq!(child.id(), None);
        assert!(!exists(pid), "the killed child was not reaped");
        assert_eq!(child.start_kill().unwrap_err().kind(), ErrorKind::InvalidInput);

        // start_kill, then wait, from another task.
        let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
        child.start_kill().unwrap();
        let status = bounded(spawn(async move { child.wait().await })).await.unwrap();
        assert_eq!(status.unwrap().signal(), Some(libc::SIGKILL));
    });
}

#[test]
fn two_hundred_concurrent_children() {
    rt().block_on(async {
        let started = Instant::now();
        let children: Vec<_> = (0..200)
            .map(|i| {
                spawn(async move {
                    let out = sh("sleep 0.2; echo $0")
                        .arg(i.to_string())
                        .output()
                        .await
                        .unwrap();
                    assert!(out.status.success());
                    assert_eq!(out.stdout, format!("{i}\n").as_bytes());
                    i
                })
            })
            .collect();
        let mut seen = Vec::new();
        for c in children {
            seen.push(bounded(c).await.unwrap());
        }
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
        // They ran at once, not one after another (200 x 0.2 s = 40 s).
        assert!(started.elapsed() < HANG / 2, "{:?}", started.elapsed());
    });
}

#[test]
fn a_child_that_closes_its_stdout_early() {
    rt().block_on(async {
        let mut child = sh("echo first; exec >&-; sleep 0.2; echo gone >&2; exit 3")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = String::new();
        // End of file as soon as the child closed it, while it still runs.
        bounded(child.stdout.take().unwrap().read_to_string(&mut out))
            .await
            .unwrap();
        assert_eq!(out, "first\n");
        let mut err = String::new();
        bounded(child.stderr.take().unwrap().read_to_string(&mut err))
            .await
            .unwrap();
        assert_eq!(err, "gone\n");
        assert_eq!(bounded(child.wait()).await.unwrap().code(), Some(3));
    });
}

#[test]
fn a_child_that_never_reads_its_stdin() {
    rt().block_on(async {
        let mut child = sh("printf done")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let big = vec![7u8; 16 * 1024 * 1024];
        // The write blocks on the full pipe until the child exits, then fails: a closed
        // pipe is BrokenPipe (SIGPIPE is ignored), not a panic nor a hang.
        let (written, output) = bounded(future::zip(
            async move { stdin.write_all(&big).await },
            child.wait_with_output(),
        ))
        .await;
        assert_eq!(written.unwrap_err().kind(), ErrorKind::BrokenPipe);
        let output = output.unwrap();
        assert!(output.status.success());
        assert_eq!(output.stdout, b"done");
    });
}

#[test]
fn output_reads_both_pipes_at_once() {
    rt().block_on(async {
        // 2 MB to each pipe at the same time: a parent reading one pipe to its end before
        // the other would deadlock once the other fills.
        let out = bounded(
            sh("(yes out | head -c 2000000) & (yes err | head -c 2000000 >&2); wait").output(),
        )
        .await
        .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), 2_000_000);
        assert_eq!(out.stderr.len(), 2_000_000);
        assert!(out.stdout.starts_with(b"out\nout\n"));
        assert!(out.stderr.starts_with(b"err\nerr\n"));
        // stdin is null for output(): cat reads end of file at once.
        let out = bounded(Command::new("cat").output()).await.unwrap();
        assert!(out.status.success() && out.stdout.is_empty());
    });
}

#[test]
fn environment_directory_and_arguments() {
    rt().block_on(async {
        let out = bounded(
            Command::new("/bin/sh")
                .args(["-c", "echo \"[$A][$B][$C][$(pwd)][$0]\"", "zero"])
                .env_clear()
                .env("A", "a")
                .envs([("B", "b"), ("C", "c")])
                .env_remove("C")
                .current_dir("/")
                .output(),
        )
        .await
        .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "[a][b][][/][zero]\n");
        let out = bounded(Command::new("env").env_clear().output()).await.unwrap();
        assert!(out.stdout.is_empty(), "{:?}", String::from_utf8_lossy(&out.stdout));
    });
}

#[test]
fn errors_are_returned() {
    rt().block_on(async {
        let err = Command::new("/nonexistent/program").spawn().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    });
    // Outside a runtime nothing is started.
    let err = Command::new("true").spawn().unwrap_err();
    assert!(err.to_string().contains("reactor"), "{err}");
}

#[test]
fn dropped_children_are_reaped() {
    rt().block_on(async {
        // Killed on drop.
        let child = Command::new("sleep")
            .arg("1000")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let killed = child.id().unwrap();
        drop(child);
        // Dropped running, exits by itself soon after.
        let child = sh("sleep 0.1").spawn().unwrap();
        let exits = child.id().unwrap();
        drop(child);
        // Exited before the drop.
        let mut child = Command::new("true").spawn().unwrap();
        let done = child.id().unwrap();
        while !std::fs::read_to_string(format!("/proc/{done}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
        {
            weft_timer::sleep(Duration::from_millis(5)).await;
        }
        drop(child.stdin.take());
        drop(child);
        assert!(!exists(done), "an exited child was left a zombie by its drop");
        // The others are reaped by the runtime when they exit, with no further activity.
        let deadline = Instant::now() + HANG;
        while (exists(killed) || exists(exits)) && Instant::now() < deadline {
            weft_timer::sleep(Duration::from_millis(10)).await;
        }
        assert!(!exists(killed), "the child killed on drop was not reaped");
        assert!(!exists(exits), "the dropped child was not reaped after it exited");
    });
}

#[test]
fn try_wait_sees_the_exit() {
    rt().block_on(async {
        let mut child = sh("sleep 0.1").spawn().unwrap();
        assert!(child.try_wait().unwrap().is_none());
        let deadline = Instant::now() + HANG;
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "try_wait never saw the exit");
            weft_timer::sleep(Duration::from_millis(10)).await;
        };
        assert!(status.success());
        // wait after try_wait gives the same status.
        assert!(bounded(child.wait()).await.unwrap().success());
    });
}

/// Descriptors of this process that are pidfds.
fn pidfds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().contains("pidfd"))
        .count()
}

#[test]
fn exit_is_heard_through_the_path_under_test() {
    rt().block_on(async {
        let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
        let pidfd_kernel = std::path::Path::new("/proc/self/fd").exists()
            && weft_reactor::process::pidfd_supported();
        if SIGCHLD_REAPER || !pidfd_kernel {
            assert_eq!(pidfds(), 0, "a pidfd was opened on the SIGCHLD path");
        } else {
            assert!(pidfds() >= 1, "no pidfd for the child");
        }
        bounded(child.kill()).await.unwrap();
    });
}

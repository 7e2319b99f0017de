//! Knowing when a child exits, on the reactor, and reaping the children dropped early.
//!
//! On Linux each child gets a pidfd (`pidfd_open`), registered in the reactor: it becomes
//! readable when the child exits, and the waiting task then reaps it with `waitpid`.
//! Where pidfds are missing (kernels before 5.3, `ENOSYS`; or refused by a sandbox) the
//! waiting task listens to `SIGCHLD` instead and tries `waitpid` on its child after each
//! burst. Neither needs a thread.
//!
//! A child dropped before it was reaped goes to the orphan list. Orphans are reaped at
//! every spawn, and by one reaper task (at most one per process) that listens to
//! `SIGCHLD` while the list is not empty. So no zombie outlives its exit for longer than
//! it takes the runtime to hear the `SIGCHLD`.

use crate::signal::{signal, Signal, SignalKind};
use crate::Async;
use parking_lot::Mutex;
use std::io;
use std::os::fd::OwnedFd;
use std::process::{Child as StdChild, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::task::{Context, Poll};

/// How a child's exit is heard.
pub(super) enum Exit {
    /// Readable once the child exited.
    Pidfd(Async<OwnedFd>),
    /// Woken after each burst of `SIGCHLD`.
    Sigchld(Signal),
}

/// False once `pidfd_open` failed with "not supported here": every later child listens to
/// `SIGCHLD`.
static PIDFD_WORKS: AtomicBool =
    AtomicBool::new(cfg!(any(target_os = "linux", target_os = "android")));

/// Makes every child spawned from now on use the `SIGCHLD` path (or, with `false`, pidfds
/// again where they work). For tests of the fallback.
#[doc(hidden)]
pub fn use_sigchld_reaper(yes: bool) {
    FORCE_SIGCHLD.store(yes, SeqCst);
}

static FORCE_SIGCHLD: AtomicBool = AtomicBool::new(false);

/// False once `pidfd_open` was found missing or refused (then every child uses the
/// `SIGCHLD` path). For tests.
#[doc(hidden)]
pub fn pidfd_supported() -> bool {
    PIDFD_WORKS.load(SeqCst)
}

impl Exit {
    /// Starts watching the child `pid`.
    pub(super) fn watch(pid: u32) -> io::Result<Exit> {
        if PIDFD_WORKS.load(SeqCst) && !FORCE_SIGCHLD.load(SeqCst) {
            match pidfd_open(pid) {
                Ok(fd) => return Ok(Exit::Pidfd(Async::new(fd)?)),
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
                    PIDFD_WORKS.store(false, SeqCst);
                }
                // Anything else (out of descriptors, say): this child alone does without.
                Err(_) => {}
            }
        }
        Ok(Exit::Sigchld(signal(SignalKind::child())?))
    }

    /// Polls `child` until it exits, reaping it.
    pub(super) fn poll_wait(
        &mut self,
        child: &mut StdChild,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ExitStatus>> {
        match self {
            Exit::Pidfd(fd) => fd.poll_read_with(cx, |_| {
                child
                    .try_wait()?
                    .ok_or_else(|| io::ErrorKind::WouldBlock.into())
            }),
            Exit::Sigchld(sigchld) => loop {
                // Tried before the listener is polled: a SIGCHLD after the try is one the
                // listener has not seen yet.
                if let Some(status) = child.try_wait()? {
                    return Poll::Ready(Ok(status));
                }
                match sigchld.poll_recv(cx) {
                    Poll::Ready(Some(())) => continue,
                    Poll::Ready(None) => {
                        return Poll::Ready(Err(io::Error::other(
                            "the weft runtime shut down while waiting for a child process",
                        )))
                    }
                    Poll::Pending => return Poll::Pending,
                }
            },
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: pidfd_open(2) takes a pid and flags (none) and returns a new descriptor
    // (close-on-exec) or -1; it touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = std::os::fd::RawFd::try_from(fd).map_err(|_| io::ErrorKind::InvalidData)?;
    // SAFETY: the kernel just returned this descriptor, open and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn pidfd_open(_pid: u32) -> io::Result<OwnedFd> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// Children dropped before they were reaped.
static ORPHANS: Mutex<Vec<StdChild>> = Mutex::new(Vec::new());

/// A reaper task is running (or spawned and not yet dropped).
static REAPER: AtomicBool = AtomicBool::new(false);

/// Reaps the orphans that exited; true if none is left.
pub(super) fn reap_orphans() -> bool {
    let mut orphans = ORPHANS.lock();
    // An error (ECHILD: somebody else reaped it) also means there is nothing left to reap.
    orphans.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
    orphans.is_empty()
}

/// Hands over a child dropped before it was reaped.
pub(super) fn adopt(child: StdChild) {
    ORPHANS.lock().push(child);
    start_reaper();
}

/// Clears `REAPER` when the reaper task ends or is dropped (even unpolled, at shutdown).
struct ReaperFlag {
    /// The task saw the list empty (rather than being dropped with its runtime).
    finished: bool,
}

impl Drop for ReaperFlag {
    fn drop(&mut self) {
        REAPER.store(false, SeqCst);
        // An orphan adopted after the task's last look but before this store saw the
        // flag still set and did not start a reaper: start one for it. (Not after a
        // cancelled task: its runtime is shutting down and would cancel the next too.)
        if self.finished && !ORPHANS.lock().is_empty() {
            start_reaper();
        }
    }
}

/// Spawns the reaper task on the current runtime, unless one runs. Outside a runtime, the
/// orphans wait for the next spawn or the next reaper.
fn start_reaper() {
    let Ok(handle) = weft_executor::Handle::try_current() else {
        return;
    };
    if handle.extension::<crate::Reactor>().is_none() || REAPER.swap(true, SeqCst) {
        return;
    }
    let flag = ReaperFlag { finished: false };
    // A spawn during shutdown drops the task unpolled, and with it the flag.
    drop(handle.spawn(async move {
        let mut flag = flag; // The whole flag, not just its field, belongs to the task.
        let Ok(mut sigchld) = signal(SignalKind::child()) else {
            return;
        };
        // The listener exists before this first look: an orphan that exits later sends
        // a SIGCHLD it sees.
        while !reap_orphans() {
            if sigchld.recv().await.is_none() {
                return;
            }
        }
        flag.finished = true;
    }));
}

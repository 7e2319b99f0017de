//! Child processes: [`Command`] and [`Child`], named and shaped as tokio's, on weft's
//! reactor.
//!
//! A `Command` wraps [`std::process::Command`]; the pipes of a spawned child are made
//! non-blocking on the parent's side and registered in the reactor, and the child's exit
//! is heard on the reactor (a pidfd on Linux, `SIGCHLD` elsewhere): no thread per child.
//!
//! No zombie is left behind: a [`Child`] dropped before its process exited hands the
//! process to an orphan list that the runtime reaps (see [`Child`]'s drop).
//!
//! # Examples
//!
//! ```
//! use weft_reactor::process::Command;
//! # let rt = weft_reactor::install(&mut weft_executor::Builder::new()).unwrap().build().unwrap();
//! rt.block_on(async {
//!     let out = Command::new("echo").arg("hello").output().await.unwrap();
//!     assert!(out.status.success());
//!     assert_eq!(out.stdout, b"hello\n");
//! });
//! ```

mod pipe;
mod reap;

pub use pipe::{ChildStderr, ChildStdin, ChildStdout};
#[doc(hidden)]
pub use reap::{pidfd_supported, use_sigchld_reaper};
pub use std::process::{ExitStatus, Output, Stdio};

use reap::Exit;
use std::ffi::OsStr;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::path::Path;
use std::process::Child as StdChild;
use std::task::{Context, Poll};

/// A process to start: program, arguments, environment, working directory, standard
/// streams. Like [`std::process::Command`] (which it wraps; see
/// [`as_std_mut`](Command::as_std_mut) for the Unix extensions), with async `status`,
/// `output` and a [`Child`] that is awaited.
///
/// # Examples
///
/// ```
/// use weft_reactor::process::{Command, Stdio};
/// # let rt = weft_reactor::install(&mut weft_executor::Builder::new()).unwrap().build().unwrap();
/// rt.block_on(async {
///     let status = Command::new("sh")
///         .args(["-c", "exit $CODE"])
///         .env("CODE", "3")
///         .stdout(Stdio::null())
///         .status()
///         .await
///         .unwrap();
///     assert_eq!(status.code(), Some(3));
/// });
/// ```
pub struct Command {
    std: std::process::Command,
    kill_on_drop: bool,
    stdin_set: bool,
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.std, f)
    }
}

impl From<std::process::Command> for Command {
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            kill_on_drop: false,
            stdin_set: false,
        }
    }
}

impl Command {
    /// A command that runs `program` (looked up in `PATH` if it has no slash), with no
    /// arguments, the parent's environment and working directory, and, for `spawn` and
    /// `status`, the parent's standard streams.
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// The wrapped standard library command.
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// The wrapped standard library command, to set what only it offers
    /// (`std::os::unix::process::CommandExt`: `uid`, `process_group`, `pre_exec`...).
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable of the child.
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Command {
        self.std.env(key, val);
        self
    }

    /// Sets environment variables of the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts the child with an empty environment (plus what `env` adds).
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// The child's standard input: `Stdio::null()`, `inherit()` or `piped()` (then
    /// [`Child::stdin`] is the parent's end).
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdin(cfg);
        self.stdin_set = true;
        self
    }

    /// The child's standard output (with `piped()`, [`Child::stdout`] reads it).
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdout(cfg);
        self
    }

    /// The child's standard error (with `piped()`, [`Child::stderr`] reads it).
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stderr(cfg);
        self
    }

    /// With `true`, dropping the [`Child`] before its process exited kills the process
    /// (`SIGKILL`). Off by default: the process runs on, and is reaped when it exits.
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// Starts the process.
    ///
    /// # Errors
    ///
    /// Outside a runtime with a reactor (the child is then not started); if the program
    /// cannot be started (`NotFound`, `PermissionDenied`...); if its pipes or exit cannot
    /// be registered (the child is then killed and reaped).
    pub fn spawn(&mut self) -> io::Result<Child> {
        if weft_executor::Handle::current_extension::<crate::Reactor>().is_none() {
            return Err(io::Error::other(crate::async_fd::NO_REACTOR));
        }
        // Process activity: a good moment to reap orphans that exited.
        reap::reap_orphans();
        let mut std = self.std.spawn()?;
        let (stdin, stdout, stderr) = (std.stdin.take(), std.stdout.take(), std.stderr.take());
        // From here on, an error drops `child`, which kills and reaps the process.
        let mut child = Child {
            stdin: None,
            stdout: None,
            stderr: None,
            inner: Some(Inner {
                exit: None,
                child: std,
                status: None,
                kill_on_drop: true,
            }),
        };
        let inner = child.inner.as_mut().expect("just set");
        inner.exit = Some(Exit::watch(inner.child.id())?);
        child.stdin = stdin.map(ChildStdin::from_std).transpose()?;
        child.stdout = stdout.map(ChildStdout::from_std).transpose()?;
        child.stderr = stderr.map(ChildStderr::from_std).transpose()?;
        child.inner.as_mut().expect("just set").kill_on_drop = self.kill_on_drop;
        Ok(child)
    }

    /// Starts the process and waits for it to exit. Its standard streams are inherited
    /// unless set; piped ones are closed at once (so the child is not left waiting on
    /// them).
    ///
    /// # Errors
    ///
    /// As [`spawn`](Command::spawn), and as [`Child::wait`].
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        let mut child = self.spawn()?;
        child.stdin = None;
        child.stdout = None;
        child.stderr = None;
        child.wait().await
    }

    /// Starts the process, collects its standard output and error, and waits for it to
    /// exit.
    ///
    /// Standard output and error are set to `Stdio::piped()` (for later spawns of this
    /// command too, as in tokio), and standard input to `Stdio::null()` unless it was
    /// set. Both pipes are read while waiting, so a child that writes a lot to both does
    /// not block on a full pipe.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Command::spawn), and as [`Child::wait_with_output`].
    pub async fn output(&mut self) -> io::Result<Output> {
        self.std.stdout(Stdio::piped());
        self.std.stderr(Stdio::piped());
        if !self.stdin_set {
            self.std.stdin(Stdio::null());
        }
        self.spawn()?.wait_with_output().await
    }

    /// Whether a [`Child`] spawned from this command is killed when dropped.
    pub fn get_kill_on_drop(&self) -> bool {
        self.kill_on_drop
    }
}

/// The state of a child that may not be reaped yet.
struct Inner {
    /// `None` only while `spawn` sets it up.
    exit: Option<Exit>,
    child: StdChild,
    /// Known once reaped.
    status: Option<ExitStatus>,
    kill_on_drop: bool,
}

/// A running (or exited) child process, from [`Command::spawn`].
///
/// Its exit is heard on the reactor: await [`wait`](Child::wait).
///
/// # Dropping
///
/// Dropping a `Child` does not wait for the process: it runs on (unless
/// [`Command::kill_on_drop`] was set, which kills it). A process not yet reaped then goes
/// to an orphan list, reaped when it exits (a task of the runtime listens to `SIGCHLD`
/// while the list is not empty) and at each later spawn: no zombie is left behind.
///
/// # Examples
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use weft_reactor::process::{Command, Stdio};
/// # let rt = weft_reactor::install(&mut weft_executor::Builder::new()).unwrap().build().unwrap();
/// rt.block_on(async {
///     let mut cat = Command::new("cat")
///         .stdin(Stdio::piped())
///         .stdout(Stdio::piped())
///         .spawn()
///         .unwrap();
///     let mut stdin = cat.stdin.take().unwrap();
///     stdin.write_all(b"meow").await.unwrap();
///     stdin.close().await.unwrap(); // end of file for cat
///     let mut echoed = String::new();
///     cat.stdout.take().unwrap().read_to_string(&mut echoed).await.unwrap();
///     assert_eq!(echoed, "meow");
///     assert!(cat.wait().await.unwrap().success());
/// });
/// ```
pub struct Child {
    /// The parent's end of the child's standard input, if it was `Stdio::piped()`.
    pub stdin: Option<ChildStdin>,
    /// The parent's end of the child's standard output, if it was `Stdio::piped()`.
    pub stdout: Option<ChildStdout>,
    /// The parent's end of the child's standard error, if it was `Stdio::piped()`.
    pub stderr: Option<ChildStderr>,
    /// `None` only after `Drop` took it.
    inner: Option<Inner>,
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.id())
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish_non_exhaustive()
    }
}

impl Child {
    fn inner(&mut self) -> &mut Inner {
        self.inner.as_mut().expect("present until drop")
    }

    /// The process id, until the process has been reaped (then `None`: the number may
    /// already belong to another process).
    pub fn id(&self) -> Option<u32> {
        let inner = self.inner.as_ref()?;
        inner.status.is_none().then(|| inner.child.id())
    }

    /// Sends `SIGKILL` to the process, without waiting for it to exit. (Then
    /// [`wait`](Child::wait) to reap it, or drop the `Child`: it is reaped all the same.)
    ///
    /// # Errors
    ///
    /// If the process was already reaped (kind `InvalidInput`), or `kill(2)` fails.
    pub fn start_kill(&mut self) -> io::Result<()> {
        let inner = self.inner();
        if inner.status.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the child process has already exited and been reaped",
            ));
        }
        inner.child.kill()
    }

    /// Kills the process (`SIGKILL`) and waits for it to exit.
    ///
    /// # Errors
    ///
    /// As [`start_kill`](Child::start_kill) and [`wait`](Child::wait).
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await.map(drop)
    }

    /// Waits for the process to exit, and reaps it. Closes [`stdin`](Child::stdin) first,
    /// so a child that reads to end of file is not left waiting.
    ///
    /// Cancel-safe: dropping the future before it finishes loses nothing; awaiting again
    /// (or `try_wait`) finds the status.
    ///
    /// # Errors
    ///
    /// If the runtime shuts down first, or `waitpid` fails (`ECHILD` if something else in
    /// the process reaped the child: `waitpid(-1)`, or `SIGCHLD` set to be ignored).
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.stdin = None;
        poll_fn(|cx| self.poll_wait(cx)).await
    }

    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        let inner = self.inner();
        if let Some(status) = inner.status {
            return Poll::Ready(Ok(status));
        }
        let exit = inner.exit.as_mut().expect("set by spawn");
        let res = std::task::ready!(exit.poll_wait(&mut inner.child, cx));
        if let Ok(status) = res {
            inner.status = Some(status);
        }
        Poll::Ready(res)
    }

    /// The exit status if the process has exited (reaping it), `None` if it still runs.
    ///
    /// # Errors
    ///
    /// If `waitpid` fails.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let inner = self.inner();
        if inner.status.is_none() {
            inner.status = inner.child.try_wait()?;
        }
        Ok(inner.status)
    }

    /// Closes stdin, reads stdout and stderr to their end (both at once, so a child
    /// that fills one pipe while the parent reads the other does not block), and waits
    /// for the process to exit.
    ///
    /// # Errors
    ///
    /// As [`wait`](Child::wait), and if reading a pipe fails.
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        self.stdin = None;
        let mut stdout_pipe = self.stdout.take();
        let mut stderr_pipe = self.stderr.take();
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let mut status = None;
        let status = poll_fn(|cx| {
            let stdout_done = drain(&mut stdout_pipe, &mut stdout, cx)?;
            let stderr_done = drain(&mut stderr_pipe, &mut stderr, cx)?;
            if status.is_none() {
                if let Poll::Ready(s) = self.poll_wait(cx) {
                    status = Some(s?);
                }
            }
            match status {
                Some(s) if stdout_done && stderr_done => Poll::Ready(Ok::<_, io::Error>(s)),
                _ => Poll::Pending,
            }
        })
        .await?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

/// Polls one pipe of `wait_with_output`: `true` once it was read to its end (it is then
/// closed), or if there is none.
fn drain(
    pipe: &mut Option<impl futures_io::AsyncRead + Unpin>,
    out: &mut Vec<u8>,
    cx: &mut Context<'_>,
) -> io::Result<bool> {
    let Some(p) = pipe else {
        return Ok(true);
    };
    match pipe::poll_read_to_end(p, out, cx) {
        Poll::Ready(Ok(())) => {
            *pipe = None;
            Ok(true)
        }
        Poll::Ready(Err(e)) => Err(e),
        Poll::Pending => Ok(false),
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let Some(mut inner) = self.inner.take() else {
            return;
        };
        if inner.status.is_some() {
            return;
        }
        if inner.kill_on_drop {
            let _ = inner.child.kill();
        }
        // Exited already: reaped now. Otherwise (or if killed, until the kill lands) an
        // orphan. An error means there is nothing left to reap.
        if let Ok(None) = inner.child.try_wait() {
            reap::adopt(inner.child);
        }
    }
}

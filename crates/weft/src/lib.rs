//! Weft: a multi-threaded, work-stealing async runtime. Tasks, time and I/O in one
//! dependency: what asyncio gives a Python program, on every core.
//!
//! ```
//! use std::time::Duration;
//!
//! async fn fetch_data(id: u32) -> String {
//!     weft::time::sleep(Duration::from_millis(20)).await; // asyncio.sleep
//!     format!("data {id}")
//! }
//!
//! weft::run(async {
//!     // asyncio.gather: start tasks, await them all.
//!     let mut set = weft::task::JoinSet::new();
//!     for id in 0..3 {
//!         set.spawn(fetch_data(id));
//!     }
//!     let all = set.join_all().await;
//!     assert_eq!(all.len(), 3);
//! });
//! ```
//!
//! | asyncio | weft |
//! |---|---|
//! | `asyncio.run(main())` | [`run`], `#[weft::main]` |
//! | `asyncio.create_task(c)` | [`spawn`] |
//! | `await asyncio.sleep(s)` | [`time::sleep`] |
//! | `asyncio.gather(...)`, `TaskGroup` | [`task::JoinSet`] |
//! | `asyncio.wait_for(c, t)` | [`time::timeout`] |
//! | `contextvars` | [`task_local!`] |
//! | async generators | [`stream::Stream`] |
//! | streams, `start_server` | [`net`] |
//! | `asyncio.Lock`, `Queue` | [`sync`], [`channel`] |
//! | `loop.add_signal_handler` | [`signal`] (Unix) |
//! | `create_subprocess_exec`, `communicate` | [`process::Command`] (Unix) |
//!
//! The crates behind it: `weft-executor` (tasks, scheduler), `weft-timer`, `weft-reactor`,
//! `weft-macros`. See `docs/scheduling.md` in the repository for how the scheduler works.
//!
//! [`weft::io`](io) and [`weft::stream`](stream) re-export `futures-lite`: the `futures-io`
//! and `futures-core` traits with their extension traits, from the smaller of the two crates
//! that provide them (`futures-util` offers more combinators at a larger compile cost).
//!
//! With the feature `tokio-io`, weft's sockets and their halves, the child's pipes, `Async<T>`,
//! [`fs::File`] and the standard streams also implement `tokio::io::AsyncRead` and
//! `AsyncWrite`, so crates written against tokio's traits (tokio-postgres, say) run on weft's
//! own reactor: only tokio's traits come along, no tokio runtime (`examples/postgres.rs`).

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod blocking_io;
mod cancel;
pub mod fs;
mod runtime;
mod stdio;
#[cfg(feature = "tokio-io")]
mod tokio_io;
mod tracker;

#[doc(hidden)]
pub use runtime::__private;
pub use runtime::{run, Builder, Runtime, SEED_ENV};
pub use weft_executor::{
    block_on, spawn, task_local, EnterGuard, Handle, JoinError, JoinHandle, RuntimeMetrics,
    SlowPoll, TaskDump, TaskInfo, TaskState,
};

/// Scheduler traces: what each worker did and when (see [`Builder::trace`]).
pub mod trace {
    pub use weft_executor::{ParkEnd, Place, TaskSource, Trace, TraceEvent, TraceKind};
}

#[cfg(feature = "macros")]
pub use weft_macros::{main, test};

/// Tasks: spawning, joining, cancelling, yielding, task-local values, local (`!Send`) tasks.
pub mod task {
    pub use weft_executor::coop::{consume_budget, unconstrained, Unconstrained};
    pub use weft_executor::{
        block_in_place, spawn, spawn_blocking, yield_now, AbortHandle, AccessError, JoinError,
        JoinHandle, JoinSet, LocalKey, TaskLocalFuture, YieldNow,
    };
    pub use weft_executor::{spawn_local, LocalSet, RunUntil};
    pub use weft_executor::{
        task_id as id, try_task_id as try_id, TaskBuilder as Builder, TaskId as Id,
    };
}

/// Time: `sleep`, `timeout`, `interval`, the runtime's clock ([`Instant`](time::Instant)),
/// and paused time for tests ([`pause`](time::pause), [`advance`](time::advance),
/// [`resume`](time::resume), `Builder::start_paused`).
#[cfg(feature = "time")]
pub mod time {
    pub use std::time::Duration;
    pub use weft_timer::{
        advance, interval, interval_at, pause, resume, sleep, sleep_until, timeout, timeout_at,
        Elapsed, Instant, Interval, MissedTickBehavior, Sleep, Timeout,
    };
}

/// Networking: TCP, UDP and Unix sockets.
#[cfg(feature = "net")]
pub mod net {
    pub use weft_reactor::{
        Incoming, OwnedReadHalf, OwnedWriteHalf, ReadHalf, TcpListener, TcpSocket, TcpStream,
        ToSocketAddrs, UdpSocket, WriteHalf,
    };
    #[cfg(unix)]
    pub use weft_reactor::{
        OwnedUnixReadHalf, OwnedUnixWriteHalf, UnixDatagram, UnixIncoming, UnixListener,
        UnixReadHalf, UnixStream, UnixWriteHalf,
    };
}

/// Unix signals, delivered through the runtime's reactor (no thread per signal).
///
/// Names as tokio's: [`ctrl_c`](signal::ctrl_c), and
/// [`signal`](signal::signal)`(`[`SignalKind`](signal::SignalKind)`::terminate())` (also
/// under `signal::unix`, where tokio has them). Listening to a signal replaces its default
/// disposition for the rest of the process, even after every listener is dropped.
///
/// ```
/// use weft::signal::{signal, SignalKind};
///
/// weft::run(async {
///     let mut terms = signal(SignalKind::terminate()).unwrap();
///     // SAFETY: raise(3) has no preconditions; SIGTERM now has weft's handler.
///     unsafe { libc::raise(libc::SIGTERM) };
///     terms.recv().await.unwrap(); // a server would begin its graceful shutdown here
/// });
/// ```
#[cfg(all(unix, feature = "net"))]
pub mod signal {
    pub use weft_reactor::signal::{ctrl_c, signal, Signal, SignalKind};

    /// Where tokio has them: `tokio::signal::unix::{signal, Signal, SignalKind}`.
    pub mod unix {
        pub use weft_reactor::signal::{signal, Signal, SignalKind};
    }
}

/// Child processes: [`Command`](process::Command), [`Child`](process::Child), and its
/// pipes as async streams, on the runtime's reactor (names as tokio's).
///
/// A child's exit is heard through a pidfd on Linux, through `SIGCHLD` where pidfds are
/// missing; no thread per child, and no zombie left behind, even for a `Child` dropped
/// without `wait`.
///
/// ```
/// use weft::io::AsyncWriteExt;
/// use weft::process::{Command, Stdio};
///
/// weft::run(async {
///     // asyncio's `create_subprocess_exec(...)` then `communicate(input)`:
///     let mut child = Command::new("tr")
///         .args(["a-z", "A-Z"])
///         .stdin(Stdio::piped())
///         .stdout(Stdio::piped())
///         .spawn()
///         .unwrap();
///     let mut stdin = child.stdin.take().unwrap();
///     stdin.write_all(b"shout").await.unwrap();
///     drop(stdin); // end of file for tr
///     let out = child.wait_with_output().await.unwrap();
///     assert_eq!(out.stdout, b"SHOUT");
/// });
/// ```
#[cfg(all(unix, feature = "net"))]
pub mod process {
    pub use weft_reactor::process::{
        Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio,
    };
}

/// Async I/O traits and helpers (`futures-lite`'s `io`), [`Async`](io::Async) for any
/// non-blocking file descriptor, [`Interest`](io::Interest) for `try_io` and `ready`, and
/// the [`Ready`](io::Ready) set that `ready` returns.
pub mod io {
    pub use crate::stdio::{stderr, stdin, stdout, Stderr, Stdin, Stdout};
    pub use futures_lite::io::*;
    #[cfg(feature = "net")]
    pub use weft_reactor::{Async, Interest, Ready};
}

/// Streams: the `Stream` trait and its combinators (`futures-lite`'s `stream`).
pub mod stream {
    pub use futures_lite::stream::*;
}

#[doc = include_str!("future.md")]
pub mod future {
    pub use futures_lite::future::*;
}

/// Async locks and primitives (`async-lock`): `Mutex`, `RwLock`, `Semaphore`, `Barrier`,
/// `OnceCell`. They work on any executor. And for shutdowns, as tokio-util's:
/// [`CancellationToken`](sync::CancellationToken) and [`TaskTracker`](sync::TaskTracker).
pub mod sync {
    pub use crate::cancel::{
        CancellationToken, DropGuard, WaitForCancellationFuture, WaitForCancellationFutureOwned,
    };
    pub use crate::tracker::{TaskTracker, TaskTrackerToken, TrackedFuture, TrackerWait};
    pub use async_lock::*;
}

/// Async channels (`async-channel`): multi-producer, multi-consumer, bounded or not.
pub mod channel {
    pub use async_channel::*;
}

/// `#[weft::main]` works only on an `async fn`; elsewhere it is a compile error at the
/// user's `fn`:
///
/// ```compile_fail
/// #[weft::main]
/// fn main() {}
/// ```
///
/// And options are checked:
///
/// ```compile_fail
/// #[weft::main(worker_threads = 0)]
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// #[weft::main(flavor = "single")]
/// async fn main() {}
/// ```
///
/// `worker_threads` needs the multi-thread flavour, which `#[weft::test]` is not by default:
///
/// ```compile_fail
/// #[weft::test(worker_threads = 2)]
/// async fn t() {}
/// ```
///
/// ```compile_fail
/// #[weft::main(flavor = "current_thread", worker_threads = 2)]
/// async fn main() {}
/// ```
///
/// Paused time needs the current-thread runtime:
///
/// ```compile_fail
/// #[weft::test(flavor = "multi_thread", start_paused = true)]
/// async fn t() {}
/// ```
///
/// While these compile:
///
/// ```
/// #[weft::main(flavor = "current_thread")]
/// async fn main() {
///     let rc = std::rc::Rc::new(1);
///     assert_eq!(weft::task::spawn_local(async move { *rc }).await.unwrap(), 1);
/// }
/// ```
#[cfg(all(doctest, feature = "macros"))]
pub struct MacroErrors;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

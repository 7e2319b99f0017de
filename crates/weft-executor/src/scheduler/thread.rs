//! Starting a runtime thread, worker or blocking: one place for its name, its stack size,
//! the runtime it enters and the hooks around its body.

use super::config::{Config, Hook};
use super::context;
use super::Shared;
use std::io;
use std::sync::Weak;
use std::thread;

/// Starts a thread named `name` which enters `runtime` (if it is still alive), runs
/// `on_thread_start`, then `body`, then `on_thread_stop`, and drops `body`'s result last,
/// after the stop hook (the blocking pool's signal that the thread is gone rides on it). A
/// hook that panics is reported and the thread runs anyway: a worker that never started
/// would strand the tasks queued on it.
pub(crate) fn spawn<R>(
    config: &Config,
    name: String,
    runtime: Weak<Shared>,
    body: impl FnOnce() -> R + Send + 'static,
) -> io::Result<thread::JoinHandle<()>> {
    let mut b = thread::Builder::new().name(name);
    if let Some(s) = config.stack_size {
        b = b.stack_size(s);
    }
    let start = config.on_thread_start.clone();
    let stop = config.on_thread_stop.clone();
    b.spawn(move || {
        let _enter = runtime.upgrade().map(context::enter);
        run_hook(start.as_ref(), "the on_thread_start hook");
        let done = body();
        run_hook(stop.as_ref(), "the on_thread_stop hook");
        drop(done);
    })
}

fn run_hook(hook: Option<&Hook>, what: &str) {
    if let Some(f) = hook {
        crate::unwind::contain(what, || f());
    }
}

/// Joins `threads`, except the calling thread's own (a worker dropping the runtime from
/// inside a task cannot join itself).
pub(crate) fn join_all_but_current(threads: impl Iterator<Item = thread::JoinHandle<()>>) {
    let me = thread::current().id();
    for t in threads {
        if t.thread().id() != me {
            let _ = t.join();
        }
    }
}

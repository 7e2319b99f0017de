//! Pipelined read-ahead and write-behind: one blocking task keeps reading (or writing)
//! while the caller copies out of (or into) the chunks it already has.
//!
//! # Protocol
//!
//! A [`Pipe`] is shared by the handle and at most one blocking task, under one mutex:
//!
//! - `full`: chunks in order. Reading: filled by the task, taken by the caller. Writing:
//!   filled by the caller, taken by the task.
//! - `free`: emptied chunks to reuse, oldest first; `chunks` counts every chunk
//!   allocated, at most [`MAX_CHUNKS`], so at most that many chunks are in flight. The
//!   read-ahead allocates all of them before it reuses one, and then reuses the one the
//!   caller emptied longest ago: the chunk the caller has just copied out of is still in
//!   the caller's core's cache, and reading into it at once made the kernel's copy wait
//!   on every line taken back from that core (twice the time: docs/measuring.md,
//!   "Files").
//! - `inner` (the std object) is in the pipe exactly when `running` is false. A task
//!   takes it when spawned (the caller sets `running` and takes `inner` in one critical
//!   section, then spawns outside the lock) and puts it back in the same critical section
//!   in which it decides to stop, so a caller that sees `running == false` always finds
//!   `inner` there and can restart the task; one that sees `running == true` knows that
//!   the task will look at `full`/`free` again before it stops.
//! - `waker`: the caller waiting for a chunk (reading), for room or for the task to stop
//!   (writing, stopping). The task takes it under the lock and wakes it after unlocking;
//!   no waker is woken or dropped with the lock held.
//!
//! The read task stops at the end of the file, at an error, when the caller set `stop`,
//! or when every chunk is full: the caller restarts it once it has taken back half of
//! them, so a caller that stops reading holds no pool thread. The write task stops when
//! `full` is empty or at the first error, which it keeps in `error` (the chunks queued
//! behind the failed one are dropped: as with a failed `write_all`, how much of them
//! landed is unknown) for the caller's next write or flush.
//!
//! A task dropped without running (the blocking pool shutting down) or unwinding puts
//! `inner` back with an error, so the handle reports it instead of hanging.
//!
//! Only a mutex, no atomics of its own: no loom model is needed; the tests in
//! `tests/fs.rs` drive the interleavings that matter (seek, write and drop during a
//! read-ahead, errors during a write-behind).

use super::{Inner, Raw};
use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

/// Bytes one read-ahead call asks the OS for. Larger chunks mean fewer lock round trips
/// and wake-ups per byte; see docs/measuring.md ("Files") for the sizes tried.
pub(super) const READ_CHUNK: usize = 256 * 1024;
/// Bytes the caller collects before handing a chunk to the write-behind task (one
/// `write_all` each).
pub(super) const WRITE_CHUNK: usize = super::MAX_BUF;
/// Chunks in flight per handle: the read-ahead is at most `MAX_CHUNKS * READ_CHUNK`
/// (2 MiB) ahead of the caller; write-behind holds at most `MAX_CHUNKS * WRITE_CHUNK`.
/// The read-ahead rotates through all of them, so a chunk is read into again 2 MiB
/// after the caller copied out of it (1 MiB was slower, 4 MiB no faster: docs/measuring.md).
pub(super) const MAX_CHUNKS: usize = 8;

/// Which way a pipe's bytes flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dir {
    Read,
    Write,
}

pub(super) struct Pipe<T> {
    shared: Mutex<Shared<T>>,
}

pub(super) struct Shared<T> {
    /// The std object, here exactly when no task runs.
    pub(super) inner: Option<Inner<T>>,
    pub(super) running: bool,
    pub(super) full: VecDeque<Vec<u8>>,
    /// Bytes in `full`.
    pub(super) queued: usize,
    pub(super) free: VecDeque<Vec<u8>>,
    pub(super) chunks: usize,
    /// Reading: the caller wants the task to stop after its current read.
    pub(super) stop: bool,
    /// Reading: why the task stopped on its own (`Ok`: end of file), if it did; to be
    /// reported once the caller has taken every chunk read before it.
    pub(super) end: Option<io::Result<()>>,
    /// Writing: the first error of the write-behind, not yet reported.
    pub(super) error: Option<io::Error>,
    pub(super) waker: Option<Waker>,
}

impl<T> Pipe<T> {
    /// A pipe whose task is about to be spawned with `inner` (so `running` is set).
    pub(super) fn new(first: Option<Vec<u8>>) -> Arc<Pipe<T>> {
        let mut full = VecDeque::with_capacity(MAX_CHUNKS + 1);
        let queued = first.as_ref().map_or(0, Vec::len);
        full.extend(first);
        Arc::new(Pipe {
            shared: Mutex::new(Shared {
                inner: None,
                running: true,
                chunks: full.len(),
                full,
                queued,
                free: VecDeque::with_capacity(MAX_CHUNKS),
                stop: false,
                end: None,
                error: None,
                waker: None,
            }),
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Shared<T>> {
        // A panic while holding this lock leaves plain data behind, still consistent
        // enough to report errors from: carry on.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Registers the caller's waker (keeping the old one if it would wake the same task) and
/// unlocks; a waker replaced is dropped after the unlock.
pub(super) fn wait_unlocked<T>(mut g: MutexGuard<'_, Shared<T>>, waker: &Waker) {
    let old = match &g.waker {
        Some(w) if w.will_wake(waker) => None,
        _ => g.waker.replace(waker.clone()),
    };
    drop(g);
    drop(old);
}

impl<T> Shared<T> {
    /// Reading: an empty chunk for the task, if one may be used: a new one while fewer
    /// than [`MAX_CHUNKS`] exist, else the one emptied longest ago (see the header).
    fn free_chunk(&mut self) -> Option<Vec<u8>> {
        if self.chunks < MAX_CHUNKS {
            self.chunks += 1;
            return Some(Vec::new());
        }
        self.free.pop_front()
    }

    /// Writing: an empty chunk for the caller to fill, if the ring has room.
    pub(super) fn take_free(&mut self) -> Option<Vec<u8>> {
        // The newest: writing was not measured to gain from rotating (see `free_chunk`).
        if let Some(c) = self.free.pop_back() {
            return Some(c);
        }
        (self.chunks < MAX_CHUNKS).then(|| {
            self.chunks += 1;
            Vec::with_capacity(WRITE_CHUNK)
        })
    }

    /// Reading: whether to restart a read-ahead that stopped because every chunk was
    /// full; if so, marks it running and hands over the std object.
    pub(super) fn restart_read(&mut self) -> Option<Inner<T>> {
        if self.running || self.stop || self.end.is_some() || self.full.len() > MAX_CHUNKS / 2 {
            return None;
        }
        self.take_for_task()
    }

    /// Marks a task running and gives it the std object (`None` if it was lost).
    pub(super) fn take_for_task(&mut self) -> Option<Inner<T>> {
        let inner = self.inner.take()?;
        self.running = true;
        Some(inner)
    }
}

/// The blocking side: owns the std object while it runs.
struct Job<T: Raw> {
    pipe: Arc<Pipe<T>>,
    inner: Option<Inner<T>>,
    dir: Dir,
}

/// Starts the task that reads ahead into `pipe` or writes its chunks.
pub(super) fn spawn<T: Raw>(pipe: Arc<Pipe<T>>, inner: Inner<T>, dir: Dir) {
    let job = Job::new(pipe, inner, dir);
    // Detached: the task reports through the pipe.
    drop(weft_executor::spawn_blocking(move || job.run()));
}

/// Writes `pipe`'s chunks on this thread (a handle dropped outside a runtime).
pub(super) fn write_inline<T: Raw>(pipe: Arc<Pipe<T>>, inner: Inner<T>) {
    Job::new(pipe, inner, Dir::Write).run()
}

impl<T: Raw> Job<T> {
    fn new(pipe: Arc<Pipe<T>>, inner: Inner<T>, dir: Dir) -> Self {
        Job {
            pipe,
            inner: Some(inner),
            dir,
        }
    }

    fn run(self) {
        match self.dir {
            Dir::Read => self.read_ahead(),
            Dir::Write => self.write_behind(),
        }
    }

    fn read_ahead(mut self) {
        let Job {
            pipe, inner: slot, ..
        } = &mut self;
        let Some(inner) = slot.as_mut() else {
            return;
        };
        if let Err(e) = inner.settle() {
            return finish(slot, pipe.lock(), Some(Err(e)));
        }
        loop {
            let mut chunk = {
                let mut g = pipe.lock();
                let next = if g.stop { None } else { g.free_chunk() };
                match next {
                    Some(c) => c,
                    // Stopped, or every chunk is full: the caller restarts us.
                    None => return finish(slot, g, None),
                }
            };
            // A recycled chunk keeps its length: only growth is zeroed.
            chunk.resize(READ_CHUNK, 0);
            let r = read_retrying(&mut inner.io, &mut chunk);
            let mut g = pipe.lock();
            match r {
                Ok(0) => {
                    g.free.push_back(chunk);
                    return finish(slot, g, Some(Ok(())));
                }
                Ok(n) => {
                    // A reader claiming more than it was given would be a bug in it:
                    // clamp, never panic.
                    chunk.truncate(n.min(READ_CHUNK));
                    g.queued += chunk.len();
                    g.full.push_back(chunk);
                    let w = g.waker.take();
                    drop(g);
                    if let Some(w) = w {
                        w.wake();
                    }
                }
                Err(e) => {
                    g.free.push_back(chunk);
                    return finish(slot, g, Some(Err(e)));
                }
            }
        }
    }

    fn write_behind(mut self) {
        let Job {
            pipe, inner: slot, ..
        } = &mut self;
        let Some(inner) = slot.as_mut() else {
            return;
        };
        if let Err(e) = inner.settle() {
            let mut g = pipe.lock();
            drop_queued(&mut g);
            g.error = Some(e);
            return finish(slot, g, None);
        }
        loop {
            let mut chunk = {
                let mut g = pipe.lock();
                match g.full.pop_front() {
                    Some(c) => {
                        g.queued -= c.len();
                        c
                    }
                    None => return finish(slot, g, None),
                }
            };
            let r = inner.io.write_all(&chunk);
            chunk.clear();
            let mut g = pipe.lock();
            g.free.push_back(chunk);
            if let Err(e) = r {
                drop_queued(&mut g);
                g.error = Some(e);
                return finish(slot, g, None);
            }
            // Room for the caller, if it waits for some.
            let w = g.waker.take();
            drop(g);
            if let Some(w) = w {
                w.wake();
            }
        }
    }
}

/// Gives the std object back and stops, in the critical section `g` that decided it.
fn finish<T>(
    slot: &mut Option<Inner<T>>,
    mut g: MutexGuard<'_, Shared<T>>,
    end: Option<io::Result<()>>,
) {
    g.inner = slot.take();
    g.running = false;
    if end.is_some() {
        g.end = end;
    }
    let w = g.waker.take();
    drop(g);
    if let Some(w) = w {
        w.wake();
    }
}

impl<T: Raw> Drop for Job<T> {
    fn drop(&mut self) {
        if self.inner.is_none() {
            return;
        }
        // Never ran (the pool shut down) or unwound: give the object back with an error,
        // so the handle neither restarts the task forever nor waits for it.
        let lost = || {
            io::Error::other("weft: a blocking read-ahead or write-behind did not complete (the blocking pool shut down, or the call panicked)")
        };
        let mut g = self.pipe.lock();
        match self.dir {
            // What was read before is good: the caller gets it, then the error.
            Dir::Read => g.end = Some(Err(lost())),
            Dir::Write => {
                drop_queued(&mut g);
                g.error = Some(lost());
            }
        }
        g.inner = self.inner.take();
        g.running = false;
        let w = g.waker.take();
        drop(g);
        if let Some(w) = w {
            // Nothing may unwind out of a destructor the pool runs.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.wake()));
        }
    }
}

/// Writing: drops the chunks queued behind a failed one (kept for reuse).
fn drop_queued<T>(g: &mut Shared<T>) {
    while let Some(mut c) = g.full.pop_front() {
        c.clear();
        g.free.push_back(c);
    }
    g.queued = 0;
}

pub(super) fn read_retrying<T: Raw>(io: &mut T, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match io.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

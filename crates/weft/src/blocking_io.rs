//! The buffered state machine behind [`File`](crate::fs::File) and the stdio handles.
//!
//! A handle is idle (it holds the std object and its buffer), busy (one blocking call on
//! weft's pool owns both until it returns them) or streaming (a blocking task reads ahead
//! or writes behind through a [`pipeline::Pipe`] while the caller copies, see that
//! module). Small reads are served from a read-ahead buffer and small writes are collected
//! in a write buffer, so only a full buffer, a flush, a seek or a read-ahead costs a hop
//! to the blocking pool.
//!
//! A pipelined handle (a file) starts streaming once reads have been sequential for
//! [`STREAM_AFTER`] fills, or when a write fills the write buffer; any other operation
//! (a seek, a read after writes, a write after reads, `set_len`, `sync_*`, `flush`) first
//! brings the stream back to idle: a read-ahead is stopped after the read in progress and
//! what it read past the caller's position is given back to the OS by a seek; a
//! write-behind is drained and its error, if any, returned by that operation.

mod pipeline;

use pipeline::{Dir, Pipe, WRITE_CHUNK};
use std::fmt;
use std::future::Future;
use std::io::{self, SeekFrom};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use weft_executor::JoinHandle;

/// The most one blocking call reads or writes.
pub(crate) const MAX_BUF: usize = 64 * 1024;
/// The least one blocking call reads, so that byte-sized reads still batch.
const MIN_READ: usize = 16 * 1024;
/// The most one read-ahead takes once reads have been sequential for a while (handles
/// that do not stream: stdin): each hop to the pool costs a thread wake-up (about
/// 30-40 us on this VM), so a file streamed in 64 KiB reads spent most of its time waking
/// threads (1 GiB: 636 ms against async-fs's 175, `cargo bench -p weft-benches --bench fs`). The
/// read-ahead doubles with every fill in a row, from the caller's read size up to this.
const MAX_READ_AHEAD: usize = 2 * 1024 * 1024;
/// Sequential fills after which a pipelined handle reads ahead in the background: a
/// file read once at an offset costs no more than one fill, one read sequentially
/// streams.
const STREAM_AFTER: u32 = 2;

/// The std object behind a handle: the few blocking calls the state machine makes.
pub(crate) trait Raw: Send + 'static {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes all of `buf` and pushes it past any buffer of std's own.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64>;
}

/// When collected writes go to the pool without an explicit flush.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Policy {
    /// When the buffer is full (files).
    Full,
    /// Also after a write holding a newline (stdout, like std's).
    Line,
    /// After every write (stderr, unbuffered in std).
    Eager,
}

/// The std object and its buffer: what a blocking call takes away and gives back.
struct Inner<T> {
    io: T,
    /// Read mode: `data[pos..]` is read ahead and not yet returned. Write mode: `data` is
    /// written by the caller and not yet handed to the OS.
    data: Vec<u8>,
    pos: usize,
    writing: bool,
    /// How far the OS position is ahead of the caller's (read-ahead that was dropped);
    /// the next blocking call seeks back first.
    seek_back: u64,
    /// Fills in a row with no seek or write between them: the read-ahead grows with it.
    streak: u32,
}

impl<T: Raw> Inner<T> {
    fn unread(&self) -> usize {
        if self.writing {
            0
        } else {
            self.data.len() - self.pos
        }
    }

    fn pending(&self) -> bool {
        self.writing && !self.data.is_empty()
    }

    /// Forgets the read-ahead, so the OS position must move back by its length.
    fn drop_read_ahead(&mut self) {
        self.streak = 0;
        self.seek_back += self.unread() as u64;
        self.data.clear();
        self.pos = 0;
    }

    fn settle(&mut self) -> io::Result<()> {
        if self.seek_back > 0 {
            let back = i64::try_from(self.seek_back).map_err(|_| io::ErrorKind::InvalidInput)?;
            self.io.seek(SeekFrom::Current(-back))?;
            self.seek_back = 0;
        }
        Ok(())
    }

    /// Blocking: reads up to `want` bytes into the buffer.
    fn fill(&mut self, want: usize) -> io::Result<usize> {
        self.settle()?;
        self.streak = self.streak.saturating_add(1);
        self.writing = false;
        self.pos = 0;
        // Keep the bytes already there (stale, but initialised: the read overwrites them
        // and the truncation below drops the rest), so that only growth is zeroed: a
        // 2 MiB read-ahead zeroed afresh on every fill cost a memset per read.
        self.data.resize(want, 0);
        let r = pipeline::read_retrying(&mut self.io, &mut self.data);
        // A reader claiming more than it was given would be a bug in it; clamp, never panic.
        let n = *r.as_ref().unwrap_or(&0);
        self.data.truncate(n.min(want));
        r
    }

    /// Blocking: hands the write buffer to the OS. On error the buffered bytes are
    /// dropped (as a failed `write_all` leaves it unknown how much of them landed).
    fn drain(&mut self) -> io::Result<()> {
        let r = self.settle().and_then(|()| self.io.write_all(&self.data));
        self.data.clear();
        r
    }
}

/// How much a fill reads for a read of `len` bytes after `streak` sequential fills.
fn read_ahead(len: usize, streak: u32) -> usize {
    let base = len.clamp(MIN_READ, MAX_BUF);
    base.checked_shl(streak.min(8))
        .unwrap_or(MAX_READ_AHEAD)
        .min(MAX_READ_AHEAD)
        .max(base)
}

/// What a finished blocking call did.
enum Op {
    Read(io::Result<usize>),
    Write(io::Result<()>),
    Seek(SeekFrom, io::Result<u64>),
    Other(io::Result<()>),
}

/// A finished call that the current method did not start: its result is already in the
/// state (read-ahead), or it is an error the caller must hear about.
fn finished(op: Op) -> io::Result<()> {
    match op {
        Op::Read(r) => r.map(drop),
        Op::Write(r) | Op::Other(r) => r,
        Op::Seek(_, r) => r.map(drop),
    }
}

enum State<T> {
    /// `None` once a blocking call failed to return the object (it panicked or the
    /// runtime shut down): the handle is then unusable.
    Idle(Option<Inner<T>>),
    Busy(JoinHandle<(Op, Inner<T>)>),
    Stream(Stream<T>),
}

/// The caller's side of a read-ahead or write-behind.
struct Stream<T> {
    pipe: Arc<Pipe<T>>,
    /// Reading: the chunk being read from, `cur[pos..]` not yet returned. Writing: the
    /// chunk being filled, not yet handed to the task.
    cur: Vec<u8>,
    pos: usize,
    dir: Dir,
}

pub(crate) struct Blocking<T: Raw> {
    state: State<T>,
    policy: Policy,
    /// Whether reads ahead and writes behind run in the background (files; not stdin,
    /// whose read-ahead would block a pool thread waiting for input nobody asked for).
    pipelined: bool,
    /// Blocking calls made so far (a unit test counts them).
    hops: u64,
}

fn lost() -> io::Error {
    io::Error::other("weft: the handle's blocking call failed and the handle is lost")
}

impl<T: Raw> Blocking<T> {
    pub(crate) fn new(io: T, policy: Policy) -> Self {
        Blocking {
            state: State::Idle(Some(Inner {
                io,
                data: Vec::new(),
                pos: 0,
                writing: false,
                seek_back: 0,
                streak: 0,
            })),
            policy,
            pipelined: false,
            hops: 0,
        }
    }

    /// A handle that reads ahead and writes behind in the background (see the module).
    pub(crate) fn pipelined(io: T, policy: Policy) -> Self {
        let mut b = Blocking::new(io, policy);
        b.pipelined = true;
        b
    }

    #[cfg(test)]
    pub(crate) fn hops(&self) -> u64 {
        self.hops
    }

    fn spawn(&mut self, mut inner: Inner<T>, f: impl FnOnce(&mut Inner<T>) -> Op + Send + 'static) {
        self.hops += 1;
        self.state = State::Busy(weft_executor::spawn_blocking(move || {
            let op = f(&mut inner);
            (op, inner)
        }));
    }

    fn spawn_drain(&mut self, inner: Inner<T>) {
        self.spawn(inner, |i| Op::Write(i.drain()));
    }

    /// Waits for the call in flight, if any, and returns what it did; brings a stream
    /// back to idle first (its write-behind error, if any, is the result).
    fn poll_complete(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Op>>> {
        if let State::Stream(_) = self.state {
            ready!(self.poll_end_stream(cx))?;
        }
        let State::Busy(h) = &mut self.state else {
            return Poll::Ready(Ok(None));
        };
        let done = ready!(std::pin::Pin::new(h).poll(cx));
        Poll::Ready(match done {
            Ok((op, inner)) => {
                self.state = State::Idle(Some(inner));
                Ok(Some(op))
            }
            Err(e) => {
                self.state = State::Idle(None);
                Err(e.into())
            }
        })
    }

    fn take(&mut self) -> io::Result<Inner<T>> {
        match &mut self.state {
            State::Idle(inner) => inner.take().ok_or_else(lost),
            // Callers take only after `poll_complete` returned ready.
            State::Busy(_) | State::Stream(_) => Err(io::Error::other("weft: handle is busy")),
        }
    }

    fn put(&mut self, inner: Inner<T>) {
        self.state = State::Idle(Some(inner));
    }

    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            if self.reading_stream() {
                return self.poll_stream_read(cx, dst);
            }
            match ready!(self.poll_complete(cx))? {
                // End of file: read-ahead found nothing.
                Some(Op::Read(Ok(0))) => return Poll::Ready(Ok(0)),
                Some(op) => finished(op)?,
                None => {}
            }
            if dst.is_empty() {
                return Poll::Ready(Ok(0));
            }
            let mut inner = self.take()?;
            if inner.unread() > 0 {
                let n = dst.len().min(inner.unread());
                dst[..n].copy_from_slice(&inner.data[inner.pos..inner.pos + n]);
                inner.pos += n;
                self.put(inner);
                return Poll::Ready(Ok(n));
            }
            if inner.pending() {
                self.spawn_drain(inner);
                continue;
            }
            if self.pipelined && inner.streak >= STREAM_AFTER {
                self.start_reading(inner);
                continue;
            }
            let want = read_ahead(dst.len(), inner.streak);
            self.spawn(inner, move |i| Op::Read(i.fill(want)));
        }
    }

    /// The read-ahead, filling it first if empty (for `AsyncBufRead`).
    pub(crate) fn poll_fill_buf(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        loop {
            if self.reading_stream() {
                if !ready!(self.poll_chunk(cx))? {
                    return Poll::Ready(Ok(&[]));
                }
                break;
            }
            match ready!(self.poll_complete(cx))? {
                Some(Op::Read(Ok(0))) => return Poll::Ready(Ok(&[])),
                Some(op) => finished(op)?,
                None => {}
            }
            let inner = self.take()?;
            if inner.unread() > 0 {
                self.put(inner);
                break;
            }
            if inner.pending() {
                self.spawn_drain(inner);
                continue;
            }
            if self.pipelined && inner.streak >= STREAM_AFTER {
                self.start_reading(inner);
                continue;
            }
            let want = read_ahead(MAX_BUF, inner.streak);
            self.spawn(inner, move |i| Op::Read(i.fill(want)));
        }
        match &self.state {
            State::Idle(Some(i)) => Poll::Ready(Ok(&i.data[i.pos..])),
            State::Stream(s) => Poll::Ready(Ok(&s.cur[s.pos..])),
            _ => Poll::Ready(Err(lost())),
        }
    }

    pub(crate) fn consume(&mut self, amt: usize) {
        match &mut self.state {
            State::Idle(Some(i)) => i.pos = (i.pos + amt).min(i.data.len()),
            State::Stream(s) if s.dir == Dir::Read => s.pos = (s.pos + amt).min(s.cur.len()),
            _ => {}
        }
    }

    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            if let State::Stream(s) = &mut self.state {
                if s.dir == Dir::Write {
                    if src.is_empty() {
                        return Poll::Ready(Ok(0));
                    }
                    if s.cur.len() < WRITE_CHUNK {
                        let n = src.len().min(WRITE_CHUNK - s.cur.len());
                        s.cur.extend_from_slice(&src[..n]);
                        if s.cur.len() == WRITE_CHUNK {
                            // Hand it over now if there is room, so the task starts early;
                            // if not, the next write waits for room (an error found here
                            // is kept for it).
                            let _ = self.poll_hand_over(cx, false);
                        }
                        return Poll::Ready(Ok(n));
                    }
                    ready!(self.poll_hand_over(cx, true))?;
                    continue;
                }
            }
            if let Some(op) = ready!(self.poll_complete(cx))? {
                finished(op)?;
            }
            if src.is_empty() {
                return Poll::Ready(Ok(0));
            }
            let mut inner = self.take()?;
            if !inner.writing {
                inner.drop_read_ahead();
                inner.writing = true;
            }
            if inner.data.len() >= MAX_BUF {
                self.spawn_drain(inner);
                continue;
            }
            let n = src.len().min(MAX_BUF - inner.data.len());
            inner.data.extend_from_slice(&src[..n]);
            let now = match self.policy {
                Policy::Full => inner.data.len() >= MAX_BUF,
                Policy::Line => inner.data.len() >= MAX_BUF || src[..n].contains(&b'\n'),
                Policy::Eager => true,
            };
            if now && self.pipelined && self.policy == Policy::Full {
                // Written behind: the caller fills the next chunk meanwhile.
                self.start_writing(inner);
            } else if now {
                // Overlaps the write with the caller's next steps; its result comes back
                // to whichever method next finds it finished.
                self.spawn_drain(inner);
            } else {
                self.put(inner);
            }
            return Poll::Ready(Ok(n));
        }
    }

    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if let Some(op) = ready!(self.poll_complete(cx))? {
                finished(op)?;
            }
            let inner = self.take()?;
            if inner.pending() {
                self.spawn_drain(inner);
                continue;
            }
            self.put(inner);
            return Poll::Ready(Ok(()));
        }
    }

    pub(crate) fn poll_seek(
        &mut self,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        loop {
            match ready!(self.poll_complete(cx))? {
                // Ours, or one for the same target whose future was dropped: same answer.
                Some(Op::Seek(p, r)) if p == pos => return Poll::Ready(r),
                Some(op) => finished(op)?,
                None => {}
            }
            let mut inner = self.take()?;
            if inner.pending() {
                self.spawn_drain(inner);
                continue;
            }
            inner.drop_read_ahead();
            self.spawn(inner, move |i| {
                let back = std::mem::take(&mut i.seek_back);
                let target = match pos {
                    SeekFrom::Current(n) => i64::try_from(back)
                        .ok()
                        .and_then(|b| n.checked_sub(b))
                        .map(SeekFrom::Current),
                    other => Some(other),
                };
                let r = match target {
                    Some(t) => i.io.seek(t),
                    None => Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "seek offset overflows",
                    )),
                };
                Op::Seek(pos, r)
            });
        }
    }

    /// Flushes, then runs `f` on the std object in one blocking call. `f` is taken when
    /// the call starts, so polling again after that waits for it.
    pub(crate) fn poll_other<F>(
        &mut self,
        cx: &mut Context<'_>,
        f: &mut Option<F>,
    ) -> Poll<io::Result<()>>
    where
        F: FnOnce(&mut T) -> io::Result<()> + Send + 'static,
    {
        loop {
            match ready!(self.poll_complete(cx))? {
                Some(Op::Other(r)) if f.is_none() => return Poll::Ready(r),
                Some(op) => finished(op)?,
                None => {}
            }
            let mut inner = self.take()?;
            if inner.pending() {
                self.spawn_drain(inner);
                continue;
            }
            let Some(g) = f.take() else {
                // Started, and its result went to another method: nothing left to report.
                self.put(inner);
                return Poll::Ready(Ok(()));
            };
            // The call may change the file (set_len): read-ahead could go stale.
            inner.drop_read_ahead();
            self.spawn(inner, move |i| {
                Op::Other(i.settle().and_then(|()| g(&mut i.io)))
            });
        }
    }

    /// Gives back the std object once idle, with unwritten data dropped (callers flush).
    pub(crate) fn poll_into_raw(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        if let Some(op) = ready!(self.poll_complete(cx))? {
            finished(op)?;
        }
        let mut inner = self.take()?;
        // Leave the OS position where the caller's is.
        inner.drop_read_ahead();
        inner.data.clear();
        Poll::Ready(inner.settle().map(|()| inner.io))
    }
}

/// Streaming: the caller's side of [`pipeline`].
impl<T: Raw> Blocking<T> {
    fn reading_stream(&self) -> bool {
        matches!(&self.state, State::Stream(s) if s.dir == Dir::Read)
    }

    /// Starts reading ahead in the background (the buffer is empty: nothing unread).
    fn start_reading(&mut self, inner: Inner<T>) {
        let pipe = Pipe::new(None);
        self.hops += 1;
        pipeline::spawn(pipe.clone(), inner, Dir::Read);
        self.state = State::Stream(Stream {
            pipe,
            cur: Vec::new(),
            pos: 0,
            dir: Dir::Read,
        });
    }

    /// Hands the full write buffer to a write-behind task; the caller fills a new chunk.
    fn start_writing(&mut self, mut inner: Inner<T>) {
        let pipe = Pipe::new(Some(std::mem::take(&mut inner.data)));
        pipe.lock().chunks += 1; // `cur`, below
        self.hops += 1;
        pipeline::spawn(pipe.clone(), inner, Dir::Write);
        self.state = State::Stream(Stream {
            pipe,
            cur: Vec::with_capacity(WRITE_CHUNK),
            pos: 0,
            dir: Dir::Write,
        });
    }

    fn poll_stream_read(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if dst.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if !ready!(self.poll_chunk(cx))? {
            return Poll::Ready(Ok(0));
        }
        let State::Stream(s) = &mut self.state else {
            return Poll::Ready(Err(lost()));
        };
        // One chunk's rest at most: taking the next one could meet the end or an error,
        // which must not be reported with bytes in the same call.
        let n = dst.len().min(s.cur.len() - s.pos);
        dst[..n].copy_from_slice(&s.cur[s.pos..s.pos + n]);
        s.pos += n;
        Poll::Ready(Ok(n))
    }

    /// Reading: makes `cur` hold unread bytes; `false` at the end of the file, after
    /// which the handle is idle again (a later read tries again: the file may grow).
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        let State::Stream(s) = &mut self.state else {
            return Poll::Ready(Err(lost()));
        };
        if s.pos < s.cur.len() {
            return Poll::Ready(Ok(true));
        }
        let pipe = s.pipe.clone();
        let mut g = pipe.lock();
        let old = std::mem::take(&mut s.cur);
        s.pos = 0;
        if old.capacity() > 0 {
            g.free.push_back(old);
        }
        if let Some(c) = g.full.pop_front() {
            g.queued -= c.len();
            s.cur = c;
            let restart = g.restart_read();
            drop(g);
            if let Some(inner) = restart {
                self.hops += 1;
                pipeline::spawn(pipe, inner, Dir::Read);
            }
            return Poll::Ready(Ok(true));
        }
        if g.running {
            pipeline::wait_unlocked(g, cx.waker());
            return Poll::Pending;
        }
        match g.end.take() {
            // Stopped with every chunk full, and the caller has taken them all since.
            None => match g.take_for_task() {
                Some(inner) => {
                    pipeline::wait_unlocked(g, cx.waker());
                    self.hops += 1;
                    pipeline::spawn(pipe, inner, Dir::Read);
                    Poll::Pending
                }
                None => {
                    drop(g);
                    self.state = State::Idle(None);
                    Poll::Ready(Err(lost()))
                }
            },
            // The end of the file or an error, at the caller's position.
            Some(r) => {
                let inner = g.inner.take();
                drop(g);
                self.state = State::Idle(inner.map(|mut i| {
                    i.data.clear();
                    i.pos = 0;
                    i.writing = false;
                    i
                }));
                Poll::Ready(r.map(|()| false))
            }
        }
    }

    /// Writing: hands the full `cur` to the task, waiting for room if every chunk is in
    /// flight. With `report`, a write-behind error found here is returned (and the
    /// bytes not yet handed over are dropped with it); without, nothing is done then.
    fn poll_hand_over(&mut self, cx: &mut Context<'_>, report: bool) -> Poll<io::Result<()>> {
        let State::Stream(s) = &mut self.state else {
            return Poll::Ready(Ok(()));
        };
        let pipe = s.pipe.clone();
        let mut g = pipe.lock();
        if g.error.is_some() {
            if !report {
                return Poll::Pending;
            }
            s.cur.clear();
            return Poll::Ready(g.error.take().map_or(Ok(()), Err));
        }
        let Some(next) = g.take_free() else {
            // Every chunk queued: wait for room, starting the task if none runs.
            let start = if g.running {
                None
            } else {
                match g.take_for_task() {
                    Some(inner) => Some(inner),
                    None => return Poll::Ready(Err(lost())),
                }
            };
            pipeline::wait_unlocked(g, cx.waker());
            if let Some(inner) = start {
                self.hops += 1;
                pipeline::spawn(pipe, inner, Dir::Write);
            }
            return Poll::Pending;
        };
        let chunk = std::mem::replace(&mut s.cur, next);
        g.queued += chunk.len();
        g.full.push_back(chunk);
        let start = if g.running { None } else { g.take_for_task() };
        drop(g);
        if let Some(inner) = start {
            self.hops += 1;
            pipeline::spawn(pipe, inner, Dir::Write);
        }
        Poll::Ready(Ok(()))
    }

    /// Brings a stream back to idle: a read-ahead is stopped after its current read and
    /// what it read past the caller is given back (by a seek, in the next blocking
    /// call); a write-behind is drained, and its error returned.
    fn poll_end_stream(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let State::Stream(s) = &mut self.state else {
            return Poll::Ready(Ok(()));
        };
        let pipe = s.pipe.clone();
        let mut g = pipe.lock();
        let (inner, result) = match s.dir {
            Dir::Read => {
                g.stop = true;
                if g.running {
                    pipeline::wait_unlocked(g, cx.waker());
                    return Poll::Pending;
                }
                let unread = (s.cur.len() - s.pos + g.queued) as u64;
                let inner = g.inner.take().map(|mut i| {
                    i.seek_back += unread;
                    i.streak = 0;
                    i
                });
                // An end or error met past the caller's position is dropped with the
                // bytes before it: the caller never got there.
                (inner, Ok(()))
            }
            Dir::Write => {
                if !s.cur.is_empty() {
                    let c = std::mem::take(&mut s.cur);
                    if g.error.is_none() {
                        g.queued += c.len();
                        g.full.push_back(c);
                    }
                }
                if g.running {
                    pipeline::wait_unlocked(g, cx.waker());
                    return Poll::Pending;
                }
                if !g.full.is_empty() && g.error.is_none() {
                    if let Some(inner) = g.take_for_task() {
                        pipeline::wait_unlocked(g, cx.waker());
                        self.hops += 1;
                        pipeline::spawn(pipe, inner, Dir::Write);
                        return Poll::Pending;
                    }
                }
                let result = g.error.take().map_or(Ok(()), Err);
                (g.inner.take(), result)
            }
        };
        drop(g);
        let result = if inner.is_some() { result } else { Err(lost()) };
        self.state = State::Idle(inner.map(|mut i| {
            i.data.clear();
            i.pos = 0;
            i.writing = false;
            i
        }));
        Poll::Ready(result)
    }
}

impl<T: Raw> Drop for Blocking<T> {
    fn drop(&mut self) {
        // Data written and not flushed is written in the background, best effort (its
        // error has nobody to go to); a call in flight finishes on the pool by itself; a
        // read-ahead stops after its current read.
        if let State::Stream(s) = &mut self.state {
            let mut g = s.pipe.lock();
            // Nobody waits any more (dropped once unlocked).
            let waker = g.waker.take();
            let start = match s.dir {
                Dir::Read => {
                    g.stop = true;
                    None
                }
                Dir::Write if g.error.is_some() => None,
                Dir::Write => {
                    if !s.cur.is_empty() {
                        let c = std::mem::take(&mut s.cur);
                        g.queued += c.len();
                        g.full.push_back(c);
                    }
                    if g.running || g.full.is_empty() {
                        None
                    } else {
                        g.take_for_task()
                    }
                }
            };
            drop(g);
            drop(waker);
            if let Some(inner) = start {
                let pipe = s.pipe.clone();
                if weft_executor::Handle::try_current().is_ok() {
                    pipeline::spawn(pipe, inner, Dir::Write);
                } else {
                    pipeline::write_inline(pipe, inner);
                }
            }
            return;
        }
        if let State::Idle(Some(inner)) = &mut self.state {
            if inner.pending() {
                let Some(mut inner) = self.state_take() else {
                    return;
                };
                match weft_executor::Handle::try_current() {
                    Ok(h) => drop(h.spawn_blocking(move || inner.drain())),
                    // Outside a runtime a blocking write in place hurts no scheduler.
                    Err(_) => drop(inner.drain()),
                }
            }
        }
    }
}

impl<T: Raw> Blocking<T> {
    fn state_take(&mut self) -> Option<Inner<T>> {
        match &mut self.state {
            State::Idle(i) => i.take(),
            State::Busy(_) | State::Stream(_) => None,
        }
    }
}

impl<T: Raw> fmt::Debug for Blocking<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Blocking");
        match &self.state {
            State::Idle(Some(i)) => d
                .field("state", &"idle")
                .field("read_ahead", &i.unread())
                .field("unflushed", &if i.writing { i.data.len() } else { 0 }),
            State::Idle(None) => d.field("state", &"lost"),
            State::Busy(_) => d.field("state", &"busy"),
            State::Stream(s) if s.dir == Dir::Read => d.field("state", &"reading ahead"),
            State::Stream(_) => d.field("state", &"writing behind"),
        };
        d.finish()
    }
}

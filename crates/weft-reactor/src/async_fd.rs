//! `Async<T>`: any non-blocking file descriptor, registered with the reactor.

use crate::reactor::Reactor;
use crate::source::{AfterBlock, Direction, Source, WaitSlot, READABLE, WRITABLE};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::ops::Deref;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use weft_executor::{coop, Handle};

const SHUT_DOWN: &str = "the weft runtime that owns this I/O object has shut down";

pub(crate) const NO_REACTOR: &str = "weft sockets need a weft runtime with a reactor: create \
them inside `weft::run` or `Runtime::block_on` (with `weft-executor` alone, install \
`weft_reactor::ReactorDriver` as the driver and its `reactor()` as an extension)";

/// An I/O object (a socket, a pipe: anything with a file descriptor) registered with the
/// runtime's reactor, in non-blocking mode.
///
/// Reads and writes are tried at once; only when the operating system says `WouldBlock`
/// does the task wait for the reactor to report readiness, then tries again. Several tasks
/// may wait on the same direction of the same object through its async methods; a wait
/// that is given up (its future dropped, under a `timeout` say) takes its waker out.
///
/// Every operation that completes spends a unit of the task's cooperative budget
/// (`weft_executor::coop`): a task that loops over an object that is always ready still
/// returns `Pending` now and then, so it does not hold its worker.
///
/// Dropping it deregisters the descriptor, then closes it.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use weft_reactor::Async;
/// # let rt = weft_reactor::install(&mut weft_executor::Builder::new()).unwrap().build().unwrap();
/// rt.block_on(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     let a = Async::new(a).unwrap();
///     let b = Async::new(b).unwrap();
///     a.write_with(|s| (&*s).write(b"hi")).await.unwrap();
///     let mut buf = [0; 2];
///     b.read_with(|s| (&*s).read(&mut buf)).await.unwrap();
///     assert_eq!(&buf, b"hi");
/// });
/// ```
pub struct Async<T: AsFd> {
    io: Option<T>,
    source: Arc<Source>,
    reactor: Arc<Reactor>,
}

impl<T: AsFd + fmt::Debug> fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Async").field("io", &self.io).finish()
    }
}

impl<T: AsFd> Async<T> {
    /// Puts `io` in non-blocking mode and registers it with the current runtime's reactor.
    ///
    /// # Errors
    ///
    /// Outside a runtime with a reactor (kind `Other`, with a message that says how to get
    /// one), or if registration fails.
    pub fn new(io: T) -> io::Result<Async<T>> {
        Async::with_reactor(io, current_reactor()?)
    }

    /// Like [`new`](Async::new), with an explicit reactor.
    pub fn with_reactor(io: T, reactor: Arc<Reactor>) -> io::Result<Async<T>> {
        socket2::SockRef::from(&io).set_nonblocking(true)?;
        Async::register(io, reactor)
    }

    /// Registers `io`, already non-blocking, with the current runtime's reactor.
    pub(crate) fn new_nonblocking(io: T) -> io::Result<Async<T>> {
        Async::register(io, current_reactor()?)
    }

    fn register(io: T, reactor: Arc<Reactor>) -> io::Result<Async<T>> {
        let source = reactor.register(io.as_fd())?;
        Ok(Async {
            io: Some(io),
            source,
            reactor,
        })
    }

    /// The I/O object.
    pub fn get_ref(&self) -> &T {
        self.io.as_ref().expect("present until into_inner or drop")
    }

    /// Deregisters the object and gives it back (still non-blocking).
    pub fn into_inner(mut self) -> io::Result<T> {
        let io = self.io.take().expect("present until into_inner or drop");
        self.reactor.deregister(&self.source, io.as_fd())?;
        Ok(io)
    }

    /// The reactor this object is registered with.
    pub(crate) fn reactor(&self) -> &Arc<Reactor> {
        &self.reactor
    }

    /// About to wait: fails if nobody will ever report readiness again (the runtime shut
    /// down); in oneshot mode, arms the registration.
    fn before_wait(&self) -> io::Result<()> {
        if self.reactor.is_shut_down() {
            return Err(io::Error::other(SHUT_DOWN));
        }
        self.reactor.rearm(&self.source, self.get_ref().as_fd())
    }

    /// A waiter for `dir` that removes its waker from the source when dropped.
    pub(crate) fn waiter(&self, dir: Direction) -> Waiter<'_> {
        Waiter {
            source: &self.source,
            dir,
            slot: WaitSlot::new(),
        }
    }

    /// Removes the waker registered in `slot`, if any (its owner stops waiting).
    pub(crate) fn unregister(&self, dir: Direction, slot: &mut WaitSlot) {
        self.source.unregister(dir, slot);
    }

    /// Waits for readiness in `dir`, spending a unit of the task's budget when ready.
    pub(crate) fn poll_ready(
        &self,
        dir: Direction,
        slot: Option<&mut WaitSlot>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let coop = ready!(coop::poll_proceed(cx));
        if self.source.is_ready(dir.bit()) {
            coop.made_progress();
            return Poll::Ready(Ok(()));
        }
        match self.source.wait(dir, slot, cx) {
            AfterBlock::Retry => {
                coop.made_progress();
                Poll::Ready(Ok(()))
            }
            AfterBlock::Wait => match self.before_wait() {
                Ok(()) => Poll::Pending,
                Err(e) => {
                    coop.made_progress();
                    Poll::Ready(Err(e))
                }
            },
        }
    }

    /// Polls until the object is readable, as far as the reactor knows: see
    /// [`readable`](Async::readable).
    ///
    /// Callers of the `poll_*` methods through `&self` share one waker per direction (as
    /// in tokio and async-io): the most recent caller's. A caller whose waker is replaced
    /// by another task's is woken at once (so it is never forgotten: if it still waits, it
    /// polls again). To wait on one direction from several tasks, use
    /// [`readable`](Async::readable) and the other async methods: each of their futures
    /// has its own entry, removed when the future is dropped.
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(Direction::Read, None, cx)
    }

    /// Polls until the object is writable, as far as the reactor knows: see
    /// [`writable`](Async::writable), and [`poll_readable`](Async::poll_readable) for the
    /// waker.
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(Direction::Write, None, cx)
    }

    /// Waits until the object is readable, as far as the reactor knows.
    ///
    /// The read readiness is set by the reactor's read events and cleared only when a read
    /// through this object (`read_with`, `poll_read_with`, or [`try_io`](Async::try_io)
    /// with [`Interest::READABLE`]) returns `WouldBlock`. So this completes at once after a
    /// read that succeeded, even if nothing more can be read: the next read returns
    /// `WouldBlock` (clearing the readiness), and the next `readable` waits. Code that does
    /// its own non-blocking I/O on the descriptor must run it through `try_io`, or
    /// `readable` never waits. (One more clears it: `poll_read_uninit` of this crate's TCP
    /// streams, when the kernel says the read left the receive queue empty.)
    ///
    /// Dropping the future removes its waker.
    pub async fn readable(&self) -> io::Result<()> {
        let mut w = self.waiter(Direction::Read);
        poll_fn(|cx| self.poll_ready(Direction::Read, Some(&mut w.slot), cx)).await
    }

    /// Waits until the object is writable, as far as the reactor knows. The same as
    /// [`readable`](Async::readable), for writes.
    pub async fn writable(&self) -> io::Result<()> {
        let mut w = self.waiter(Direction::Write);
        poll_fn(|cx| self.poll_ready(Direction::Write, Some(&mut w.slot), cx)).await
    }

    /// Waits until the object is ready in one of the directions of `interest`, as far as
    /// the reactor knows, and returns the directions it is ready in (those of `interest`
    /// only). See [`readable`](Async::readable) for when readiness is set and cleared.
    ///
    /// Dropping the future removes its wakers.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use weft_reactor::{Async, Interest};
    /// # let rt = weft_reactor::install(&mut weft_executor::Builder::new()).unwrap().build().unwrap();
    /// rt.block_on(async {
    ///     let (a, _b) = UnixStream::pair().unwrap();
    ///     let a = Async::new(a).unwrap();
    ///     let ready = a.ready(Interest::READABLE | Interest::WRITABLE).await.unwrap();
    ///     assert!(ready.is_writable()); // nothing was sent to `a`, but it can send
    /// });
    /// ```
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        let mut r = self.waiter(Direction::Read);
        let mut w = self.waiter(Direction::Write);
        poll_fn(|cx| self.poll_ready_any(interest, [Some(&mut r.slot), Some(&mut w.slot)], cx))
            .await
    }

    /// The directions of `interest` the object is ready in now, as far as the reactor knows.
    fn ready_now(&self, interest: Interest) -> Ready {
        let mut ready = Ready::EMPTY;
        for dir in interest.directions() {
            if self.source.is_ready(dir.bit()) {
                ready.0 |= dir.bit() as u8;
            }
        }
        ready
    }

    /// Waits for readiness in any direction of `interest` (with a slot per direction, or
    /// the shared entries), spending a unit of the task's budget when ready.
    pub(crate) fn poll_ready_any(
        &self,
        interest: Interest,
        mut slots: [Option<&mut WaitSlot>; 2],
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Ready>> {
        let coop = ready!(coop::poll_proceed(cx));
        let mut ready = self.ready_now(interest);
        if ready.is_empty() {
            // Registered in each direction in turn: one that turned ready meanwhile ends
            // the wait (the wakers left behind go with the future's waiters).
            for dir in interest.directions() {
                let slot = slots[dir as usize].as_deref_mut();
                if self.source.wait(dir, slot, cx) == AfterBlock::Retry {
                    ready = self.ready_now(interest);
                    if !ready.is_empty() {
                        break;
                    }
                }
            }
        }
        if !ready.is_empty() {
            coop.made_progress();
            return Poll::Ready(Ok(ready));
        }
        match self.before_wait() {
            Ok(()) => Poll::Pending,
            Err(e) => {
                coop.made_progress();
                Poll::Ready(Err(e))
            }
        }
    }

    /// Runs `op`, a non-blocking operation of the caller's own on the object, and clears
    /// the readiness of `interest` if it returns `WouldBlock` (unless an event came while
    /// it ran): then [`readable`](Async::readable) (or `writable`) waits for the next
    /// event, as it should. Any other result leaves the readiness as it is.
    ///
    /// Unlike tokio's `try_io`, `op` runs whether or not the object is known to be ready
    /// (weft's I/O is optimistic); it never waits.
    ///
    /// # Examples
    ///
    /// A read of its own, through the raw descriptor, paired with `readable`:
    ///
    /// ```
    /// use std::io::{self, Read, Write};
    /// use std::os::unix::net::UnixStream;
    /// use weft_reactor::{Async, Interest};
    /// # let rt = weft_reactor::install(&mut weft_executor::Builder::new()).unwrap().build().unwrap();
    /// rt.block_on(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     let b = Async::new(b).unwrap();
    ///     (&a).write_all(b"hi").unwrap();
    ///     let mut buf = [0; 2];
    ///     let n = loop {
    ///         b.readable().await.unwrap();
    ///         match b.try_io(Interest::READABLE, |s| (&*s).read(&mut buf)) {
    ///             Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
    ///             r => break r.unwrap(),
    ///         }
    ///     };
    ///     assert_eq!(&buf[..n], b"hi");
    /// });
    /// ```
    pub fn try_io<R>(
        &self,
        interest: Interest,
        op: impl FnOnce(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let before = self.source.snapshot();
        let res = op(self.get_ref());
        if let Err(e) = &res {
            if e.kind() == io::ErrorKind::WouldBlock {
                self.source.clear(interest.bits(), before);
            }
        }
        res
    }

    /// Runs `op` until it does not return `WouldBlock`, waiting for `dir` when it does;
    /// spends a unit of the task's budget first, kept when the operation completed. Every
    /// operation of every socket goes through here.
    pub(crate) fn poll_with<R>(
        &self,
        dir: Direction,
        slot: Option<&mut WaitSlot>,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_with_drained(dir, slot, cx, op, |_| false)
    }

    /// `poll_with`, and when `drained` says the completed operation left nothing to read
    /// (a TCP read after which the kernel reported its receive queue empty), the read
    /// readiness is cleared as after a `WouldBlock`, unless an event came during the
    /// operation or one reported a hang-up (source.rs, "Drained reads"). The next read is
    /// still tried (reads here are optimistic); whoever waits for readiness first now waits
    /// for the next event.
    pub(crate) fn poll_with_drained<R>(
        &self,
        dir: Direction,
        mut slot: Option<&mut WaitSlot>,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
        drained: impl FnOnce(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        let coop = ready!(coop::poll_proceed(cx));
        loop {
            let before = self.source.snapshot();
            match op(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    match self
                        .source
                        .clear_and_wait(dir, before, slot.as_deref_mut(), cx)
                    {
                        AfterBlock::Retry => continue,
                        AfterBlock::Wait => {
                            return match self.before_wait() {
                                // The unit goes back (`coop` drops unspent).
                                Ok(()) => Poll::Pending,
                                Err(e) => {
                                    coop.made_progress();
                                    Poll::Ready(Err(e))
                                }
                            };
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                res => {
                    if matches!(&res, Ok(r) if drained(r)) {
                        self.source.clear_drained(before);
                    }
                    coop.made_progress();
                    return Poll::Ready(res);
                }
            }
        }
    }

    /// Runs a read-like operation, waiting for readability whenever it would block.
    ///
    /// Each call that finds the operation done spends a unit of the task's cooperative
    /// budget; when the budget is spent it returns `Pending` (and wakes the task) without
    /// running `op`. The waker is kept as by [`poll_readable`](Async::poll_readable).
    pub fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_with(Direction::Read, None, cx, op)
    }

    /// Runs a write-like operation, waiting for writability whenever it would block. See
    /// [`poll_read_with`](Async::poll_read_with).
    pub fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_with(Direction::Write, None, cx, op)
    }

    /// Runs a read-like operation until it does not return `WouldBlock`. Dropping the
    /// future removes its waker.
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let mut w = self.waiter(Direction::Read);
        poll_fn(|cx| self.poll_with(Direction::Read, Some(&mut w.slot), cx, &mut op)).await
    }

    /// Runs a write-like operation until it does not return `WouldBlock`. Dropping the
    /// future removes its waker.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let mut w = self.waiter(Direction::Write);
        poll_fn(|cx| self.poll_with(Direction::Write, Some(&mut w.slot), cx, &mut op)).await
    }

    /// Wakers registered on this object now (for tests).
    #[doc(hidden)]
    pub fn waiter_count(&self) -> usize {
        self.source.waiter_count()
    }
}

/// A wait in one direction that removes its waker from the source when dropped.
pub(crate) struct Waiter<'a> {
    source: &'a Source,
    dir: Direction,
    pub(crate) slot: WaitSlot,
}

impl Drop for Waiter<'_> {
    #[inline]
    fn drop(&mut self) {
        self.source.unregister(self.dir, &mut self.slot);
    }
}

/// A registered object polled through `&mut self` (a stream, a stream's half), with a
/// slot per direction: its waker is stored once, and removed when it is dropped.
pub(crate) struct Polled<P: Deref>
where
    P::Target: Registered,
{
    io: P,
    slots: [WaitSlot; 2],
}

/// What `Polled` needs of the object it holds.
pub(crate) trait Registered {
    fn unregister_slot(&self, dir: Direction, slot: &mut WaitSlot);
}

impl<T: AsFd> Registered for Async<T> {
    fn unregister_slot(&self, dir: Direction, slot: &mut WaitSlot) {
        self.unregister(dir, slot);
    }
}

impl<T: AsFd, P: Deref<Target = Async<T>>> Polled<P> {
    pub(crate) fn new(io: P) -> Polled<P> {
        Polled {
            io,
            slots: [WaitSlot::new(), WaitSlot::new()],
        }
    }

    /// The object (a shared `Arc`, say).
    pub(crate) fn get(&self) -> &P {
        &self.io
    }

    /// The object, with this holder's wakers removed (to take a stream apart).
    pub(crate) fn into_inner(self) -> P
    where
        P: Clone,
    {
        // A clone, then `self` dropped (which removes its wakers): no move out of a type
        // with a destructor.
        self.io.clone()
    }

    pub(crate) fn poll_read_with<R>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let slot = &mut self.slots[Direction::Read as usize];
        self.io.poll_with(Direction::Read, Some(slot), cx, op)
    }

    /// A read whose operation also says whether it left the receive queue empty
    /// (`Async::poll_with_drained`); returns the count.
    pub(crate) fn poll_read_drained(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<(usize, bool)>,
    ) -> Poll<io::Result<usize>> {
        let slot = &mut self.slots[Direction::Read as usize];
        let drained = |&(n, empty): &(usize, bool)| n > 0 && empty;
        self.io
            .poll_with_drained(Direction::Read, Some(slot), cx, op, drained)
            .map_ok(|(n, _)| n)
    }

    pub(crate) fn poll_write_with<R>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let slot = &mut self.slots[Direction::Write as usize];
        self.io.poll_with(Direction::Write, Some(slot), cx, op)
    }
}

impl<P: Deref> Deref for Polled<P>
where
    P::Target: Registered,
{
    type Target = P::Target;

    fn deref(&self) -> &P::Target {
        &self.io
    }
}

impl<P: Deref> Drop for Polled<P>
where
    P::Target: Registered,
{
    fn drop(&mut self) {
        let [r, w] = &mut self.slots;
        self.io.unregister_slot(Direction::Read, r);
        self.io.unregister_slot(Direction::Write, w);
    }
}

/// Which readiness an operation of the caller's own depends on, for `try_io`: readable,
/// writable, or both (`Interest::READABLE | Interest::WRITABLE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interest(u8);

impl Interest {
    /// Reads, receives, accepts.
    pub const READABLE: Interest = Interest(READABLE as u8);
    /// Writes, sends.
    pub const WRITABLE: Interest = Interest(WRITABLE as u8);

    /// True if it includes reads.
    pub const fn is_readable(self) -> bool {
        self.0 & READABLE as u8 != 0
    }

    /// True if it includes writes.
    pub const fn is_writable(self) -> bool {
        self.0 & WRITABLE as u8 != 0
    }

    /// Both interests.
    #[must_use]
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    fn bits(self) -> usize {
        usize::from(self.0)
    }

    /// `interest` without the directions of `other` (tokio's `remove`); `None` if nothing
    /// is left.
    #[must_use]
    pub const fn remove(self, other: Interest) -> Option<Interest> {
        match self.0 & !other.0 {
            0 => None,
            bits => Some(Interest(bits)),
        }
    }

    /// The directions it includes.
    fn directions(self) -> impl Iterator<Item = Direction> {
        [Direction::Read, Direction::Write]
            .into_iter()
            .filter(move |d| self.bits() & d.bit() != 0)
    }
}

/// The readiness an I/O object was found in by `ready(interest)`: readable, writable,
/// both, or (combined by hand) neither.
///
/// A peer that closed the connection, and a socket with a pending error, show as readable
/// (the next read returns `Ok(0)`, or the error); weft keeps no separate "closed" or
/// "error" flags.
///
/// # Examples
///
/// ```
/// use weft_reactor::Ready;
/// let both = Ready::READABLE | Ready::WRITABLE;
/// assert!(both.is_readable() && both.is_writable());
/// assert_eq!(both, Ready::ALL);
/// assert!(Ready::EMPTY.is_empty());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ready(u8);

impl Ready {
    /// Ready in no direction.
    pub const EMPTY: Ready = Ready(0);
    /// May be read (or received from, accepted on) without blocking.
    pub const READABLE: Ready = Ready(READABLE as u8);
    /// May be written (or sent on) without blocking.
    pub const WRITABLE: Ready = Ready(WRITABLE as u8);
    /// Both directions.
    pub const ALL: Ready = Ready((READABLE | WRITABLE) as u8);

    /// True if ready in no direction.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True if it includes reads.
    pub const fn is_readable(self) -> bool {
        self.0 & READABLE as u8 != 0
    }

    /// True if it includes writes.
    pub const fn is_writable(self) -> bool {
        self.0 & WRITABLE as u8 != 0
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("is_readable", &self.is_readable())
            .field("is_writable", &self.is_writable())
            .finish()
    }
}

impl std::ops::BitOr for Ready {
    type Output = Ready;

    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl std::ops::BitOrAssign for Ready {
    fn bitor_assign(&mut self, other: Ready) {
        self.0 |= other.0;
    }
}

impl std::ops::BitAnd for Ready {
    type Output = Ready;

    fn bitand(self, other: Ready) -> Ready {
        Ready(self.0 & other.0)
    }
}

impl std::ops::BitOr for Interest {
    type Output = Interest;

    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

impl std::ops::BitOrAssign for Interest {
    fn bitor_assign(&mut self, other: Interest) {
        *self = self.add(other);
    }
}

fn current_reactor() -> io::Result<Arc<Reactor>> {
    Handle::current_extension::<Reactor>().ok_or_else(|| io::Error::other(NO_REACTOR))
}

impl<T: AsFd> AsFd for Async<T> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsFd> Drop for Async<T> {
    fn drop(&mut self) {
        if let Some(io) = self.io.take() {
            // Out of the poller first, then closed (when `io` drops).
            let _ = self.reactor.deregister(&self.source, io.as_fd());
        }
    }
}

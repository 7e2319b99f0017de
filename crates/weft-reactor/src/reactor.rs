//! The reactor: one `polling::Poller` per runtime, a slab of registered sources, and the
//! [`Driver`] through which the executor's idle worker waits on it.
//!
//! Sources are registered edge-triggered where the platform supports it (`epoll`,
//! `kqueue`), interested in both directions, once: no system call per wait. Elsewhere they
//! are registered oneshot and re-armed for the directions somebody waits on each time a
//! task starts waiting. Every source is deleted from the poller before its file descriptor
//! is closed.
//!
//! When the executor parks a worker in the [`ReactorDriver`], it blocks in
//! `Poller::wait` (with the timer's deadline as timeout when the timer is stacked on top);
//! `unpark` is `Poller::notify`. The events of one wait are turned into readiness on their
//! sources, and the woken tasks are collected and woken together after the locks are
//! released: on the parked worker's own queue, as one batch.
//!
//! # Locks
//!
//! The reactor's locks (the slab of sources, the event buffer, each source's waiters) are
//! never held while a waker is woken, cloned or dropped, nor while any other user value
//! is dropped: wakers are moved out and woken or dropped after the lock is released, so a
//! waker whose wake or drop comes back into the reactor (registers a socket, drops another
//! wait on the same source) cannot deadlock. A waker whose wake panics is caught: the
//! others of the same event are still woken, and the panic does not unwind into the
//! worker that was parked in the reactor.

use crate::source::{wake_each, Source};
use polling::{Event, Events, PollMode, Poller};
use slab::Slab;
use std::cell::Cell;
use std::fmt;
use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;
use weft_executor::Driver;
use weft_sync::Mutex;

/// Events taken from the poller per wait.
const EVENTS_PER_WAIT: usize = 1024;

/// The I/O reactor of a runtime. Found by the sockets through
/// [`Handle::extension`](weft_executor::Handle::extension).
pub struct Reactor {
    poller: Poller,
    /// The registered sources. Keys are slab indices, reused after removal. (A stale event
    /// for a reused key can only mark the new source ready, which costs it one
    /// `WouldBlock`: I/O is tried optimistically anyway.)
    sources: Mutex<Slab<Arc<Source>>>,
    /// The event buffer; held by whoever polls.
    events_buf: Mutex<Events>,
    edge: bool,
    /// Sources registered now (the slab's length, readable without its lock).
    registered: AtomicUsize,
    /// Set at runtime shutdown.
    shut_down: std::sync::atomic::AtomicBool,
    /// Counts waits and events, for metrics.
    waits: AtomicUsize,
    events: AtomicUsize,
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("registrations", &self.registrations())
            .field("edge_triggered", &self.edge)
            .finish_non_exhaustive()
    }
}

impl Reactor {
    /// A reactor with its own poller. Edge-triggered where the platform supports it.
    pub fn new() -> io::Result<Reactor> {
        let poller = Poller::new()?;
        let edge = poller.supports_edge();
        Reactor::with_poller(poller, edge)
    }

    /// A reactor that re-arms oneshot registrations instead of using edge-triggered mode,
    /// as it does on platforms without edge triggering: for the tests of that path only
    /// (`tests_oneshot.rs`).
    #[cfg(test)]
    pub(crate) fn new_oneshot() -> io::Result<Reactor> {
        Reactor::with_poller(Poller::new()?, false)
    }

    fn with_poller(poller: Poller, edge: bool) -> io::Result<Reactor> {
        Ok(Reactor {
            poller,
            sources: Mutex::new(Slab::new()),
            events_buf: Mutex::new(Events::with_capacity(
                NonZeroUsize::new(EVENTS_PER_WAIT).expect("non-zero"),
            )),
            edge,
            registered: AtomicUsize::new(0),
            shut_down: std::sync::atomic::AtomicBool::new(false),
            waits: AtomicUsize::new(0),
            events: AtomicUsize::new(0),
        })
    }

    /// Sources registered now.
    pub fn registrations(&self) -> usize {
        self.registered.load(Relaxed)
    }

    /// Waits performed on the poller so far (blocking or not).
    pub fn waits(&self) -> usize {
        self.waits.load(Relaxed)
    }

    /// Events delivered so far.
    pub fn events(&self) -> usize {
        self.events.load(Relaxed)
    }

    /// Registers a non-blocking file descriptor. The caller must call
    /// [`deregister`](Reactor::deregister) before the descriptor is closed.
    pub(crate) fn register(&self, fd: BorrowedFd<'_>) -> io::Result<Arc<Source>> {
        let source = {
            let mut slab = self.sources.lock();
            let entry = slab.vacant_entry();
            let key = entry.key();
            debug_assert!(key != usize::MAX, "polling reserves usize::MAX");
            let source = Arc::new(Source::new(key, fd.as_raw_fd()));
            entry.insert(source.clone());
            self.registered.store(slab.len(), Relaxed);
            source
        };
        let (interest, mode) = if self.edge {
            (Event::all(source.key), PollMode::Edge)
        } else {
            // Armed when somebody waits (see `rearm`).
            (Event::none(source.key), PollMode::Oneshot)
        };
        // SAFETY: `Async` deregisters the descriptor (`deregister`) in its `Drop` and in
        // `into_inner`, before the descriptor it owns can be closed.
        let added = unsafe { self.poller.add_with_mode(fd.as_raw_fd(), interest, mode) };
        if let Err(e) = added {
            self.remove_from_slab(source.key);
            return Err(e);
        }
        Ok(source)
    }

    fn remove_from_slab(&self, key: usize) {
        let removed = {
            let mut slab = self.sources.lock();
            let removed = slab.try_remove(key);
            self.registered.store(slab.len(), Relaxed);
            removed
        };
        // Dropped after the lock (were it the last reference, the source's wakers would
        // go with it).
        drop(removed);
    }

    /// Wakers held by all sources now (for tests).
    #[doc(hidden)]
    pub fn waiters(&self) -> usize {
        self.live_sources().iter().map(|s| s.waiter_count()).sum()
    }

    /// The sources registered now, taken out from under the slab's lock (what is done
    /// with them, a wake or a drop, happens after it is released).
    fn live_sources(&self) -> Vec<Arc<Source>> {
        self.sources
            .lock()
            .iter()
            .map(|(_, source)| source.clone())
            .collect()
    }

    /// Removes a source from the poller (before its descriptor closes) and the slab, and
    /// wakes whoever still waits on it.
    pub(crate) fn deregister(&self, source: &Source, fd: BorrowedFd<'_>) -> io::Result<()> {
        let res = self.poller.delete(fd);
        self.remove_from_slab(source.key);
        source.wake_all();
        res
    }

    /// Oneshot mode: arm the source for the directions somebody waits on.
    pub(crate) fn rearm(&self, source: &Source, fd: BorrowedFd<'_>) -> io::Result<()> {
        if self.edge {
            return Ok(());
        }
        let (readable, writable) = source.interest();
        let mut ev = Event::none(source.key);
        ev.readable = readable;
        ev.writable = writable;
        self.poller.modify_with_mode(fd, ev, PollMode::Oneshot)
    }

    /// True once the runtime shut down: nobody waits on the poller any more.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Relaxed)
    }

    /// Waits for events (at most `timeout`) and wakes the tasks they concern. If another
    /// thread is already polling, returns at once.
    fn poll_events(&self, timeout: Option<Duration>) {
        let Some(mut events) = self.events_buf.try_lock() else {
            return;
        };
        if timeout == Some(Duration::ZERO) && !self.maybe_ready() {
            return;
        }
        events.clear();
        self.waits.fetch_add(1, Relaxed);
        // Errors of the wait itself (EINTR is retried by polling) leave the events empty;
        // the executor simply calls again.
        let _ = self.poller.wait(&mut events, timeout);
        if events.is_empty() {
            return;
        }
        self.events.fetch_add(events.len(), Relaxed);
        // This thread's vector of wakers, which keeps its capacity from one dispatch to
        // the next. (A wake that came back here would find it taken, and use a new one.)
        let mut wakers = WAKERS.try_with(Cell::take).unwrap_or_default();
        {
            let slab = self.sources.lock();
            for ev in events.iter() {
                if let Some(source) = slab.get(ev.key) {
                    // Hang-up or error: final for the source (source.rs, "Drained reads").
                    let hung_up = ev.is_interrupt() || ev.is_err() == Some(true);
                    source.set_ready(ev.readable, ev.writable, hung_up, &mut wakers);
                    if !self.edge {
                        // The event disarmed the whole registration: arm it again for
                        // whoever still waits (in the other direction, say).
                        // SAFETY: the source is in the slab, and `deregister` takes the
                        // slab lock (held here) before its descriptor can be closed.
                        let fd = unsafe { BorrowedFd::borrow_raw(source.fd) };
                        let _ = self.rearm(source, fd);
                    }
                }
            }
        }
        // Woken after every lock is released, the event buffer's too (a wake may run any
        // code; on a worker it queues the task locally).
        drop(events);
        wake_each(wakers.drain(..));
        // (During the thread's exit the vector is simply dropped.)
        let _ = WAKERS.try_with(|w| w.set(wakers));
    }
}

impl Reactor {
    /// False if a wait with a zero timeout would find nothing: no event, no notification.
    ///
    /// On Linux every `Poller::wait` costs five system calls (it sets its timerfd and
    /// re-arms it, waits, then reads its eventfd and re-arms that), whatever the timeout.
    /// The zero-timeout polls (a searching worker's, the busy workers' 61-tick poll) mostly
    /// find nothing; one `poll(2)` on the epoll descriptor, which is readable exactly when
    /// an event or a notification is queued in it, says so for one system call. Elsewhere
    /// this always answers true.
    fn maybe_ready(&self) -> bool {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let mut fd = libc::pollfd {
                fd: self.poller.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: `fd` is one valid `pollfd` for the call's duration; the epoll
            // descriptor stays open while the poller (owned by `self`) lives.
            let n = unsafe { libc::poll(&mut fd, 1, 0) };
            // An error (EINTR, ENOMEM): let the real wait decide.
            n != 0
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            true
        }
    }
}

std::thread_local! {
    /// The wakers of one dispatch (see `poll_events`).
    static WAKERS: Cell<Vec<Waker>> = const { Cell::new(Vec::new()) };
}

/// The reactor as the executor's [`Driver`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use weft_executor::Builder;
/// use weft_reactor::{ReactorDriver, TcpListener, TcpStream};
///
/// let driver = ReactorDriver::new().unwrap();
/// let rt = Builder::new()
///     .driver(Arc::new(driver.clone()))
///     .extension(driver.reactor())
///     .build()
///     .unwrap();
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let client = weft_executor::spawn(async move { TcpStream::connect(addr).await });
///     let (_server_side, _) = listener.accept().await.unwrap();
///     client.await.unwrap().unwrap();
/// });
/// ```
#[derive(Clone, Debug)]
pub struct ReactorDriver {
    reactor: Arc<Reactor>,
}

impl ReactorDriver {
    /// A driver with a new reactor.
    pub fn new() -> io::Result<ReactorDriver> {
        Ok(ReactorDriver {
            reactor: Arc::new(Reactor::new()?),
        })
    }

    /// A driver for an existing reactor.
    pub fn from_reactor(reactor: Arc<Reactor>) -> ReactorDriver {
        ReactorDriver { reactor }
    }

    /// The reactor, to install with [`Builder::extension`](weft_executor::Builder::extension)
    /// so sockets find it.
    pub fn reactor(&self) -> Arc<Reactor> {
        self.reactor.clone()
    }
}

impl Driver for ReactorDriver {
    fn park(&self, timeout: Option<Duration>) {
        self.reactor.poll_events(timeout);
    }

    fn unpark(&self) {
        // Wakes the current wait, or makes the next one return at once. An error here
        // (the eventfd could not be written) would leave a worker asleep: nothing sane
        // to do but report it, on a stderr that may itself fail (not `eprintln!`, which
        // panics then).
        if let Err(e) = self.reactor.poller.notify() {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "weft: could not wake the reactor: {e}");
        }
    }

    fn shutdown(&self) {
        // Nobody will wait on the poller any more: wake whoever waits on a source (outside
        // the runtime's tasks, which are gone); their next poll reports the shutdown.
        self.reactor
            .shut_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        for s in self.reactor.live_sources() {
            s.wake_all();
        }
    }

    fn poll(&self) {
        // A busy worker calls this every 61 ticks. With no source registered there is
        // nothing to hear, and the system call would be pure overhead. (A notification
        // meant for a parked worker is not lost: it stays latched for the next wait.)
        if self.reactor.registered.load(Relaxed) == 0 {
            return;
        }
        self.reactor.poll_events(Some(Duration::ZERO));
    }
}

/// Installs a reactor in a runtime being built: a [`ReactorDriver`] as the driver, and
/// its [`Reactor`] as an extension. (The `weft` crate stacks the timer on top; see
/// `weft_timer::TimerDriver::new`.)
pub fn install(builder: &mut weft_executor::Builder) -> io::Result<&mut weft_executor::Builder> {
    let driver = ReactorDriver::new()?;
    Ok(builder
        .driver(Arc::new(driver.clone()))
        .extension(driver.reactor()))
}

#[cfg(all(test, not(weft_loom), any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;
    use crate::source::READABLE;
    use std::io::Write;
    use std::os::fd::AsFd;

    /// A zero-timeout poll with nothing queued makes no wait on the poller (one `poll(2)`
    /// instead of five system calls), and one with an event or a notification queued
    /// still delivers it.
    #[test]
    fn a_zero_timeout_poll_waits_only_when_something_is_queued() {
        let reactor = Reactor::new().unwrap();
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let source = reactor.register(b.as_fd()).unwrap();
        // The registration's first event (writable), then nothing.
        reactor.poll_events(Some(Duration::ZERO));
        let waits = reactor.waits();
        assert!(!source.is_ready(READABLE));
        reactor.poll_events(Some(Duration::ZERO));
        assert_eq!(reactor.waits(), waits, "a poll with nothing queued waited");
        // Data comes: the next zero-timeout poll waits and marks the source readable.
        a.write_all(b"x").unwrap();
        reactor.poll_events(Some(Duration::ZERO));
        assert_eq!(reactor.waits(), waits + 1);
        assert!(source.is_ready(READABLE));
        // A notification is queued too: the poll waits (and so consumes it).
        reactor.poller.notify().unwrap();
        reactor.poll_events(Some(Duration::ZERO));
        assert_eq!(reactor.waits(), waits + 2);
        reactor.poll_events(Some(Duration::ZERO));
        assert_eq!(reactor.waits(), waits + 2);
        reactor.deregister(&source, b.as_fd()).unwrap();
    }
}

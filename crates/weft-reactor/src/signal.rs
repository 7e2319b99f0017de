//! Unix signals as async streams of deliveries, delivered through the reactor.
//!
//! # How a delivery travels
//!
//! The first listener of a signal installs a handler for it with `signal-hook-registry`
//! (which chains with handlers installed before, by other libraries). The handler does
//! only what is async-signal-safe: it marks the signal pending (an atomic store) and
//! writes one byte to a non-blocking socket pair. The read end, one duplicate per
//! runtime, is registered in that runtime's reactor. Its waker is a *pump*: when the
//! reactor reports the socket readable, the pump drains it, turns each pending mark into a
//! new generation of its signal, and wakes that signal's listeners. No thread per signal,
//! no second reactor.
//!
//! A listener remembers the generation it last saw: it is woken once per burst of
//! deliveries (several deliveries before it runs are one), and a listener created after a
//! delivery does not see it.

use crate::async_fd::NO_REACTOR;
use crate::reactor::Reactor;
use crate::Async;
use parking_lot::Mutex;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll, Wake, Waker};
use weft_executor::Handle;

/// Signal numbers with a slot (0 is not a signal). Covers the real-time signals of Linux
/// (up to 64) and of the BSDs (up to 128).
const SLOTS: usize = 129;

/// A kind of Unix signal, for [`signal`].
///
/// # Examples
///
/// ```
/// use weft_reactor::signal::SignalKind;
///
/// assert_eq!(SignalKind::terminate().as_raw_value(), libc::SIGTERM);
/// assert_eq!(SignalKind::from_raw(libc::SIGUSR1), SignalKind::user_defined1());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// Any signal, by number (`libc::SIGRTMIN() + 1`, say). [`signal`] refuses the ones
    /// that cannot or must not be handled (`SIGKILL`, `SIGSTOP`, `SIGSEGV`, `SIGILL`,
    /// `SIGFPE`).
    pub const fn from_raw(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    pub const fn as_raw_value(&self) -> libc::c_int {
        self.0
    }

    /// `SIGALRM`: a timer set with `alarm(2)` expired.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGCHLD`: a child process exited, stopped or continued.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGHUP`: the terminal hung up; daemons often take it as "reload the configuration".
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGINT`: Ctrl-C in the terminal.
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGIO`: I/O is possible on a descriptor set up for it.
    pub const fn io() -> SignalKind {
        SignalKind(libc::SIGIO)
    }

    /// `SIGPIPE`: a write to a pipe or socket nobody reads. (Rust programs start with it
    /// ignored; listening to it replaces "ignored" by "handled": writes still fail with
    /// `BrokenPipe`.)
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGQUIT`: Ctrl-\ in the terminal.
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGTERM`: please stop (what `kill`, service managers and container runtimes send).
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGUSR1`, for the program's own use.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`, for the program's own use.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGWINCH`: the terminal's window changed size.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

impl From<libc::c_int> for SignalKind {
    fn from(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }
}

/// One signal's state, shared by the handler and the listeners.
struct Slot {
    /// Set by the handler, taken by a dispatch.
    pending: AtomicBool,
    /// Bursts dispatched so far (wrapping: listeners compare for equality).
    generation: AtomicUsize,
    /// The handler is installed (set under `install`'s lock).
    installed: std::sync::Mutex<bool>,
    listeners: Mutex<Listeners>,
}

/// The wakers of a signal's listeners, one cell per listener.
#[derive(Default)]
struct Listeners {
    wakers: Vec<Option<Waker>>,
    free: Vec<usize>,
}

struct Globals {
    /// The handler's end. Never closed: a handler may run at any time.
    write: UnixStream,
    /// Duplicated for each runtime's pump.
    read: UnixStream,
    slots: Box<[Slot]>,
    /// One pump per reactor that has listeners.
    pumps: Mutex<Vec<Weak<Pump>>>,
}

fn globals() -> io::Result<&'static Globals> {
    static GLOBALS: OnceLock<Globals> = OnceLock::new();
    if let Some(g) = GLOBALS.get() {
        return Ok(g);
    }
    let (read, write) = UnixStream::pair()?;
    read.set_nonblocking(true)?;
    // A full socket means a wake-up is already on its way: the handler's write may fail.
    write.set_nonblocking(true)?;
    let slots = (0..SLOTS)
        .map(|_| Slot {
            pending: AtomicBool::new(false),
            generation: AtomicUsize::new(0),
            installed: std::sync::Mutex::new(false),
            listeners: Mutex::new(Listeners::default()),
        })
        .collect();
    // Two threads racing here: one pair wins, the other is dropped unused.
    Ok(GLOBALS.get_or_init(|| Globals {
        write,
        read,
        slots,
        pumps: Mutex::new(Vec::new()),
    }))
}

/// Installs the handler of `signum` once.
fn install(g: &'static Globals, signum: libc::c_int) -> io::Result<&'static Slot> {
    let slot = usize::try_from(signum)
        .ok()
        .filter(|&i| i > 0)
        .and_then(|i| g.slots.get(i))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{signum} is not a signal number weft can listen to"),
            )
        })?;
    if signal_hook_registry::FORBIDDEN.contains(&signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {signum} cannot be handled (SIGKILL, SIGSTOP) or must not be (SIGSEGV, SIGILL, SIGFPE)"),
        ));
    }
    let mut installed = slot.installed.lock().unwrap_or_else(|e| e.into_inner());
    if !*installed {
        let fd: RawFd = g.write.as_raw_fd();
        let handler = move || {
            slot.pending.store(true, SeqCst);
            let byte = 1u8;
            // write(2) is async-signal-safe; its failure (the socket is full: a wake-up is
            // pending anyway) needs no handling; signal-hook-registry saves errno.
            // SAFETY: `fd` is the write end kept open for the life of the process, and
            // the buffer is one valid byte.
            unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
        };
        // SAFETY: the handler only stores to an atomic and calls write(2), both
        // async-signal-safe; it takes no lock and does not allocate. `signum` is not one
        // of the forbidden signals (checked above), so `register` does not panic.
        unsafe { signal_hook_registry::register(signum, handler) }?;
        *installed = true;
    }
    Ok(slot)
}

/// Turns pending marks into generations and wakes the listeners of those signals.
fn dispatch(g: &Globals) {
    for slot in g.slots.iter() {
        // Looked at before the swap: most slots are idle, and a load writes no cache line.
        if slot.pending.load(SeqCst) && slot.pending.swap(false, SeqCst) {
            slot.generation.fetch_add(1, SeqCst);
            wake_listeners(slot);
        }
    }
}

/// Wakes every listener of every signal (a pump died: those that used it return `None`).
fn wake_everyone(g: &Globals) {
    g.slots.iter().for_each(wake_listeners);
}

/// Wakes the listeners of one signal that wait, with none of our locks held.
fn wake_listeners(slot: &Slot) {
    let woken: Vec<Waker> = slot
        .listeners
        .lock()
        .wakers
        .iter_mut()
        .filter_map(Option::take)
        .collect();
    for w in woken {
        w.wake();
    }
}

/// The read end registered in one reactor; its own waker drains it and dispatches.
struct Pump {
    io: Mutex<Option<Async<UnixStream>>>,
    reactor: Weak<Reactor>,
    /// The runtime shut down: nobody will report readiness again.
    dead: AtomicBool,
}

impl Pump {
    /// Drains the socket (registering the pump's waker for the next readiness), then
    /// dispatches.
    fn pump(self: &Arc<Self>) {
        let g = globals().expect("a pump exists only once the globals do");
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        let mut buf = [0u8; 64];
        let mut guard = self.io.lock();
        let Some(io) = guard.as_ref() else {
            return;
        };
        // Unconstrained: the pump is no task, and a spent budget (of the task that
        // happens to create the pump) would make the read return `Pending` without
        // registering, and wake this very waker while its lock is held.
        let drain = std::pin::pin!(weft_executor::coop::unconstrained(poll_fn(|cx| {
            io.poll_read_with(cx, |s| loop {
                match (&*s).read(&mut buf) {
                    Ok(0) => return Ok(()), // Cannot happen: the write end is never closed.
                    Ok(_) => continue,
                    Err(e) => return Err(e),
                }
            })
        })));
        let drained = drain.poll(&mut cx);
        let died = matches!(drained, Poll::Ready(Err(_)));
        let io = if died { guard.take() } else { None };
        drop(guard);
        dispatch(g);
        if died {
            self.dead.store(true, SeqCst);
            // Deregistering wakes this pump once more; it finds no socket and returns.
            drop(io);
            wake_everyone(g);
        }
    }
}

impl Wake for Pump {
    fn wake(self: Arc<Self>) {
        self.pump();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.pump();
    }
}

/// The pump of the current runtime's reactor, created if needed.
fn current_pump(g: &'static Globals) -> io::Result<Arc<Pump>> {
    let reactor =
        Handle::current_extension::<Reactor>().ok_or_else(|| io::Error::other(NO_REACTOR))?;
    let created = {
        let mut pumps = g.pumps.lock();
        pumps.retain(|p| p.strong_count() > 0);
        let found = pumps
            .iter()
            .filter_map(Weak::upgrade)
            .find(|p| Weak::as_ptr(&p.reactor) == Arc::as_ptr(&reactor) && !p.dead.load(SeqCst));
        if let Some(p) = found {
            return Ok(p);
        }
        let io = Async::with_reactor(g.read.try_clone()?, reactor.clone())?;
        let pump = Arc::new(Pump {
            io: Mutex::new(Some(io)),
            reactor: Arc::downgrade(&reactor),
            dead: AtomicBool::new(false),
        });
        pumps.push(Arc::downgrade(&pump));
        pump
    };
    // First drain, which registers the pump's waker; outside the lock, as it may wake
    // listeners.
    created.pump();
    Ok(created)
}

/// Listens to a Unix signal: a [`Signal`] that yields once per burst of deliveries that
/// happen after this call.
///
/// The first call for a signal installs a handler for it, for the rest of the process:
/// dropping every listener does **not** restore the default disposition (a `SIGINT` that
/// nobody listens to any more is then simply ignored, not fatal). Handlers that other
/// libraries installed before keep running (the handlers chain).
///
/// # Errors
///
/// Outside a runtime with a reactor; for a signal that cannot or must not be handled
/// (`SIGKILL`, `SIGSTOP`, `SIGSEGV`, `SIGILL`, `SIGFPE`) or a number that is not a signal
/// (kind `InvalidInput`); if the handler cannot be installed.
///
/// # Examples
///
/// ```
/// use weft_reactor::signal::{signal, SignalKind};
/// # let rt = weft_reactor::install(&mut weft_executor::Builder::new()).unwrap().build().unwrap();
/// rt.block_on(async {
///     let mut hangups = signal(SignalKind::hangup()).unwrap();
///     // SAFETY: raise(3) has no preconditions; a handler for SIGHUP is installed.
///     unsafe { libc::raise(libc::SIGHUP) };
///     hangups.recv().await.unwrap();
/// });
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let g = globals()?;
    let slot = install(g, kind.0)?;
    let pump = current_pump(g)?;
    // Deliveries already marked belong to the listeners that exist now: dispatch them
    // before looking at the generation.
    dispatch(g);
    let seen = slot.generation.load(SeqCst);
    let cell = {
        let mut l = slot.listeners.lock();
        match l.free.pop() {
            Some(i) => i,
            None => {
                l.wakers.push(None);
                l.wakers.len() - 1
            }
        }
    };
    Ok(Signal {
        kind,
        slot,
        cell,
        seen,
        pump,
    })
}

/// A listener of one Unix signal, from [`signal`]. Also a `Stream` of `()`.
///
/// Any number of listeners may listen to the same signal; each is woken once per burst
/// of deliveries.
pub struct Signal {
    kind: SignalKind,
    slot: &'static Slot,
    cell: usize,
    seen: usize,
    pump: Arc<Pump>,
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Signal {
    /// Waits for the next delivery (or burst of deliveries) of the signal.
    ///
    /// Returns `None` once the runtime whose reactor carries the deliveries has shut down.
    /// Cancel-safe: a delivery that arrives while nobody awaits is kept for the next call.
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery: `Ready(Some(()))` if one happened since the last,
    /// `Ready(None)` once the runtime shut down, otherwise `Pending`, and `cx` is woken
    /// at the next delivery.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let coop = std::task::ready!(weft_executor::coop::poll_proceed(cx));
        if self.take_delivery() {
            coop.made_progress();
            return Poll::Ready(Some(()));
        }
        if self.pump.dead.load(SeqCst) {
            return Poll::Ready(None);
        }
        let old = {
            let mut l = self.slot.listeners.lock();
            let cell = &mut l.wakers[self.cell];
            match cell {
                Some(w) if w.will_wake(cx.waker()) => None,
                _ => cell.replace(cx.waker().clone()),
            }
        };
        // Outside the lock.
        drop(old);
        // Looked at again after registering: a dispatch bumps the generation before it
        // takes the wakers under the lock, so it found ours or we see its generation.
        if self.take_delivery() {
            coop.made_progress();
            return Poll::Ready(Some(()));
        }
        Poll::Pending
    }

    fn take_delivery(&mut self) -> bool {
        let now = self.slot.generation.load(SeqCst);
        if now == self.seen {
            return false;
        }
        self.seen = now;
        true
    }
}

impl futures_core::Stream for Signal {
    type Item = ();

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.get_mut().poll_recv(cx)
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        let old = {
            let mut l = self.slot.listeners.lock();
            l.free.push(self.cell);
            l.wakers[self.cell].take()
        };
        drop(old);
    }
}

/// Waits for Ctrl-C (`SIGINT`).
///
/// The listener is created when the future is first polled: a Ctrl-C before that is not
/// seen. Once called, Ctrl-C no longer ends the process by default, for the rest of its
/// life (see [`signal`]).
///
/// # Errors
///
/// As [`signal`]; and if the runtime shuts down first.
///
/// # Examples
///
/// ```no_run
/// # let rt = weft_reactor::install(&mut weft_executor::Builder::new()).unwrap().build().unwrap();
/// rt.block_on(async {
///     weft_reactor::signal::ctrl_c().await.unwrap();
///     println!("bye");
/// });
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    let mut sig = signal(SignalKind::interrupt())?;
    sig.recv()
        .await
        .ok_or_else(|| io::Error::other("the weft runtime shut down before Ctrl-C"))
}

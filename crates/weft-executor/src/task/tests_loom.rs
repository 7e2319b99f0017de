//! Loom models of the task state machine.
//!
//! Run with `RUSTFLAGS="--cfg weft_loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p weft-executor
//! --release --lib loom`. Each model runs real task cells (state word, waker, join handle,
//! owned list) against a mock scheduler whose queue is a loom mutex. loom checks every
//! interleaving up to the preemption bound, reports deadlocks (a lost wake-up leaves a
//! `block_on` waiting forever) and leaks (every cell holds a loom `Arc` to the scheduler,
//! so a cell never freed is reported), and catches unsynchronised access to the cells'
//! `UnsafeCell`s (the future, the output, the join waker slot).

mod batches;

use super::cell::Header;
use super::list::OwnedTasks;
use super::{new_task, JoinHandle, Notified, Schedule};
use crate::sync::atomic::AtomicUsize;
use crate::sync::{Arc, Mutex};
use loom::thread;
use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::Ordering::SeqCst;
use std::task::{Context, Poll, Waker};

pub(crate) struct Mock {
    pub(crate) queue: Mutex<VecDeque<Notified>>,
    owned: OwnedTasks,
    /// Tasks ever queued (spawns, wakes, yields).
    queued: AtomicUsize,
}

#[derive(Clone)]
pub(crate) struct Sched(pub(crate) Arc<Mock>);

impl Schedule for Sched {
    fn schedule(&self, task: Notified) {
        self.0.queued.fetch_add(1, SeqCst);
        self.0.queue.lock().push_back(task);
    }
    fn yield_now(&self, task: Notified) {
        self.0.queued.fetch_add(1, SeqCst);
        self.0.queue.lock().push_back(task);
    }
    fn release(&self, task: NonNull<Header>) -> bool {
        self.0.owned.remove(task)
    }
    fn unhandled_panic(&self, _task: &Header, _payload: Box<dyn Any + Send>) {}
}

impl Sched {
    pub(crate) fn new() -> Sched {
        Sched(Arc::new(Mock {
            queue: Mutex::new(VecDeque::new()),
            owned: OwnedTasks::new(1),
            queued: AtomicUsize::new(0),
        }))
    }

    pub(crate) fn spawn<F>(&self, f: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (notified, join, raw) = new_task(f, self.clone(), 0);
        assert!(self.0.owned.insert(raw));
        self.schedule(notified);
        join
    }

    /// Runs queued tasks until the queue is empty.
    fn run_all(&self) {
        loop {
            let t = self.0.queue.lock().pop_front();
            match t {
                Some(t) => t.run(),
                None => return,
            }
        }
    }

    fn run_one(&self) -> bool {
        let t = self.0.queue.lock().pop_front();
        match t {
            Some(t) => {
                t.run();
                true
            }
            None => false,
        }
    }

    /// What a runtime does at shutdown: drop every task, then the queue.
    pub(crate) fn shutdown(&self) {
        for t in self.0.owned.close_and_take_all() {
            super::shutdown_task(t);
        }
        self.0.queue.lock().clear();
    }
}

/// Counts polls, concurrent polls and drops; each poll before the last hands out its
/// waker (and, with `fast_yield`, asks the runner to requeue it through the yield fast
/// path) and returns `Pending`; poll number `ready_after` completes.
pub(crate) struct Probe {
    polls: Arc<AtomicUsize>,
    in_poll: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
    waker_out: Arc<Mutex<Option<Waker>>>,
    ready_after: usize,
    fast_yield: bool,
}

impl Future for Probe {
    type Output = usize;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        assert_eq!(
            self.in_poll.fetch_add(1, SeqCst),
            0,
            "polled by two threads at once"
        );
        let n = self.polls.fetch_add(1, SeqCst) + 1;
        *self.waker_out.lock() = Some(cx.waker().clone());
        self.in_poll.fetch_sub(1, SeqCst);
        if n >= self.ready_after {
            return Poll::Ready(n);
        }
        if self.fast_yield {
            assert!(
                super::waker::request_yield(cx.waker()),
                "the runner's own waker takes the fast path"
            );
        }
        Poll::Pending
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

pub(crate) struct Counters {
    pub(crate) polls: Arc<AtomicUsize>,
    in_poll: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
    pub(crate) waker: Arc<Mutex<Option<Waker>>>,
}

pub(crate) fn probe(ready_after: usize) -> (Probe, Counters) {
    let c = Counters {
        polls: Arc::new(AtomicUsize::new(0)),
        in_poll: Arc::new(AtomicUsize::new(0)),
        drops: Arc::new(AtomicUsize::new(0)),
        waker: Arc::new(Mutex::new(None)),
    };
    let p = Probe {
        polls: c.polls.clone(),
        in_poll: c.in_poll.clone(),
        drops: c.drops.clone(),
        waker_out: c.waker.clone(),
        ready_after,
        fast_yield: false,
    };
    (p, c)
}

/// A probe whose first poll yields through the runner's fast path; the second completes.
fn yielding_probe() -> (Probe, Counters) {
    let (mut p, c) = probe(2);
    p.fast_yield = true;
    (p, c)
}

/// A wake racing the task's first poll: the task is polled exactly twice, never by two
/// threads at once, and no wake is lost (it completes).
#[test]
fn loom_wake_during_poll_reschedules_once() {
    loom::model(|| {
        let s = Sched::new();
        let (p, c) = probe(2);
        let join = s.spawn(p);
        let s2 = s.clone();
        let w = c.waker.clone();
        let waker_thread = thread::spawn(move || {
            // Wake as soon as the task has handed out its waker, maybe mid-poll.
            loop {
                if let Some(w) = w.lock().take() {
                    w.wake();
                    break;
                }
                thread::yield_now();
            }
            s2.run_one();
        });
        s.run_one();
        waker_thread.join().unwrap();
        s.run_all();
        // The state word counted both polls, whichever step the wake met, and the
        // reference count beside it was not disturbed: the JoinHandle's is left, and the
        // waker's if the probe kept one.
        let state = join.header().state.load();
        let waker_kept = usize::from(c.waker.lock().is_some());
        assert_eq!((state.polls(), state.refs()), (2, 1 + waker_kept));
        assert_eq!(loom::future::block_on(join).unwrap(), 2);
        assert_eq!(c.polls.load(SeqCst), 2);
        assert_eq!(c.drops.load(SeqCst), 1);
        c.waker.lock().take();
        s.shutdown();
    });
}

/// A wake after completion does nothing: no extra poll, and the cell is still freed
/// (loom reports the scheduler `Arc` the cell holds if it leaks).
#[test]
fn loom_wake_after_complete_is_a_no_op() {
    loom::model(|| {
        let s = Sched::new();
        let (p, c) = probe(1);
        let join = s.spawn(p);
        let w = c.waker.clone();
        let s2 = s.clone();
        let t = thread::spawn(move || {
            s2.run_one();
        });
        // Races the run: there may or may not be a waker yet.
        if let Some(w) = w.lock().take() {
            w.wake_by_ref();
            w.wake();
        }
        t.join().unwrap();
        if let Some(w) = c.waker.lock().take() {
            w.wake();
        }
        s.run_all();
        assert_eq!(c.polls.load(SeqCst), 1);
        assert_eq!(loom::future::block_on(join).unwrap(), 1);
        s.shutdown();
    });
}

/// `abort()` racing completion: the handle gets exactly one of the output or
/// `Cancelled`, and the future is dropped exactly once.
#[test]
fn loom_abort_racing_completion() {
    loom::model(|| {
        let s = Sched::new();
        let (p, c) = probe(1);
        let join = s.spawn(p);
        let abort = join.abort_handle();
        let s2 = s.clone();
        let t = thread::spawn(move || {
            s2.run_all();
        });
        abort.abort();
        t.join().unwrap();
        s.run_all();
        match loom::future::block_on(join) {
            Ok(n) => assert_eq!(n, 1),
            Err(e) => assert!(e.is_cancelled()),
        }
        assert_eq!(c.drops.load(SeqCst), 1);
        assert!(abort.is_finished());
        s.shutdown();
    });
}

/// `abort()` of a task that is idle or being polled (it parks on its first poll).
#[test]
fn loom_abort_racing_a_pending_poll() {
    loom::model(|| {
        let s = Sched::new();
        let (p, c) = probe(2);
        let join = s.spawn(p);
        let s2 = s.clone();
        let t = thread::spawn(move || {
            s2.run_all();
        });
        join.abort();
        t.join().unwrap();
        s.run_all();
        assert!(loom::future::block_on(join).unwrap_err().is_cancelled());
        // Aborted before its first poll, or after it parked: never polled a second time.
        assert!(c.polls.load(SeqCst) <= 1);
        assert_eq!(c.drops.load(SeqCst), 1);
        c.waker.lock().take();
        s.shutdown();
    });
}

/// The JoinHandle registering its waker races completion: the awaiting side is always
/// woken (otherwise `block_on` deadlocks, which loom reports).
#[test]
fn loom_join_waker_registration_racing_completion() {
    loom::model(|| {
        let s = Sched::new();
        let (p, c) = probe(1);
        let join = s.spawn(p);
        let s2 = s.clone();
        let t = thread::spawn(move || {
            s2.run_all();
        });
        assert_eq!(loom::future::block_on(join).unwrap(), 1);
        t.join().unwrap();
        assert_eq!(c.drops.load(SeqCst), 1);
        c.waker.lock().take();
        s.shutdown();
    });
}

/// Dropping the JoinHandle races completion: the output is dropped exactly once.
#[test]
fn loom_join_handle_drop_racing_completion() {
    struct Out(Arc<AtomicUsize>);
    impl Drop for Out {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    loom::model(|| {
        let s = Sched::new();
        let out_drops = Arc::new(AtomicUsize::new(0));
        let o = out_drops.clone();
        let join = s.spawn(async move { Out(o) });
        let s2 = s.clone();
        let t = thread::spawn(move || {
            s2.run_all();
        });
        drop(join);
        t.join().unwrap();
        s.run_all();
        assert_eq!(out_drops.load(SeqCst), 1);
        s.shutdown();
    });
}

/// Shutdown racing a wake from another thread: the future is dropped once, nothing
/// leaks, and the wake does nothing harmful.
#[test]
fn loom_shutdown_racing_a_wake() {
    loom::model(|| {
        let s = Sched::new();
        let (p, c) = probe(2);
        let join = s.spawn(p);
        s.run_all(); // parks, waker handed out
        let w = c.waker.lock().take().unwrap();
        let t = thread::spawn(move || w.wake());
        s.shutdown();
        t.join().unwrap();
        s.shutdown();
        assert_eq!(c.drops.load(SeqCst), 1);
        assert!(loom::future::block_on(join).unwrap_err().is_cancelled());
    });
}

/// A yield through the fast path (the runner requeues the task in the same step as it
/// marks it idle) racing a wake from another thread: the task is queued once, polled
/// exactly twice, and completes.
#[test]
fn loom_fast_yield_racing_a_wake_queues_once() {
    loom::model(|| {
        let s = Sched::new();
        let (p, c) = yielding_probe();
        let join = s.spawn(p);
        let w = c.waker.clone();
        let t = thread::spawn(move || loop {
            if let Some(w) = w.lock().take() {
                w.wake();
                break;
            }
            thread::yield_now();
        });
        s.run_one();
        t.join().unwrap();
        s.run_all();
        assert_eq!(c.polls.load(SeqCst), 2);
        assert_eq!(
            s.0.queued.load(SeqCst),
            2,
            "queued at the spawn and once more"
        );
        assert_eq!(loom::future::block_on(join).unwrap(), 2);
        c.waker.lock().take();
        s.shutdown();
    });
}

/// An abort racing a fast-path yield: the handle gets the output or `Cancelled`, the
/// task is polled at most twice, and the cell is freed (loom reports a leak otherwise).
#[test]
fn loom_fast_yield_racing_an_abort() {
    loom::model(|| {
        let s = Sched::new();
        let (p, c) = yielding_probe();
        let join = s.spawn(p);
        let abort = join.abort_handle();
        let t = thread::spawn(move || abort.abort());
        s.run_one();
        t.join().unwrap();
        s.run_all();
        match loom::future::block_on(join) {
            Ok(n) => assert_eq!(n, 2),
            Err(e) => assert!(e.is_cancelled()),
        }
        assert!(c.polls.load(SeqCst) <= 2);
        assert_eq!(c.drops.load(SeqCst), 1);
        c.waker.lock().take();
        s.shutdown();
    });
}

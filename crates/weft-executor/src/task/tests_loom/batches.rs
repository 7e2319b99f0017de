//! Loom models of the owned list's batches (`task/list.rs`): tasks spawned into one
//! worker's pending batch finish on that worker (taken out of the batch, or marked done
//! without the lock by `finish_if_pending`) or on another (a deferred release), while
//! both workers flush, and the list is closed by either shutdown path.
//!
//! What is real: the task cells, `OwnedTasks`, and each worker's `Batches`, driven through
//! `Batches::add_pending`, `Batches::release` (from the cell's `complete`, as the runtime's
//! `Schedule::release` routes it) and `Batches::settle`. What is mocked: the run queue (a
//! loom mutex), the thread-local worker context, and the shutdown sequence of
//! `Shared::shutdown`, which is copied step by step (that file is not built under loom).
//!
//! Each model checks, at its end, that every future was dropped exactly once, that every
//! cell was freed exactly once (the mock keeps freed cells' memory until the end of the
//! iteration and records each address once, so a second free, and a use of a freed
//! cell's loom cells, is caught), that nothing was freed while still in use (loom tracks
//! the headers' `UnsafeCell`s), and that no task finished and settled is still linked (also
//! at the close of the list) or counted in a gauge.

use super::super::cell::Header;
use super::super::list::{BatchSite, Batches, OwnedTasks};
use super::super::{alloc, new_task, shutdown_task, Notified, Schedule};
use super::{probe, Counters};
use crate::sync::atomic::AtomicUsize;
use crate::sync::{Arc, Mutex};
use loom::sync::atomic::AtomicBool;
use loom::thread;
use std::alloc::Layout;
use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::task::{Context, Poll};

/// Two workers, each with its own shard (shard `i` is worker `i`'s).
const WORKERS: usize = 2;

struct Rt {
    owned: OwnedTasks,
    queue: Mutex<VecDeque<Notified>>,
    /// `Shared::shutdown`.
    shutdown: AtomicBool,
    /// Cells allocated.
    spawned: AtomicUsize,
    /// Cells freed, by address, with their layout: freed for real at the end of the
    /// iteration, so an address is never reused within one and a double free shows. (A
    /// std mutex: it guards no protocol, and nothing under it yields to loom.)
    freed: std::sync::Mutex<Vec<(usize, Layout)>>,
}

/// One worker's batches and its gauges (`WorkerStats::{pending, deferred}`).
struct Worker {
    /// Its index, which is its shard.
    index: usize,
    batches: Batches,
    pending: AtomicU64,
    deferred: AtomicU64,
}

impl Worker {
    fn site<'a>(&'a self, rt: &'a Rt) -> BatchSite<'a> {
        BatchSite {
            list: &rt.owned,
            pending: &self.pending,
            deferred: &self.deferred,
        }
    }
}

loom::thread_local! {
    /// The worker this thread is (the runtime's `context::with_worker`).
    static WORKER: RefCell<Option<Rc<Worker>>> = RefCell::new(None);
}

fn current() -> Option<Rc<Worker>> {
    WORKER.with(|w| w.borrow().clone())
}

/// Makes this thread worker `index`, until `leave`.
fn enter(index: usize) -> Rc<Worker> {
    let w = Rc::new(Worker {
        index,
        batches: Batches::new(index, WORKERS),
        pending: AtomicU64::new(0),
        deferred: AtomicU64::new(0),
    });
    WORKER.with(|c| *c.borrow_mut() = Some(w.clone()));
    w
}

fn leave() {
    WORKER.with(|c| c.borrow_mut().take());
}

#[derive(Clone)]
struct Sched(Arc<Rt>);

impl Schedule for Sched {
    fn schedule(&self, task: Notified) {
        self.0.queue.lock().push_back(task);
    }
    fn yield_now(&self, task: Notified) {
        self.0.queue.lock().push_back(task);
    }
    /// As `Shared::release`: through this worker's batches unless shutdown began.
    fn release(&self, task: NonNull<Header>) -> bool {
        match current() {
            Some(w) if !self.0.shutdown.load(Relaxed) => {
                // SAFETY: called by the task's `complete`, which finishes it here.
                unsafe { w.batches.release(w.site(&self.0), task) }
            }
            _ => self.0.owned.remove(task),
        }
    }
    fn unhandled_panic(&self, _task: &Header, _payload: Box<dyn Any + Send>) {}
    unsafe fn free_cell(&self, ptr: NonNull<u8>, layout: Layout, _home: u16) {
        let mut freed = self.0.freed.lock().unwrap();
        let addr = ptr.as_ptr() as usize;
        assert!(
            freed.iter().all(|&(a, _)| a != addr),
            "a task cell was freed twice"
        );
        freed.push((addr, layout));
    }
}

impl Sched {
    fn new() -> Sched {
        Sched(Arc::new(Rt {
            owned: OwnedTasks::new(WORKERS),
            queue: Mutex::new(VecDeque::new()),
            shutdown: AtomicBool::new(false),
            spawned: AtomicUsize::new(0),
            freed: std::sync::Mutex::new(Vec::new()),
        }))
    }

    /// As `Shared::spawn` on worker `w` before shutdown: into its pending batch, then
    /// queued. The JoinHandle is dropped at once (nobody awaits these tasks).
    fn spawn_on<F>(&self, w: &Worker, future: F)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let notified = self.spawn_unqueued(w, future);
        self.schedule(notified);
    }

    /// `spawn_on`, handing back the task to run instead of queueing it.
    fn spawn_unqueued<F>(&self, w: &Worker, future: F) -> Notified
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (notified, join, raw) = new_task(future, self.clone(), w.index as u16);
        self.0.spawned.fetch_add(1, SeqCst);
        drop(join);
        // SAFETY: just allocated for `w`'s shard, not queued yet.
        unsafe { w.batches.add_pending(w.site(&self.0), raw) };
        notified
    }

    /// Runs one queued task, if any.
    fn run_one(&self) -> bool {
        let t = self.0.queue.lock().pop_front();
        t.map(Notified::run).is_some()
    }

    /// What `Shared::shutdown` does once the workers are joined, on the thread dropping
    /// the runtime: settle that thread's batches if it is a worker, close the list and
    /// cancel every task in it, then empty the queue.
    fn close(&self) {
        if let Some(w) = current() {
            w.batches.settle(w.site(&self.0));
        }
        for t in self.0.owned.close_and_take_all() {
            // A finished task still linked would have lived on until shutdown.
            assert!(!Header::is_complete(t), "a finished task left in the list");
            shutdown_task(t);
        }
        loop {
            let t = self.0.queue.lock().pop_front();
            match t {
                Some(t) => drop(t),
                None => break,
            }
        }
    }

    /// A worker's gauges once it settled.
    fn check_gauges(&self, w: &Worker) {
        assert_eq!(w.pending.load(Relaxed), 0, "pending gauge after settling");
        assert_eq!(w.deferred.load(Relaxed), 0, "deferred gauge after settling");
    }

    /// The end of every model: each future dropped once, each cell freed once, no gauge
    /// left. Frees the cells' memory.
    fn check(&self, workers: &[&Worker], probes: &[Counters]) {
        for (i, c) in probes.iter().enumerate() {
            // A waker the probe handed out holds a reference: give it back first.
            c.waker.lock().take();
            let drops = c.drops.load(SeqCst);
            assert_eq!(drops, 1, "future {i} dropped {drops} times");
        }
        for w in workers {
            self.check_gauges(w);
        }
        assert_eq!(self.0.owned.len(), 0, "a task left in the list");
        let freed = std::mem::take(&mut *self.0.freed.lock().unwrap());
        assert_eq!(
            freed.len(),
            self.0.spawned.load(SeqCst),
            "a task cell never freed"
        );
        for (addr, layout) in freed {
            // SAFETY: each address was freed once by its cell (checked in `free_cell`)
            // and nothing reads it any more.
            unsafe { alloc::free_global(NonNull::new(addr as *mut u8).unwrap(), layout) };
        }
    }
}

/// Spawns on worker `a` one probe per entry, completing at that poll (see `probe`).
fn spawn_probes(s: &Sched, a: &Worker, ready_after: &[usize]) -> Vec<Counters> {
    let mut counters = Vec::new();
    for &n in ready_after {
        let (p, c) = probe(n);
        s.spawn_on(a, p);
        counters.push(c);
    }
    counters
}

/// Worker 1: runs up to `runs` queued tasks, looking at the shutdown flag before each as
/// a worker does, then settles as on its way out.
fn start_worker_1(s: &Sched, runs: usize) -> thread::JoinHandle<()> {
    let s = s.clone();
    thread::spawn(move || {
        let b = enter(1);
        for _ in 0..runs {
            if s.0.shutdown.load(Relaxed) {
                break;
            }
            s.run_one();
        }
        b.batches.settle(b.site(&s.0));
        s.check_gauges(&b);
        leave();
    })
}

/// Worker 0 spawns two tasks into its pending batch; each worker runs one and settles.
/// So a task finishes on its own worker (the newest taken out of the batch, the older one
/// marked done by `finish_if_pending`) or on worker 1 (a deferred release), racing the
/// owner's flush in every order. Then the runtime closes the list from outside.
#[test]
fn loom_batches_completion_on_another_worker() {
    loom::model(|| {
        let s = Sched::new();
        let a = enter(0);
        let probes = spawn_probes(&s, &a, &[1, 1]);
        let b = start_worker_1(&s, 1);
        s.run_one();
        a.batches.settle(a.site(&s.0));
        b.join().unwrap();
        assert!(!s.run_one(), "each worker ran one");
        // Every task finished and both workers settled: none may still be linked.
        assert_eq!(s.0.owned.len(), 0, "a finished task left in the list");
        leave();
        s.close();
        s.check(&[&a], &probes);
    });
}

/// Full batches flush on their own: worker 0's fourth spawn links the pending batch
/// (`PENDING_BATCH` is 4 under loom) while worker 1 may already have finished some of
/// those tasks, and worker 1's second release of worker 0's tasks unlinks its released
/// batch at once (`RELEASE_BATCH` is 2) while worker 0 may still hold them pending.
#[test]
fn loom_batches_full_batches_racing() {
    loom::model(|| {
        let s = Sched::new();
        let a = enter(0);
        let mut probes = spawn_probes(&s, &a, &[1, 1]);
        let b = start_worker_1(&s, 2);
        probes.extend(spawn_probes(&s, &a, &[1, 1]));
        while s.run_one() {}
        a.batches.settle(a.site(&s.0));
        b.join().unwrap();
        while s.run_one() {}
        a.batches.settle(a.site(&s.0));
        assert_eq!(s.0.owned.len(), 0, "a finished task left in the list");
        leave();
        s.close();
        s.check(&[&a], &probes);
    });
}

/// The runtime dropped from outside: both workers settle on their way out while one
/// task finishes on either worker and another parks for good (its waker is never
/// called); once both are joined the list is closed and must hold the parked task, whose
/// future it drops.
#[test]
fn loom_batches_shutdown_after_join() {
    loom::model(|| {
        let s = Sched::new();
        let a = enter(0);
        // The second parks on its first poll; nobody wakes it.
        let probes = spawn_probes(&s, &a, &[1, 2]);
        let b = start_worker_1(&s, 1);
        s.run_one();
        a.batches.settle(a.site(&s.0));
        leave();
        b.join().unwrap();
        // `Shared::shutdown` from a thread outside the runtime, after the joins.
        s.0.shutdown.store(true, SeqCst);
        assert_eq!(
            s.0.owned.len(),
            1,
            "the parked task is linked, the other is not"
        );
        s.close();
        assert_eq!(probes[1].polls.load(SeqCst), 1);
        s.check(&[&a], &probes);
    });
}

/// A task on worker 0 drops the runtime (`Runtime::shutdown` from inside a task): it
/// sets the flag, joins worker 1 (which may be finishing worker 0's tasks, through its
/// batches or, once it sees the flag, straight through the list), settles worker 0's
/// batches, which still hold the tasks it spawned and the dropping task itself, closes the
/// list and cancels what is in it (a task still queued, the parked one, and itself, which
/// is running: its reference is dropped and it finishes unlinked).
#[test]
fn loom_batches_shutdown_from_inside_a_task() {
    struct DropRuntime {
        rt: Sched,
        other: Option<thread::JoinHandle<()>>,
    }
    impl Future for DropRuntime {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
            let this = self.get_mut();
            this.rt.0.shutdown.store(true, SeqCst);
            this.other.take().unwrap().join().unwrap();
            this.rt.close();
            Poll::Ready(())
        }
    }
    loom::model(|| {
        let s = Sched::new();
        let a = enter(0);
        // The second parks on its first poll; nobody wakes it.
        let probes = spawn_probes(&s, &a, &[1, 2]);
        let b = start_worker_1(&s, 1);
        let dropper = s.spawn_unqueued(
            &a,
            DropRuntime {
                rt: s.clone(),
                other: Some(b),
            },
        );
        // Worker 0 runs one task (if worker 1 left one), then the dropping task, which
        // cancels what is still queued.
        s.run_one();
        dropper.run();
        assert!(!s.run_one(), "the shutdown emptied the queue");
        leave();
        s.check(&[&a], &probes);
    });
}

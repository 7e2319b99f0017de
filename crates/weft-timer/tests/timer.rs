//! sleep, timeout and interval on a runtime with the timer installed.

#![cfg(not(weft_loom))]

use futures_core::Stream;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;
use weft_executor::{spawn, yield_now, Builder, Handle, Runtime};
use weft_timer::{
    interval, interval_at, sleep, sleep_until, timeout, timeout_at, Instant, MissedTickBehavior,
    Timer,
};

/// Turns a hang into a failure; never a statement about speed.
const HANG: Duration = Duration::from_secs(60);

fn rt(workers: usize) -> Runtime {
    weft_timer::install(Builder::new().worker_threads(workers))
        .build()
        .unwrap()
}

/// Runs `body` on a thread of its own and waits for it at most `HANG`: a deadlock or a
/// worker that is never given back fails the test instead of hanging the suite (the stuck
/// thread is left behind).
fn within<R: Send + 'static>(body: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(body());
    });
    match rx.recv_timeout(HANG) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("hung for {HANG:?}"),
        // The body panicked: its message is already printed.
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the body panicked"),
    }
}

fn timer_len() -> usize {
    Handle::current().extension::<Timer>().unwrap().len()
}

/// A tiny xorshift, so the test needs no extra crate.
fn rand(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn thousands_of_random_sleeps_are_never_early() {
    let rt = rt(2);
    let early = rt.block_on(async {
        let mut seed = 0x2545_F491_4F6C_DD1D;
        let hs: Vec<_> = (0..3000)
            .map(|_| {
                // 0 to 30 ms, with sub-millisecond parts.
                let d = Duration::from_micros(rand(&mut seed) % 30_000);
                spawn(async move {
                    let start = Instant::now();
                    sleep(d).await;
                    start.elapsed() < d
                })
            })
            .collect();
        let mut early = 0;
        for h in hs {
            early += usize::from(h.await.unwrap());
        }
        early
    });
    assert_eq!(early, 0);
}

#[test]
fn never_polled_registers_nothing_and_drop_cancels_at_once() {
    let rt = rt(1);
    rt.block_on(async {
        let s = sleep(Duration::from_secs(3600));
        assert_eq!(timer_len(), 0);
        drop(s);
        let mut many: Vec<_> = (0..100)
            .map(|i| sleep(Duration::from_secs(100 + i)))
            .collect();
        // Poll each once: registered.
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        for s in &mut many {
            assert!(Pin::new(s).poll(&mut cx).is_pending());
        }
        assert_eq!(timer_len(), 100);
        drop(many);
        assert_eq!(timer_len(), 0);
    });
}

#[test]
fn the_timer_goes_with_its_runtime_though_cancels_keep_references_to_it() {
    // A cancelled sleep leaves its reference to the timer in the timer's shard, for the
    // next registration to take. Shutdown must give those back, and a cancel after it
    // must keep nothing: else the timer (and the driver under it) would keep itself
    // alive once its runtime is gone. Both flavours, and cancels on the workers and on
    // the `block_on` thread.
    let current_thread = weft_timer::install(&mut Builder::new_current_thread())
        .build()
        .unwrap();
    for rt in [rt(2), current_thread] {
        timer_goes_with(rt);
    }
}

#[test]
fn a_timer_installed_without_its_driver_goes_with_its_last_reference() {
    // Installed as an extension only, the timer is never shut down: its spare
    // references must go with its last `TimerDriver` instead (valgrind found the cycle).
    for keep_driver in [false, true] {
        let driver = weft_timer::TimerDriver::new(Arc::new(weft_executor::ParkDriver::new()));
        let timer = driver.timer();
        let weak = Arc::downgrade(&timer);
        let driver = keep_driver.then_some(driver);
        let rt = Builder::new().extension(timer).build().unwrap();
        rt.block_on(async {
            let mut cx = Context::from_waker(Waker::noop());
            for i in 0..100 {
                let mut s = sleep(Duration::from_secs(100 + i));
                assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
            }
        });
        drop(rt);
        drop(driver);
        assert!(
            weak.upgrade().is_none(),
            "the timer outlived its runtime and its driver (driver kept: {keep_driver})"
        );
    }
}

fn timer_goes_with(rt: Runtime) {
    let timer =
        rt.block_on(async { Arc::downgrade(&Handle::current_extension::<Timer>().unwrap()) });
    let poll_once = |s: &mut weft_timer::Sleep| {
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(s).poll(&mut cx).is_pending());
    };
    rt.block_on(async move {
        for i in 0..100 {
            poll_once(&mut sleep(Duration::from_secs(100 + i)));
        }
    });
    let left = rt.block_on(async move {
        spawn(async move {
            // Registered and cancelled one at a time, and in a burst beyond what a shard
            // keeps.
            for i in 0..1000 {
                poll_once(&mut sleep(Duration::from_secs(100 + i)));
            }
            let mut burst: Vec<_> = (0..1000)
                .map(|i| sleep(Duration::from_secs(100 + i)))
                .collect();
            burst.iter_mut().for_each(poll_once);
            drop(burst);
            // One still registered when the runtime goes.
            let mut left = sleep(Duration::from_secs(3600));
            poll_once(&mut left);
            // (In an option: a task's output that is itself a future reads as a mistake.)
            Some(left)
        })
        .await
        .unwrap()
    });
    drop(rt);
    assert!(
        timer.upgrade().is_some(),
        "a registered sleep keeps its timer"
    );
    drop(left);
    assert!(
        timer.upgrade().is_none(),
        "the timer outlived its runtime and its last sleep"
    );
}

#[test]
fn zero_and_past_deadlines_complete_without_a_timer_or_a_runtime() {
    // No runtime at all: these must not need one.
    weft_executor::block_on(async {
        sleep(Duration::ZERO).await;
        sleep_until(Instant::now() - Duration::from_millis(1)).await;
        assert_eq!(timeout(Duration::from_secs(1), async { 3 }).await, Ok(3));
    });
}

#[test]
fn a_past_deadline_beyond_the_threads_latest_reading_completes_without_a_runtime() {
    // The first poll takes a deadline more than 1 ms after this thread's latest timer
    // reading for ahead without reading the clock; with no timer to register in, it must
    // read it and complete rather than panic.
    std::thread::spawn(|| {
        weft_executor::block_on(async {
            sleep(Duration::ZERO).await; // this thread's latest reading: now
            std::thread::sleep(Duration::from_millis(20));
            sleep_until(Instant::now() - Duration::from_millis(1)).await;
        })
    })
    .join()
    .unwrap();
}

#[test]
fn sleeping_outside_a_runtime_panics_with_the_fix() {
    let err = std::panic::catch_unwind(|| {
        weft_executor::block_on(sleep(Duration::from_millis(10)));
    })
    .unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("outside a weft runtime"), "{msg}");
    assert!(msg.contains("block_on"), "{msg}");
}

#[test]
fn a_waker_whose_drop_enters_a_runtime_still_gets_the_fix() {
    // The first poll clones its waker before looking the timer up, and drops the clone
    // after the lookup, whose borrow of the thread's runtime context forbids entering a
    // runtime meanwhile: a waker's drop may run any code, this one enters a runtime.
    thread_local! {
        static ENTERS: std::cell::RefCell<Option<Handle>> = const { std::cell::RefCell::new(None) };
    }
    fn clone(p: *const ()) -> RawWaker {
        RawWaker::new(p, &VTABLE)
    }
    fn noop(_: *const ()) {}
    fn drop_entering(_: *const ()) {
        ENTERS.with(|h| {
            if let Some(h) = &*h.borrow() {
                drop(h.enter());
            }
        });
    }
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, drop_entering);
    let other = rt(1);
    ENTERS.with(|h| *h.borrow_mut() = Some(other.handle().clone()));
    // SAFETY: the vtable's functions ignore the data pointer, which is null.
    let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };
    let err = std::panic::catch_unwind(|| {
        let mut s = sleep(Duration::from_secs(10));
        let _ = Pin::new(&mut s).poll(&mut Context::from_waker(&waker));
    })
    .unwrap_err();
    ENTERS.with(|h| *h.borrow_mut() = None);
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("outside a weft runtime"), "{msg}");
}

#[test]
fn reset_to_earlier_and_later_deadlines() {
    let rt = rt(2);
    rt.block_on(async {
        let start = Instant::now();
        let mut s = sleep(Duration::from_secs(3600));
        // Register it, then pull it in.
        let waker = Waker::noop();
        assert!(Pin::new(&mut s)
            .poll(&mut Context::from_waker(waker))
            .is_pending());
        let earlier = start + Duration::from_millis(15);
        s.reset(earlier);
        assert_eq!(s.deadline(), earlier);
        (&mut s).await;
        assert!(Instant::now() >= earlier);
        assert!(s.is_elapsed());
        // Push it out again after it completed: it waits again.
        let later = Instant::now() + Duration::from_millis(15);
        s.reset(later);
        assert!(!s.is_elapsed());
        s.await;
        assert!(Instant::now() >= later);
        assert_eq!(timer_len(), 0);
    });
}

#[test]
fn an_earlier_timer_wakes_the_worker_parked_towards_a_later_one() {
    // One worker: it parks in the timer towards the hour-long sleep. The short sleep,
    // registered from another task after that, must cut the park short.
    let rt = rt(1);
    let long = rt.spawn(sleep(Duration::from_secs(3600)));
    std::thread::sleep(Duration::from_millis(20)); // let the worker park
    let (tx, rx) = mpsc::channel();
    rt.spawn(async move {
        sleep(Duration::from_millis(10)).await;
        tx.send(()).unwrap();
    });
    rx.recv_timeout(HANG)
        .expect("the short timer waited for the long one");
    long.abort();
}

#[test]
fn timers_fire_while_every_worker_is_busy() {
    let rt = rt(2);
    let stop = Arc::new(AtomicBool::new(false));
    // Keep both workers busy with tasks that never park (they yield forever).
    let busy: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            rt.spawn(async move {
                while !stop.load(SeqCst) {
                    std::hint::spin_loop();
                    yield_now().await;
                }
            })
        })
        .collect();
    let (tx, rx) = mpsc::channel();
    rt.spawn(async move {
        sleep(Duration::from_millis(5)).await;
        tx.send(()).unwrap();
    });
    let fired = rx.recv_timeout(HANG);
    stop.store(true, SeqCst);
    for b in busy {
        rt.block_on(b).unwrap();
    }
    fired.expect("a timer starved behind busy workers");
}

#[test]
fn dropping_a_sleep_racing_its_firing() {
    let rt = rt(2);
    rt.block_on(async {
        for i in 0..300u64 {
            let d = Duration::from_micros(i % 3 * 500);
            let h = spawn(async move { sleep(d).await });
            // Abort at about the time it fires.
            std::thread::sleep(Duration::from_micros(i % 4 * 400));
            h.abort();
            let _ = h.await;
        }
        // Whatever the interleaving, no entry is left behind.
        assert_eq!(timer_len(), 0);
    });
}

#[test]
fn timeout_of_a_future_completing_at_the_same_millisecond_keeps_its_output() {
    let rt = rt(2);
    rt.block_on(async {
        for _ in 0..50 {
            let deadline = Instant::now() + Duration::from_millis(3);
            // The inner future completes at the same deadline as the timeout.
            let r = timeout_at(deadline, sleep_until(deadline)).await;
            assert_eq!(r, Ok(()), "the future is polled first, so it wins the tie");
        }
        let r = timeout(Duration::from_millis(2), sleep(Duration::from_secs(10))).await;
        let err = r.unwrap_err();
        assert_eq!(err.to_string(), "deadline has elapsed");
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(timer_len(), 0);
    });
}

#[test]
fn interval_ticks_on_a_grid_and_is_a_stream() {
    let rt = rt(2);
    rt.block_on(async {
        let start = Instant::now();
        let period = Duration::from_millis(5);
        let mut it = interval_at(start, period);
        let mut last = None;
        for n in 0..5u32 {
            let t = it.tick().await;
            assert_eq!(t, start + period * n, "ticks stay on the grid");
            assert!(Instant::now() >= t, "a tick is never early");
            last = Some(t);
        }
        assert!(last.is_some());
        // As a Stream.
        let mut it = interval(period);
        let mut got = 0;
        std::future::poll_fn(|cx| loop {
            match Pin::new(&mut it).poll_next(cx) {
                Poll::Ready(Some(_)) => {
                    got += 1;
                    if got == 3 {
                        return Poll::Ready(());
                    }
                }
                Poll::Ready(None) => unreachable!("an interval never ends"),
                Poll::Pending => return Poll::Pending,
            }
        })
        .await;
        assert_eq!(got, 3);
    });
}

#[test]
fn missed_tick_behaviors() {
    let rt = rt(1);
    rt.block_on(async {
        let period = Duration::from_millis(10);
        for behavior in [
            MissedTickBehavior::Burst,
            MissedTickBehavior::Delay,
            MissedTickBehavior::Skip,
        ] {
            let start = Instant::now();
            let mut it = interval_at(start, period);
            it.set_missed_tick_behavior(behavior);
            assert_eq!(it.tick().await, start);
            // Miss about three and a half periods.
            std::thread::sleep(period * 7 / 2);
            let late = it.tick().await;
            assert_eq!(late, start + period, "the missed tick is reported");
            let next = it.tick().await;
            match behavior {
                // Catch up immediately on the grid.
                MissedTickBehavior::Burst => assert_eq!(next, start + period * 2),
                // A new schedule from when the late tick was taken.
                MissedTickBehavior::Delay => assert!(next >= start + period * 4),
                // Back on the grid, skipping what was missed.
                MissedTickBehavior::Skip => {
                    assert_eq!((next - start).as_nanos() % period.as_nanos(), 0);
                    assert!(next >= start + period * 4);
                }
            }
        }
        // reset(): the next tick is a period from now.
        let mut it = interval(period);
        it.tick().await;
        let before = Instant::now();
        it.reset();
        let t = it.tick().await;
        assert!(t >= before + period);
    });
}

#[test]
fn very_long_sleeps_do_not_panic() {
    let rt = rt(1);
    rt.block_on(async {
        let r = timeout(Duration::from_millis(5), sleep(Duration::MAX)).await;
        assert!(r.is_err());
        let r = timeout(
            Duration::from_millis(5),
            sleep(Duration::from_secs(3 * 365 * 24 * 3600)),
        )
        .await;
        assert!(r.is_err());
        assert_eq!(timer_len(), 0);
    });
}

#[test]
fn a_hundred_thousand_concurrent_sleeps() {
    let rt = rt(2);
    let fired = Arc::new(AtomicUsize::new(0));
    let f = fired.clone();
    rt.block_on(async move {
        let mut seed = 99;
        let hs: Vec<_> = (0..100_000)
            .map(|_| {
                let d = Duration::from_millis(1 + rand(&mut seed) % 50);
                let f = f.clone();
                spawn(async move {
                    let start = Instant::now();
                    sleep(d).await;
                    assert!(start.elapsed() >= d);
                    f.fetch_add(1, SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        assert_eq!(timer_len(), 0);
    });
    assert_eq!(fired.load(SeqCst), 100_000);
}

/// On one worker, a task loops over `ready` (a timer that is always due) until a task it
/// queued beside itself has run: the budget must make the loop give the worker back.
fn a_loop_over_due_timers_lets_a_queued_task_run<F, Fut>(ready: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let ran = within(move || {
        let rt = rt(1);
        rt.block_on(rt.spawn(async move {
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            // Queued on this worker; one worker, so nobody else can run it.
            let beside = spawn(async move { f.store(true, SeqCst) });
            let start = Instant::now();
            while !flag.load(SeqCst) {
                if start.elapsed() > HANG / 2 {
                    return false;
                }
                ready().await;
            }
            beside.await.unwrap();
            true
        }))
        .unwrap()
    });
    assert!(ran, "the loop over due timers never gave its worker back");
}

#[test]
fn a_loop_over_zero_sleeps_takes_turns() {
    a_loop_over_due_timers_lets_a_queued_task_run(|| sleep(Duration::ZERO));
}

#[test]
fn a_loop_over_past_deadlines_takes_turns() {
    a_loop_over_due_timers_lets_a_queued_task_run(|| {
        sleep_until(Instant::now() - Duration::from_millis(1))
    });
}

#[test]
fn a_loop_over_elapsed_timeouts_takes_turns() {
    a_loop_over_due_timers_lets_a_queued_task_run(|| async {
        let r = timeout(Duration::ZERO, std::future::pending::<()>()).await;
        assert!(r.is_err());
    });
}

#[test]
fn a_loop_over_a_late_interval_takes_turns() {
    let ran = within(|| {
        let rt = rt(1);
        rt.block_on(rt.spawn(async {
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            let beside = spawn(async move { f.store(true, SeqCst) });
            // A period of 1 ns, bursting: ticks fall due faster than they can be taken.
            let mut it = interval_at(Instant::now(), Duration::from_nanos(1));
            let start = Instant::now();
            while !flag.load(SeqCst) {
                if start.elapsed() > HANG / 2 {
                    return false;
                }
                it.tick().await;
            }
            beside.await.unwrap();
            true
        }))
        .unwrap()
    });
    assert!(
        ran,
        "the loop over interval ticks never gave its worker back"
    );
}

/// A `timeout` whose future spends the whole budget at every poll (so it returns
/// `Pending` only through the budget) must still see its deadline pass.
fn times_out_although_the_future_spends_the_budget<Fut>(future: fn() -> Fut)
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let r = within(move || {
        let rt = rt(1);
        let start = Instant::now();
        let r = rt.block_on(rt.spawn(timeout(Duration::from_millis(10), future())));
        (r.unwrap(), start.elapsed())
    });
    assert!(r.0.is_err(), "the future completed?");
    assert!(r.1 >= Duration::from_millis(10), "timed out early");
}

#[test]
fn timeout_is_not_exhausted_by_a_future_consuming_the_budget() {
    times_out_although_the_future_spends_the_budget(|| async {
        loop {
            weft_executor::coop::consume_budget().await;
        }
    });
}

#[test]
fn timeout_is_not_exhausted_by_a_future_looping_over_due_timers() {
    times_out_although_the_future_spends_the_budget(|| async {
        loop {
            sleep(Duration::ZERO).await;
        }
    });
}

#[test]
fn timeout_in_block_on_is_not_exhausted_by_its_future() {
    let r = within(|| {
        rt(1).block_on(timeout(Duration::from_millis(10), async {
            loop {
                weft_executor::coop::consume_budget().await;
            }
        }))
    });
    assert!(r.is_err());
}

/// A waker that owns a `Sleep` (as a hand-written executor's waker owns its task's
/// future): dropping the last clone drops the sleep, which cancels its timer.
struct OwnsASleep {
    _sleep: weft_timer::Sleep,
}

impl std::task::Wake for OwnsASleep {
    fn wake(self: Arc<Self>) {}
}

/// A waker owning `owned`, registered first (unless it is due).
fn a_waker_owning(mut owned: weft_timer::Sleep) -> Waker {
    let _ = Pin::new(&mut owned).poll(&mut Context::from_waker(Waker::noop()));
    Waker::from(Arc::new(OwnsASleep { _sleep: owned }))
}

#[test]
fn replacing_a_waker_that_owns_a_sleep_of_the_same_shard_does_not_deadlock() {
    // Both sleeps are registered from this thread, so into the same shard. Replacing the
    // first one's waker drops the old waker's last clone, which drops the second sleep,
    // which cancels it in that shard: that must not happen under the shard's lock.
    within(|| {
        let rt = rt(1);
        rt.block_on(async {
            let mut s = sleep(Duration::from_secs(3600));
            let owner = a_waker_owning(sleep(Duration::from_secs(3600)));
            assert!(Pin::new(&mut s)
                .poll(&mut Context::from_waker(&owner))
                .is_pending());
            drop(owner);
            assert_eq!(timer_len(), 2);
            // A new waker: the sleep and the wheel let go of the owner.
            assert!(Pin::new(&mut s)
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_pending());
            assert_eq!(timer_len(), 1, "the owned sleep was dropped and cancelled");
            drop(s);
            assert_eq!(timer_len(), 0);
        });
    });
}

/// Counts its wakes.
struct CountsWakes(AtomicUsize);

impl std::task::Wake for CountsWakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn len_and_is_empty_only_look() {
    // The timer is reachable by sleeps but nobody drives it (the runtime parks in a
    // plain driver), so only `len` could fire its timers.
    let driver = weft_timer::TimerDriver::new(Arc::new(weft_executor::ParkDriver::new()));
    let timer = driver.timer();
    let rt = Builder::new()
        .worker_threads(1)
        .extension(timer.clone())
        .build()
        .unwrap();
    rt.block_on(async {
        let wakes = Arc::new(CountsWakes(AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        // Due soon, but not before both are polled, even under valgrind.
        let mut due = sleep(Duration::from_millis(200));
        let mut later = sleep(Duration::from_secs(3600));
        for s in [&mut due, &mut later] {
            assert!(Pin::new(s)
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
        }
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(timer.len(), 1, "the due timer is not counted");
        assert!(!timer.is_empty());
        drop(later);
        assert!(timer.is_empty());
        assert_eq!(wakes.0.load(SeqCst), 0, "a getter fired a timer");
        // It is still there to fire.
        assert!(Pin::new(&mut due)
            .poll(&mut Context::from_waker(&waker))
            .is_ready());
    });
}

/// What the stress test saw.
#[derive(Default)]
struct Seen {
    completed: AtomicUsize,
    early: AtomicUsize,
}

impl Seen {
    fn check(&self, deadline: Instant) {
        if Instant::now() < deadline {
            self.early.fetch_add(1, SeqCst);
        }
        self.completed.fetch_add(1, SeqCst);
    }
}

/// Awaits `s` and checks it was not early.
async fn checked(mut s: weft_timer::Sleep, seen: Arc<Seen>) {
    (&mut s).await;
    seen.check(s.deadline());
}

/// Polls `s` once with the task's waker (registering it unless it is due).
async fn poll_once(s: &mut weft_timer::Sleep) -> Poll<()> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *s).poll(cx))).await
}

#[test]
fn sleeps_moved_between_tasks_and_wakers_while_they_fire_reset_and_cancel() {
    // Many tasks on 4 workers, for about a second: sleeps with random short deadlines
    // awaited, reset, moved into other tasks through a shared queue, registered with a
    // waker that owns another sleep, aborted around their deadline. Every sleep that
    // completes must be on time; nothing may hang, panic or stay registered.
    let seen = within(|| {
        let rt = rt(4);
        let seen = Arc::new(Seen::default());
        let queue: Arc<std::sync::Mutex<Vec<weft_timer::Sleep>>> = Arc::default();
        let end = Instant::now() + Duration::from_secs(1);
        let tasks: Vec<_> = (0..16u64)
            .map(|i| {
                let (seen, queue) = (seen.clone(), queue.clone());
                rt.spawn(async move {
                    let mut seed = 0x9E37_79B9_7F4A_7C15 ^ (i + 1);
                    let mut r = move |n: u64| rand(&mut seed) % n;
                    let mut spawned = Vec::new();
                    while Instant::now() < end {
                        let d = Duration::from_micros(r(2_000));
                        let mut s = sleep(d);
                        match r(7) {
                            0 => checked(s, seen.clone()).await,
                            1 => {
                                let _ = poll_once(&mut s).await;
                                s.reset(Instant::now() + Duration::from_micros(r(2_000)));
                                checked(s, seen.clone()).await;
                            }
                            // Registered by this task, finished by whichever takes it.
                            2 => {
                                let _ = poll_once(&mut s).await;
                                queue.lock().unwrap().push(s);
                            }
                            3 => {
                                let Some(mut s) = queue.lock().unwrap().pop() else {
                                    continue;
                                };
                                match r(4) {
                                    0 => checked(s, seen.clone()).await,
                                    1 => spawned.push(spawn(checked(s, seen.clone()))),
                                    2 => {
                                        s.reset(Instant::now() + Duration::from_micros(r(2_000)));
                                        queue.lock().unwrap().push(s);
                                    }
                                    _ => drop(s),
                                }
                            }
                            // Registered with a waker that owns another sleep: replaced
                            // at once, or woken and dropped by the wheel as it fires.
                            4 => {
                                let other = sleep(Duration::from_micros(r(2_000)));
                                let owner = a_waker_owning(other);
                                let _ = Pin::new(&mut s).poll(&mut Context::from_waker(&owner));
                                drop(owner);
                                if r(2) == 0 {
                                    sleep(d + Duration::from_millis(1)).await;
                                }
                                checked(s, seen.clone()).await;
                            }
                            5 => {
                                let (t, sd) = (r(2_000), r(2_000));
                                let start = Instant::now();
                                let inner = sleep(Duration::from_micros(sd));
                                let limit = Duration::from_micros(t);
                                match timeout(limit, inner).await {
                                    Ok(()) => seen.check(start + Duration::from_micros(sd)),
                                    Err(_) => seen.check(start + limit),
                                }
                            }
                            // Aborted at about the time it fires, on whichever worker.
                            _ => {
                                let h = spawn(checked(s, seen.clone()));
                                for _ in 0..r(4) {
                                    yield_now().await;
                                }
                                h.abort();
                                let _ = h.await;
                            }
                        }
                    }
                    for h in spawned {
                        h.await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            rt.block_on(t).unwrap();
        }
        rt.block_on(async {
            queue.lock().unwrap().clear();
            assert_eq!(timer_len(), 0, "a sleep stayed registered");
        });
        seen
    });
    assert!(seen.completed.load(SeqCst) > 100, "too little happened");
    assert_eq!(seen.early.load(SeqCst), 0, "sleeps completed early");
}

#[test]
fn a_sleep_waker_that_panics_when_woken_does_not_kill_the_worker() {
    // A sleep polled by another executor, whose waker panics: the driver wakes it on the
    // (only) worker, which must go on running tasks and timers.
    struct Hostile;
    impl std::task::Wake for Hostile {
        fn wake(self: Arc<Self>) {
            panic!("a waker that panics when woken");
        }
    }
    let rt = rt(1);
    let mut sleep = Box::pin(sleep(Duration::from_millis(5)));
    {
        let _enter = rt.enter(); // the first poll finds the runtime's timer
        let waker = Waker::from(Arc::new(Hostile));
        assert!(sleep
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Well after the hostile sleep fired: timers and tasks still run on the worker.
        let v = rt.block_on(async {
            weft_timer::sleep(Duration::from_millis(50)).await;
            spawn(async { 3 }).await.unwrap()
        });
        drop(sleep);
        let _ = tx.send(v);
    });
    let v = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the worker died when a sleep's waker panicked");
    assert_eq!(v, 3);
}

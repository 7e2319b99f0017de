//! hyper's executor and timer traits on weft.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// hyper's `rt::Executor`: spawns on the current weft runtime.
///
/// hyper's HTTP/2 connections spawn a task per stream and one for the connection's
/// background work through it; hyper-util's pooled client spawns its connection tasks.
///
/// ```
/// use hyper::rt::Executor;
///
/// weft::run(async {
///     let (tx, rx) = weft::channel::bounded(1);
///     weft_hyper::WeftExecutor.execute(async move { tx.send(7).await.unwrap() });
///     assert_eq!(rx.recv().await.unwrap(), 7);
/// });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct WeftExecutor;

impl<F> hyper::rt::Executor<F> for WeftExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        drop(weft::spawn(future));
    }
}

/// hyper's `rt::Timer`, on weft's timer.
///
/// ```
/// use hyper::rt::Timer;
/// use std::time::Duration;
///
/// weft::run(async {
///     weft_hyper::WeftTimer.sleep(Duration::from_millis(1)).await;
/// });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct WeftTimer;

/// A weft sleep as hyper's `rt::Sleep`.
#[derive(Debug)]
struct HyperSleep(weft::time::Sleep);

impl Future for HyperSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}

impl hyper::rt::Timer for WeftTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(weft::time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(weft::time::sleep_until(deadline)))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        // Ours: move the timer entry in place. Another timer's sleep: replace it.
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            Some(mut ours) => ours.0.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

//! `Timeout`: a future raced against a deadline.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;
use weft_scheduler::coop;

use super::{sleep_until, Elapsed, Sleep};

/// Runs `future`, but gives up once `duration` has passed: the result is
/// the future's output, or [`Elapsed`] if the deadline came first (the
/// future is then dropped with the `Timeout`).
///
/// A future that is ready on its first poll wins even with a zero
/// duration. A duration too large for [`Instant`] (such as
/// [`Duration::MAX`]) means no deadline in practice; it never panics.
///
/// The timer starts now and belongs to the current runtime (the global one
/// outside any); see [the module docs](crate::time#which-runtime).
///
/// # Examples
///
/// ```
/// use std::future::pending;
/// use weft::time::{timeout, Duration};
///
/// weft::block_on(async {
///     let fast = timeout(Duration::from_secs(10), async { 42 }).await;
///     assert_eq!(fast, Ok(42));
///
///     let slow = timeout(Duration::from_millis(1), pending::<()>()).await;
///     assert!(slow.is_err());
/// });
/// ```
pub fn timeout<F: IntoFuture>(duration: Duration, future: F) -> Timeout<F::IntoFuture> {
    Timeout::new(future.into_future(), super::deadline_after(duration))
}

/// Like [`timeout`], with the deadline as an [`Instant`].
///
/// # Examples
///
/// ```
/// use std::future::pending;
/// use weft::time::{timeout_at, Duration, Instant};
///
/// weft::block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(2);
///     let result = timeout_at(deadline, pending::<()>()).await;
///     assert!(result.is_err());
///     assert!(Instant::now() >= deadline);
/// });
/// ```
pub fn timeout_at<F: IntoFuture>(deadline: Instant, future: F) -> Timeout<F::IntoFuture> {
    Timeout::new(future.into_future(), deadline)
}

pin_project! {
    /// The future of [`timeout`] and [`timeout_at`]: the wrapped future's
    /// output, or [`Elapsed`] once the deadline has passed.
    ///
    /// Each poll polls the wrapped future first, so a future that is ready
    /// wins over a deadline that has passed too. The deadline is checked
    /// even when the wrapped future spent the task's whole cooperative
    /// budget, so a future that is always ready is still cut off.
    ///
    /// # Panics
    ///
    /// Polling panics if the runtime its timer belongs to has shut down;
    /// see [`Sleep`]. A panic of the wrapped future goes through.
    ///
    /// # Cancel safety
    ///
    /// As cancel safe as the wrapped future: dropping the `Timeout` drops
    /// the future and removes the timer.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::Ready;
    /// use weft::time::{timeout, Duration, Timeout};
    ///
    /// weft::block_on(async {
    ///     let guarded: Timeout<Ready<&str>> =
    ///         timeout(Duration::from_secs(10), std::future::ready("done"));
    ///     assert_eq!(guarded.await, Ok("done"));
    /// });
    /// ```
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        delay: Sleep,
    }
}

impl<F> Timeout<F> {
    fn new(future: F, deadline: Instant) -> Timeout<F> {
        Timeout {
            future,
            delay: sleep_until(deadline),
        }
    }

    /// The wrapped future.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::{ready, Ready};
    /// use weft::time::{timeout, Duration};
    ///
    /// let guarded = timeout(Duration::from_secs(1), ready(7));
    /// let _inner: &Ready<i32> = guarded.get_ref();
    /// ```
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// The wrapped future, mutably.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::time::{sleep, timeout, Duration, Instant};
    ///
    /// let mut guarded = timeout(Duration::from_secs(1), sleep(Duration::from_secs(5)));
    /// let sooner = Instant::now() + Duration::from_millis(1);
    /// guarded.get_mut().reset(sooner);
    /// assert_eq!(guarded.get_ref().deadline(), sooner);
    /// ```
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.future
    }

    /// Gives up the deadline and returns the wrapped future.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::time::{timeout, Duration};
    ///
    /// weft::block_on(async {
    ///     let guarded = timeout(Duration::ZERO, async { "no hurry" });
    ///     assert_eq!(guarded.into_inner().await, "no hurry");
    /// });
    /// ```
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let had_budget = coop::has_budget_remaining();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        let mut poll_delay = || Pin::new(&mut *this.delay).poll(cx);
        // If the wrapped future spent the last of the budget, the delay
        // would answer `Pending` without looking at the clock, and a future
        // that spends the budget on every poll would never time out; so the
        // delay gets a budget of its own then (tokio's rule). A budget that
        // was already spent before this poll is the caller's doing, and the
        // delay respects it like any resource.
        let fired = if had_budget && !coop::has_budget_remaining() {
            coop::budgeted(poll_delay)
        } else {
            poll_delay()
        };
        fired.map(|()| Err(Elapsed::new()))
    }
}

impl<F: fmt::Debug> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("future", &self.future)
            .field("delay", &self.delay)
            .finish()
    }
}

//! `Sleep`: a future that completes at a deadline.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use weft_reactor::Timer;
use weft_scheduler::coop;

use crate::runtime::with_reactor;

/// Waits until `duration` has passed.
///
/// Equivalent to `sleep_until(Instant::now() + duration)`, except that a
/// duration too large for [`Instant`] (such as [`Duration::MAX`]) gives a
/// deadline about 30 years ahead instead of panicking. A zero duration
/// completes on the first poll.
///
/// The timer belongs to the current runtime (the global one outside any);
/// see [the module docs](crate::time#which-runtime). Nothing happens until
/// the returned future is polled, and dropping it cancels the timer.
///
/// # Examples
///
/// ```
/// use weft::time::{sleep, Duration, Instant};
///
/// weft::block_on(async {
///     let start = Instant::now();
///     sleep(Duration::from_millis(3)).await;
///     assert!(start.elapsed() >= Duration::from_millis(3));
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    Sleep::new(super::deadline_after(duration))
}

/// Waits until `deadline`.
///
/// A deadline that has already passed completes on the first poll. The
/// timer belongs to the current runtime (the global one outside any); see
/// [the module docs](crate::time#which-runtime).
///
/// # Examples
///
/// ```
/// use weft::time::{sleep_until, Duration, Instant};
///
/// weft::block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(3);
///     sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(deadline)
}

/// The future of [`sleep`] and [`sleep_until`]: completes once its
/// deadline has passed, never before.
///
/// `Sleep` is [`Unpin`], so it can be polled through `&mut` and moved
/// between polls. It enters its runtime's timer wheel on the first poll
/// before the deadline and leaves it when dropped: a dropped `Sleep` wakes
/// nothing.
///
/// # Panics
///
/// Polling panics if the runtime the `Sleep` belongs to has shut down (it
/// can never complete then, and a `Future<Output = ()>` has no way to
/// report an error). Create timers inside the runtime that awaits them, and
/// do not keep them beyond that runtime's life.
///
/// # Cancel safety
///
/// Dropping a `Sleep` before it completes is always fine: the timer is
/// removed and nothing else changes.
///
/// # Examples
///
/// Waiting for whichever comes first, a value or the deadline:
///
/// ```
/// use weft::time::{sleep, Duration};
///
/// weft::block_on(async {
///     let winner = weft::select! {
///         _ = sleep(Duration::from_millis(1)) => "timer",
///         _ = std::future::pending::<()>() => "never",
///     };
///     assert_eq!(winner, "timer");
/// });
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Sleep {
    timer: Timer,
}

impl Sleep {
    fn new(deadline: Instant) -> Sleep {
        let timer = with_reactor(|reactor| Timer::new(reactor, deadline));
        Sleep { timer }
    }

    /// When this `Sleep` completes.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::time::{sleep_until, Duration, Instant};
    ///
    /// let deadline = Instant::now() + Duration::from_secs(1);
    /// let sleep = sleep_until(deadline);
    /// assert_eq!(sleep.deadline(), deadline);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.timer.deadline()
    }

    /// True once this `Sleep` has completed (a poll returned `Ready`), and
    /// it was not [reset](Sleep::reset) since.
    ///
    /// A `Sleep` whose deadline has passed but that was not polled since is
    /// not elapsed yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::time::{sleep, Duration};
    ///
    /// weft::block_on(async {
    ///     let mut sleep = sleep(Duration::from_millis(1));
    ///     assert!(!sleep.is_elapsed());
    ///     (&mut sleep).await;
    ///     assert!(sleep.is_elapsed());
    /// });
    /// ```
    pub fn is_elapsed(&self) -> bool {
        self.timer.is_elapsed()
    }

    /// Moves the deadline, earlier or later, also after the `Sleep` has
    /// completed: it then waits again, for the new deadline.
    ///
    /// A task waiting on the `Sleep` needs no new poll: the timer wakes it
    /// at the new deadline. Since `Sleep` is [`Unpin`], a pinned one is
    /// reset through `as_mut()`: `sleep.as_mut().reset(deadline)`.
    ///
    /// # Examples
    ///
    /// A deadline pushed back while waiting, as an idle timeout does on
    /// each message:
    ///
    /// ```
    /// use std::pin::pin;
    /// use weft::time::{sleep, Duration, Instant};
    ///
    /// weft::block_on(async {
    ///     let mut idle = pin!(sleep(Duration::from_millis(1)));
    ///     let later = Instant::now() + Duration::from_millis(5);
    ///     idle.as_mut().reset(later);
    ///     idle.as_mut().await;
    ///     assert!(Instant::now() >= later);
    /// });
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.timer.reset(deadline);
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let coop = ready!(coop::poll_proceed(cx));
        match self.timer.poll_elapsed(cx) {
            Poll::Ready(Ok(())) => {
                coop.made_progress();
                Poll::Ready(())
            }
            // The error only says the driver is gone; the panic says what to do.
            Poll::Ready(Err(_)) => panic!(
                "weft: a timer was polled after its runtime shut down, so it can never complete; \
                 a timer belongs to the runtime it was created in (the global runtime outside \
                 any): create it inside the runtime that awaits it, and do not keep it beyond \
                 that runtime's life"
            ),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline())
            .field("is_elapsed", &self.is_elapsed())
            .finish()
    }
}

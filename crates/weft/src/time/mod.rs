//! Time: waiting until a deadline, bounding how long a future may take, and
//! ticking at a fixed period.
//!
//! - [`sleep`] and [`sleep_until`] return a [`Sleep`], a future that
//!   completes once its deadline has passed.
//! - [`timeout`] and [`timeout_at`] wrap a future in a [`Timeout`], which
//!   gives its output or, if the deadline comes first, an [`Elapsed`] error
//!   (and drops the future).
//! - [`interval`] and [`interval_at`] return an [`Interval`], which ticks
//!   once a period; [`MissedTickBehavior`] says how it catches up after the
//!   task fell behind.
//!
//! Deadlines are [`std::time::Instant`]s, re-exported here as [`Instant`]
//! (with [`Duration`]), so values from `std` and from weft mix freely.
//!
//! # Resolution and accuracy
//!
//! Every timer lives in the timer wheel of its runtime's driver, which
//! counts in 1 ms ticks. A timer never completes before its deadline; it
//! completes at most about a millisecond after it, plus however long its
//! task waits for a worker. An idle runtime with pending timers makes no
//! periodic wake-ups: the driver sleeps until the next deadline.
//!
//! # Which runtime
//!
//! A timer belongs to the runtime the creating thread is in (a worker or
//! blocking thread of it, or a thread inside its `block_on`), and outside
//! any runtime to the global one, by the same rule as [`spawn`](crate::spawn).
//! It can be awaited from anywhere, but once its runtime has shut down it
//! can never complete, and polling it panics (see [`Sleep`]'s `# Panics`).
//!
//! Durations too large to add to the current time (up to
//! [`Duration::MAX`]) mean "practically never": the deadline becomes about
//! 30 years from now, and nothing panics.
//!
//! # Cooperative budget
//!
//! A timer that completes spends one unit of its task's cooperative
//! budget, like a socket operation does; once the budget is spent, ready
//! timers answer `Pending` (and wake the task) so the task yields to its
//! worker's other tasks. A [`Timeout`] still fires when the future it wraps
//! spent the budget.
//!
//! # Examples
//!
//! ```
//! use weft::time::{self, Duration, Instant};
//!
//! weft::block_on(async {
//!     let start = Instant::now();
//!     time::sleep(Duration::from_millis(5)).await;
//!     assert!(start.elapsed() >= Duration::from_millis(5));
//!
//!     // A future that takes too long is dropped, and the caller learns why.
//!     let slow = time::sleep(Duration::from_secs(3600));
//!     let result = time::timeout(Duration::from_millis(5), slow).await;
//!     assert!(result.is_err());
//!
//!     // Three ticks, 2 ms apart; the first one completes at once.
//!     let mut ticks = time::interval(Duration::from_millis(2));
//!     let first = ticks.tick().await;
//!     ticks.tick().await;
//!     let third = ticks.tick().await;
//!     assert_eq!(third - first, Duration::from_millis(4));
//! });
//! ```

mod error;
mod interval;
mod sleep;
mod timeout;

pub use error::Elapsed;
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
/// A span of time: [`std::time::Duration`], re-exported.
pub use std::time::Duration;
/// A point in time: [`std::time::Instant`], re-exported, so deadlines from
/// `std` and from weft are the same type.
pub use std::time::Instant;
pub use timeout::{timeout, timeout_at, Timeout};

/// How far ahead "practically never" lies: about 30 years, as tokio uses.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// A deadline so far ahead it stands for "never", yet one that `Instant`
/// represents and the driver can compute with.
fn far_future() -> Instant {
    Instant::now() + FAR_FUTURE
}

/// `base + duration`, or [`far_future`] (but never before `base`) where
/// `Instant` cannot represent the sum.
fn saturating_add(base: Instant, duration: Duration) -> Instant {
    base.checked_add(duration)
        .unwrap_or_else(|| far_future().max(base))
}

/// The deadline `duration` from now, saturating as [`saturating_add`].
fn deadline_after(duration: Duration) -> Instant {
    saturating_add(Instant::now(), duration)
}

//! `Interval`: ticks at a fixed period, and how it catches up on ticks it
//! missed.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;

use super::{saturating_add, sleep_until, Sleep};

/// How late a tick may complete and still count as on time. Ticks complete
/// up to about a millisecond after their instant by design, plus scheduling
/// delays; only a task that fell further behind has missed ticks.
const LATE_TICK: Duration = Duration::from_millis(5);

/// An [`Interval`] that ticks every `period`, starting now: the first tick
/// completes at once.
///
/// The ticks belong to the current runtime (the global one outside any);
/// see [the module docs](crate::time#which-runtime).
///
/// # Panics
///
/// If `period` is zero.
///
/// # Examples
///
/// ```
/// use weft::time::{interval, Duration, Instant};
///
/// weft::block_on(async {
///     let start = Instant::now();
///     let mut ticks = interval(Duration::from_millis(2));
///     ticks.tick().await; // at once
///     ticks.tick().await;
///     ticks.tick().await;
///     assert!(start.elapsed() >= Duration::from_millis(4));
/// });
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// An [`Interval`] whose first tick completes at `start`, and then one
/// every `period`.
///
/// # Panics
///
/// If `period` is zero.
///
/// # Examples
///
/// ```
/// use weft::time::{interval_at, Duration, Instant};
///
/// weft::block_on(async {
///     let start = Instant::now() + Duration::from_millis(2);
///     let mut ticks = interval_at(start, Duration::from_millis(3));
///     assert_eq!(ticks.tick().await, start);
///     assert_eq!(ticks.tick().await, start + Duration::from_millis(3));
/// });
/// ```
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "weft: an interval's period must be greater than zero; for a loop that runs as often \
         as it can, use weft::task::yield_now between iterations instead"
    );
    Interval {
        delay: sleep_until(start),
        period,
        missed_tick_behavior: MissedTickBehavior::default(),
    }
}

/// What an [`Interval`] does when a tick completes late, because the task
/// did not poll it for longer than a period (it was busy, blocked, or its
/// worker was).
///
/// The timelines below show a 100 ms interval whose task was blocked from
/// 50 ms to 430 ms, so the ticks scheduled at 100, 200, 300 and 400 ms were
/// missed. Each entry reads "completed at -> returned", in ms since the
/// first tick; a tick returns the instant it was *scheduled* for, not the
/// instant it completed.
///
/// ```text
/// Burst:  0->0  430->100  430->200  430->300  430->400  500->500  600->600
/// Delay:  0->0  430->100  530->530  630->630  730->730
/// Skip:   0->0  430->100  500->500  600->600  700->700
/// ```
///
/// A tick up to a few milliseconds late does not count as missed: all three
/// then keep the schedule.
///
/// # Examples
///
/// ```
/// use weft::time::{interval, Duration, MissedTickBehavior};
///
/// let mut ticks = interval(Duration::from_millis(10));
/// assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Burst);
/// ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
/// assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Delay);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MissedTickBehavior {
    /// Catch up: the missed ticks complete one after the other, at once,
    /// until the interval is back on its original schedule. Right when
    /// every tick counts (a rate limiter refilling, a clock).
    ///
    /// ```text
    /// 0->0  430->100  430->200  430->300  430->400  500->500  600->600
    /// ```
    #[default]
    Burst,
    /// Start over from the late tick: the next one comes a full period
    /// after it, and the whole schedule shifts by the delay. Right when
    /// what matters is the gap between ticks (a heartbeat, polling a
    /// server).
    ///
    /// ```text
    /// 0->0  430->100  530->530  630->630  730->730
    /// ```
    Delay,
    /// Drop the missed ticks: the next tick comes at the next instant of
    /// the original schedule after the late one. Right for work that keeps
    /// to a grid (sampling on every full second).
    ///
    /// ```text
    /// 0->0  430->100  500->500  600->600  700->700
    /// ```
    Skip,
}

impl MissedTickBehavior {
    /// When the tick after a late one is due. `scheduled` is the late
    /// tick's instant, `now` when it completed.
    fn next_timeout(self, scheduled: Instant, now: Instant, period: Duration) -> Instant {
        match self {
            MissedTickBehavior::Burst => saturating_add(scheduled, period),
            MissedTickBehavior::Delay => saturating_add(now, period),
            MissedTickBehavior::Skip => {
                // How far `now` lies into its period of the original grid.
                let period_nanos = period.as_nanos();
                let into = (now - scheduled).as_nanos() % period_nanos;
                saturating_add(now, nanos(period_nanos - into))
            }
        }
    }
}

/// A `Duration` of `nanos` nanoseconds, for values that may exceed `u64`.
fn nanos(nanos: u128) -> Duration {
    const PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(nanos / PER_SEC).unwrap_or(u64::MAX);
    // Below 10^9: fits.
    Duration::new(secs, (nanos % PER_SEC) as u32)
}

/// Ticks once a period; from [`interval`] or [`interval_at`].
///
/// Each tick returns the [`Instant`] it was scheduled for, so consecutive
/// ticks are exactly a period apart as long as the task keeps up (and under
/// [`MissedTickBehavior::Burst`] always). A tick never completes before its
/// instant. `Interval` also implements
/// [`Stream<Item = Instant>`](futures_core::Stream).
///
/// # Panics
///
/// Ticking panics if the runtime the interval belongs to has shut down;
/// see [`Sleep`].
///
/// # Examples
///
/// ```
/// use weft::time::{interval, Duration};
///
/// weft::block_on(async {
///     let mut heartbeat = interval(Duration::from_millis(1));
///     for _ in 0..3 {
///         heartbeat.tick().await;
///         // send a heartbeat
///     }
/// });
/// ```
#[derive(Debug)]
pub struct Interval {
    /// Due at the next tick's scheduled instant.
    delay: Sleep,
    period: Duration,
    missed_tick_behavior: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was scheduled
    /// for.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a `tick()` dropped before it completes consumes no
    /// tick, so using it as a [`select!`](crate::select) branch in a loop
    /// loses nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::time::{interval, Duration, Instant};
    ///
    /// weft::block_on(async {
    ///     let mut ticks = interval(Duration::from_millis(2));
    ///     let first = ticks.tick().await;
    ///     let second = ticks.tick().await;
    ///     assert_eq!(second - first, Duration::from_millis(2));
    ///     assert!(Instant::now() >= second);
    /// });
    /// ```
    pub fn tick(&mut self) -> impl Future<Output = Instant> + '_ {
        poll_fn(move |cx| self.poll_tick(cx))
    }

    /// Polls for the next tick: `Ready` with its scheduled instant once it
    /// is due, otherwise `Pending` (and the task is woken when it is due).
    /// For implementing futures and streams by hand; async code uses
    /// [`tick`](Interval::tick).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use weft::time::{interval, Duration};
    ///
    /// weft::block_on(async {
    ///     let mut ticks = interval(Duration::from_millis(1));
    ///     let first = poll_fn(|cx| ticks.poll_tick(cx)).await;
    ///     let second = poll_fn(|cx| ticks.poll_tick(cx)).await;
    ///     assert!(second > first);
    /// });
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        ready!(Pin::new(&mut self.delay).poll(cx));
        let scheduled = self.delay.deadline();
        let now = Instant::now();
        let next = if now > saturating_add(scheduled, LATE_TICK) {
            self.missed_tick_behavior
                .next_timeout(scheduled, now, self.period)
        } else {
            saturating_add(scheduled, self.period)
        };
        self.delay.reset(next);
        Poll::Ready(scheduled)
    }

    /// Starts the schedule over: the next tick comes one period from now.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::time::{interval, Duration, Instant};
    ///
    /// weft::block_on(async {
    ///     let mut ticks = interval(Duration::from_millis(3));
    ///     ticks.tick().await;
    ///     let reset_at = Instant::now();
    ///     ticks.reset();
    ///     let next = ticks.tick().await;
    ///     assert!(next >= reset_at + Duration::from_millis(3));
    /// });
    /// ```
    pub fn reset(&mut self) {
        self.delay
            .reset(saturating_add(Instant::now(), self.period));
    }

    /// The time between two ticks.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::time::{interval, Duration};
    ///
    /// let ticks = interval(Duration::from_millis(250));
    /// assert_eq!(ticks.period(), Duration::from_millis(250));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }

    /// How this interval catches up on missed ticks;
    /// [`MissedTickBehavior::Burst`] unless set.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::time::{interval, Duration, MissedTickBehavior};
    ///
    /// let ticks = interval(Duration::from_millis(10));
    /// assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Burst);
    /// ```
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets how this interval catches up on missed ticks, from the next
    /// late tick on.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::time::{interval, Duration, MissedTickBehavior};
    ///
    /// let mut ticks = interval(Duration::from_millis(10));
    /// ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    /// assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Skip);
    /// ```
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }
}

/// Never ends: each item is a tick's scheduled instant, as
/// [`tick`](Interval::tick) returns.
///
/// ```
/// use std::future::poll_fn;
/// use std::pin::Pin;
/// use futures_core::Stream;
/// use weft::time::{interval, Duration};
///
/// weft::block_on(async {
///     let mut ticks = interval(Duration::from_millis(1));
///     let first = poll_fn(|cx| Pin::new(&mut ticks).poll_next(cx)).await;
///     assert!(first.is_some());
/// });
/// ```
impl Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_millis(100);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The tick scheduled at 100 ms completes at `late` ms.
    fn next_after_late(behavior: MissedTickBehavior, late: u64) -> Duration {
        let origin = Instant::now();
        let next = behavior.next_timeout(origin + ms(100), origin + ms(late), PERIOD);
        next - origin
    }

    #[test]
    fn burst_keeps_the_original_schedule() {
        assert_eq!(next_after_late(MissedTickBehavior::Burst, 400), ms(200));
    }

    #[test]
    fn delay_restarts_from_the_late_tick() {
        assert_eq!(next_after_late(MissedTickBehavior::Delay, 400), ms(500));
        assert_eq!(next_after_late(MissedTickBehavior::Delay, 430), ms(530));
    }

    #[test]
    fn skip_goes_to_the_next_instant_of_the_grid() {
        assert_eq!(next_after_late(MissedTickBehavior::Skip, 430), ms(500));
        assert_eq!(next_after_late(MissedTickBehavior::Skip, 400), ms(500));
        assert_eq!(next_after_late(MissedTickBehavior::Skip, 499), ms(500));
        assert_eq!(next_after_late(MissedTickBehavior::Skip, 150), ms(200));
    }

    #[test]
    fn skip_with_a_period_beyond_u64_nanoseconds_does_not_panic() {
        let origin = Instant::now();
        let next = MissedTickBehavior::Skip.next_timeout(origin, origin + ms(1), Duration::MAX);
        assert!(next > origin + Duration::from_secs(86_400 * 365));
    }

    #[test]
    fn nanos_beyond_u64_convert_exactly() {
        let big = u128::from(u64::MAX) * 3 + 7;
        assert_eq!(nanos(big).as_nanos(), big);
    }
}

//! Timers: a [`Timer`] is one entry in the driver's timer wheel.
//!
//! The wheel counts time in 1 ms ticks from the driver's start. A deadline
//! rounds *up* to a tick and the driver fires a tick once the clock has
//! passed it, so a timer never fires early and fires at most about 1 ms
//! late (plus scheduling). The driver sleeps until the wheel's next
//! expiration; inserting an earlier deadline while it sleeps wakes it, so
//! an idle runtime makes no periodic wake-ups at all.
//!
//! Every timer operation is one critical section on the driver's time
//! mutex: [`TimeState`] holds those sections as methods taking ticks, and
//! [`Timer`] and the driver only read the clock, lock, call one, and wake
//! or drop wakers after unlocking. So the loom models (`loom_tests.rs`)
//! drive the very same sections with explicit "now" values: loom has no
//! clock.

pub(crate) mod wheel;

use std::fmt;
use std::io;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::driver::{Handle, Shared};
use crate::io::shut_down_error;
use wheel::{TimerKey, Wheel};

/// The driver's timer state, behind its mutex.
pub(crate) struct TimeState {
    wheel: Wheel<Option<Waker>>,
    /// While the driver blocks: the tick it will wake at by itself
    /// (`u64::MAX`: never). An insert before that tick must wake it.
    parked_until: Option<u64>,
}

impl TimeState {
    pub(crate) fn new() -> TimeState {
        TimeState {
            wheel: Wheel::new(),
            parked_until: None,
        }
    }

    /// The number of timers waiting in the wheel.
    pub(crate) fn len(&self) -> usize {
        self.wheel.len()
    }

    /// True if a new deadline at `tick` comes before the sleeping driver
    /// would wake; records that it will be woken.
    fn needs_unpark(&mut self, tick: u64) -> bool {
        match self.parked_until {
            Some(until) if tick < until => {
                self.parked_until = Some(tick);
                true
            }
            _ => false,
        }
    }

    /// Takes every waiting timer's waker (they fail once polled again).
    pub(crate) fn shutdown(&mut self, wakers: &mut Vec<Waker>) {
        self.wheel
            .advance(u64::MAX, |_, waker| wakers.extend(waker.take()));
    }

    /// The driver is about to block for `timeout`: shortens it to the next
    /// expiration (`until(tick)` is how long until that tick) and records
    /// until when the driver will sleep.
    pub(crate) fn before_park(
        &mut self,
        timeout: Option<Duration>,
        until: impl FnOnce(u64) -> Duration,
    ) -> Option<Duration> {
        let next = self.wheel.next_expiration();
        let until_next = next.map(until);
        let timeout = match (timeout, until_next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.parked_until = match timeout {
            Some(Duration::ZERO) => None,
            _ => Some(next.unwrap_or(u64::MAX)),
        };
        timeout
    }

    /// The driver woke at tick `now`: it no longer sleeps until a deadline,
    /// and every timer whose tick has passed fires (their wakers go to
    /// `wakers`).
    pub(crate) fn after_park(&mut self, now: u64, wakers: &mut Vec<Waker>) {
        self.parked_until = None;
        if self.wheel.next_expiration().is_none_or(|next| next > now) {
            return;
        }
        self.wheel
            .advance(now, |_, waker| wakers.extend(waker.take()));
    }

    /// The part of [`Timer::poll_elapsed`] under the lock, for a timer
    /// whose entry is `key` (`None`: not in the wheel yet). `deadline` is
    /// asked only for a timer not in the wheel yet: its tick, or `None` if
    /// its deadline has passed already.
    pub(crate) fn poll_timer(
        &mut self,
        key: &mut Option<TimerKey>,
        deadline: impl FnOnce() -> Option<u64>,
        waker: &Waker,
    ) -> PolledTimer {
        let mut polled = PolledTimer {
            elapsed: false,
            unpark: false,
            replaced: None,
        };
        match *key {
            Some(key) if self.wheel.is_fired(key) => polled.elapsed = true,
            Some(key) => {
                let stored = self.wheel.get_mut(key);
                if !stored.as_ref().is_some_and(|w| w.will_wake(waker)) {
                    polled.replaced = stored.replace(waker.clone());
                }
            }
            None => match deadline() {
                None => polled.elapsed = true,
                Some(tick) => {
                    *key = Some(self.wheel.insert(tick, Some(waker.clone())));
                    polled.unpark = self.needs_unpark(tick);
                }
            },
        }
        polled
    }

    /// Moves the timer `key` to `tick`; true if the driver must be unparked
    /// to see the new deadline in time.
    pub(crate) fn reset_timer(&mut self, key: TimerKey, tick: u64) -> bool {
        self.wheel.reset(key, tick);
        self.needs_unpark(tick)
    }

    /// Takes the timer `key` out of the wheel for good, with its waker if
    /// it still had one (it had not fired): that waker is never woken.
    pub(crate) fn remove_timer(&mut self, key: TimerKey) -> Option<Waker> {
        self.wheel.remove(key)
    }
}

/// What [`TimeState::poll_timer`] found.
#[must_use]
pub(crate) struct PolledTimer {
    /// The deadline has passed (the timer fired, or was due already).
    pub(crate) elapsed: bool,
    /// The timer entered the wheel before the sleeping driver would wake:
    /// unpark it.
    pub(crate) unpark: bool,
    /// The waker this poll replaced: drop it outside the lock, since it may
    /// hold the last reference to a task whose destructor drops a timer of
    /// this driver.
    pub(crate) replaced: Option<Waker>,
}

impl Shared {
    /// The wheel tick a deadline rounds up to.
    fn deadline_tick(&self, deadline: Instant) -> u64 {
        let since = deadline.saturating_duration_since(self.start);
        let ticks = since.as_nanos().div_ceil(1_000_000);
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }

    /// The last whole tick the clock has passed.
    fn now_tick(&self, now: Instant) -> u64 {
        let ticks = now.saturating_duration_since(self.start).as_millis();
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }

    /// Shortens the driver's `timeout` to the next timer expiration, and
    /// records until when the driver will sleep.
    pub(crate) fn before_park(&self, timeout: Option<Duration>) -> Option<Duration> {
        if timeout == Some(Duration::ZERO) {
            // Only collecting what is ready (a busy worker's regular poll):
            // no deadline to compute, and `parked_until` is already `None`.
            return timeout;
        }
        self.time.lock().before_park(timeout, |tick| {
            match self.start.checked_add(Duration::from_millis(tick)) {
                Some(at) => at.saturating_duration_since(Instant::now()),
                // Beyond what `Instant` represents: as good as never.
                None => Duration::MAX,
            }
        })
    }

    /// The driver woke: it no longer sleeps until a deadline, and every
    /// timer whose tick has passed fires (their wakers are collected). One
    /// lock for both.
    pub(crate) fn after_park(&self, wakers: &mut Vec<Waker>) {
        let now = self.now_tick(Instant::now());
        self.time.lock().after_park(now, wakers);
    }
}

/// One timer of a driver: completes once its deadline has passed.
///
/// It enters the wheel on its first poll before the deadline (a timer
/// polled after its deadline never touches the wheel), and leaves it when
/// dropped.
///
/// # Examples
///
/// ```
/// use std::task::{Context, Poll, Waker};
/// use std::time::{Duration, Instant};
/// use weft_reactor::{Driver, Timer};
///
/// let mut driver = Driver::new()?;
/// let deadline = Instant::now() + Duration::from_millis(3);
/// let mut timer = Timer::new(driver.handle(), deadline);
/// let mut cx = Context::from_waker(Waker::noop());
/// while timer.poll_elapsed(&mut cx).is_pending() {
///     driver.park(None)?; // sleeps until the deadline
/// }
/// assert!(Instant::now() >= deadline);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Timer {
    handle: Handle,
    deadline: Instant,
    key: Option<TimerKey>,
    elapsed: bool,
}

impl Timer {
    /// A timer of `handle`'s driver, due at `deadline`.
    pub fn new(handle: &Handle, deadline: Instant) -> Timer {
        Timer {
            handle: handle.clone(),
            deadline,
            key: None,
            elapsed: false,
        }
    }

    /// When the timer is due.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True once [`poll_elapsed`](Timer::poll_elapsed) returned ready
    /// (and the timer was not reset since).
    pub fn is_elapsed(&self) -> bool {
        self.elapsed
    }

    /// Moves the deadline (earlier or later); the timer waits again.
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.elapsed = false;
        let Some(key) = self.key else { return };
        let shared = &*self.handle.shared;
        let tick = shared.deadline_tick(deadline);
        let unpark = shared.time.lock().reset_timer(key, tick);
        if unpark {
            shared.unpark();
        }
    }

    /// Ready once the deadline has passed; an error if the driver shut
    /// down first. Otherwise stores the waker, to be woken at the deadline.
    pub fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.elapsed {
            return Poll::Ready(Ok(()));
        }
        let shared = &*self.handle.shared;
        let deadline = self.deadline;
        let polled = {
            let mut time = shared.time.lock();
            // Checked under the time lock, which `shutdown` takes after
            // setting the flag to drain the wheel: a timer either sees the
            // flag or is drained (woken) by it.
            if shared.is_shutdown() {
                return Poll::Ready(Err(shut_down_error()));
            }
            time.poll_timer(
                &mut self.key,
                || (Instant::now() < deadline).then(|| shared.deadline_tick(deadline)),
                cx.waker(),
            )
        };
        // Dropped outside the lock (see `PolledTimer::replaced`).
        drop(polled.replaced);
        if polled.unpark {
            shared.unpark();
        }
        if polled.elapsed {
            self.elapsed = true;
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Removing a pending entry takes its waker: no later fire wakes
            // it. (If it fired, the driver may still be waking the waker it
            // took: a spurious wake-up for the task, which never touches
            // the entry.) It is dropped outside the lock (see
            // `PolledTimer::replaced`).
            let waker = self.handle.shared.time.lock().remove_timer(key);
            drop(waker);
        }
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("deadline", &self.deadline)
            .field("elapsed", &self.elapsed)
            .finish_non_exhaustive()
    }
}

impl Handle {
    /// The number of timers waiting in the wheel right now.
    pub fn num_timers(&self) -> usize {
        self.shared.time.lock().len()
    }
}

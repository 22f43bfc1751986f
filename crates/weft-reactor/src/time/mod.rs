//! Timers: a [`Timer`] is one entry in the driver's timer wheel.
//!
//! The wheel counts time in 1 ms ticks from the driver's start. A deadline
//! rounds *up* to a tick and the driver fires a tick once the clock has
//! passed it, so a timer never fires early and fires at most about 1 ms
//! late (plus scheduling). The driver sleeps until the wheel's next
//! expiration; inserting an earlier deadline while it sleeps wakes it, so
//! an idle runtime makes no periodic wake-ups at all.

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
        let mut time = self.time.lock();
        let next = time.wheel.next_expiration();
        let until_next = next.map(|tick| {
            match self.start.checked_add(Duration::from_millis(tick)) {
                Some(at) => at.saturating_duration_since(Instant::now()),
                // Beyond what `Instant` represents: as good as never.
                None => Duration::MAX,
            }
        });
        let timeout = match (timeout, until_next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        time.parked_until = match timeout {
            Some(Duration::ZERO) => None,
            _ => Some(next.unwrap_or(u64::MAX)),
        };
        timeout
    }

    /// The driver woke: it no longer sleeps until a deadline, and every
    /// timer whose tick has passed fires (their wakers are collected). One
    /// lock for both.
    pub(crate) fn after_park(&self, wakers: &mut Vec<Waker>) {
        let now = self.now_tick(Instant::now());
        let mut time = self.time.lock();
        time.parked_until = None;
        if time.wheel.next_expiration().is_none_or(|next| next > now) {
            return;
        }
        time.wheel
            .advance(now, |_, waker| wakers.extend(waker.take()));
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
        let unpark = {
            let mut time = shared.time.lock();
            time.wheel.reset(key, tick);
            time.needs_unpark(tick)
        };
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
        let mut replaced = None;
        let (poll, unpark) = {
            let mut time = shared.time.lock();
            // Checked under the time lock, which `shutdown` takes after
            // setting the flag to drain the wheel: a timer either sees the
            // flag or is drained (woken) by it.
            if shared.is_shutdown() {
                return Poll::Ready(Err(shut_down_error()));
            }
            match self.key {
                Some(key) if time.wheel.is_fired(key) => (Poll::Ready(Ok(())), false),
                Some(key) => {
                    let waker = time.wheel.get_mut(key);
                    if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        replaced = waker.replace(cx.waker().clone());
                    }
                    (Poll::Pending, false)
                }
                None if Instant::now() >= self.deadline => (Poll::Ready(Ok(())), false),
                None => {
                    let tick = shared.deadline_tick(self.deadline);
                    self.key = Some(time.wheel.insert(tick, Some(cx.waker().clone())));
                    (Poll::Pending, time.needs_unpark(tick))
                }
            }
        };
        // Dropped outside the lock: it may hold the last reference to a task
        // whose destructor drops a timer of this driver.
        drop(replaced);
        if unpark {
            shared.unpark();
        }
        if poll.is_ready() {
            self.elapsed = true;
        }
        poll
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Removing the entry takes its waker: nothing is woken after. It
            // is dropped outside the lock (see `poll_elapsed`).
            let waker = self.handle.shared.time.lock().wheel.remove(key);
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
        self.shared.time.lock().wheel.len()
    }
}

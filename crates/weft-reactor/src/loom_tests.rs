//! loom models: every interleaving (up to `LOOM_MAX_PREEMPTIONS`) of a
//! registration's readiness and wakers, and of the timer wheel's critical
//! sections, between the driver and the tasks.
//!
//! Run with `RUSTFLAGS="--cfg weft_loom" cargo test -p weft-reactor
//! --release --lib --target-dir target/loom -- loom_`. Under that cfg the
//! crate's `sync` module hands out loom's mutex and atomics, so these
//! models run the real `ScheduledIo` and `TimeState` code. Nothing here
//! touches mio: the driver's side of each race is the part of
//! `Driver::park` after `epoll_wait` returned (set the readiness or fire
//! the due timers, collecting wakers under the lock, then wake them), and
//! loom has no clock, so the timer models pass "now" as explicit ticks
//! where `Timer` and `Shared` would read `Instant::now()`.
//!
//! Wakers count their wake-ups, and each test holds the only reference it
//! expects to remain, so `Arc::strong_count` shows a waker left behind.

use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use loom::thread;

use crate::driver::wake_all;
use crate::io::ScheduledIo;
use crate::ready::{Direction, Ready};
use crate::sync::{AtomicUsize, Mutex, Ordering};
use crate::time::wheel::TimerKey;
use crate::time::TimeState;

/// Runs `f` under loom and prints the model's name (the test thread's),
/// how many interleavings it explored and how long that took, and whether
/// it explored them all or stopped at `LOOM_MAX_DURATION`.
fn model(f: impl Fn() + Sync + Send + 'static) {
    use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering::Relaxed};
    // Counted per call, not in a static: the test harness runs models in
    // parallel, and a shared counter mixes their counts.
    let iterations = std::sync::Arc::new(StdAtomicUsize::new(0));
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    let started = std::time::Instant::now();
    {
        let iterations = iterations.clone();
        builder.check(move || {
            iterations.fetch_add(1, Relaxed);
            f();
        });
    }
    let elapsed = started.elapsed();
    let complete = match builder.max_duration {
        Some(limit) if elapsed >= limit => "stopped at LOOM_MAX_DURATION: partial",
        _ => "complete",
    };
    let thread = std::thread::current();
    eprintln!(
        "loom: {}: {} interleavings in {:.2?} ({complete})",
        thread.name().unwrap_or("a model"),
        iterations.load(Relaxed),
        elapsed
    );
}

/// A task's waker that counts its wake-ups.
struct CountingWaker {
    wakes: AtomicUsize,
}

impl CountingWaker {
    fn new() -> Arc<CountingWaker> {
        Arc::new(CountingWaker {
            wakes: AtomicUsize::new(0),
        })
    }

    fn waker(self: &Arc<Self>) -> Waker {
        Waker::from(self.clone())
    }

    fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// The driver delivering one event: what `dispatch_events` and the end of
/// `Driver::park` do for one registration.
fn deliver(io: &ScheduledIo, ready: Ready) {
    let mut wakers = Vec::new();
    io.set_readiness(ready, &mut wakers);
    wake_all(wakers);
}

/// A task polling `io` for `direction` with `task`'s waker.
fn poll_ready(io: &ScheduledIo, direction: Direction, task: &Arc<CountingWaker>) -> Poll<Ready> {
    let waker = task.waker();
    let mut cx = Context::from_waker(&waker);
    io.poll_ready(&mut cx, direction).map(|result| {
        result
            .expect("the registration is not shut down in this model")
            .ready
    })
}

/// Races: the driver delivers a readable event (sets the flags, then takes
/// and wakes the reader's waker) while a task polls for readability (checks
/// the flags, stores its waker, checks again under the waiters lock).
///
/// Asserts: no lost wake-up (the poll sees the event or the waker is woken),
/// at most one wake-up, and the readiness stays set for the next poll.
#[test]
fn loom_io_event_races_poll() {
    model(|| {
        let io = Arc::new(ScheduledIo::new(0));
        let task = CountingWaker::new();

        let driver = {
            let io = io.clone();
            thread::spawn(move || deliver(&io, Ready::READABLE))
        };
        let polled = poll_ready(&io, Direction::Read, &task);
        driver.join().unwrap();

        assert!(
            polled.is_ready() || task.wakes() == 1,
            "lost wake-up: the poll missed the event and its waker was not woken"
        );
        assert!(
            task.wakes() <= 1,
            "woken {} times for one event",
            task.wakes()
        );
        assert!(io.ready_event(Direction::Read).is_ready());
    });
}

/// Races: a task that observed readiness, found it stale (`WouldBlock`),
/// clears it and polls again, while the driver delivers a new event. The
/// new event carries `READ_CLOSED`, so the first poll shows whether it
/// already saw the new event.
///
/// Asserts: a clear naming an older tick never erases the new event (all
/// its flags, `READABLE` included, are still set afterwards, unless the
/// task observed it and cleared it itself), and no lost wake-up (unless the task consumed the event, its
/// second poll sees it or its waker is woken).
#[test]
fn loom_io_clear_races_event() {
    model(|| {
        let io = Arc::new(ScheduledIo::new(0));
        // An earlier event the task has not handled yet.
        let mut none = Vec::new();
        io.set_readiness(Ready::READABLE, &mut none);
        assert!(none.is_empty());
        let task = CountingWaker::new();
        let new_event = Ready::READABLE | Ready::READ_CLOSED;

        let driver = {
            let io = io.clone();
            thread::spawn(move || deliver(&io, new_event))
        };
        let waker = task.waker();
        let mut cx = Context::from_waker(&waker);
        let Poll::Ready(Ok(stale)) = io.poll_ready(&mut cx, Direction::Read) else {
            panic!("readiness was set before the task polled");
        };
        // The read returned `WouldBlock`.
        io.clear_readiness(stale);
        let polled = poll_ready(&io, Direction::Read, &task);
        driver.join().unwrap();

        let saw_new_event = stale.ready.contains(Ready::READ_CLOSED);
        if !saw_new_event {
            let after = io.ready_event(Direction::Read);
            assert!(
                matches!(after, Poll::Ready(Ok(event)) if event.ready.contains(new_event)),
                "a clear of an older tick erased the new event"
            );
            assert!(
                polled.is_ready() || task.wakes() == 1,
                "lost wake-up: the second poll missed the new event and was not woken"
            );
        }
        assert!(
            task.wakes() <= 1,
            "woken {} times for one event",
            task.wakes()
        );
    });
}

/// Races: the driver shuts down (sets the shutdown bit, takes both wakers)
/// while a task polls for reading and then for writing.
///
/// Asserts: each poll either returns the shutdown error or its waker is
/// woken (so the task polls again and gets the error); polls after the
/// shutdown fail; a waker that was woken is not kept.
#[test]
fn loom_io_shutdown_races_poll() {
    model(|| {
        let io = Arc::new(ScheduledIo::new(0));
        let reader = CountingWaker::new();
        let writer = CountingWaker::new();

        let driver = {
            let io = io.clone();
            thread::spawn(move || {
                let mut wakers = Vec::new();
                io.shutdown(&mut wakers);
                wake_all(wakers);
            })
        };
        let poll = |direction, task: &Arc<CountingWaker>| {
            let waker = task.waker();
            let mut cx = Context::from_waker(&waker);
            match io.poll_ready(&mut cx, direction) {
                Poll::Ready(Err(_)) => true,
                Poll::Ready(Ok(_)) => panic!("no event was delivered"),
                Poll::Pending => false,
            }
        };
        let read_failed = poll(Direction::Read, &reader);
        let write_failed = poll(Direction::Write, &writer);
        driver.join().unwrap();

        for (failed, task) in [(read_failed, &reader), (write_failed, &writer)] {
            assert!(
                failed || task.wakes() == 1,
                "a poll racing shutdown neither failed nor was woken"
            );
            assert!(task.wakes() <= 1);
            // A poll whose re-check under the lock saw the shutdown returns
            // the error with its waker still stored, as one whose re-check
            // saw readiness does; the registration's drop frees it.
            if !failed {
                assert_eq!(Arc::strong_count(task), 1, "a woken waker was kept");
            }
        }
        assert!(matches!(
            io.ready_event(Direction::Read),
            Poll::Ready(Err(_))
        ));
    });
}

/// Races: the driver delivers a readable event while one task polls for
/// writing and then for reading (the two halves of a split socket).
///
/// Asserts: the reader is not lost (ready or woken); the writer is not
/// woken by a readable event and its waker stays stored, so a later
/// writable event wakes it exactly once.
#[test]
fn loom_io_reader_and_writer_wakers_are_independent() {
    model(|| {
        let io = Arc::new(ScheduledIo::new(0));
        let reader = CountingWaker::new();
        let writer = CountingWaker::new();

        let driver = {
            let io = io.clone();
            thread::spawn(move || deliver(&io, Ready::READABLE))
        };
        let wrote = poll_ready(&io, Direction::Write, &writer);
        let read = poll_ready(&io, Direction::Read, &reader);
        driver.join().unwrap();

        assert!(wrote.is_pending(), "only readability was delivered");
        assert!(
            read.is_ready() || reader.wakes() == 1,
            "lost reader wake-up"
        );
        assert_eq!(writer.wakes(), 0, "a readable event woke the writer");
        assert_eq!(
            Arc::strong_count(&writer),
            2,
            "the writer's waker was dropped"
        );

        deliver(&io, Ready::WRITABLE);
        assert_eq!(writer.wakes(), 1);
        assert_eq!(Arc::strong_count(&writer), 1);
    });
}

/// The time state as the driver's `Shared` holds it.
type Time = Arc<Mutex<TimeState>>;

fn time() -> Time {
    Arc::new(Mutex::new(TimeState::new()))
}

/// The driver waking at tick `now`: `Shared::after_park` and the wake-ups
/// at the end of `Driver::park`. Returns how many wakers it woke.
fn fire(time: &Time, now: u64) -> usize {
    let mut wakers = Vec::new();
    time.lock().after_park(now, &mut wakers);
    let fired = wakers.len();
    wake_all(wakers);
    fired
}

/// The owner's side of a `Timer`, with ticks for `Instant`s: each method
/// reads "now" (here: a parameter), locks once, calls the `TimeState`
/// section `Timer` calls, and drops or wakes wakers after unlocking, as
/// `Timer` does.
struct ModelTimer {
    time: Time,
    deadline: u64,
    key: Option<TimerKey>,
    elapsed: bool,
}

/// What one `ModelTimer::poll` did.
struct Polled {
    elapsed: bool,
    unpark: bool,
}

impl ModelTimer {
    fn new(time: &Time, deadline: u64) -> ModelTimer {
        ModelTimer {
            time: time.clone(),
            deadline,
            key: None,
            elapsed: false,
        }
    }

    /// `Timer::poll_elapsed`, the clock reading `now`.
    fn poll(&mut self, now: u64, task: &Arc<CountingWaker>) -> Polled {
        if self.elapsed {
            return Polled {
                elapsed: true,
                unpark: false,
            };
        }
        let deadline = self.deadline;
        let waker = task.waker();
        let polled = self.time.lock().poll_timer(
            &mut self.key,
            || (now < deadline).then_some(deadline),
            &waker,
        );
        drop(polled.replaced);
        self.elapsed = polled.elapsed;
        Polled {
            elapsed: polled.elapsed,
            unpark: polled.unpark,
        }
    }

    /// `Timer::reset`; true if it asked to unpark the driver.
    fn reset(&mut self, deadline: u64) -> bool {
        self.deadline = deadline;
        self.elapsed = false;
        let Some(key) = self.key else { return false };
        self.time.lock().reset_timer(key, deadline)
    }

    /// `Timer`'s drop; true if it took back a waker the wheel still held
    /// (a cancel of a timer that had not fired).
    fn cancel(mut self) -> bool {
        let Some(key) = self.key.take() else {
            return false;
        };
        let waker = self.time.lock().remove_timer(key);
        waker.is_some()
    }
}

/// Races: a timer is dropped while the driver fires it (advances the wheel
/// past its deadline, takes its waker, wakes it after unlocking).
///
/// Asserts: a drop that took its waker back (the timer had not fired) means
/// it is never woken; otherwise the fire woke it exactly once (possibly
/// after the drop returned: a spurious wake-up, never a touch of the
/// removed entry); the wheel counts no timer afterwards, holds no waker,
/// and a later fire wakes nothing.
#[test]
fn loom_timer_drop_races_fire() {
    model(|| {
        let time = time();
        let task = CountingWaker::new();
        let mut timer = ModelTimer::new(&time, 5);
        assert!(!timer.poll(0, &task).elapsed);

        let driver = {
            let time = time.clone();
            thread::spawn(move || fire(&time, 10))
        };
        let cancelled = timer.cancel();
        let fired = driver.join().unwrap();

        if cancelled {
            assert_eq!(fired, 0, "the driver fired a cancelled timer");
            assert_eq!(task.wakes(), 0, "a cancelled timer was woken");
        } else {
            assert_eq!(fired, 1);
            assert_eq!(task.wakes(), 1, "a fired timer was not woken exactly once");
        }
        assert_eq!(time.lock().len(), 0, "the timer count did not return to 0");
        assert_eq!(Arc::strong_count(&task), 1, "a waker was left in the wheel");
        assert_eq!(fire(&time, 20), 0);
        assert!(task.wakes() <= 1);
    });
}

/// Races: a timer due at tick 5, polled with waker `first`, is reset to
/// `new_deadline` and polled again with waker `second` (as a task awaiting
/// it does, here after moving to another worker), while the driver fires
/// tick 10.
///
/// Asserts: the timer is never lost: the poll after the reset completes
/// only if the new deadline passed, otherwise `second` is woken exactly
/// once, by the racing fire or by the driver's first fire past the new
/// deadline, and the next poll completes; it never fires for a later
/// deadline before that deadline; each fire wakes one waker once; the count
/// returns to 0 and no waker stays in the wheel.
fn timer_reset_races_fire(new_deadline: u64) {
    model(move || {
        let time = time();
        let first = CountingWaker::new();
        let second = CountingWaker::new();
        let mut timer = ModelTimer::new(&time, 5);
        assert!(!timer.poll(0, &first).elapsed);

        let driver = {
            let time = time.clone();
            thread::spawn(move || fire(&time, 10))
        };
        // No unpark: the driver is not parked in this model.
        assert!(!timer.reset(new_deadline));
        let polled = timer.poll(10, &second);
        let fired = driver.join().unwrap();
        assert!(fired <= 1);
        assert_eq!(
            first.wakes() + second.wakes(),
            fired,
            "the fire at tick 10 woke a different number of wakers than it fired"
        );

        if new_deadline > 10 {
            assert!(!polled.elapsed, "fired before the new deadline");
            assert_eq!(second.wakes(), 0, "fired before the new deadline");
            assert_eq!(fire(&time, 10), 0, "fired before the new deadline");
        }
        if !polled.elapsed {
            let now = new_deadline.max(10);
            if second.wakes() == 0 {
                assert_eq!(fire(&time, now), 1, "the reset timer was lost");
            }
            assert_eq!(second.wakes(), 1, "the reset timer was lost");
            assert!(timer.poll(now, &second).elapsed);
        }
        assert!(first.wakes() <= 1 && second.wakes() <= 1);
        assert!(!timer.cancel(), "an elapsed timer holds no waker");
        assert_eq!(time.lock().len(), 0);
        assert_eq!(
            Arc::strong_count(&first),
            1,
            "a waker was left in the wheel"
        );
        assert_eq!(
            Arc::strong_count(&second),
            1,
            "a waker was left in the wheel"
        );
    });
}

/// [`timer_reset_races_fire`] with a later deadline (20): either the old
/// deadline fires first (a spurious wake-up, after which the task waits for
/// 20) or the reset wins and nothing fires at 10.
#[test]
fn loom_timer_reset_later_races_fire() {
    timer_reset_races_fire(20);
}

/// [`timer_reset_races_fire`] with an earlier deadline (8), still before
/// the fire at 10: whichever wins, the timer fires by tick 10, through the
/// due list when the reset lands on a wheel that has already passed 8.
#[test]
fn loom_timer_reset_earlier_races_fire() {
    timer_reset_races_fire(8);
}

/// Races: a timer enters the wheel (first poll, deadline 5) while the
/// driver fires tick 10 for another timer due at 3, which moves the wheel
/// past 5 if it runs first.
///
/// Asserts: the new timer is never lost: the fire at 10 wakes it, or it
/// went to the due list and the driver's next fire wakes it; exactly one
/// wake-up in all.
#[test]
fn loom_timer_insert_races_fire() {
    model(|| {
        let time = time();
        let other = CountingWaker::new();
        let mut earlier = ModelTimer::new(&time, 3);
        assert!(!earlier.poll(0, &other).elapsed);
        let task = CountingWaker::new();
        let mut timer = ModelTimer::new(&time, 5);

        let driver = {
            let time = time.clone();
            thread::spawn(move || fire(&time, 10))
        };
        // The task's clock reads 4: its deadline has not passed yet.
        assert!(!timer.poll(4, &task).elapsed);
        driver.join().unwrap();
        assert_eq!(other.wakes(), 1);

        if task.wakes() == 0 {
            assert_eq!(fire(&time, 10), 1, "a timer inserted while firing was lost");
        }
        assert_eq!(task.wakes(), 1);
        assert!(timer.poll(10, &task).elapsed);
        assert!(!timer.cancel());
        assert!(!earlier.cancel());
        assert_eq!(time.lock().len(), 0);
        assert_eq!(Arc::strong_count(&task), 1);
    });
}

/// Races: the driver computes how long to sleep (`before_park` at tick 0,
/// the wheel holding a timer due at 100) while a task inserts a timer due
/// at 5. The unpark (an eventfd write, which `epoll_wait` sees whether it
/// comes before or during the wait) is the poll's `unpark` answer here.
///
/// Asserts: the driver never sleeps past the new deadline: it either chose
/// a timeout ending by tick 5, or the insert unparked it.
#[test]
fn loom_timer_insert_races_park() {
    model(|| {
        let time = time();
        let other = CountingWaker::new();
        let mut later = ModelTimer::new(&time, 100);
        assert!(!later.poll(0, &other).elapsed);

        let driver = {
            let time = time.clone();
            thread::spawn(move || time.lock().before_park(None, Duration::from_millis))
        };
        let task = CountingWaker::new();
        let mut timer = ModelTimer::new(&time, 5);
        let polled = timer.poll(0, &task);
        assert!(!polled.elapsed);
        let timeout = driver.join().unwrap();

        let sleeps_until = timeout.map_or(u64::MAX, |t| t.as_millis() as u64);
        assert!(
            polled.unpark || sleeps_until <= 5,
            "the driver sleeps until tick {sleeps_until}, past the new deadline 5"
        );
        timer.cancel();
        later.cancel();
    });
}

//! Timers: a `Sleep` never completes before its deadline, completes at once
//! for a zero or past one, can be moved earlier or later, wakes nothing once
//! dropped, saturates instead of panicking, and panics with advice once its
//! runtime is gone; 100,000 timers fire in deadline order; `timeout` races
//! a future against a deadline (also one that spends the whole coop
//! budget); `interval` keeps its schedule and catches up as each
//! `MissedTickBehavior` says.
//!
//! No test bounds how long anything takes: every assertion on time is a
//! lower bound (a timer never fires early) or is about the instants the
//! API returns, which do not depend on the machine's speed.

mod common;

use std::future::{pending, poll_fn, ready, Future};
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use common::*;
use futures_core::Stream;
use weft::time::{
    interval, interval_at, sleep, sleep_until, timeout, timeout_at, Duration, Elapsed, Instant,
    Interval, MissedTickBehavior, Sleep, Timeout,
};
use weft::Handle;

const MS: Duration = Duration::from_millis(1);

/// The cooperative budget of one task poll (DESIGN.md, "Coop budget").
const BUDGET: usize = 128;

/// Polls `future` once, in the calling task's context.
async fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))).await
}

/// Polls `future` once, outside any task, with a waker that does nothing.
fn poll_detached<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
}

/// A waker that counts how often it was woken.
#[derive(Default)]
struct WakeCount(AtomicUsize);

impl WakeCount {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for WakeCount {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The text of a panic payload.
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => (*payload.downcast::<&str>().expect("a text payload")).to_owned(),
    }
}

/// Runs `future` as a task on `rt` and returns its output.
fn run_in_task<F>(rt: &Rt, future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    rt.block_on(rt.spawn(future)).expect("the test task failed")
}

// ===== Sleep =====

#[test]
fn sleep_completes_and_not_before_its_deadline() {
    for_each_workers(|rt| {
        // On a worker, in a task...
        run_in_task(rt, async {
            let start = Instant::now();
            sleep(20 * MS).await;
            assert!(start.elapsed() >= 20 * MS);

            let deadline = Instant::now() + 15 * MS;
            let timer = sleep_until(deadline);
            assert_eq!(timer.deadline(), deadline);
            timer.await;
            assert!(Instant::now() >= deadline);
        });
        // ...and on the thread inside `block_on`, woken by a worker.
        rt.block_on(async {
            let deadline = Instant::now() + 15 * MS;
            let mut timer = sleep_until(deadline);
            assert!(!timer.is_elapsed());
            (&mut timer).await;
            assert!(Instant::now() >= deadline);
            assert!(timer.is_elapsed());
            // Done is done: polled again, it stays ready.
            assert!(poll_once(&mut timer).await.is_ready());
        });
    });
}

#[test]
fn zero_and_past_deadlines_are_ready_on_the_first_poll() {
    for_each_workers(|rt| {
        run_in_task(rt, async {
            let mut zero = sleep(Duration::ZERO);
            assert_eq!(poll_once(&mut zero).await, Poll::Ready(()));
            assert!(zero.is_elapsed());

            let past = Instant::now()
                .checked_sub(Duration::from_secs(1))
                .unwrap_or_else(Instant::now);
            let mut late = sleep_until(past);
            assert_eq!(poll_once(&mut late).await, Poll::Ready(()));
        });
    });
}

/// `Duration::MAX` saturates to a deadline decades ahead: no panic, and
/// the sleep is an ordinary timer that a timeout or `select!` cancels.
#[test]
fn a_sleep_of_duration_max_does_not_panic_and_can_be_cancelled() {
    const TWENTY_YEARS: Duration = Duration::from_secs(86_400 * 365 * 20);
    for_each_workers(|rt| {
        run_in_task(rt, async {
            let before = Instant::now();
            let forever = sleep(Duration::MAX);
            assert!(forever.deadline() > before + TWENTY_YEARS);
            assert_eq!(timeout(5 * MS, forever).await, Err(elapsed()));

            let winner = weft::select! {
                _ = sleep(Duration::MAX) => "forever",
                _ = sleep(2 * MS) => "soon",
            };
            assert_eq!(winner, "soon");

            // In the wheel (polled once), then dropped.
            let mut forever = sleep(Duration::MAX);
            assert!(poll_once(&mut forever).await.is_pending());
            drop(forever);

            assert_eq!(timeout(Duration::MAX, async { 3 }).await, Ok(3));
            let mut never = interval_at(before, Duration::MAX);
            assert_eq!(never.tick().await, before);
            assert!(poll_once(&mut Box::pin(never.tick())).await.is_pending());
        });
    });
}

/// An `Elapsed`, as the tests expect to compare with.
fn elapsed() -> Elapsed {
    match poll_detached(&mut timeout(Duration::ZERO, pending::<()>())) {
        Poll::Ready(result) => result.unwrap_err(),
        Poll::Pending => unreachable!("a zero timeout is elapsed on its first poll"),
    }
}

/// A sleep moved from an hour away to a few milliseconds away completes
/// at the new deadline; the hang guard (LIMIT) only turns a sleep that
/// still waits for the old one into a failure.
#[test]
fn reset_to_an_earlier_deadline_completes_at_that_deadline() {
    for_each_workers(|rt| {
        run_in_task(rt, async {
            // Waiting in the wheel when it moves...
            let mut waiting = sleep(Duration::from_secs(3600));
            assert!(poll_once(&mut waiting).await.is_pending());
            let sooner = Instant::now() + 10 * MS;
            waiting.reset(sooner);
            assert_eq!(waiting.deadline(), sooner);
            timeout(LIMIT, &mut waiting)
                .await
                .expect("the reset sleep still waits for its old deadline");
            assert!(Instant::now() >= sooner);

            // ...and never polled before it moves, reset while pinned.
            let mut pinned = pin!(sleep(Duration::from_secs(3600)));
            let sooner = Instant::now() + 5 * MS;
            pinned.as_mut().reset(sooner);
            timeout(LIMIT, pinned)
                .await
                .expect("the reset sleep still waits for its old deadline");
            assert!(Instant::now() >= sooner);
        });
    });
}

#[test]
fn reset_to_a_later_deadline_waits_for_it() {
    for_each_workers(|rt| {
        run_in_task(rt, async {
            let mut timer = sleep(20 * MS);
            // Pending unless this thread stalled for 20 ms; either way the
            // reset must hold.
            let _ = poll_once(&mut timer).await;
            let later = Instant::now() + 40 * MS;
            timer.reset(later);
            assert!(!timer.is_elapsed());
            (&mut timer).await;
            assert!(Instant::now() >= later);

            // Reset after it completed: it waits again.
            let again = Instant::now() + 10 * MS;
            timer.reset(again);
            assert!(!timer.is_elapsed());
            (&mut timer).await;
            assert!(Instant::now() >= again);
            assert!(timer.is_elapsed());
        });
    });
}

/// A sleep polled with a waker that counts, then dropped before its
/// deadline, never wakes that waker; one kept alive wakes it once.
#[test]
fn a_dropped_sleep_wakes_nothing() {
    for_each_workers(|rt| {
        run_in_task(rt, async {
            let dropped_wakes = Arc::new(WakeCount::default());
            let kept_wakes = Arc::new(WakeCount::default());
            let dropped_waker = Waker::from(dropped_wakes.clone());
            let kept_waker = Waker::from(kept_wakes.clone());

            // Each must be waiting in the wheel: retried in the unlikely
            // case that the thread stalled past the deadline before the
            // first poll.
            let register = |waker: &Waker| loop {
                let mut timer = sleep(20 * MS);
                if Pin::new(&mut timer)
                    .poll(&mut Context::from_waker(waker))
                    .is_pending()
                {
                    return timer;
                }
            };
            let dropped = register(&dropped_waker);
            let kept = register(&kept_waker);
            let past_both = dropped.deadline().max(kept.deadline()) + 30 * MS;
            drop(dropped);

            sleep_until(past_both).await;
            // The kept one fired (its waker shows the timer works) ...
            wait_for_wakes(&kept_wakes, 1).await;
            // ... and the dropped one did not, though its deadline passed.
            assert_eq!(dropped_wakes.get(), 0);
            assert_eq!(kept_wakes.get(), 1);
            drop(kept);
        });
    });
}

/// Waits (by sleeping a millisecond at a time) until `wakes` reaches `n`:
/// the driver may still be handing out the wakes of the tick it fired.
async fn wait_for_wakes(wakes: &WakeCount, n: usize) {
    let deadline = Instant::now() + LIMIT;
    while wakes.get() < n {
        assert!(Instant::now() < deadline, "waited {LIMIT:?} for {n} wakes");
        sleep(MS).await;
    }
}

/// Records the order in which the driver fires timers: a waker wrapping
/// the task's, which takes the next number from `order` when woken.
struct FireRecorder {
    task: Waker,
    order: Arc<AtomicUsize>,
    fired_as: Arc<AtomicUsize>,
}

impl Wake for FireRecorder {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let number = self.order.fetch_add(1, Ordering::SeqCst);
        self.fired_as.store(number, Ordering::SeqCst);
        self.task.wake_by_ref();
    }
}

const NOT_FIRED: usize = usize::MAX;

/// What one task of the 100,000-timer test saw.
struct TimerRun {
    deadline: Instant,
    /// When the task ran again after its sleep completed.
    woke: Instant,
    /// Its place in the driver's firing order (`NOT_FIRED`: it completed
    /// on its first poll, without the wheel).
    fired_as: usize,
    /// The first poll put the timer in the wheel, and returned, before the
    /// deadline.
    registered_in_time: bool,
}

/// 100,000 tasks each sleep until a deadline spread over 200 ms (in a
/// shuffled order, so that spawn order is not deadline order), and every
/// task wakes at or after its deadline.
///
/// The order is checked where it is deterministic: the order in which the
/// driver *fires* timers (a waker wrapping the task's numbers its wake;
/// the driver wakes from one thread at a time). Tasks then run in parallel
/// on several workers, so the order they *resume* in is not. The wheel
/// fires in deadline order at 1 ms resolution every timer that entered it
/// before its deadline. A timer whose first poll raced with the deadline
/// (its thread was descheduled, or waited for the wheel's lock while the
/// driver fired a batch) enters the wheel already due and fires on the
/// driver's next turn: correct, as it never fires early, but after timers
/// due slightly later. Those, and the timers that completed on their
/// first poll, are left out of the order check.
#[test]
fn a_hundred_thousand_timers_all_fire_in_deadline_order() {
    const TIMERS: usize = 100_000;
    const SPREAD_US: u64 = 200_000;
    for_each_workers(|rt| {
        let order = Arc::new(AtomicUsize::new(0));
        // Leaves the spawning time to pass before the first deadline, so
        // more timers go through the wheel.
        let base = Instant::now() + 50 * MS;
        let tasks: Vec<_> = (0..TIMERS)
            .map(|i| {
                // 7919 is prime, so i -> i * 7919 % TIMERS is a permutation.
                let slot = (i * 7919 % TIMERS) as u64;
                let deadline = base + Duration::from_micros(slot * SPREAD_US / TIMERS as u64);
                let order = order.clone();
                rt.spawn(async move {
                    let fired_as = Arc::new(AtomicUsize::new(NOT_FIRED));
                    let mut timer = sleep_until(deadline);
                    let mut registered_in_time = None;
                    poll_fn(|cx| {
                        let waker = Waker::from(Arc::new(FireRecorder {
                            task: cx.waker().clone(),
                            order: order.clone(),
                            fired_as: fired_as.clone(),
                        }));
                        let poll = Pin::new(&mut timer).poll(&mut Context::from_waker(&waker));
                        registered_in_time
                            .get_or_insert_with(|| poll.is_pending() && Instant::now() < deadline);
                        poll
                    })
                    .await;
                    TimerRun {
                        deadline,
                        woke: Instant::now(),
                        fired_as: fired_as.load(Ordering::SeqCst),
                        registered_in_time: registered_in_time == Some(true),
                    }
                })
            })
            .collect();
        let runs: Vec<TimerRun> = rt.block_on(async {
            let mut runs = Vec::with_capacity(TIMERS);
            for task in tasks {
                runs.push(task.await.expect("a timer task failed"));
            }
            runs
        });

        for run in &runs {
            assert!(run.woke >= run.deadline, "a task woke before its deadline");
        }

        let mut fired: Vec<&TimerRun> = runs.iter().filter(|run| run.registered_in_time).collect();
        assert!(fired.iter().all(|run| run.fired_as != NOT_FIRED));
        fired.sort_unstable_by_key(|run| run.fired_as);
        let mut latest = base;
        for (position, run) in fired.iter().enumerate() {
            // Fired after a timer due a whole tick later: out of order.
            assert!(
                run.deadline + MS > latest,
                "{} workers: the timer fired {position}th of {} is due {:?} before one fired \
                 earlier",
                rt.workers,
                fired.len(),
                latest - run.deadline,
            );
            latest = latest.max(run.deadline);
        }
        eprintln!(
            "{} workers: the order of {} of {TIMERS} timers checked",
            rt.workers,
            fired.len()
        );
    });
}

// ===== Timeout =====

#[test]
fn timeout_gives_the_output_of_a_future_that_finishes_in_time() {
    for_each_workers(|rt| {
        run_in_task(rt, async {
            let fast = async {
                sleep(MS).await;
                7
            };
            assert_eq!(timeout(LIMIT, fast).await, Ok(7));
            let deadline = Instant::now() + LIMIT;
            assert_eq!(timeout_at(deadline, async { "at" }).await, Ok("at"));
        });
    });
}

#[test]
fn timeout_of_a_pending_future_is_elapsed_and_drops_it() {
    for_each_workers(|rt| {
        let drops = Counter::new();
        let guard = DropGuard(drops.clone());
        let (result, waited) = run_in_task(rt, async move {
            let never = async move {
                let _guard = guard;
                pending::<u32>().await
            };
            let start = Instant::now();
            let result = timeout(10 * MS, never).await;
            (result, start.elapsed())
        });
        assert_eq!(result, Err(elapsed()));
        assert!(waited >= 10 * MS);
        assert_eq!(drops.get(), 1, "the timed-out future was not dropped");

        let deadline = Instant::now() + 5 * MS;
        let result = run_in_task(rt, timeout_at(deadline, pending::<()>()));
        assert!(result.is_err());
        assert!(Instant::now() >= deadline);
    });
}

/// The future is polled before the timer: one that is ready wins even when
/// the deadline has passed already.
#[test]
fn a_ready_future_wins_over_a_zero_timeout() {
    for_each_workers(|rt| {
        run_in_task(rt, async {
            assert_eq!(timeout(Duration::ZERO, ready(1)).await, Ok(1));
            assert_eq!(timeout(Duration::ZERO, async { 2 }).await, Ok(2));
            let past = Instant::now()
                .checked_sub(Duration::from_secs(1))
                .unwrap_or_else(Instant::now);
            assert_eq!(timeout_at(past, ready(3)).await, Ok(3));

            // And a pending one loses on the first poll.
            let mut lost = timeout(Duration::ZERO, pending::<()>());
            assert!(matches!(poll_once(&mut lost).await, Poll::Ready(Err(_))));
        });
    });
}

/// A future that is always ready spends the task's whole budget on every
/// poll; the timeout must still look at its timer then (and fire), not
/// answer `Pending` for lack of budget forever. Run on a task and on
/// `block_on` (which budgets each poll too); a hang fails after LIMIT.
#[test]
fn timeout_fires_around_a_future_that_spends_the_whole_budget() {
    /// Completes ready sleeps forever; counts them in `spins`.
    async fn spin(spins: Arc<AtomicUsize>) {
        loop {
            sleep(Duration::ZERO).await;
            spins.fetch_add(1, Ordering::Relaxed);
        }
    }

    for_each_workers(|rt| {
        let spins = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        let task_spins = spins.clone();
        rt.spawn(async move {
            let result = timeout(10 * MS, spin(task_spins)).await;
            tx.send(result.is_err()).unwrap();
        });
        let timed_out = rx
            .recv_timeout(LIMIT)
            .expect("the timeout never fired around a future that spends the budget");
        assert!(timed_out);
        assert!(
            spins.load(Ordering::Relaxed) >= BUDGET,
            "the budget was not spent"
        );

        let handle = rt.handle().clone();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let result = handle.block_on(timeout(10 * MS, spin(Arc::default())));
            tx.send(result.is_err()).unwrap();
        });
        let timed_out = rx
            .recv_timeout(LIMIT)
            .expect("the timeout never fired around a future that spends the budget");
        assert!(timed_out);
    });
}

/// Each sleep that completes spends a unit of the task's budget: one poll
/// completes `BUDGET` of them, then they answer `Pending` and wake the task,
/// whose next poll has a fresh budget.
#[test]
fn a_completed_sleep_spends_the_task_budget() {
    for_each_workers(|rt| {
        let (first_poll, next_poll) = run_in_task(rt, async {
            let ready_in_one_poll = || {
                poll_fn(|cx| {
                    let mut ready = 0;
                    while ready <= BUDGET {
                        let mut timer = sleep(Duration::ZERO);
                        if Pin::new(&mut timer).poll(cx).is_pending() {
                            break;
                        }
                        ready += 1;
                    }
                    Poll::Ready(ready)
                })
            };
            let first = ready_in_one_poll().await;
            yield_once().await;
            (first, ready_in_one_poll().await)
        });
        assert_eq!(first_poll, BUDGET);
        assert_eq!(next_poll, BUDGET);
    });
}

#[test]
fn elapsed_is_an_error_that_converts_to_io_timed_out() {
    let elapsed = elapsed();
    assert_eq!(elapsed.to_string(), "deadline has elapsed");
    let copy = elapsed;
    assert_eq!(copy, elapsed);
    let error: &dyn std::error::Error = &elapsed;
    assert!(error.source().is_none());

    fn with_question_mark() -> io::Result<()> {
        weft::block_on(timeout(Duration::ZERO, pending::<()>()))?;
        Ok(())
    }
    let error = with_question_mark().unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    assert_eq!(error.to_string(), "deadline has elapsed");
}

#[test]
fn timeout_gives_access_to_the_wrapped_future() {
    weft::block_on(async {
        let mut guarded = timeout(LIMIT, sleep(Duration::from_secs(3600)));
        let sooner = Instant::now() + MS;
        guarded.get_mut().reset(sooner);
        assert_eq!(guarded.get_ref().deadline(), sooner);
        assert_eq!(guarded.await, Ok(()));

        // Out of the timeout, the future runs past the timeout's deadline.
        let guarded = timeout(Duration::ZERO, sleep(2 * MS));
        let inner: Sleep = guarded.into_inner();
        inner.await;
    });
}

// ===== Interval =====

/// Ticks one by one; returns each tick's instant and when it returned.
async fn ticks(interval: &mut Interval, n: usize) -> Vec<(Instant, Instant)> {
    let mut ticks = Vec::with_capacity(n);
    for _ in 0..n {
        let scheduled = interval.tick().await;
        ticks.push((scheduled, Instant::now()));
    }
    ticks
}

#[test]
fn the_first_tick_completes_at_once_and_the_next_keep_the_period() {
    const PERIOD: Duration = Duration::from_millis(10);
    for_each_workers(|rt| {
        run_in_task(rt, async {
            let start = Instant::now();
            let mut interval = interval_at(start, PERIOD);
            assert_eq!(
                poll_once(&mut Box::pin(interval.tick())).await,
                Poll::Ready(start)
            );
            for (k, (scheduled, returned)) in ticks(&mut interval, 4).await.into_iter().enumerate()
            {
                assert_eq!(scheduled, start + PERIOD * (k as u32 + 1));
                assert!(returned >= scheduled, "a tick completed early");
            }

            // `interval` starts now: its first tick too is at once.
            let mut now = weft::time::interval(PERIOD);
            assert!(poll_once(&mut Box::pin(now.tick())).await.is_ready());
            assert_eq!(now.period(), PERIOD);
        });
    });
}

#[test]
fn interval_at_a_later_start_waits_for_it() {
    for_each_workers(|rt| {
        run_in_task(rt, async {
            let start = Instant::now() + 15 * MS;
            let mut interval = interval_at(start, 5 * MS);
            assert_eq!(interval.tick().await, start);
            assert!(Instant::now() >= start);
        });
    });
}

/// The period of the intervals that miss ticks.
const BLOCKED_PERIOD: Duration = Duration::from_millis(20);

/// The task is blocked for 3.5 periods after the first tick (the ticks
/// at 1, 2 and 3 periods are missed), then ticks five times. The instants
/// returned follow the behaviour's documented rule.
fn ticks_after_a_blocked_stretch(
    rt: &Rt,
    behavior: MissedTickBehavior,
) -> (Instant, Instant, Vec<(Instant, Instant)>) {
    run_in_task(rt, async move {
        let start = Instant::now();
        let mut interval = interval_at(start, BLOCKED_PERIOD);
        interval.set_missed_tick_behavior(behavior);
        assert_eq!(interval.missed_tick_behavior(), behavior);
        assert_eq!(interval.tick().await, start);
        thread::sleep(BLOCKED_PERIOD * 7 / 2);
        let unblocked = Instant::now();
        let ticks = ticks(&mut interval, 5).await;
        (start, unblocked, ticks)
    })
}

#[test]
fn missed_ticks_burst_until_back_on_schedule() {
    for_each_workers(|rt| {
        let (start, _, ticks) = ticks_after_a_blocked_stretch(rt, MissedTickBehavior::Burst);
        let scheduled: Vec<Instant> = ticks.iter().map(|&(at, _)| at).collect();
        let expected: Vec<Instant> = (1..=5).map(|k| start + BLOCKED_PERIOD * k).collect();
        assert_eq!(scheduled, expected, "{} workers", rt.workers);
    });
}

#[test]
fn missed_ticks_delay_the_schedule() {
    for_each_workers(|rt| {
        let (start, unblocked, ticks) =
            ticks_after_a_blocked_stretch(rt, MissedTickBehavior::Delay);
        // The late tick is the one missed first...
        assert_eq!(ticks[0].0, start + BLOCKED_PERIOD);
        // ...and the next comes a period after the late tick completed.
        let (late_returned, next) = (ticks[0].1, ticks[1].0);
        assert!(next >= unblocked + BLOCKED_PERIOD);
        assert!(next <= late_returned + BLOCKED_PERIOD);
        for pair in ticks[1..].windows(2) {
            assert!(pair[1].0 - pair[0].0 >= BLOCKED_PERIOD);
        }
    });
}

#[test]
fn missed_ticks_skip_to_the_next_instant_of_the_schedule() {
    for_each_workers(|rt| {
        let (start, unblocked, ticks) = ticks_after_a_blocked_stretch(rt, MissedTickBehavior::Skip);
        assert_eq!(ticks[0].0, start + BLOCKED_PERIOD);
        // `start` plus a whole number of periods.
        let on_schedule = |at: Instant| {
            let periods = (at - start).as_nanos() / BLOCKED_PERIOD.as_nanos();
            start + BLOCKED_PERIOD * periods as u32 == at
        };
        for &(scheduled, _) in &ticks {
            assert!(on_schedule(scheduled), "a tick off the schedule");
        }
        // The next instant of the schedule after the late tick completed.
        let (late_returned, next) = (ticks[0].1, ticks[1].0);
        assert!(next > unblocked);
        assert!(next <= late_returned + BLOCKED_PERIOD);
        for pair in ticks[1..].windows(2) {
            assert!(pair[1].0 > pair[0].0);
        }
    });
}

#[test]
fn interval_reset_starts_the_schedule_over() {
    const PERIOD: Duration = Duration::from_millis(10);
    for_each_workers(|rt| {
        run_in_task(rt, async {
            let mut interval = interval(PERIOD);
            interval.tick().await;
            let reset_at = Instant::now();
            interval.reset();
            let next = interval.tick().await;
            assert!(next >= reset_at + PERIOD);
            assert!(Instant::now() >= next);
            assert_eq!(interval.tick().await, next + PERIOD);
        });
    });
}

#[test]
fn interval_is_a_stream_of_tick_instants() {
    const PERIOD: Duration = Duration::from_millis(5);
    for_each_workers(|rt| {
        run_in_task(rt, async {
            let start = Instant::now();
            let mut interval = interval_at(start, PERIOD);
            assert_eq!(interval.size_hint(), (usize::MAX, None));
            for k in 0..3 {
                let item = poll_fn(|cx| Pin::new(&mut interval).poll_next(cx)).await;
                assert_eq!(item, Some(start + PERIOD * k));
            }
        });
    });
}

#[test]
fn a_zero_period_panics_with_a_message() {
    for make in [(|| drop(interval(Duration::ZERO))) as fn(), || {
        drop(interval_at(Instant::now(), Duration::ZERO))
    }] {
        let text = panic_text(panic::catch_unwind(make).unwrap_err());
        assert!(
            text.contains("period must be greater than zero"),
            "unexpected message: {text}"
        );
    }
}

// ===== Which runtime =====

#[test]
fn sleep_outside_any_runtime_uses_the_global_runtime() {
    assert!(Handle::try_current().is_err());
    let start = Instant::now();
    weft::block_on(sleep(5 * MS));
    assert!(start.elapsed() >= 5 * MS);

    // Created on a plain thread, awaited inside `block_on`; and a timeout.
    let thread_result = thread::spawn(|| {
        let deadline = Instant::now() + 5 * MS;
        let timer = sleep_until(deadline);
        weft::block_on(async {
            timer.await;
            assert!(Instant::now() >= deadline);
            timeout(MS, pending::<()>()).await
        })
    })
    .join()
    .unwrap();
    assert!(thread_result.is_err());
}

/// A timer created in one runtime and awaited in another's task is served
/// by its own runtime's driver.
#[test]
fn a_sleep_awaited_in_another_runtime_completes() {
    for workers in WORKERS {
        let a = runtime(workers);
        let b = runtime(workers);
        let deadline = Instant::now() + 10 * MS;
        // Created on a blocking thread of `a`, which is in `a`'s runtime.
        let timer = a
            .block_on(a.spawn_blocking(move || sleep_until(deadline)))
            .unwrap();
        run_in_task(&b, async move {
            timer.await;
            assert!(Instant::now() >= deadline);
        });
    }
}

/// Once its runtime is dropped a timer can never fire: polling it panics
/// with a message that says what to do, whether it was waiting in the
/// wheel or never polled, and through a `Timeout` or an `Interval` too.
#[test]
fn a_timer_polled_after_its_runtime_shut_down_panics_with_advice() {
    for workers in WORKERS {
        let rt = runtime(workers);
        let (mut waiting, mut unpolled, mut guarded, mut ticks) = rt.block_on(async {
            let mut waiting = sleep(Duration::from_secs(3600));
            assert!(poll_once(&mut waiting).await.is_pending());
            let guarded = timeout(Duration::from_secs(3600), pending::<()>());
            let ticks = interval_at(Instant::now() + Duration::from_secs(3600), MS);
            (waiting, sleep(Duration::from_secs(3600)), guarded, ticks)
        });
        drop(rt);

        type Attempt<'a> = Box<dyn FnOnce() -> bool + 'a>;
        let attempts: [(&str, Attempt<'_>); 4] = [
            (
                "a waiting sleep",
                Box::new(|| poll_detached(&mut waiting).is_ready()),
            ),
            (
                "an unpolled sleep",
                Box::new(|| poll_detached(&mut unpolled).is_ready()),
            ),
            (
                "a timeout",
                Box::new(|| poll_detached(&mut guarded).is_ready()),
            ),
            (
                "an interval",
                Box::new(|| poll_detached(&mut Box::pin(ticks.tick())).is_ready()),
            ),
        ];
        for (what, attempt) in attempts {
            let payload = panic::catch_unwind(AssertUnwindSafe(attempt))
                .expect_err(&format!("{what} polled after shutdown did not panic"));
            let text = panic_text(payload);
            assert!(
                text.contains("after its runtime shut down") && text.contains("create it inside"),
                "{what}: unexpected message: {text}"
            );
        }
    }
}

#[test]
fn timer_types_are_send_sync_unpin_and_debug() {
    fn assert_traits<T: Send + Sync + Unpin + std::fmt::Debug>() {}
    assert_traits::<Sleep>();
    assert_traits::<Timeout<Sleep>>();
    assert_traits::<Interval>();
    assert_traits::<Elapsed>();
    assert_traits::<MissedTickBehavior>();

    let timer = sleep(MS);
    let text = format!("{timer:?}");
    assert!(
        text.starts_with("Sleep") && text.contains("deadline"),
        "{text}"
    );
    assert_eq!(MissedTickBehavior::default(), MissedTickBehavior::Burst);
}

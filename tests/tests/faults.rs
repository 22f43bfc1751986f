//! Faults (item 5 of the "Reliability" issue): what must hold when user
//! code panics where the runtime calls it, when a thread lags behind the
//! clock, and when deadlines lie at the edges of the timer wheel or of
//! `Instant`. Every test states what must hold: nothing lost (every task's
//! outcome reaches its handle, every due timer fires), nothing leaked, and
//! the runtime keeps serving (the same worker threads, none dead).
//!
//! Where each fault of the issue is tested:
//!
//! | Fault | Test |
//! |---|---|
//! | panic in a task | `join_handle.rs::join_error_display_and_debug_mention_the_task_id` and `into_panic_gives_the_payload` (the `JoinError`); this file: `a_panicking_task_reports_the_panic_and_its_worker_serves_on` (same workers serve on) |
//! | panic in a future's `Drop`, on completion | this file: `a_destructor_that_panics_after_the_future_completed` |
//! | panic in a future's `Drop`, on abort | `abort.rs::abort_a_task_whose_destructor_panics`; scheduler `tests.rs::panic_in_drop_during_cancel_is_a_panic_error` |
//! | panic in a future's `Drop`, at shutdown | `shutdown.rs::a_destructor_that_panics_during_shutdown_does_not_take_the_drop_down` |
//! | panic in a waker's `wake` (join waker) | this file: `a_join_waker_that_panics_loses_nothing_and_kills_no_worker` |
//! | panic in a waker's `wake` (timer waker, woken by the driver) | this file: `a_timer_waker_that_panics_loses_no_other_timer_and_kills_no_worker`; at shutdown: `dropping_a_runtime_with_a_timer_whose_waker_panics_returns_normally` (both regression tests of bugs this file found) |
//! | panic in `on_thread_start` | scheduler `tests.rs::a_panicking_thread_hook_does_not_kill_the_worker` (1 worker, scheduler level); this file: `a_panicking_on_thread_start_hook_leaves_every_thread_serving` (runtime level, 1 and 2 workers) |
//! | blocking closure that never returns during shutdown | `shutdown.rs::shutdown_timeout_returns_while_a_blocking_closure_runs` (1, 2, 4 workers; pending tasks cancelled, closure released at the end) and `shutdown_cancels_queued_blocking_closures` |
//! | EMFILE during accept | `net_faults.rs::accept_waits_out_a_descriptor_shortage_without_spinning` |
//! | peer resets mid-write | `net_tcp.rs::a_peer_reset_mid_write_fails_the_blocked_write_and_wakes_the_reader` (the reset lands while a write is blocked on full buffers and a read waits); after the fact: `a_reset_fails_the_first_read_then_reads_end_and_writes_break`, `a_reset_fails_the_first_write_then_writes_break_and_reads_end` |
//! | timers at the wheel's level boundaries (64^k ms, k = 1..6, ±1) | `weft-reactor/src/time/wheel_tests.rs::level_boundaries_fire_exactly_on_time`; this file: `sleeps_around_the_first_level_boundary_never_fire_early` (runtime level) |
//! | timers far in the future (years, `u64::MAX` ticks, `Duration::MAX`) | `wheel_tests.rs::far_future_never_fires_early`, `far_future_takes_few_steps`; `time.rs::a_sleep_of_duration_max_does_not_panic_and_can_be_cancelled`; this file: `a_ten_year_sleep_is_a_counted_timer_that_a_drop_removes` |
//! | `Instant` at the limits: past deadlines | `time.rs::zero_and_past_deadlines_are_ready_on_the_first_poll` (1 s ago); this file: `deadlines_far_in_the_past_fire_at_once` (as far back as `Instant` goes, also by reset and `timeout_at`) |
//! | `Instant` at the limits: `timeout(Duration::MAX, _)`, `interval_at(_, Duration::MAX)` | `time.rs::a_sleep_of_duration_max_does_not_panic_and_can_be_cancelled`; this file: `intervals_with_huge_periods_or_far_past_starts_do_not_panic` (`interval`, every `MissedTickBehavior`, reset) |
//! | clock "backwards" for a slow thread (weft has no paused clock to test) | this file: `a_deadline_computed_before_a_delay_fires_at_once_from_a_foreign_thread` and `a_timer_reset_behind_the_wheel_fires_at_once_and_keeps_the_order` |
//!
//! No test sleeps to wait for readiness: waits block on real events
//! (counters, gates, handles) with a bound that only turns a hang into a
//! failure. Sleeps appear only as the timers under test.
mod common;

use std::collections::HashSet;
use std::future::{pending, poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, ThreadId};

use common::*;
use weft::time::{
    interval, interval_at, sleep, sleep_until, timeout, timeout_at, Duration, Instant,
    MissedTickBehavior, Sleep,
};

/// The worker counts the runtime-behaviour tests run on.
const FAULT_WORKERS: [usize; 2] = [1, 2];

const MS: Duration = Duration::from_millis(1);

/// The worker threads of `rt`, each seen serving a task at the same time
/// (so none is dead or stuck); hangs into a failure otherwise.
fn serving_workers(rt: &Rt) -> HashSet<ThreadId> {
    let blocked = block_workers(rt);
    let threads: HashSet<ThreadId> = blocked.threads.iter().copied().collect();
    blocked.release(rt);
    assert_eq!(threads.len(), rt.workers, "a worker is missing");
    threads
}

/// Spawns 100 tasks and checks every output arrives.
fn still_serves(rt: &Rt) {
    let tasks: Vec<_> = (0..100u64).map(|i| rt.spawn(async move { i })).collect();
    let sum: u64 = rt.block_on(async {
        let mut sum = 0;
        for task in tasks {
            sum += task.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 4950);
}

/// Polls `future` once with `cx`.
fn poll_with<F: Future + Unpin>(future: &mut F, cx: &mut Context<'_>) -> Poll<F::Output> {
    Pin::new(future).poll(cx)
}

/// A `Sleep` until `deadline` belonging to `rt` (created inside it), to be
/// polled by hand anywhere.
fn sleep_of(rt: &Rt, deadline: Instant) -> Sleep {
    rt.block_on(poll_fn(|_| Poll::Ready(sleep_until(deadline))))
}

/// Polls `future` once from inside a task.
async fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))).await
}

/// A waker whose `wake` and `wake_by_ref` count the call and then panic.
struct PanickingWaker(Arc<Counter>);

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.incr();
        std::panic::panic_any("wake failed");
    }
}

/// The furthest past `Instant` this process can represent among a few
/// candidates (a monotonic clock starts near boot, so "ten years ago" may
/// not exist).
fn far_past() -> Instant {
    let now = Instant::now();
    let day = 86_400;
    [10 * 365 * day, 365 * day, 30 * day, day, 3_600, 60, 1]
        .into_iter()
        .find_map(|secs| now.checked_sub(Duration::from_secs(secs)))
        .expect("no Instant one second in the past")
}

/// A panic in a task: its handle gets `JoinError::is_panic` with the
/// payload, nothing else is lost, and the very worker threads that were
/// serving before (none replaced, none dead) serve later tasks.
#[test]
fn a_panicking_task_reports_the_panic_and_its_worker_serves_on() {
    for workers in FAULT_WORKERS {
        let (rt, marker) = tracked_runtime(workers);
        let before = serving_workers(&rt);
        let panicked_on = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..2 * workers)
            .map(|_| {
                let panicked_on = panicked_on.clone();
                rt.spawn(async move {
                    panicked_on.lock().unwrap().push(thread::current().id());
                    std::panic::panic_any("task failed");
                })
            })
            .collect();
        for task in tasks {
            let error = rt.block_on(task).unwrap_err();
            assert!(error.is_panic(), "{error:?}");
            assert_eq!(
                *error.into_panic().downcast::<&str>().unwrap(),
                "task failed"
            );
        }
        for thread in panicked_on.lock().unwrap().iter() {
            assert!(before.contains(thread), "the task ran off the workers");
        }
        assert_eq!(serving_workers(&rt), before, "{workers} workers");
        still_serves(&rt);
        drop(rt);
        assert_freed(&marker);
    }
}

/// A future that completes at once and whose destructor then panics.
struct ReadyThenPanicOnDrop(Arc<Counter>);

impl Future for ReadyThenPanicOnDrop {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
        Poll::Ready(7)
    }
}

impl Drop for ReadyThenPanicOnDrop {
    fn drop(&mut self) {
        self.0.incr();
        std::panic::panic_any("drop after ready");
    }
}

/// A future whose `Drop` panics after it returned `Ready`: the future is
/// dropped exactly once, the handle reports the destructor's panic (the
/// task did not end cleanly), the worker is not lost, and the task frees
/// everything (the runtime's scheduler is freed after the drop).
#[test]
fn a_destructor_that_panics_after_the_future_completed() {
    for workers in FAULT_WORKERS {
        let (rt, marker) = tracked_runtime(workers);
        let before = serving_workers(&rt);
        let drops = Counter::new();
        let error = rt
            .block_on(rt.spawn(ReadyThenPanicOnDrop(drops.clone())))
            .unwrap_err();
        assert!(error.is_panic(), "{error:?}");
        assert_eq!(
            *error.into_panic().downcast::<&str>().unwrap(),
            "drop after ready"
        );
        // Nobody waits on this one: its destructor's panic has nowhere to go.
        drop(rt.spawn(ReadyThenPanicOnDrop(drops.clone())));
        drops.wait_for(2);
        assert_eq!(serving_workers(&rt), before, "{workers} workers");
        still_serves(&rt);
        drop(rt);
        assert_eq!(drops.get(), 2, "a future was dropped twice");
        assert_freed(&marker);
    }
}

/// A join waker (the waker a hand-rolled executor polls a `JoinHandle`
/// with) whose `wake` panics, called by the worker that completes the task:
/// the output is not lost (the handle gives it on the next poll), the
/// worker does not die (the same threads serve on) and nothing leaks.
#[test]
fn a_join_waker_that_panics_loses_nothing_and_kills_no_worker() {
    for workers in FAULT_WORKERS {
        let (rt, marker) = tracked_runtime(workers);
        let before = serving_workers(&rt);
        let (opener, gate) = Gate::new();
        let mut task = rt.spawn(async move {
            gate.await;
            42
        });
        opener.wait_polled(1);
        let wakes = Counter::new();
        let waker = Waker::from(Arc::new(PanickingWaker(wakes.clone())));
        assert!(poll_with(&mut task, &mut Context::from_waker(&waker)).is_pending());
        // The task completes on a worker, which wakes the joiner.
        opener.open();
        wakes.wait_for(1);
        let output = poll_with(&mut task, &mut Context::from_waker(Waker::noop()));
        assert!(matches!(output, Poll::Ready(Ok(42))), "{output:?}");
        assert_eq!(wakes.get(), 1);
        assert_eq!(serving_workers(&rt), before, "{workers} workers");
        still_serves(&rt);
        drop((task, opener, waker));
        drop(rt);
        assert_freed(&marker);
    }
}

/// A timer whose waker panics when the driver fires it, due in the same
/// tick as three tasks' timers and before a fourth: every other timer still
/// fires (no task is lost), no worker dies, and the timer count returns to
/// zero.
///
/// Regression test: `weft_reactor::Driver::park` used to wake the collected
/// wakers with a plain `waker.wake()` loop, so the panic unwound into the
/// worker (which died) and the wakers left in the batch were dropped
/// unwoken: none of the 4 other timers fired. A socket waker takes the same
/// path. Each wake now runs under `catch_unwind`.
#[test]
fn a_timer_waker_that_panics_loses_no_other_timer_and_kills_no_worker() {
    for workers in FAULT_WORKERS {
        let (rt, marker) = tracked_runtime(workers);
        let before = serving_workers(&rt);
        let deadline = Instant::now() + 100 * MS;
        // Registered first, so the driver wakes it first.
        let mut bomb = sleep_of(&rt, deadline);
        let wakes = Counter::new();
        let waker = Waker::from(Arc::new(PanickingWaker(wakes.clone())));
        assert!(poll_with(&mut bomb, &mut Context::from_waker(&waker)).is_pending());

        let registered = Counter::new();
        let fired = Counter::new();
        let tasks: Vec<_> = (0..4u32)
            .map(|i| {
                let (registered, fired) = (registered.clone(), fired.clone());
                rt.spawn(async move {
                    let mut timer = sleep_until(deadline + i / 3 * 20 * MS);
                    assert!(poll_once(&mut timer).await.is_pending(), "no timer");
                    registered.incr();
                    timer.await;
                    fired.incr();
                })
            })
            .collect();
        registered.wait_for(4);
        wakes.wait_for(1);
        fired.wait_for(4);
        for task in tasks {
            rt.block_on(task).unwrap();
        }
        assert_eq!(serving_workers(&rt), before, "{workers} workers");
        drop(bomb);
        assert_eq!(rt.metrics().num_timers(), 0);
        still_serves(&rt);
        drop((waker, rt));
        assert_freed(&marker);
    }
}

/// Dropping a runtime that holds a timer whose waker panics (the
/// shutdown wakes every waiting timer): the drop returns normally, the
/// pending task is cancelled, and nothing leaks.
///
/// Regression test: `weft_reactor::driver::Handle::shutdown` used to wake
/// without catching a panic, so the waker's panic unwound out of
/// `Drop for Runtime` and the wakers after it were dropped unwoken.
#[test]
fn dropping_a_runtime_with_a_timer_whose_waker_panics_returns_normally() {
    for workers in FAULT_WORKERS {
        let (rt, marker) = tracked_runtime(workers);
        let mut bomb = sleep_of(&rt, Instant::now() + Duration::from_secs(3_600));
        let wakes = Counter::new();
        let waker = Waker::from(Arc::new(PanickingWaker(wakes.clone())));
        assert!(poll_with(&mut bomb, &mut Context::from_waker(&waker)).is_pending());
        let drops = Counter::new();
        let guard = DropGuard(drops.clone());
        let (opener, gate) = Gate::new();
        let task = rt.spawn(async move {
            let _guard = guard;
            gate.await;
        });
        opener.wait_polled(1);
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(rt)));
        assert!(dropped.is_ok(), "the waker's panic unwound out of the drop");
        assert_eq!(wakes.get(), 1, "the shutdown did not wake the timer");
        assert_eq!(drops.get(), 1);
        assert!(weft::block_on(task).unwrap_err().is_cancelled());
        drop((bomb, waker, opener));
        assert_freed(&marker);
    }
}

/// `on_thread_start` (and `on_thread_stop`) panic on every thread: each
/// worker and blocking thread still starts and serves (the threads that
/// ran the hook are the ones that serve), and dropping the runtime returns.
#[test]
fn a_panicking_on_thread_start_hook_leaves_every_thread_serving() {
    for workers in FAULT_WORKERS {
        let hooked = Arc::new(Mutex::new(HashSet::new()));
        let stops = Counter::new();
        let (mut builder, name) = builder(workers);
        let (hooked_in, stops_in) = (hooked.clone(), stops.clone());
        builder
            .on_thread_start(move || {
                hooked_in.lock().unwrap().insert(thread::current().id());
                std::panic::panic_any("start hook failed");
            })
            .on_thread_stop(move || {
                stops_in.incr();
                std::panic::panic_any("stop hook failed");
            });
        let rt = Rt {
            rt: builder.build().unwrap(),
            name,
            workers,
        };
        let serving = serving_workers(&rt);
        assert!(
            serving.is_subset(&hooked.lock().unwrap()),
            "a serving worker never ran on_thread_start"
        );
        still_serves(&rt);
        let blocking = rt.block_on(rt.spawn_blocking(|| thread::current().id()));
        let blocking = blocking.unwrap();
        assert!(!serving.contains(&blocking));
        assert!(hooked.lock().unwrap().contains(&blocking));
        let threads = hooked.lock().unwrap().len();
        drop(rt);
        assert_eq!(stops.get(), threads, "on_thread_stop ran on every thread");
    }
}

/// Sleeps just below, at and just above the wheel's first level boundary
/// (64 ms), started together: none fires before its deadline.
#[test]
fn sleeps_around_the_first_level_boundary_never_fire_early() {
    for workers in FAULT_WORKERS {
        let rt = runtime(workers);
        let start = Instant::now();
        let tasks: Vec<_> = [63u64, 64, 65, 128]
            .into_iter()
            .map(|ms| {
                rt.spawn(async move {
                    let deadline = start + Duration::from_millis(ms);
                    sleep_until(deadline).await;
                    (deadline, Instant::now())
                })
            })
            .collect();
        for task in tasks {
            let (deadline, woke) = rt.block_on(task).unwrap();
            assert!(woke >= deadline, "fired {:?} early", deadline - woke);
        }
        assert_eq!(rt.metrics().num_timers(), 0);
    }
}

/// A sleep ten years ahead: pending, in the wheel (counted by
/// `num_timers`), removed by a drop, and still an ordinary timer when
/// reset to a near deadline (it fires, not before).
#[test]
fn a_ten_year_sleep_is_a_counted_timer_that_a_drop_removes() {
    const TEN_YEARS: Duration = Duration::from_secs(86_400 * 365 * 10);
    for workers in FAULT_WORKERS {
        let rt = runtime(workers);
        let metrics = rt.metrics();
        let timers = move || metrics.num_timers();
        assert_eq!(timers(), 0);
        let counted = timers.clone();
        rt.block_on(rt.spawn(async move {
            let mut far = sleep_until(Instant::now() + TEN_YEARS);
            assert!(poll_once(&mut far).await.is_pending());
            assert_eq!(counted(), 1);
            drop(far);
            assert_eq!(counted(), 0);

            let mut far = sleep_until(Instant::now() + TEN_YEARS);
            assert!(poll_once(&mut far).await.is_pending());
            let near = Instant::now() + 5 * MS;
            far.reset(near);
            far.await;
            assert!(Instant::now() >= near);
            assert_eq!(counted(), 0);
        }))
        .unwrap();
    }
}

/// Deadlines as far in the past as `Instant` goes: a new sleep is ready on
/// its first poll without entering the wheel, a registered ten-year sleep
/// reset to it completes, and `timeout_at` it elapses at once.
#[test]
fn deadlines_far_in_the_past_fire_at_once() {
    for workers in FAULT_WORKERS {
        let rt = runtime(workers);
        let metrics = rt.metrics();
        rt.block_on(rt.spawn(async move {
            let past = far_past();
            let mut late = sleep_until(past);
            assert_eq!(poll_once(&mut late).await, Poll::Ready(()));
            assert_eq!(metrics.num_timers(), 0);

            let mut far = sleep(Duration::from_secs(86_400 * 365 * 10));
            assert!(poll_once(&mut far).await.is_pending());
            assert_eq!(metrics.num_timers(), 1);
            far.reset(past);
            timeout(Duration::from_secs(20), far)
                .await
                .expect("a sleep reset to the far past never fired");
            assert_eq!(metrics.num_timers(), 0);

            assert!(timeout_at(past, pending::<()>()).await.is_err());
        }))
        .unwrap();
    }
}

/// Intervals at the limits: a `Duration::MAX` period under each
/// `MissedTickBehavior` ticks once and then waits (no overflow panic), also
/// after a reset; a 1 ms period starting as far back as `Instant` goes
/// catches up as its behaviour says without overflowing.
#[test]
fn intervals_with_huge_periods_or_far_past_starts_do_not_panic() {
    let rt = runtime(1);
    rt.block_on(rt.spawn(async {
        for behavior in [
            MissedTickBehavior::Burst,
            MissedTickBehavior::Delay,
            MissedTickBehavior::Skip,
        ] {
            let before = Instant::now();
            let mut huge = interval(Duration::MAX);
            huge.set_missed_tick_behavior(behavior);
            assert!(huge.tick().await >= before);
            assert!(poll_once(&mut Box::pin(huge.tick())).await.is_pending());
            huge.reset();
            assert!(poll_once(&mut Box::pin(huge.tick())).await.is_pending());

            let past = far_past();
            let mut behind = interval_at(past, MS);
            behind.set_missed_tick_behavior(behavior);
            assert_eq!(behind.tick().await, past);
            let second = behind.tick().await;
            let now = Instant::now();
            match behavior {
                MissedTickBehavior::Burst => assert_eq!(second, past + MS),
                MissedTickBehavior::Delay | MissedTickBehavior::Skip => {
                    assert!(second > past + MS && second <= now, "{behavior:?}")
                }
            }
            if behavior == MissedTickBehavior::Skip {
                assert_eq!((second - past).as_nanos() % MS.as_nanos(), 0);
            }
        }
    }))
    .unwrap();
}

/// A slow thread computed a deadline, then lagged until the runtime's
/// wheel had moved past it: a sleep on that stale deadline, created and
/// polled on a foreign (non-worker) thread, is ready at once and never
/// enters the wheel.
#[test]
fn a_deadline_computed_before_a_delay_fires_at_once_from_a_foreign_thread() {
    for workers in FAULT_WORKERS {
        let rt = Arc::new(runtime(workers));
        let stale = Instant::now() + 5 * MS;
        // The wheel moves past the stale deadline (a timer after it fires).
        rt.block_on(rt.spawn(sleep_until(stale + 10 * MS))).unwrap();
        let inside = rt.clone();
        let ready = thread::spawn(move || {
            let mut late = sleep_of(&inside, stale);
            poll_with(&mut late, &mut Context::from_waker(Waker::noop())).is_ready()
        })
        .join()
        .unwrap();
        assert!(ready, "a past deadline was not ready at once");
        assert_eq!(rt.metrics().num_timers(), 0);
    }
}

/// A registered timer moved back to a deadline the wheel has already
/// passed (a slow thread resetting it from an old `Instant`): it fires at
/// once, ahead of later timers, and the wheel is not corrupted: the three
/// later timers still fire in deadline order, none early, and the timer
/// count returns to zero.
#[test]
fn a_timer_reset_behind_the_wheel_fires_at_once_and_keeps_the_order() {
    for workers in FAULT_WORKERS {
        let rt = runtime(workers);
        let start = Instant::now();
        let stale = start + 5 * MS;
        let log = Arc::new(Mutex::new(Vec::new()));
        let registered = Counter::new();
        let later: Vec<_> = [300u64, 320, 340]
            .into_iter()
            .map(|ms| {
                let (log, registered) = (log.clone(), registered.clone());
                rt.spawn(async move {
                    let deadline = start + Duration::from_millis(ms);
                    let mut timer = sleep_until(deadline);
                    assert!(poll_once(&mut timer).await.is_pending(), "no timer");
                    registered.incr();
                    timer.await;
                    assert!(Instant::now() >= deadline, "{ms} ms fired early");
                    log.lock().unwrap().push(ms);
                })
            })
            .collect();
        registered.wait_for(3);
        let log_in = log.clone();
        let metrics = rt.metrics();
        rt.block_on(rt.spawn(async move {
            let mut moved = sleep(Duration::from_secs(86_400 * 365));
            assert!(poll_once(&mut moved).await.is_pending());
            // The wheel moves past `stale`.
            sleep_until(stale + 15 * MS).await;
            assert_eq!(metrics.num_timers(), 4);
            moved.reset(stale);
            moved.await;
            log_in.lock().unwrap().push(0);
        }))
        .unwrap();
        for task in later {
            rt.block_on(task).unwrap();
        }
        assert_eq!(*log.lock().unwrap(), [0, 300, 320, 340]);
        assert_eq!(rt.metrics().num_timers(), 0);
    }
}

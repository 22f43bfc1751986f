//! What a runtime tells about itself, checked against scripted workloads:
//!
//! - `RuntimeMetrics`: task counts, remote schedules, per-worker polls,
//!   parks, unparks, busy time, LIFO hits and budget-forced yields, the
//!   blocking pool, the reactor's registrations, events and timers, and the
//!   poll-time histogram.
//! - The stall detector: one report per poll that holds a worker past the
//!   threshold, naming the task; none for short polls, idle time or a
//!   detector turned off; a panicking hook does not stop the runtime.
//! - `Handle::dump`: every live task with its id, name, spawn site, state
//!   and poll count, also while workers are blocked and while thousands of
//!   tasks come and go.
//!
//! Worker figures are published when a worker parks and every
//! `event_interval` turns, so a test that needs one waits until the
//! published value reaches the expected one (or the wait fails after
//! `LIMIT`). Nothing waits on a sleep; the only durations that matter are
//! the stall detector's own: a 300 ms poll against a 100 ms threshold.

mod common;

use std::fmt::Debug;
use std::future::{pending, poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use weft::net::TcpListener;
use weft::runtime::{RuntimeMetrics, StallInfo, TaskState};
use weft::task::{Id, JoinSet};
use weft::{Handle, Runtime};

/// Worker counts for the runtime behaviour checked here.
const WORKER_COUNTS: [usize; 2] = [1, 2];

/// The stall threshold the detector tests use.
const THRESHOLD: Duration = Duration::from_millis(100);

/// How long a stalling task blocks its worker: the threshold plus more
/// than one watchdog period (a quarter of the threshold).
const STALL: Duration = Duration::from_millis(300);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Reads `read` until `done` accepts the value, and returns it; fails with
/// the last value after `LIMIT`. For figures the runtime publishes on its
/// own schedule (when a worker parks), which no event announces.
#[track_caller]
fn wait_for<T: Debug>(what: &str, mut read: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + LIMIT;
    loop {
        let value = read();
        if done(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "waited {LIMIT:?} for {what}; last value: {value:?}"
        );
        thread::sleep(ms(1));
    }
}

/// A per-worker figure summed over all workers.
fn total(metrics: &RuntimeMetrics, figure: impl Fn(&RuntimeMetrics, usize) -> u64) -> u64 {
    (0..metrics.num_workers()).map(|w| figure(metrics, w)).sum()
}

fn total_busy(metrics: &RuntimeMetrics) -> Duration {
    (0..metrics.num_workers())
        .map(|w| metrics.worker_total_busy_duration(w))
        .sum()
}

/// Polls `future` once, expecting `Pending`, from inside async code.
async fn poll_once_pending<F: Future + Unpin>(future: &mut F) {
    poll_fn(|cx| {
        assert!(
            std::pin::Pin::new(&mut *future).poll(cx).is_pending(),
            "expected the future to be pending"
        );
        Poll::Ready(())
    })
    .await;
}

/// A task body whose one poll blocks its worker for `duration`.
async fn blocking_poll(duration: Duration) {
    thread::sleep(duration);
}

/// The text of a panic payload.
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => (*payload.downcast::<&str>().expect("a text payload")).to_owned(),
    }
}

/// A one-value handoff between two tasks: `send` wakes the receiver, which
/// is what puts it in the sender's worker's LIFO slot.
#[derive(Default)]
struct Mailbox {
    slot: Mutex<(Option<u64>, Option<Waker>)>,
}

impl Mailbox {
    fn send(&self, value: u64) {
        let waker = {
            let mut slot = self.slot.lock().unwrap();
            assert!(slot.0.is_none(), "the mailbox holds an unread value");
            slot.0 = Some(value);
            slot.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    async fn recv(&self) -> u64 {
        poll_fn(|cx| {
            let mut slot = self.slot.lock().unwrap();
            match slot.0.take() {
                Some(value) => Poll::Ready(value),
                None => {
                    slot.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

/// 100 tasks spawned from outside are counted exactly, leave the alive
/// count as soon as they are awaited, went through the global queue, and
/// were polled once each; a task that yields K times adds K + 1 polls.
#[test]
fn task_and_poll_counts_follow_a_scripted_workload() {
    const TASKS: u64 = 100;
    const YIELDS: u64 = 10;
    for workers in WORKER_COUNTS {
        let rt = runtime(workers);
        let metrics = rt.metrics();
        assert_eq!(metrics.spawned_tasks_count(), 0);
        assert_eq!(total(&metrics, RuntimeMetrics::worker_poll_count), 0);

        let tasks: Vec<_> = (0..TASKS).map(|i| rt.spawn(async move { i })).collect();
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(rt.block_on(task).unwrap(), i as u64);
        }
        assert_eq!(metrics.spawned_tasks_count(), TASKS, "{workers} workers");
        // A task leaves the list before its JoinHandle sees it complete.
        assert_eq!(metrics.num_alive_tasks(), 0, "{workers} workers");
        // Counted as the workers take them from the global queue, and
        // published when they park.
        wait_for(
            "the 100 remote schedules to be published",
            || metrics.remote_schedule_count(),
            |&count| count >= TASKS,
        );
        let polls = wait_for(
            "the 100 polls to be published",
            || total(&metrics, RuntimeMetrics::worker_poll_count),
            |&polls| polls >= TASKS,
        );
        assert_eq!(polls, TASKS, "{workers} workers: one poll per task");

        rt.block_on(rt.spawn(async {
            for _ in 0..YIELDS {
                weft::task::yield_now().await;
            }
        }))
        .unwrap();
        let polls = wait_for(
            "the yielding task's polls to be published",
            || total(&metrics, RuntimeMetrics::worker_poll_count),
            |&polls| polls > TASKS + YIELDS,
        );
        assert_eq!(polls, TASKS + YIELDS + 1, "{workers} workers");
        assert_eq!(metrics.spawned_tasks_count(), TASKS + 1);

        drop(rt);
        assert_eq!(
            total(&metrics, RuntimeMetrics::worker_poll_count),
            TASKS + YIELDS + 1,
            "{workers} workers: final count"
        );
        assert_eq!(metrics.num_alive_tasks(), 0);
    }
}

/// A task that awaits 1000 ready (zero-length) timers spends its budget
/// of 128 every poll: 7 polls end with the budget used up and the task
/// forced to yield, and the 8th finishes with budget to spare.
#[test]
fn spent_budgets_count_as_forced_yields() {
    const TIMERS: u64 = 1000;
    const BUDGET: u64 = 128;
    for workers in WORKER_COUNTS {
        let rt = runtime(workers);
        let metrics = rt.metrics();
        rt.block_on(rt.spawn(async {
            for _ in 0..TIMERS {
                weft::time::sleep(Duration::ZERO).await;
            }
        }))
        .unwrap();
        let polls = TIMERS.div_ceil(BUDGET);
        wait_for(
            "the forced yields to be published",
            || total(&metrics, RuntimeMetrics::worker_budget_forced_yields),
            |&yields| yields >= TIMERS / BUDGET,
        );
        drop(rt);
        assert_eq!(
            total(&metrics, RuntimeMetrics::worker_budget_forced_yields),
            TIMERS / BUDGET,
            "{workers} workers"
        );
        assert_eq!(
            total(&metrics, RuntimeMetrics::worker_poll_count),
            polls,
            "{workers} workers"
        );
    }
}

/// An idle worker parks; work from outside unparks one, which parks again
/// when done. Time spent inside a poll counts as busy time, and the
/// estimated mean poll time is then above zero.
#[test]
fn workers_park_unpark_and_count_busy_time() {
    const WORK: Duration = Duration::from_millis(20);
    for workers in WORKER_COUNTS {
        let rt = runtime(workers);
        let metrics = rt.metrics();
        wait_for(
            "every worker to park once",
            || (0..workers).map(|w| metrics.worker_park_count(w)).min(),
            |&least| least >= Some(1),
        );
        let parks = total(&metrics, RuntimeMetrics::worker_park_count);
        let unparks = total(&metrics, RuntimeMetrics::worker_unpark_count);
        let busy = total_busy(&metrics);

        rt.block_on(rt.spawn(blocking_poll(WORK))).unwrap();

        wait_for(
            "a worker to unpark and park again",
            || {
                (
                    total(&metrics, RuntimeMetrics::worker_park_count),
                    total(&metrics, RuntimeMetrics::worker_unpark_count),
                )
            },
            |&(p, u)| p > parks && u > unparks,
        );
        // The poll held its worker awake for at least WORK.
        wait_for(
            "the busy time to include the 20 ms poll",
            || total_busy(&metrics),
            |&now| now >= busy + WORK,
        );
        let polled = (0..workers)
            .find(|&w| metrics.worker_poll_count(w) > 0)
            .expect("some worker published its poll");
        assert!(
            metrics.worker_mean_poll_time(polled) > Duration::ZERO,
            "{workers} workers: mean poll time of worker {polled}"
        );
    }
}

/// Two tasks bouncing a value: each send wakes the other task on the
/// sender's worker, which runs it next from its LIFO slot.
#[test]
fn a_ping_pong_between_two_tasks_hits_the_lifo_slot() {
    const ROUNDS: u64 = 100;
    for workers in WORKER_COUNTS {
        let rt = runtime(workers);
        let metrics = rt.metrics();
        assert_eq!(total(&metrics, RuntimeMetrics::worker_lifo_hits), 0);
        let (ping, pong) = (Arc::new(Mailbox::default()), Arc::new(Mailbox::default()));
        let (ping2, pong2) = (ping.clone(), pong.clone());
        let pinger = rt.spawn(async move {
            for i in 0..ROUNDS {
                ping.send(i);
                assert_eq!(pong.recv().await, i);
            }
        });
        let ponger = rt.spawn(async move {
            for _ in 0..ROUNDS {
                let i = ping2.recv().await;
                pong2.send(i);
            }
        });
        rt.block_on(pinger).unwrap();
        rt.block_on(ponger).unwrap();
        // 2 * ROUNDS wakes; a LIFO run is capped at 3 polls, so at least
        // half of them are served from the slot.
        wait_for(
            "the LIFO hits to be published",
            || total(&metrics, RuntimeMetrics::worker_lifo_hits),
            |&hits| hits >= ROUNDS,
        );
    }
}

/// A blocking closure occupies a blocking thread, which turns idle (and
/// stays in the pool) once the closure returns.
#[test]
fn blocking_threads_are_counted_busy_then_idle() {
    for workers in WORKER_COUNTS {
        let rt = runtime(workers);
        let metrics = rt.metrics();
        assert_eq!(metrics.num_blocking_threads(), 0);
        let (started, release) = (Latch::new(), Latch::new());
        let (started2, release2) = (started.clone(), release.clone());
        let closure = rt.spawn_blocking(move || {
            started2.open();
            release2.wait();
        });
        started.wait();
        assert_eq!(metrics.num_blocking_threads(), 1, "{workers} workers");
        assert_eq!(metrics.num_idle_blocking_threads(), 0, "{workers} workers");
        assert_eq!(metrics.blocking_queue_depth(), 0);

        release.open();
        rt.block_on(closure).unwrap();
        wait_for(
            "the blocking thread to go idle",
            || metrics.num_idle_blocking_threads(),
            |&idle| idle == 1,
        );
        assert_eq!(metrics.num_blocking_threads(), 1, "{workers} workers");
    }
}

/// Sockets count as registrations while they live; a connection arriving
/// at a listener whose accept is pending is an event the reactor delivers.
#[test]
fn reactor_counts_registrations_and_delivered_events() {
    for workers in WORKER_COUNTS {
        let rt = runtime(workers);
        let metrics = rt.metrics();
        assert_eq!(metrics.num_registrations(), 0);
        let listener = rt
            .block_on(TcpListener::bind(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                0,
            ))))
            .unwrap();
        assert_eq!(metrics.num_registrations(), 1, "{workers} workers");
        let addr = listener.local_addr().unwrap();
        let events = metrics.events_delivered();

        let waiting = Latch::new();
        let waiting2 = waiting.clone();
        let accepter = rt.spawn(async move {
            let (stream, _) = {
                let mut accept = pin!(listener.accept());
                // Nobody has connected yet: the accept must wait for an event.
                poll_once_pending(&mut accept).await;
                waiting2.open();
                accept.await.unwrap()
            };
            (listener, stream)
        });
        waiting.wait();
        let client = std::net::TcpStream::connect(addr).unwrap();
        let (listener, stream) = rt.block_on(accepter).unwrap();
        assert!(
            metrics.events_delivered() > events,
            "{workers} workers: {} events before the connection, {} after",
            events,
            metrics.events_delivered()
        );
        assert_eq!(metrics.num_registrations(), 2, "{workers} workers");
        drop(stream);
        assert_eq!(metrics.num_registrations(), 1, "{workers} workers");
        drop(listener);
        assert_eq!(metrics.num_registrations(), 0, "{workers} workers");
        drop(client);
    }
}

/// A timer is in the wheel from its first pending poll until it fires or
/// is dropped.
#[test]
fn pending_timers_are_counted_until_fired_or_dropped() {
    for workers in WORKER_COUNTS {
        let rt = runtime(workers);
        let metrics = rt.metrics();
        assert_eq!(metrics.num_timers(), 0);
        rt.block_on(async {
            let mut long = pin!(weft::time::sleep(Duration::from_secs(10)));
            assert_eq!(metrics.num_timers(), 0, "not in the wheel before a poll");
            poll_once_pending(&mut long).await;
            assert_eq!(metrics.num_timers(), 1, "{workers} workers");

            let mut short = pin!(weft::time::sleep(ms(1)));
            poll_once_pending(&mut short).await;
            assert_eq!(metrics.num_timers(), 2, "{workers} workers");
            short.as_mut().await;
            // Fired, and still held: out of the count.
            assert_eq!(metrics.num_timers(), 1, "{workers} workers");
        });
        // Dropped with the block_on future.
        assert_eq!(metrics.num_timers(), 0, "{workers} workers");
    }
}

/// With one bound at 1 ms, a poll that blocks 5 ms lands in the upper
/// bucket; every poll lands in exactly one bucket, and the measured mean
/// includes the 5 ms.
#[test]
fn poll_time_histogram_buckets_a_long_poll() {
    for workers in WORKER_COUNTS {
        let (mut builder, _) = builder(workers);
        let rt = builder
            .poll_time_histogram_buckets(&[ms(1)])
            .build()
            .unwrap();
        let metrics = rt.metrics();
        assert!(metrics.poll_time_histogram_enabled());
        assert_eq!(metrics.poll_time_histogram_num_buckets(), 2);
        assert_eq!(
            metrics.poll_time_histogram_bucket_range(0),
            Duration::ZERO..ms(1)
        );
        assert_eq!(
            metrics.poll_time_histogram_bucket_range(1),
            ms(1)..Duration::MAX
        );

        rt.block_on(rt.spawn(blocking_poll(ms(5)))).unwrap();
        let long =
            |metrics: &RuntimeMetrics, w| metrics.worker_poll_time_histogram_bucket_count(w, 1);
        wait_for(
            "the 5 ms poll to be published in bucket 1",
            || total(&metrics, long),
            |&count| count >= 1,
        );
        drop(rt);
        let short =
            |metrics: &RuntimeMetrics, w| metrics.worker_poll_time_histogram_bucket_count(w, 0);
        assert_eq!(total(&metrics, long), 1, "{workers} workers");
        assert_eq!(total(&metrics, short), 0, "{workers} workers");
        assert_eq!(total(&metrics, RuntimeMetrics::worker_poll_count), 1);
        let polled = (0..workers)
            .find(|&w| metrics.worker_poll_count(w) == 1)
            .unwrap();
        assert!(
            metrics.worker_mean_poll_time(polled) >= ms(5),
            "{workers} workers: measured mean {:?}",
            metrics.worker_mean_poll_time(polled)
        );
    }
}

/// Off by default: no buckets, and asking for one is a bug in the caller
/// that panics with the fix.
#[test]
fn poll_time_histogram_is_off_by_default() {
    let rt = runtime(1);
    let metrics = rt.metrics();
    assert!(!metrics.poll_time_histogram_enabled());
    assert_eq!(metrics.poll_time_histogram_num_buckets(), 0);
    type Read = fn(&RuntimeMetrics);
    let reads: [(&str, Read); 2] = [
        ("worker_poll_time_histogram_bucket_count", |m| {
            m.worker_poll_time_histogram_bucket_count(0, 0);
        }),
        ("poll_time_histogram_bucket_range", |m| {
            m.poll_time_histogram_bucket_range(0);
        }),
    ];
    for (name, read) in reads {
        let payload = catch_unwind(AssertUnwindSafe(|| read(&metrics))).unwrap_err();
        let text = panic_text(payload);
        assert!(
            text.contains("poll timing is off") && text.contains("enable the poll-time histogram"),
            "{name}: {text:?}"
        );
    }
}

#[test]
fn bad_stall_and_histogram_settings_fail_to_build() {
    let error = Runtime::builder()
        .stall_threshold(Some(Duration::ZERO))
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("stall_threshold"), "{error}");

    let bad: [&[Duration]; 3] = [&[], &[ms(2), ms(1)], &[ms(1), ms(1)]];
    for bounds in bad {
        let error = Runtime::builder()
            .poll_time_histogram_buckets(bounds)
            .build()
            .unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{bounds:?}");
        assert!(
            error.to_string().contains("poll_time_histogram_buckets"),
            "{bounds:?}: {error}"
        );
    }
}

// ---------------------------------------------------------------------------
// Stall detector
// ---------------------------------------------------------------------------

/// A runtime whose stall reports are collected in the returned list.
fn stall_runtime(
    workers: usize,
    threshold: Option<Duration>,
) -> (Runtime, Arc<Mutex<Vec<StallInfo>>>) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = reports.clone();
    let (mut builder, _) = builder(workers);
    let rt = builder
        .stall_threshold(threshold)
        .on_stall(move |info| seen.lock().unwrap().push(info.clone()))
        .build()
        .unwrap();
    (rt, reports)
}

/// One poll that blocks for three thresholds is reported once, naming the
/// task, its spawn site and its worker.
#[test]
fn a_blocking_poll_is_reported_once_with_its_task() {
    for workers in WORKER_COUNTS {
        let (rt, reports) = stall_runtime(workers, Some(THRESHOLD));
        let builder = weft::task::Builder::new().name("sleeper");
        let (task, line) = (builder.spawn_on(blocking_poll(STALL), rt.handle()), line!());
        let id = task.id();
        let report = wait_for(
            "the stall report",
            || reports.lock().unwrap().first().cloned(),
            Option::is_some,
        )
        .unwrap();
        rt.block_on(task).unwrap();
        assert_eq!(
            reports.lock().unwrap().len(),
            1,
            "{workers} workers: one report per stall"
        );

        assert_eq!(report.task_id(), id);
        assert_eq!(report.name(), Some("sleeper"));
        let location = report
            .spawn_location()
            .expect("the task was still running when reported");
        assert_eq!(location.file(), file!());
        assert_eq!(location.line(), line);
        assert!(report.elapsed() >= THRESHOLD, "{report:?}");
        assert!(report.worker() < workers, "{report:?}");
        let text = report.to_string();
        assert!(text.contains("sleeper"), "{text}");
        assert!(text.contains(&format!("{}:{line}:", file!())), "{text}");
    }
}

/// A thousand tasks with short polls, and a task waiting on a timer of
/// three thresholds (the workers park meanwhile): no stall.
#[test]
fn short_polls_and_idle_time_are_not_stalls() {
    for workers in WORKER_COUNTS {
        let (rt, reports) = stall_runtime(workers, Some(THRESHOLD));
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                rt.spawn(async {
                    for _ in 0..3 {
                        weft::task::yield_now().await;
                    }
                })
            })
            .collect();
        for task in tasks {
            rt.block_on(task).unwrap();
        }
        // Created inside the task: a timer belongs to the runtime it is
        // created in, and this thread is in none.
        rt.block_on(rt.spawn(async { weft::time::sleep(THRESHOLD * 3).await }))
            .unwrap();
        assert!(
            reports.lock().unwrap().is_empty(),
            "{workers} workers: {:?}",
            reports.lock().unwrap()
        );
    }
}

/// Two polls stalling at once, one on each worker: two reports, one per
/// task and worker.
#[test]
fn simultaneous_stalls_on_two_workers_are_each_reported() {
    let (rt, reports) = stall_runtime(2, Some(THRESHOLD));
    let meet = Rendezvous::new(2);
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let meet = meet.clone();
            rt.spawn(async move {
                // Both polls run at once, so on different workers.
                assert!(meet.wait(), "the two tasks did not run in parallel");
                thread::sleep(STALL);
            })
        })
        .collect();
    let mut ids: Vec<Id> = tasks.iter().map(|t| t.id()).collect();
    ids.sort();
    wait_for(
        "two stall reports",
        || reports.lock().unwrap().len(),
        |&n| n >= 2,
    );
    for task in tasks {
        rt.block_on(task).unwrap();
    }
    let reports = reports.lock().unwrap().clone();
    assert_eq!(reports.len(), 2, "{reports:?}");
    let mut reported: Vec<Id> = reports.iter().map(|r| r.task_id()).collect();
    reported.sort();
    assert_eq!(reported, ids, "{reports:?}");
    let mut workers: Vec<usize> = reports.iter().map(|r| r.worker()).collect();
    workers.sort();
    assert_eq!(workers, [0, 1], "{reports:?}");
}

#[test]
fn no_stall_is_reported_with_the_detector_off() {
    let (rt, reports) = stall_runtime(2, None);
    rt.block_on(rt.spawn(blocking_poll(STALL))).unwrap();
    assert!(
        reports.lock().unwrap().is_empty(),
        "{:?}",
        reports.lock().unwrap()
    );
}

/// The hook's panic is caught: the worker runs later tasks, and the
/// watchdog reports the next stall too.
#[test]
fn a_panicking_stall_hook_leaves_the_runtime_running() {
    let calls = Counter::new();
    let counted = calls.clone();
    let (mut builder, _) = builder(1);
    let rt = builder
        .stall_threshold(Some(THRESHOLD))
        .on_stall(move |_| {
            counted.incr();
            panic!("a stall hook that panics");
        })
        .build()
        .unwrap();
    for round in 1..=2 {
        // The poll holds its worker until the watchdog has reported it, not
        // for a fixed time: unwinding the first report's panic (printing a
        // backtrace, slow under a sanitizer) may keep the watchdog busy
        // through any fixed stall.
        let reported = calls.clone();
        let task = rt.spawn(async move { reported.wait_for(round) });
        rt.block_on(task).unwrap();
        assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
    }
    assert_eq!(calls.get(), 2);
}

/// A hook that captures its own runtime's `Handle` (to take a dump, as the
/// stall demo does) is dropped when the runtime is: it must not keep the
/// runtime alive in a cycle through the runtime's own configuration.
#[test]
fn a_stall_hook_holding_a_handle_is_dropped_with_the_runtime() {
    let witness = Arc::new(());
    let handle_slot: Arc<Mutex<Option<Handle>>> = Arc::new(Mutex::new(None));
    let (mut builder, _) = builder(1);
    let hook_witness = witness.clone();
    let hook_handle = handle_slot.clone();
    let rt = builder
        .on_stall(move |_| {
            let _keep = &hook_witness;
            if let Some(handle) = &*hook_handle.lock().unwrap() {
                let _ = handle.dump();
            }
        })
        .build()
        .unwrap();
    *handle_slot.lock().unwrap() = Some(rt.handle().clone());
    drop(handle_slot);
    // The builder keeps its own copy of the hook, as it keeps every
    // setting, to build more runtimes.
    drop(builder);
    assert_eq!(Arc::strong_count(&witness), 2, "the hook holds the witness");
    drop(rt);
    assert_eq!(
        Arc::strong_count(&witness),
        1,
        "the hook (and the Handle it holds) outlived its runtime"
    );
}

/// A hook may drop the last `Runtime` (it runs on the watchdog thread):
/// shutdown completes there, and cancels the tasks left, instead of the
/// watchdog waiting for itself.
#[test]
fn a_stall_hook_may_drop_its_runtime() {
    let slot: Arc<Mutex<Option<Runtime>>> = Arc::new(Mutex::new(None));
    let (dropped_tx, dropped_rx) = mpsc::channel();
    let hook_slot = slot.clone();
    let (mut builder, _) = builder(2);
    let rt = builder
        .stall_threshold(Some(THRESHOLD))
        .on_stall(move |_| {
            if let Some(rt) = hook_slot.lock().unwrap().take() {
                drop(rt);
                dropped_tx.send(()).unwrap();
            }
        })
        .build()
        .unwrap();
    let waiting = rt.spawn(pending::<()>());
    let stalled = rt.spawn(blocking_poll(STALL));
    *slot.lock().unwrap() = Some(rt);
    dropped_rx
        .recv_timeout(LIMIT)
        .expect("the hook's drop of the runtime did not return");
    let waiting = weft::block_on(waiting).unwrap_err();
    assert!(waiting.is_cancelled(), "{waiting:?}");
    // The stalled poll finishes after the shutdown and cannot complete
    // its task any more than cancel it; either way its handle resolves.
    let _ = weft::block_on(stalled);
}

// ---------------------------------------------------------------------------
// Task dumps
// ---------------------------------------------------------------------------

/// What a dump should say about one task.
#[derive(Debug)]
struct Expected {
    id: Id,
    name: Option<&'static str>,
    line: u32,
}

/// Every live task, from every spawn API, with its id, name and exact
/// spawn site; `block_on`'s own future is no task; aborted tasks leave.
#[test]
fn dump_lists_each_live_task_with_its_spawn_site_and_name() {
    for workers in WORKER_COUNTS {
        let rt = runtime(workers);
        let handle = rt.handle().clone();
        let (openers, gates): (Vec<_>, Vec<_>) = (0..7).map(|_| Gate::new()).unzip();
        let mut gates = gates.into_iter();
        let mut expected = Vec::new();
        let mut handles = Vec::new();
        let mut set = JoinSet::new();

        let (task, line) = (rt.spawn(gates.next().unwrap()), line!());
        expected.push(Expected {
            id: task.id(),
            name: None,
            line,
        });
        handles.push(task);
        let (task, line) = (handle.spawn(gates.next().unwrap()), line!());
        expected.push(Expected {
            id: task.id(),
            name: None,
            line,
        });
        handles.push(task);
        let builder = weft::task::Builder::new().name("spawned on");
        let (task, line) = (builder.spawn_on(gates.next().unwrap(), &handle), line!());
        expected.push(Expected {
            id: task.id(),
            name: Some("spawned on"),
            line,
        });
        handles.push(task);

        let inside = rt.block_on(async {
            let (task, line) = (weft::spawn(gates.next().unwrap()), line!());
            expected.push(Expected {
                id: task.id(),
                name: None,
                line,
            });
            handles.push(task);
            let builder = weft::task::Builder::new().name("spawned");
            let (task, line) = (builder.spawn(gates.next().unwrap()), line!());
            expected.push(Expected {
                id: task.id(),
                name: Some("spawned"),
                line,
            });
            handles.push(task);
            let (abort, line) = (set.spawn(gates.next().unwrap()), line!());
            expected.push(Expected {
                id: abort.id(),
                name: None,
                line,
            });
            Handle::current().dump()
        });
        // Taken inside block_on: exactly the tasks spawned so far.
        let mut ids: Vec<Id> = expected.iter().map(|e| e.id).collect();
        ids.sort();
        let inside: Vec<Id> = inside.tasks().iter().map(|t| t.id()).collect();
        assert_eq!(inside, ids, "{workers} workers");

        // A spawn from a task, on a worker thread.
        let gate = gates.next().unwrap();
        let (task, line) = rt
            .block_on(rt.spawn(async move { (weft::spawn(gate), line!()) }))
            .unwrap();
        expected.push(Expected {
            id: task.id(),
            name: None,
            line,
        });
        handles.push(task);

        for opener in &openers {
            opener.wait_polled(1);
        }
        // The gate counts its poll before the poll returns and is recorded.
        let dump = wait_for(
            "every task to be idle after one poll",
            || rt.handle().dump(),
            |dump| {
                dump.tasks()
                    .iter()
                    .all(|t| t.state() == TaskState::Idle && t.polls() == 1)
            },
        );
        expected.sort_by_key(|e| e.id);
        let listed: Vec<Id> = dump.tasks().iter().map(|t| t.id()).collect();
        let wanted: Vec<Id> = expected.iter().map(|e| e.id).collect();
        assert_eq!(listed, wanted, "{workers} workers:\n{dump}");
        for (task, want) in dump.tasks().iter().zip(&expected) {
            assert_eq!(task.name(), want.name, "{want:?}");
            assert_eq!(task.spawn_location().file(), file!(), "{want:?}");
            assert_eq!(task.spawn_location().line(), want.line, "{want:?}");
        }

        let table = dump.to_string();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), expected.len() + 2, "{table}");
        for column in ["id", "state", "age", "polls", "name", "spawned at"] {
            assert!(lines[0].contains(column), "header: {}", lines[0]);
        }
        for (line, want) in lines[1..].iter().zip(&expected) {
            let mut words = line.split_whitespace();
            assert_eq!(words.next(), Some(want.id.to_string().as_str()), "{line}");
            assert_eq!(words.next(), Some("idle"), "{line}");
            assert!(line.contains(want.name.unwrap_or(" - ")), "{line}");
            assert!(
                line.contains(&format!("{}:{}:", file!(), want.line)),
                "{line}"
            );
        }
        let n = expected.len();
        assert_eq!(
            lines[n + 1],
            format!("{n} tasks: 0 running, 0 scheduled, {n} idle, 0 waiting on join")
        );

        for task in &handles {
            task.abort();
        }
        set.abort_all();
        for task in handles {
            assert!(rt.block_on(task).unwrap_err().is_cancelled());
        }
        rt.block_on(async {
            while let Some(result) = set.join_next().await {
                assert!(result.unwrap_err().is_cancelled());
            }
        });
        let dump = rt.handle().dump();
        assert!(dump.tasks().is_empty(), "{workers} workers:\n{dump}");
        assert_eq!(
            dump.to_string().lines().last(),
            Some("0 tasks: 0 running, 0 scheduled, 0 idle, 0 waiting on join")
        );
        assert_eq!(rt.metrics().num_alive_tasks(), 0);
    }
}

/// The four states: tasks awaiting another task's JoinHandle, directly or
/// through a JoinSet (waiting on join), the tasks they await (idle), a task
/// blocked inside its poll (running; the dump is taken while it holds its
/// worker) and, on one worker, a task spawned meanwhile (scheduled).
#[test]
fn dump_shows_what_each_task_is_doing() {
    for workers in WORKER_COUNTS {
        let rt = runtime(workers);
        let (opener, gate) = Gate::new();
        let joined = rt.spawn(gate);
        let joined_id = joined.id();
        let waiter = rt.spawn(async move { joined.await.unwrap() });
        let waiter_id = waiter.id();
        let (set_opener, set_gate) = Gate::new();
        let (member, member_id) = mpsc::channel();
        let set_waiter = rt.spawn(async move {
            let mut set = JoinSet::new();
            member.send(set.spawn(set_gate).id()).unwrap();
            set.join_next().await.unwrap().unwrap();
        });
        let set_waiter_id = set_waiter.id();
        let member_id = member_id.recv_timeout(LIMIT).unwrap();
        let is = |dump: &weft::runtime::Dump, id: Id, state: TaskState| {
            dump.tasks()
                .iter()
                .any(|t| t.id() == id && t.state() == state && t.polls() == 1)
        };
        wait_for(
            "the waiters to wait on their joins",
            || rt.handle().dump(),
            |dump| {
                is(dump, waiter_id, TaskState::WaitingOnJoin)
                    && is(dump, set_waiter_id, TaskState::WaitingOnJoin)
                    && is(dump, joined_id, TaskState::Idle)
                    && is(dump, member_id, TaskState::Idle)
            },
        );

        let (release, blocked) = mpsc::channel::<()>();
        let started = Latch::new();
        let started2 = started.clone();
        let running = rt.spawn(async move {
            started2.open();
            blocked.recv().unwrap();
        });
        let running_id = running.id();
        started.wait();
        // With the only worker held, nothing runs a new task.
        let scheduled = (workers == 1).then(|| rt.spawn(async {}));

        let dump = rt.handle().dump();
        let state_of = |id: Id| {
            let task = dump
                .tasks()
                .iter()
                .find(|t| t.id() == id)
                .unwrap_or_else(|| panic!("task {id} missing:\n{dump}"));
            (task.state(), task.polls())
        };
        let s = usize::from(scheduled.is_some());
        assert_eq!(dump.tasks().len(), 5 + s, "{dump}");
        assert_eq!(state_of(joined_id), (TaskState::Idle, 1), "{dump}");
        assert_eq!(state_of(member_id), (TaskState::Idle, 1), "{dump}");
        assert_eq!(state_of(waiter_id), (TaskState::WaitingOnJoin, 1), "{dump}");
        assert_eq!(
            state_of(set_waiter_id),
            (TaskState::WaitingOnJoin, 1),
            "{dump}"
        );
        // Polls count finished polls: the first one is still running.
        assert_eq!(state_of(running_id), (TaskState::Running, 0), "{dump}");
        if let Some(task) = &scheduled {
            assert_eq!(state_of(task.id()), (TaskState::Scheduled, 0), "{dump}");
        }
        let summary = dump.to_string().lines().last().unwrap().to_owned();
        assert_eq!(
            summary,
            format!(
                "{} tasks: 1 running, {s} scheduled, 2 idle, 2 waiting on join",
                5 + s
            )
        );
        let table = dump.to_string();
        assert!(table.contains("waiting on join"), "{table}");
        assert!(table.contains("running"), "{table}");

        release.send(()).unwrap();
        rt.block_on(running).unwrap();
        if let Some(task) = scheduled {
            rt.block_on(task).unwrap();
        }
        opener.open();
        set_opener.open();
        rt.block_on(waiter).unwrap();
        rt.block_on(set_waiter).unwrap();
        let dump = rt.handle().dump();
        assert!(dump.tasks().is_empty(), "{dump}");
    }
}

/// Dumps taken from a foreign thread while four tasks spawn 80,000 short
/// tasks: every dump is sorted with unique ids and lists every one of the
/// 50 long-lived tasks; nothing deadlocks; afterwards only those are left.
#[test]
fn dumps_under_load_are_sorted_and_lose_no_live_task() {
    const SENTINELS: usize = 50;
    const SPAWNERS: usize = 4;
    const PER_SPAWNER: usize = 20_000;
    const DUMPS: usize = 200;
    let rt = runtime(2);
    let metrics = rt.metrics();
    let sentinels: Vec<_> = (0..SENTINELS).map(|_| rt.spawn(pending::<()>())).collect();
    let mut sentinel_ids: Vec<Id> = sentinels.iter().map(|t| t.id()).collect();
    sentinel_ids.sort();

    let load_started = Latch::new();
    let (done, dumps_done) = mpsc::channel();
    let dumper = {
        let handle = rt.handle().clone();
        let sentinel_ids = sentinel_ids.clone();
        let load_started = load_started.clone();
        thread::spawn(move || {
            load_started.wait();
            for round in 0..DUMPS {
                let dump = handle.dump();
                let ids: Vec<Id> = dump.tasks().iter().map(|t| t.id()).collect();
                assert!(
                    ids.windows(2).all(|pair| pair[0] < pair[1]),
                    "dump {round}: ids not strictly increasing"
                );
                for id in &sentinel_ids {
                    assert!(
                        ids.binary_search(id).is_ok(),
                        "dump {round} lost sentinel {id}"
                    );
                }
                if round % 20 == 0 {
                    let table = dump.to_string();
                    let summary = table.lines().last().unwrap();
                    assert!(
                        summary.starts_with(&format!("{} tasks: ", ids.len())),
                        "{summary}"
                    );
                }
            }
            done.send(()).unwrap();
        })
    };

    let spawners: Vec<_> = (0..SPAWNERS)
        .map(|_| {
            let load_started = load_started.clone();
            rt.spawn(async move {
                load_started.open();
                let mut batch = Vec::with_capacity(100);
                for _ in 0..PER_SPAWNER {
                    batch.push(weft::spawn(weft::task::yield_now()));
                    if batch.len() == batch.capacity() {
                        for task in batch.drain(..) {
                            task.await.unwrap();
                        }
                    }
                }
                for task in batch {
                    task.await.unwrap();
                }
            })
        })
        .collect();

    match dumps_done.recv_timeout(LIMIT) {
        Ok(()) => dumper.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The dumper panicked: show why.
            std::panic::resume_unwind(dumper.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{DUMPS} dumps took over {LIMIT:?}: deadlock?")
        }
    }
    rt.block_on(weft::time::timeout(LIMIT, async {
        for spawner in spawners {
            spawner.await.unwrap();
        }
    }))
    .expect("the load did not finish");

    assert_eq!(
        metrics.spawned_tasks_count(),
        (SENTINELS + SPAWNERS + SPAWNERS * PER_SPAWNER) as u64
    );
    assert_eq!(metrics.num_alive_tasks(), SENTINELS);
    let left: Vec<Id> = rt.handle().dump().tasks().iter().map(|t| t.id()).collect();
    assert_eq!(left, sentinel_ids);
    for task in sentinels {
        task.abort();
        assert!(rt.block_on(task).unwrap_err().is_cancelled());
    }
    assert_eq!(metrics.num_alive_tasks(), 0);
}

//! `RuntimeMetrics`: worker and task counts, queue depths, per-worker poll,
//! steal and park counts, and the blocking pool's figures.
//!
//! Worker figures are published when a worker parks, every
//! `event_interval` ticks, and when it stops; the exact totals are read
//! after the runtime was dropped (a `RuntimeMetrics` outlives it), the live
//! ones by waiting for the published value.

mod common;

use std::future::pending;

use common::*;
use weft::runtime::RuntimeMetrics;
use weft::task::yield_now;
use weft::Runtime;

fn total_polls(metrics: &RuntimeMetrics) -> u64 {
    (0..metrics.num_workers())
        .map(|w| metrics.worker_poll_count(w))
        .sum()
}

fn total_parks(metrics: &RuntimeMetrics) -> u64 {
    (0..metrics.num_workers())
        .map(|w| metrics.worker_park_count(w))
        .sum()
}

#[test]
fn num_workers() {
    for_each_workers(|rt| {
        assert_eq!(rt.metrics().num_workers(), rt.workers);
    });
}

/// Pending tasks are counted exactly; aborted and completed ones leave the
/// count, back to zero.
#[test]
fn num_alive_tasks_counts_pending_tasks() {
    const TASKS: usize = 20;
    for_each_workers(|rt| {
        let metrics = rt.metrics();
        assert_eq!(metrics.num_alive_tasks(), 0);
        let mut openers = Vec::new();
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (opener, gate) = Gate::new();
                openers.push(opener);
                rt.spawn(gate)
            })
            .collect();
        for opener in &openers {
            opener.wait_polled(1);
        }
        assert_eq!(metrics.num_alive_tasks(), TASKS);
        // Blocking closures are not tasks of the scheduler's list.
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 1)).unwrap(), 1);
        assert_eq!(metrics.num_alive_tasks(), TASKS);

        for (i, task) in tasks.into_iter().enumerate() {
            if i % 2 == 0 {
                task.abort();
                assert!(rt.block_on(task).unwrap_err().is_cancelled());
            } else {
                openers[i].open();
                rt.block_on(task).unwrap();
            }
        }
        wait_until("finished tasks to leave the count", || {
            metrics.num_alive_tasks() == 0
        });

        // Trivial tasks that run to completion leave no trace either.
        let done: Vec<_> = (0..100).map(|_| rt.spawn(async {})).collect();
        for task in done {
            rt.block_on(task).unwrap();
        }
        wait_until("completed tasks to leave the count", || {
            metrics.num_alive_tasks() == 0
        });
    });
}

/// Each poll of each task is counted once, on the worker that ran it: 100
/// tasks that yield once are 200 polls.
#[test]
fn worker_poll_count_counts_every_poll() {
    for workers in WORKERS {
        let rt = runtime(workers);
        let metrics = rt.metrics();
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                rt.spawn(async {
                    yield_now().await;
                })
            })
            .collect();
        for task in tasks {
            rt.block_on(task).unwrap();
        }
        // Published when the workers park, with the runtime still up.
        wait_until("the poll counts to be published", || {
            total_polls(&metrics) >= 200
        });
        drop(rt);
        assert_eq!(total_polls(&metrics), 200, "{workers} workers");
    }
}

/// Tasks spawned from outside while every worker is busy wait in the
/// global queue, exactly as many as were spawned.
#[test]
fn injection_queue_depth_counts_remotely_queued_tasks() {
    for_each_workers(|rt| {
        let metrics = rt.metrics();
        let blocked = block_workers(rt);
        assert_eq!(metrics.injection_queue_depth(), 0);
        let tasks: Vec<_> = (0..10).map(|i| rt.spawn(async move { i })).collect();
        assert_eq!(metrics.injection_queue_depth(), 10);
        blocked.release(rt);
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(rt.block_on(task).unwrap(), i);
        }
        assert_eq!(metrics.injection_queue_depth(), 0);
    });
}

/// Tasks spawned by a task wait in its worker's local queue; with
/// `event_interval(1)` the worker publishes the depth before every task, so
/// the children see it, and it is back to 0 once all ran.
#[test]
fn worker_local_queue_depth_counts_locally_queued_tasks() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .event_interval(1)
        .build()
        .unwrap();
    let metrics = rt.metrics();
    let seen = rt
        .block_on(rt.spawn(async {
            let children: Vec<_> = (0..10)
                .map(|_| {
                    weft::spawn(async {
                        weft::Handle::current()
                            .metrics()
                            .worker_local_queue_depth(0)
                    })
                })
                .collect();
            let mut seen = Vec::new();
            for child in children {
                seen.push(child.await.unwrap());
            }
            seen
        }))
        .unwrap();
    let most = *seen.iter().max().unwrap();
    assert!((1..=10).contains(&most), "children saw depths {seen:?}");
    wait_until("the local queue depth to drop to 0", || {
        metrics.worker_local_queue_depth(0) == 0
    });
}

/// Workers park when idle, and park again after each burst of work.
#[test]
fn worker_park_count_increases() {
    for_each_workers(|rt| {
        let metrics = rt.metrics();
        // Every worker parks once it finds nothing to do at start.
        wait_until("every worker to park", || {
            (0..rt.workers).all(|w| metrics.worker_park_count(w) >= 1)
        });
        for _ in 0..3 {
            let before = total_parks(&metrics);
            rt.block_on(rt.spawn(async {})).unwrap();
            wait_until("a worker to park again", || total_parks(&metrics) > before);
        }
    });
}

/// A worker that spawned tasks into its local queue and then blocks: the
/// other workers can only run those tasks by stealing them, and the steal
/// counts say so.
#[test]
fn worker_steal_count_counts_stolen_tasks() {
    const CHILDREN: usize = 20;
    for workers in [2, 4] {
        let rt = runtime(workers);
        let metrics = rt.metrics();
        let done = Counter::new();
        let done_in = done.clone();
        let parent = rt.spawn(async move {
            for _ in 0..CHILDREN {
                let done = done_in.clone();
                drop(weft::spawn(async move {
                    done.incr();
                }));
            }
            // Blocks this worker: all but the child kept for this worker's
            // next poll must be stolen to run.
            done_in.wait_for(CHILDREN - 1);
        });
        rt.block_on(parent).unwrap();
        done.wait_for(CHILDREN);
        drop(rt);
        let stolen: u64 = (0..workers).map(|w| metrics.worker_steal_count(w)).sum();
        let operations: u64 = (0..workers)
            .map(|w| metrics.worker_steal_operations(w))
            .sum();
        assert!(
            stolen >= (CHILDREN - 1) as u64,
            "{workers} workers: {stolen} stolen"
        );
        assert!(operations >= 1 && operations <= stolen);
    }
}

#[test]
fn no_worker_searches_when_idle() {
    for_each_workers(|rt| {
        let metrics = rt.metrics();
        rt.block_on(rt.spawn(async {})).unwrap();
        wait_until("the workers to stop searching", || {
            metrics.num_searching_workers() == 0
        });
        assert!(metrics.num_searching_workers() <= rt.workers);
    });
}

/// The blocking pool's figures: threads, idle threads, queued closures.
#[test]
fn blocking_pool_figures() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .max_blocking_threads(3)
        .build()
        .unwrap();
    let metrics = rt.metrics();
    assert_eq!(metrics.num_blocking_threads(), 0);
    assert_eq!(metrics.blocking_queue_depth(), 0);

    let started = Counter::new();
    let release = Latch::new();
    let running: Vec<_> = (0..3)
        .map(|_| {
            let (started, release) = (started.clone(), release.clone());
            rt.spawn_blocking(move || {
                started.incr();
                release.wait();
            })
        })
        .collect();
    started.wait_for(3);
    assert_eq!(metrics.num_blocking_threads(), 3);
    assert_eq!(metrics.num_idle_blocking_threads(), 0);
    let queued: Vec<_> = (0..4).map(|i| rt.spawn_blocking(move || i)).collect();
    assert_eq!(metrics.blocking_queue_depth(), 4);
    assert_eq!(
        metrics.num_blocking_threads(),
        3,
        "grew past max_blocking_threads"
    );

    release.open();
    for task in running {
        rt.block_on(task).unwrap();
    }
    for (i, task) in queued.into_iter().enumerate() {
        assert_eq!(rt.block_on(task).unwrap(), i);
    }
    assert_eq!(metrics.blocking_queue_depth(), 0);
    wait_until("the blocking threads to go idle", || {
        metrics.num_idle_blocking_threads() == 3
    });
    assert_eq!(metrics.num_blocking_threads(), 3);
    drop(rt);
    assert_eq!(metrics.num_blocking_threads(), 0);
}

/// Figures stay readable after the runtime is gone.
#[test]
fn metrics_outlive_the_runtime() {
    let rt = runtime(2);
    let metrics = rt.metrics();
    let _pending = rt.spawn(pending::<()>());
    drop(rt);
    assert_eq!(metrics.num_workers(), 2);
    assert_eq!(metrics.num_alive_tasks(), 0);
    assert_eq!(metrics.injection_queue_depth(), 0);
    assert!(total_polls(&metrics) <= 1);
}

#[test]
fn an_out_of_range_worker_index_panics_with_the_worker_count() {
    let rt = runtime(4);
    let metrics = rt.metrics();
    type Read = fn(&RuntimeMetrics);
    let calls: [(&str, Read); 5] = [
        ("worker_poll_count", |m| {
            m.worker_poll_count(4);
        }),
        ("worker_steal_count", |m| {
            m.worker_steal_count(4);
        }),
        ("worker_steal_operations", |m| {
            m.worker_steal_operations(4);
        }),
        ("worker_park_count", |m| {
            m.worker_park_count(4);
        }),
        ("worker_local_queue_depth", |m| {
            m.worker_local_queue_depth(4);
        }),
    ];
    for (name, call) in calls {
        let payload =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call(&metrics))).unwrap_err();
        let text = payload
            .downcast::<String>()
            .map(|text| *text)
            .unwrap_or_default();
        assert!(
            text.contains("worker index 4") && text.contains("4 workers"),
            "{name}: {text:?}"
        );
    }
}

#[test]
#[should_panic(expected = "worker index 1 out of range: the runtime has 1 workers")]
fn worker_poll_count_out_of_range_panics() {
    runtime(1).metrics().worker_poll_count(1);
}

//! `Runtime`, `Builder` and `Handle`: every builder option takes effect,
//! the global queue is served even under a task that never lets its worker
//! go idle, and handles work from any thread.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use common::*;
use weft::task::yield_now;
use weft::{Builder, Handle, Runtime};

#[test]
fn runtime_new_runs_tasks() {
    let rt = Runtime::new().unwrap();
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    if std::env::var_os("WEFT_WORKER_THREADS").is_none() {
        assert_eq!(rt.metrics().num_workers(), cpus);
    }
    assert_eq!(rt.block_on(rt.spawn(async { 1 + 1 })).unwrap(), 2);
    // `Builder::default()` is `Builder::new()`.
    let rt = Builder::default().worker_threads(1).build().unwrap();
    assert_eq!(rt.block_on(async { 3 }), 3);
}

#[test]
fn worker_threads_sets_the_number_of_workers() {
    for workers in [1, 2, 3, 4, 7] {
        let rt = Runtime::builder().worker_threads(workers).build().unwrap();
        assert_eq!(rt.metrics().num_workers(), workers);
        assert_eq!(rt.handle().metrics().num_workers(), workers);
        // And that many threads really run tasks at once.
        let meet = Rendezvous::new(workers);
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let meet = meet.clone();
                rt.spawn(async move { meet.wait() })
            })
            .collect();
        for task in tasks {
            assert!(rt.block_on(task).unwrap());
        }
    }
}

#[test]
fn thread_name_names_workers_and_blocking_threads() {
    for_each_workers(|rt| {
        let task = rt.block_on(rt.spawn(async { thread_name() })).unwrap();
        let blocking = rt.block_on(rt.spawn_blocking(thread_name)).unwrap();
        assert_eq!(task, rt.name);
        assert_eq!(blocking, rt.name);
    });
    // Unnamed runtimes get a default name, not an empty one.
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let name = rt.block_on(rt.spawn(async { thread_name() })).unwrap();
    assert!(name.starts_with("weft"), "{name}");
}

/// `thread_name_fn` is called once per thread started, workers and
/// blocking threads alike, and each thread carries the name it was given.
#[test]
fn thread_name_fn_names_each_thread() {
    for workers in WORKERS {
        let calls = Arc::new(AtomicUsize::new(0));
        let calls_in = calls.clone();
        let prefix = unique_name("named");
        let prefix_in = prefix.clone();
        let rt = Runtime::builder()
            .worker_threads(workers)
            .thread_name_fn(move || {
                format!("{prefix_in}-{}", calls_in.fetch_add(1, Ordering::SeqCst))
            })
            .build()
            .unwrap();
        let blocked = block_workers(&rt);
        assert_eq!(calls.load(Ordering::SeqCst), workers);
        let worker_names: HashSet<_> = (0..workers).map(|i| format!("{prefix}-{i}")).collect();
        // The workers are blocked; this task waits in the queue until they
        // are released below.
        let seen = rt.spawn(async { thread_name() });
        blocked.release(&rt);
        let name = rt.block_on(seen).unwrap();
        assert!(
            worker_names.contains(&name),
            "{name} not in {worker_names:?}"
        );

        let meet = Rendezvous::new(3);
        let closures: Vec<_> = (0..3)
            .map(|_| {
                let meet = meet.clone();
                rt.spawn_blocking(move || (meet.wait(), thread_name()))
            })
            .collect();
        let mut blocking_names = HashSet::new();
        for closure in closures {
            let (met, name) = rt.block_on(closure).unwrap();
            assert!(met);
            assert!(!worker_names.contains(&name), "{name}");
            assert!(name.starts_with(&prefix), "{name}");
            blocking_names.insert(name);
        }
        assert_eq!(blocking_names.len(), 3);
        assert_eq!(calls.load(Ordering::SeqCst), workers + 3);
    }
}

/// Recursion that needs far more stack than a default thread's 2 MiB runs
/// fine on workers and blocking threads given a 64 MiB stack.
#[test]
fn thread_stack_size_applies_to_workers_and_blocking_threads() {
    #[inline(never)]
    fn deep(depth: usize) -> usize {
        let frame = std::hint::black_box([depth as u8; 1024]);
        if depth == 0 {
            frame[0] as usize
        } else {
            deep(depth - 1) + frame[1] as usize
        }
    }
    // At least 1 KiB a frame: 8 MiB deep, four times std's default.
    const DEPTH: usize = 8 * 1024;
    for workers in [1, 2] {
        let rt = Runtime::builder()
            .worker_threads(workers)
            .thread_stack_size(64 << 20)
            .build()
            .unwrap();
        let expected: usize = (1..=DEPTH).map(|d| d as u8 as usize).sum();
        assert_eq!(
            rt.block_on(rt.spawn(async { deep(DEPTH) })).unwrap(),
            expected
        );
        assert_eq!(
            rt.block_on(rt.spawn_blocking(|| deep(DEPTH))).unwrap(),
            expected
        );
    }
}

/// `on_thread_start` runs once on every thread the runtime starts (workers,
/// then blocking threads as they come), on that thread, before its work;
/// `on_thread_stop` once on each when the runtime goes.
#[test]
fn on_thread_start_and_stop_run_once_per_thread() {
    for workers in WORKERS {
        let started = Arc::new(Mutex::new(Vec::new()));
        let stopped = Arc::new(Mutex::new(Vec::new()));
        let (started_in, stopped_in) = (started.clone(), stopped.clone());
        let (mut builder, name) = builder(workers);
        let rt = builder
            .on_thread_start(move || started_in.lock().unwrap().push(thread::current().id()))
            .on_thread_stop(move || stopped_in.lock().unwrap().push(thread::current().id()))
            .build()
            .unwrap();
        let blocked = block_workers(&rt);
        {
            let started = started.lock().unwrap();
            assert_eq!(started.len(), workers);
            let mut sorted = started.clone();
            sorted.sort_by_key(|id| format!("{id:?}"));
            let mut expected = blocked.threads.clone();
            expected.sort_by_key(|id| format!("{id:?}"));
            assert_eq!(
                sorted, expected,
                "on_thread_start did not run on the workers"
            );
        }
        blocked.release(&rt);

        let meet = Rendezvous::new(2);
        let closures: Vec<_> = (0..2)
            .map(|_| {
                let meet = meet.clone();
                rt.spawn_blocking(move || (meet.wait(), thread::current().id()))
            })
            .collect();
        let mut blocking_threads = Vec::new();
        for closure in closures {
            let (met, id) = rt.block_on(closure).unwrap();
            assert!(met);
            blocking_threads.push(id);
        }
        assert_eq!(started.lock().unwrap().len(), workers + 2);
        for id in &blocking_threads {
            assert!(started.lock().unwrap().contains(id));
        }
        assert!(stopped.lock().unwrap().is_empty());

        drop(rt);
        let (mut started, mut stopped) = (
            started.lock().unwrap().clone(),
            stopped.lock().unwrap().clone(),
        );
        started.sort_by_key(|id| format!("{id:?}"));
        stopped.sort_by_key(|id| format!("{id:?}"));
        assert_eq!(started, stopped, "{name}");
    }
}

/// The scheduling intervals accept any positive value and the runtime
/// works with each.
#[test]
fn event_and_global_queue_intervals_accept_values() {
    for interval in [1, 2, 61, 1000, u32::MAX] {
        for workers in WORKERS {
            let rt = Runtime::builder()
                .worker_threads(workers)
                .event_interval(interval)
                .global_queue_interval(interval)
                .build()
                .unwrap();
            let sum = rt.block_on(async {
                let tasks: Vec<_> = (0..200u64)
                    .map(|i| {
                        weft::spawn(async move {
                            yield_now().await;
                            i
                        })
                    })
                    .collect();
                let mut sum = 0;
                for task in tasks {
                    sum += task.await.unwrap();
                }
                sum
            });
            assert_eq!(sum, 19900, "interval {interval}, {workers} workers");
        }
    }
}

/// One worker is kept busy forever by a task that yields in a loop and by
/// a chain of tasks that each spawn the next, so its local queue never
/// empties. A task spawned from outside still runs: the worker takes from
/// the global queue every `global_queue_interval` ticks.
#[test]
fn global_queue_is_served_under_a_busy_local_queue() {
    for interval in [None, Some(1), Some(7)] {
        for workers in WORKERS {
            let mut builder = Runtime::builder();
            builder.worker_threads(workers);
            if let Some(interval) = interval {
                builder.global_queue_interval(interval);
            }
            let rt = builder.build().unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let spins = Arc::new(AtomicUsize::new(0));

            let (stop_in, spins_in) = (stop.clone(), spins.clone());
            let spinner = rt.spawn(async move {
                while !stop_in.load(Ordering::SeqCst) {
                    spins_in.fetch_add(1, Ordering::SeqCst);
                    drop(weft::spawn(async {}));
                    yield_now().await;
                }
            });
            let chain = rt.spawn(respawn(stop.clone()));
            // The spinner is running before the outside task is spawned.
            wait_until("the spinner to start", || spins.load(Ordering::SeqCst) > 0);

            let outside = rt.handle().spawn(async { "served" });
            let result = rt.block_on(outside);
            stop.store(true, Ordering::SeqCst);
            assert_eq!(result.unwrap(), "served", "{interval:?}, {workers} workers");
            rt.block_on(spinner).unwrap();
            rt.block_on(chain).unwrap();
        }
    }
}

/// Spawns its successor and ends, until `stop`.
fn respawn(
    stop: Arc<AtomicBool>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        if !stop.load(Ordering::SeqCst) {
            drop(weft::spawn(respawn(stop)));
        }
    })
}

#[test]
fn handle_clones_spawn_and_block_on_from_other_threads() {
    for_each_workers(|rt| {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let handle = rt.handle().clone();
                let name = rt.name.clone();
                thread::spawn(move || {
                    let tasks: Vec<_> = (0..100)
                        .map(|i| handle.spawn(async move { (t * 100 + i, thread_name()) }))
                        .collect();
                    let mut sum = 0;
                    for task in tasks {
                        let (value, ran_on) = handle.block_on(task).unwrap();
                        assert_eq!(ran_on, name);
                        sum += value;
                    }
                    sum
                })
            })
            .collect();
        let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(total, (0..400).sum::<usize>());
    });
}

/// `block_on` is for threads that are not workers: a blocking thread may
/// use it through `Handle::current()` or a handle it was given.
#[test]
fn handle_block_on_inside_spawn_blocking() {
    for_each_workers(|rt| {
        let given = rt.handle().clone();
        let (current, through_given) = rt
            .block_on(rt.spawn_blocking(move || {
                let current = Handle::current()
                    .block_on(async { weft::spawn(async { thread_name() }).await.unwrap() });
                let through_given = given.block_on(async {
                    weft::task::yield_now().await;
                    7
                });
                (current, through_given)
            }))
            .unwrap();
        assert_eq!(current, rt.name);
        assert_eq!(through_given, 7);
    });
}

/// `Runtime::block_on` runs its future on the calling thread, inside the
/// runtime: tasks it spawns run on the workers.
#[test]
fn runtime_block_on_runs_on_the_caller_inside_the_runtime() {
    for_each_workers(|rt| {
        let caller = thread::current().id();
        let (ran_on, spawned_on) = rt.block_on(async {
            (
                thread::current().id(),
                weft::spawn(async { thread_name() }).await.unwrap(),
            )
        });
        assert_eq!(ran_on, caller);
        assert_eq!(spawned_on, rt.name);
    });
}

#[test]
fn debug_formats_are_informative() {
    let mut builder = Runtime::builder();
    builder.worker_threads(3).max_blocking_threads(9);
    let text = format!("{builder:?}");
    assert!(
        text.contains("worker_threads") && text.contains('3'),
        "{text}"
    );
    assert!(
        text.contains("max_blocking_threads") && text.contains('9'),
        "{text}"
    );
    let rt = builder.build().unwrap();
    assert!(format!("{rt:?}").contains("Runtime"));
    assert!(format!("{:?}", rt.handle()).contains("Handle"));
    assert!(format!("{:?}", rt.metrics()).contains("RuntimeMetrics"));
}

/// `on_thread_start` may already use the runtime it starts a thread of.
#[test]
fn on_thread_start_can_use_handle_current() {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let rt = weft::Runtime::builder()
        .worker_threads(2)
        .on_thread_start(move || {
            let workers = weft::Handle::current().metrics().num_workers();
            tx.lock().unwrap().send(workers).unwrap();
        })
        .build()
        .unwrap();
    for _ in 0..2 {
        assert_eq!(rx.recv().unwrap(), 2);
    }
    drop(rt);
}

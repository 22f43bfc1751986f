//! The blocking pool: `spawn_blocking` runs closures on their own threads
//! (not the caller, not a worker), in parallel up to `max_blocking_threads`,
//! reports panics, lets idle threads go after `thread_keep_alive`, and its
//! threads belong to the runtime.

mod common;

use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::*;
use weft::{Handle, Runtime};

#[test]
fn spawn_blocking_gives_the_result() {
    for_each_workers(|rt| {
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 6 * 7)).unwrap(), 42);
        let text = rt.block_on(async {
            weft::spawn(async { weft::spawn_blocking(|| "from a task".to_owned()).await })
                .await
                .unwrap()
        });
        assert_eq!(text.unwrap(), "from a task");
        let handle = rt.handle().clone();
        let from_thread = thread::spawn(move || handle.block_on(handle.spawn_blocking(|| 7)))
            .join()
            .unwrap();
        assert_eq!(from_thread.unwrap(), 7);
    });
}

/// The closure runs on a thread of the runtime that is neither the caller
/// nor a worker: there, unlike on a worker, `block_on` is allowed.
#[test]
fn closures_run_on_a_blocking_thread_not_the_caller_or_a_worker() {
    for_each_workers(|rt| {
        let blocked = block_workers(rt);
        let workers: HashSet<_> = blocked.threads.iter().copied().collect();
        blocked.release(rt);
        assert_eq!(workers.len(), rt.workers);

        let (id, name, block_on_allowed) = rt
            .block_on(rt.spawn_blocking(|| {
                let block_on = panic::catch_unwind(|| weft::block_on(async { 1 }));
                (thread::current().id(), thread_name(), block_on.is_ok())
            }))
            .unwrap();
        assert_ne!(id, thread::current().id());
        assert!(!workers.contains(&id), "a blocking closure ran on a worker");
        assert_eq!(name, rt.name);
        assert!(block_on_allowed);

        // From inside a task: not on that task's worker either.
        let (task_thread, closure_thread) = rt
            .block_on(rt.spawn(async {
                let closure = weft::spawn_blocking(|| thread::current().id()).await;
                (thread::current().id(), closure.unwrap())
            }))
            .unwrap();
        assert!(workers.contains(&task_thread));
        assert!(!workers.contains(&closure_thread));
    });
}

/// 64 closures that can only finish together (a barrier of 64): the pool
/// runs them all at once.
#[test]
fn many_blocking_closures_run_in_parallel() {
    for_each_workers(|rt| {
        let meet = Rendezvous::new(64);
        let closures: Vec<_> = (0..64)
            .map(|_| {
                let meet = meet.clone();
                rt.spawn_blocking(move || (meet.wait(), thread::current().id()))
            })
            .collect();
        let mut threads = HashSet::new();
        for closure in closures {
            let (met, thread) = rt.block_on(closure).unwrap();
            assert!(met, "64 blocking closures did not run at once");
            threads.insert(thread);
        }
        assert_eq!(threads.len(), 64);
        assert_eq!(rt.metrics().num_blocking_threads(), 64);
    });
}

/// With `max_blocking_threads(2)`, ten closures that meet in pairs all
/// finish, never more than two at a time, on at most two threads.
#[test]
fn max_blocking_threads_caps_the_pool() {
    for workers in WORKERS {
        let rt = Runtime::builder()
            .worker_threads(workers)
            .max_blocking_threads(2)
            .build()
            .unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let pair = Arc::new(Barrier::new(2));
        let closures: Vec<_> = (0..10)
            .map(|i| {
                let (running, most, pair) = (running.clone(), most.clone(), pair.clone());
                rt.spawn_blocking(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    pair.wait();
                    running.fetch_sub(1, Ordering::SeqCst);
                    (i, thread::current().id())
                })
            })
            .collect();
        assert!(rt.metrics().num_blocking_threads() <= 2);
        let mut threads = HashSet::new();
        for (i, closure) in closures.into_iter().enumerate() {
            let (index, thread) = rt.block_on(closure).unwrap();
            assert_eq!(index, i);
            threads.insert(thread);
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert_eq!(threads.len(), 2);
        assert_eq!(rt.metrics().num_blocking_threads(), 2);
    }
}

#[test]
fn a_panicking_closure_gives_a_panic_join_error_and_the_pool_serves_on() {
    for workers in WORKERS {
        let rt = Runtime::builder()
            .worker_threads(workers)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let failed =
            rt.spawn_blocking(|| -> u8 { panic!("blocking {}", std::hint::black_box("boom")) });
        let error = rt.block_on(failed).unwrap_err();
        assert!(error.is_panic(), "{error:?}");
        assert_eq!(
            *error.into_panic().downcast::<String>().unwrap(),
            "blocking boom"
        );
        // The one thread of the pool survived the panic and runs the rest.
        for i in 0..10 {
            assert_eq!(rt.block_on(rt.spawn_blocking(move || i)).unwrap(), i);
        }
        assert_eq!(rt.metrics().num_blocking_threads(), 1);
    }
}

/// The pool grows to the threads it needs, and threads idle for longer
/// than `thread_keep_alive` exit (and run `on_thread_stop`).
#[test]
fn idle_blocking_threads_exit_after_the_keep_alive() {
    let stops = Counter::new();
    let stops_in = stops.clone();
    let rt = Runtime::builder()
        .worker_threads(1)
        .thread_keep_alive(Duration::from_millis(50))
        .on_thread_stop(move || {
            stops_in.incr();
        })
        .build()
        .unwrap();
    let metrics = rt.metrics();
    assert_eq!(metrics.num_blocking_threads(), 0);

    let meet = Rendezvous::new(4);
    let closures: Vec<_> = (0..4)
        .map(|_| {
            let meet = meet.clone();
            rt.spawn_blocking(move || {
                let met = meet.wait();
                // All four are running now, each on its own thread.
                (met, Handle::current().metrics().num_blocking_threads())
            })
        })
        .collect();
    for closure in closures {
        assert_eq!(rt.block_on(closure).unwrap(), (true, 4));
    }
    wait_until("idle blocking threads to exit", || {
        metrics.num_blocking_threads() == 0
    });
    stops.wait_for(4);
    assert_eq!(metrics.num_idle_blocking_threads(), 0);

    // The pool starts threads again when needed.
    let count = rt
        .block_on(rt.spawn_blocking(|| Handle::current().metrics().num_blocking_threads()))
        .unwrap();
    assert_eq!(count, 1);
}

/// Inside a blocking closure the thread is in its runtime: `Handle::current`
/// works, and `spawn_blocking` / `spawn` from there use the same runtime.
#[test]
fn nested_spawn_blocking_uses_the_same_runtime() {
    for_each_workers(|rt| {
        let (inner, task, workers) = rt
            .block_on(rt.spawn_blocking(|| {
                let handle = Handle::current();
                let inner = weft::spawn_blocking(|| {
                    let deeper = weft::spawn_blocking(thread_name);
                    (thread_name(), Handle::current().block_on(deeper).unwrap())
                });
                let task = weft::spawn(async { thread_name() });
                (
                    handle.block_on(inner).unwrap(),
                    handle.block_on(task).unwrap(),
                    handle.metrics().num_workers(),
                )
            }))
            .unwrap();
        assert_eq!(inner, (rt.name.clone(), rt.name.clone()));
        assert_eq!(task, rt.name);
        assert_eq!(workers, rt.workers);
    });
}

#[test]
fn weft_spawn_blocking_outside_any_runtime_uses_the_global_runtime() {
    assert!(Handle::try_current().is_err());
    let name = weft::block_on(weft::spawn_blocking(thread_name)).unwrap();
    assert_eq!(name, "weft-global");
}

/// A closure still waiting for a thread can be aborted: it never runs, and
/// is dropped once. A running one cannot be stopped: it finishes and keeps
/// its output.
#[test]
fn abort_a_blocking_closure() {
    let (rt, running, release) = runtime_with_its_blocking_thread_busy("finished");

    let ran = Counter::new();
    let drops = Counter::new();
    let (ran_in, guard) = (ran.clone(), DropGuard(drops.clone()));
    let queued = rt.spawn_blocking(move || {
        let _guard = guard;
        ran_in.incr();
    });
    assert_eq!(rt.metrics().blocking_queue_depth(), 1);
    queued.abort();
    running.abort();
    release.open();

    assert_eq!(rt.block_on(running).unwrap(), "finished");
    let error = rt.block_on(queued).unwrap_err();
    assert!(error.is_cancelled(), "{error:?}");
    assert_eq!(ran.get(), 0);
    assert_eq!(drops.get(), 1);
    // The pool serves on.
    assert_eq!(rt.block_on(rt.spawn_blocking(|| 1)).unwrap(), 1);
}

/// Each closure (and what it captured) is dropped once: after running, or
/// unrun when the runtime shuts down first.
#[test]
fn closures_are_dropped_once() {
    let drops = Counter::new();
    {
        let rt = runtime(2);
        let closures: Vec<_> = (0..20)
            .map(|i| {
                let guard = DropGuard(drops.clone());
                rt.spawn_blocking(move || {
                    let _guard = guard;
                    i
                })
            })
            .collect();
        for (i, closure) in closures.into_iter().enumerate() {
            assert_eq!(rt.block_on(closure).unwrap(), i);
        }
    }
    assert_eq!(drops.get(), 20);
}

/// A blocking closure may itself block on the runtime's futures through
/// `Handle::block_on`, and a panic there stays inside the closure.
#[test]
fn block_on_inside_a_blocking_closure() {
    for_each_workers(|rt| {
        let value = rt
            .block_on(rt.spawn_blocking(|| {
                let handle = Handle::current();
                handle.block_on(async { weft::spawn(async { 5 }).await.unwrap() })
            }))
            .unwrap();
        assert_eq!(value, 5);
        let caught = rt
            .block_on(rt.spawn_blocking(|| {
                panic::catch_unwind(AssertUnwindSafe(|| {
                    Handle::current().block_on(async { panic!("inner") })
                }))
                .is_err()
            }))
            .unwrap();
        assert!(caught);
    });
}

/// A blocking thread whose keep-alive ran out is on its way out (here: in
/// `on_thread_stop`) when a closure is queued, at the pool's cap: the
/// closure must still run, on a new thread or on that one, not wait forever
/// in the queue with no thread to take it.
#[test]
fn a_closure_queued_while_the_last_thread_exits_still_runs() {
    let exiting = Counter::new();
    let let_go = Latch::new();
    let (exiting_in, let_go_in) = (exiting.clone(), let_go.clone());
    let name = unique_name("expiring");
    let name_in = name.clone();
    let rt = Runtime::builder()
        .worker_threads(1)
        .thread_name(name.clone())
        .max_blocking_threads(1)
        .thread_keep_alive(Duration::from_millis(10))
        .on_thread_stop(move || {
            // Only the blocking thread stops before the runtime is dropped;
            // hold it between leaving the pool and being counted out.
            if thread_name() == name_in && !let_go_in.is_open() {
                exiting_in.incr();
                let_go_in.wait();
            }
        })
        .build()
        .unwrap();
    assert_eq!(rt.block_on(rt.spawn_blocking(|| 1)).unwrap(), 1);
    // The keep-alive ran out: the thread is leaving.
    exiting.wait_for(1);
    let queued = rt.spawn_blocking(|| 2);
    let_go.open();
    wait_until("the queued closure to run", || queued.is_finished());
    assert_eq!(rt.block_on(queued).unwrap(), 2);
}

/// A keep-alive of `Duration::MAX` keeps idle threads until the runtime
/// goes, and the drop still collects them.
#[test]
fn a_keep_alive_of_duration_max_keeps_threads_until_the_drop() {
    let stops = Counter::new();
    let stops_in = stops.clone();
    let rt = Runtime::builder()
        .worker_threads(1)
        .thread_keep_alive(Duration::MAX)
        .on_thread_stop(move || {
            stops_in.incr();
        })
        .build()
        .unwrap();
    assert_eq!(rt.block_on(rt.spawn_blocking(|| 3)).unwrap(), 3);
    wait_until("the blocking thread to go idle", || {
        rt.metrics().num_idle_blocking_threads() == 1
    });
    assert_eq!(rt.block_on(rt.spawn_blocking(|| 4)).unwrap(), 4);
    assert_eq!(rt.metrics().num_blocking_threads(), 1);
    drop(rt);
    assert_eq!(stops.get(), 2, "one worker and one blocking thread");
}

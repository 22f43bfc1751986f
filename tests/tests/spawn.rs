//! Spawning: from where a task can be spawned, which runtime and which
//! threads run it, what it may return, and that a million of them complete.

mod common;

use std::any::Any;
use std::collections::HashSet;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Instant;

use common::*;
use weft::Handle;

#[test]
fn spawn_inside_a_task_uses_that_runtime() {
    for_each_workers(|rt| {
        let (outer, inner, workers) = rt.block_on(async {
            weft::spawn(async {
                let outer = thread_name();
                let (inner, workers) = weft::spawn(async {
                    (thread_name(), Handle::current().metrics().num_workers())
                })
                .await
                .unwrap();
                (outer, inner, workers)
            })
            .await
            .unwrap()
        });
        assert_eq!(outer, rt.name);
        assert_eq!(inner, rt.name);
        assert_eq!(workers, rt.workers);
    });
}

/// A task of runtime A spawns from inside `B::block_on`'s thread's reach:
/// the spawn follows the task (A), not the thread that awaits it (B).
#[test]
fn spawn_inside_a_task_ignores_the_runtime_awaiting_it() {
    for workers in WORKERS {
        let a = runtime(workers);
        let b = runtime(workers);
        let name = b.block_on(async {
            a.spawn(async { weft::spawn(async { thread_name() }).await.unwrap() })
                .await
                .unwrap()
        });
        assert_eq!(name, a.name);
    }
}

/// A worker of runtime B spawns through A's handle: the task runs on A.
#[test]
fn handle_spawn_from_another_runtimes_worker_runs_on_that_runtime() {
    for workers in WORKERS {
        let a = runtime(workers);
        let b = runtime(workers);
        let handle_a = a.handle().clone();
        let (spawner, spawned) = b.block_on(async {
            b.spawn(async move {
                let spawned = handle_a.spawn(async { thread_name() }).await.unwrap();
                (thread_name(), spawned)
            })
            .await
            .unwrap()
        });
        assert_eq!(spawner, b.name);
        assert_eq!(spawned, a.name);
    }
}

#[test]
fn runtime_spawn_from_outside_runs_on_a_worker() {
    for_each_workers(|rt| {
        let task = rt.spawn(async { thread_name() });
        assert_eq!(rt.block_on(task).unwrap(), rt.name);
        // Awaited from a thread that is in no runtime at all.
        let task = rt.spawn(async { thread_name() });
        assert_eq!(weft::block_on(task).unwrap(), rt.name);
    });
}

#[test]
fn handle_spawn_from_another_os_thread() {
    for_each_workers(|rt| {
        let handle = rt.handle().clone();
        let (tx, rx) = mpsc::channel();
        let thread = thread::spawn(move || {
            assert!(Handle::try_current().is_err());
            let sent = handle.spawn(async { (thread_name(), weft::task::id()) });
            tx.send(sent).unwrap();
            // And awaited on that thread, through the same handle.
            let task = handle.spawn(async { thread_name() });
            handle.block_on(task).unwrap()
        });
        let task = rx.recv().unwrap();
        let id = task.id();
        let (name, task_id) = rt.block_on(task).unwrap();
        assert_eq!(name, rt.name);
        assert_eq!(task_id, id);
        assert_eq!(thread.join().unwrap(), rt.name);
    });
}

#[test]
fn weft_spawn_outside_any_runtime_uses_the_global_runtime() {
    assert!(Handle::try_current().is_err());
    let task = weft::spawn(async { (thread_name(), Handle::try_current().is_ok()) });
    let (name, in_runtime) = weft::block_on(task).unwrap();
    assert_eq!(name, "weft-global");
    assert!(in_runtime);

    // From a fresh thread too, awaited there.
    let name = thread::spawn(|| weft::block_on(weft::spawn(async { thread_name() })).unwrap())
        .join()
        .unwrap();
    assert_eq!(name, "weft-global");
}

#[derive(Debug, PartialEq)]
struct NotClone(Vec<u8>);

#[test]
fn outputs_of_different_types() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let text = weft::spawn(async { String::from("text") });
            let numbers = weft::spawn(async { vec![1u64, 2, 3] });
            let unit = weft::spawn(async {});
            let boxed = weft::spawn(async { Box::new(5u8) as Box<dyn Any + Send> });
            let result = weft::spawn(async { Err::<u8, io::Error>(io::Error::other("no")) });
            let owned = weft::spawn(async { NotClone(vec![7; 1 << 16]) });
            let array = weft::spawn(async { [3u8; 4096] });
            // A task may return another task's handle.
            #[allow(clippy::async_yields_async)]
            let nested = weft::spawn(async { weft::spawn(async { 'x' }) });

            assert_eq!(text.await.unwrap(), "text");
            assert_eq!(numbers.await.unwrap(), [1, 2, 3]);
            unit.await.unwrap();
            assert_eq!(*boxed.await.unwrap().downcast::<u8>().unwrap(), 5);
            assert_eq!(result.await.unwrap().unwrap_err().to_string(), "no");
            assert_eq!(owned.await.unwrap(), NotClone(vec![7; 1 << 16]));
            assert_eq!(array.await.unwrap(), [3u8; 4096]);
            assert_eq!(nested.await.unwrap().await.unwrap(), 'x');
        });
    });
}

/// Every task runs on one of the runtime's workers, never on the thread
/// that spawned or awaits it.
#[test]
fn tasks_run_on_worker_threads() {
    for_each_workers(|rt| {
        let tasks: Vec<_> = (0..64)
            .map(|_| rt.spawn(async { (thread_name(), thread::current().id()) }))
            .collect();
        let seen: HashSet<_> = rt.block_on(async {
            let mut seen = HashSet::new();
            for task in tasks {
                let (name, id) = task.await.unwrap();
                assert_eq!(name, rt.name);
                assert_ne!(id, thread::current().id());
                seen.insert(id);
            }
            seen
        });
        assert!(seen.len() <= rt.workers, "{seen:?}");
    });
}

/// `workers` tasks that can only finish together (each waits for all the
/// others on a barrier) finish: each ran on its own worker at the same time.
#[test]
fn parallel_work_spreads_over_all_workers() {
    for workers in [2, 4] {
        let rt = runtime(workers);
        // From outside: through the global queue.
        let meet = Rendezvous::new(workers);
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let meet = meet.clone();
                rt.spawn(async move { (meet.wait(), thread::current().id()) })
            })
            .collect();
        let results: Vec<_> = tasks
            .into_iter()
            .map(|task| rt.block_on(task).unwrap())
            .collect();
        assert_spread(workers, &results);

        // From inside a task: into one worker's local queue, from which the
        // other workers must steal.
        let meet = Rendezvous::new(workers);
        let results = rt.block_on(async move {
            weft::spawn(async move {
                let tasks: Vec<_> = (0..workers)
                    .map(|_| {
                        let meet = meet.clone();
                        weft::spawn(async move { (meet.wait(), thread::current().id()) })
                    })
                    .collect();
                let mut results = Vec::new();
                for task in tasks {
                    results.push(task.await.unwrap());
                }
                results
            })
            .await
            .unwrap()
        });
        assert_spread(workers, &results);
    }
}

#[track_caller]
fn assert_spread(workers: usize, results: &[(bool, thread::ThreadId)]) {
    assert!(
        results.iter().all(|(met, _)| *met),
        "{workers} tasks did not all run at once on {workers} workers"
    );
    let threads: HashSet<_> = results.iter().map(|(_, id)| *id).collect();
    assert_eq!(threads.len(), workers);
}

/// The scale check: a million trivial tasks, spawned by several
/// tasks in parallel (and detached, as most fire-and-forget tasks are), all
/// run, and all leave the runtime.
#[test]
fn a_million_trivial_tasks_complete() {
    const TASKS: usize = 1_000_000;
    const SPAWNERS: usize = 8;
    const PER_SPAWNER: usize = TASKS / SPAWNERS;

    struct Tally {
        ran: AtomicUsize,
        sum: AtomicUsize,
        all_ran: Latch,
    }

    let rt = runtime(2);
    let tally = Arc::new(Tally {
        ran: AtomicUsize::new(0),
        sum: AtomicUsize::new(0),
        all_ran: Latch::default(),
    });
    let started = Instant::now();
    let spawners: Vec<_> = (0..SPAWNERS)
        .map(|spawner| {
            let tally = tally.clone();
            rt.spawn(async move {
                let first = spawner * PER_SPAWNER;
                for i in first..first + PER_SPAWNER {
                    let tally = tally.clone();
                    drop(weft::spawn(async move {
                        tally.sum.fetch_add(i, Ordering::Relaxed);
                        if tally.ran.fetch_add(1, Ordering::AcqRel) + 1 == TASKS {
                            tally.all_ran.open();
                        }
                    }));
                }
            })
        })
        .collect();
    for spawner in spawners {
        rt.block_on(spawner).unwrap();
    }
    tally.all_ran.wait();
    eprintln!("{TASKS} tasks on 2 workers: {:?}", started.elapsed());
    assert_eq!(tally.sum.load(Ordering::Relaxed), TASKS * (TASKS - 1) / 2);
    wait_until("every task to leave the runtime", || {
        rt.metrics().num_alive_tasks() == 0
    });
    assert_eq!(tally.ran.load(Ordering::Relaxed), TASKS);
}

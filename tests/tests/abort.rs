//! Aborting a task in each of its states: queued and never polled, idle,
//! woken and queued again, running (aborted by itself or from another
//! thread), and complete. In every case the future is dropped exactly once
//! and the handle tells what happened.

mod common;

use std::future::pending;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;

use common::*;
use weft::task::{yield_now, AbortHandle};

/// Spawned while every worker is busy, aborted before any worker got to it:
/// never polled, dropped once, cancelled.
#[test]
fn abort_before_the_first_poll() {
    for_each_workers(|rt| {
        let blocked = block_workers(rt);
        let polls = Counter::new();
        let drops = Counter::new();
        let guard = DropGuard(drops.clone());
        let task = rt.spawn(poll_count(&polls, async move {
            let _guard = guard;
        }));
        task.abort();
        blocked.release(rt);

        let error = rt.block_on(task).unwrap_err();
        assert!(error.is_cancelled(), "{error:?}");
        assert_eq!(polls.get(), 0, "an aborted task was polled");
        assert_eq!(drops.get(), 1);
    });
}

/// A task aborts a child it just spawned, before yielding its only worker:
/// the child is never polled.
#[test]
fn abort_a_child_before_its_first_poll() {
    let rt = runtime(1);
    let polls = Counter::new();
    let drops = Counter::new();
    let (child_polls, guard) = (polls.clone(), DropGuard(drops.clone()));
    let error = rt.block_on(rt.spawn(async move {
        let child = weft::spawn(poll_count(&child_polls, async move {
            let _guard = guard;
        }));
        child.abort();
        child.await.unwrap_err()
    }));
    assert!(error.unwrap().is_cancelled());
    assert_eq!(polls.get(), 0);
    assert_eq!(drops.get(), 1);
}

/// Pending on a future nobody will complete: the abort drops it.
#[test]
fn abort_while_idle() {
    for_each_workers(|rt| {
        let (opener, gate) = Gate::new();
        let polls = Counter::new();
        let drops = Counter::new();
        let guard = DropGuard(drops.clone());
        let mut task = rt.spawn(poll_count(&polls, async move {
            let _guard = guard;
            gate.await;
        }));
        opener.wait_polled(1);
        assert!(!task.is_finished());
        task.abort();

        let error = rt.block_on(&mut task).unwrap_err();
        assert!(error.is_cancelled(), "{error:?}");
        assert!(task.is_finished());
        assert_eq!(polls.get(), 1);
        assert_eq!(drops.get(), 1);
        // Its old waker fires into a finished task: nothing happens.
        opener.open();
        assert_eq!(polls.get(), 1);
    });
}

/// Woken (so queued again) but aborted before a worker polls it again.
#[test]
fn abort_while_woken_and_queued() {
    for_each_workers(|rt| {
        let (opener, gate) = Gate::new();
        let polls = Counter::new();
        let drops = Counter::new();
        let guard = DropGuard(drops.clone());
        let task = rt.spawn(poll_count(&polls, async move {
            let _guard = guard;
            gate.await;
        }));
        opener.wait_polled(1);
        let blocked = block_workers(rt);
        opener.open();
        task.abort();
        blocked.release(rt);

        let error = rt.block_on(task).unwrap_err();
        assert!(error.is_cancelled(), "{error:?}");
        assert_eq!(polls.get(), 1, "polled again after the abort");
        assert_eq!(drops.get(), 1);
    });
}

/// How a self-aborting task ends its poll.
#[derive(Clone, Copy, Debug)]
enum Then {
    /// `yield_now().await`: wakes itself, returns Pending.
    Yield,
    /// Pending with no wake-up registered.
    PendForever,
}

/// The task aborts itself through its own `AbortHandle`, then returns
/// Pending: the runtime drops the future when the poll returns, and the
/// code after the await never runs.
#[test]
fn abort_while_running_by_the_task_itself() {
    for then in [Then::Yield, Then::PendForever] {
        for_each_workers(|rt| {
            let (tx, rx) = mpsc::channel::<AbortHandle>();
            let polls = Counter::new();
            let drops = Counter::new();
            let guard = DropGuard(drops.clone());
            let finished_while_running = Arc::new(AtomicBool::new(true));
            let resumed = Arc::new(AtomicBool::new(false));
            let (finished, resumed_in_task) = (finished_while_running.clone(), resumed.clone());
            let task = rt.spawn(poll_count(&polls, async move {
                let _guard = guard;
                let me = rx.recv().unwrap();
                me.abort();
                finished.store(me.is_finished(), Ordering::SeqCst);
                match then {
                    Then::Yield => yield_now().await,
                    Then::PendForever => pending::<()>().await,
                }
                resumed_in_task.store(true, Ordering::SeqCst);
            }));
            tx.send(task.abort_handle()).unwrap();

            let error = rt.block_on(task).unwrap_err();
            assert!(error.is_cancelled(), "{then:?}: {error:?}");
            assert!(!finished_while_running.load(Ordering::SeqCst));
            assert!(
                !resumed.load(Ordering::SeqCst),
                "{then:?}: resumed after abort"
            );
            assert_eq!(polls.get(), 1, "{then:?}");
            assert_eq!(drops.get(), 1, "{then:?}");
        });
    }
}

/// A task that aborts itself and then completes in the same poll keeps its
/// output: it finished before the cancellation could take effect.
#[test]
fn abort_while_running_then_completing_keeps_the_output() {
    for_each_workers(|rt| {
        let (tx, rx) = mpsc::channel::<AbortHandle>();
        let drops = Counter::new();
        let guard = DropGuard(drops.clone());
        let task = rt.spawn(async move {
            let _guard = guard;
            rx.recv().unwrap().abort();
            "finished anyway"
        });
        tx.send(task.abort_handle()).unwrap();
        assert_eq!(rt.block_on(task).unwrap(), "finished anyway");
        assert_eq!(drops.get(), 1);
    });
}

/// Aborted from another thread while its poll is blocked: the poll runs to
/// its end, then the future is dropped instead of being polled again.
#[test]
fn abort_while_running_from_another_thread() {
    for_each_workers(|rt| {
        let running = Counter::new();
        let release = Latch::new();
        let polls = Counter::new();
        let drops = Counter::new();
        let guard = DropGuard(drops.clone());
        let resumed = Arc::new(AtomicBool::new(false));
        let (running_in_task, release_in_task, resumed_in_task) =
            (running.clone(), release.clone(), resumed.clone());
        let mut task = rt.spawn(poll_count(&polls, async move {
            let _guard = guard;
            running_in_task.incr();
            release_in_task.wait();
            yield_now().await;
            resumed_in_task.store(true, Ordering::SeqCst);
        }));
        running.wait_for(1);
        let abort = task.abort_handle();
        thread::spawn(move || abort.abort()).join().unwrap();
        assert!(!task.is_finished(), "finished while its poll was blocked");
        assert_eq!(drops.get(), 0, "the future was dropped while it ran");
        release.open();

        let error = rt.block_on(&mut task).unwrap_err();
        assert!(error.is_cancelled(), "{error:?}");
        assert!(task.is_finished());
        assert!(!resumed.load(Ordering::SeqCst));
        assert_eq!(polls.get(), 1);
        assert_eq!(drops.get(), 1);
    });
}

#[test]
fn abort_after_completion_does_nothing() {
    for_each_workers(|rt| {
        let drops = Counter::new();
        let guard = DropGuard(drops.clone());
        let task = rt.spawn(async move {
            let _guard = guard;
            5
        });
        let abort = task.abort_handle();
        wait_until("the task to finish", || abort.is_finished());
        task.abort();
        abort.abort();
        abort.clone().abort();
        assert!(task.is_finished());
        assert_eq!(rt.block_on(task).unwrap(), 5);
        assert_eq!(drops.get(), 1);
    });
}

/// Clones of one `AbortHandle` abort at once from several threads: the
/// future is dropped once.
#[test]
fn abort_from_several_threads_through_cloned_abort_handles() {
    for_each_workers(|rt| {
        let (opener, gate) = Gate::new();
        let drops = Counter::new();
        let guard = DropGuard(drops.clone());
        let task = rt.spawn(async move {
            let _guard = guard;
            gate.await;
        });
        opener.wait_polled(1);
        let abort = task.abort_handle();
        let start = Arc::new(Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (abort, start) = (abort.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    abort.abort();
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let error = rt.block_on(task).unwrap_err();
        assert!(error.is_cancelled());
        assert!(abort.is_finished());
        assert_eq!(drops.get(), 1);
    });
}

/// An `AbortHandle` still works after the `JoinHandle` was dropped.
#[test]
fn abort_a_detached_task_through_its_abort_handle() {
    for_each_workers(|rt| {
        let (opener, gate) = Gate::new();
        let drops = Counter::new();
        let guard = DropGuard(drops.clone());
        let task = rt.spawn(async move {
            let _guard = guard;
            gate.await;
        });
        let abort = task.abort_handle();
        drop(task);
        opener.wait_polled(1);
        abort.abort();
        drops.wait_for(1);
        wait_until("the aborted task to finish", || abort.is_finished());
        wait_until("the aborted task to leave the runtime", || {
            rt.metrics().num_alive_tasks() == 0
        });
        assert_eq!(drops.get(), 1);
    });
}

/// Many tasks aborted at once, in whatever state each is in: every future
/// is dropped once and every handle resolves.
#[test]
fn abort_many_tasks_in_mixed_states() {
    for_each_workers(|rt| {
        let drops = Counter::new();
        let mut openers = Vec::new();
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let guard = DropGuard(drops.clone());
                let (opener, gate) = Gate::new();
                openers.push(opener);
                rt.spawn(async move {
                    let _guard = guard;
                    if i % 2 == 0 {
                        gate.await;
                    }
                    yield_now().await;
                    i
                })
            })
            .collect();
        for (i, opener) in openers.iter().enumerate() {
            if i % 4 == 0 {
                opener.open();
            }
        }
        for task in &tasks {
            task.abort();
        }
        for (i, task) in tasks.into_iter().enumerate() {
            match rt.block_on(task) {
                Ok(output) => assert_eq!(output, i),
                Err(error) => assert!(error.is_cancelled(), "{error:?}"),
            }
        }
        assert_eq!(drops.get(), 200);
    });
}

/// The future's destructor panics when the abort drops it: the handle says
/// the task panicked, and the worker goes on serving.
#[test]
fn abort_a_task_whose_destructor_panics() {
    for_each_workers(|rt| {
        let (opener, gate) = Gate::new();
        let task = rt.spawn(async move {
            let _bomb = PanicOnDrop("destructor panicked");
            gate.await;
        });
        opener.wait_polled(1);
        task.abort();
        let error = rt.block_on(task).unwrap_err();
        assert!(error.is_panic(), "{error:?}");
        assert_eq!(
            *error.into_panic().downcast::<&str>().unwrap(),
            "destructor panicked"
        );
        let sum: usize = rt.block_on(async {
            let tasks: Vec<_> = (0..100).map(|i| weft::spawn(async move { i })).collect();
            let mut sum = 0;
            for task in tasks {
                sum += task.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, 4950);
    });
}

/// A future that wakes its own task while the abort drops it: the task is
/// not run again, its handle says cancelled, and nothing leaks.
#[test]
fn abort_a_task_that_wakes_itself_from_its_destructor() {
    for workers in WORKERS {
        let (rt, marker) = tracked_runtime(workers);
        let polls = Counter::new();
        let drops = Counter::new();
        let task = rt.spawn(WakesItselfOnDrop::new(&polls, &drops));
        polls.wait_for(1);
        task.abort();
        let error = rt.block_on(task).unwrap_err();
        assert!(error.is_cancelled(), "{error:?}");
        assert_eq!(drops.get(), 1);
        wait_until("the task to leave the runtime", || {
            rt.metrics().num_alive_tasks() == 0
        });
        // One more task goes through the same worker queues afterwards.
        assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
        assert_eq!(polls.get(), 1);
        drop(rt);
        assert_freed(&marker);
    }
}

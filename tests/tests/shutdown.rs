//! Shutdown: dropping a runtime (or `shutdown_timeout`) cancels every task
//! still alive, drops each future exactly once, runs `on_thread_stop` on
//! every thread, survives destructors that panic, spawn or wake, and leaks
//! nothing.

mod common;

use std::future::pending;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::thread;
use std::time::Duration;

use common::*;
use weft::task::JoinHandle;
use weft::{Handle, Runtime};

/// N tasks pending on futures nobody completes: the drop cancels them all,
/// drops each future once, and the handles (kept outside) say cancelled.
#[test]
fn dropping_the_runtime_cancels_pending_tasks() {
    const TASKS: usize = 20;
    for workers in WORKERS {
        let (rt, marker) = tracked_runtime(workers);
        let drops = Counter::new();
        let mut openers = Vec::new();
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (opener, gate) = Gate::new();
                openers.push(opener);
                let guard = DropGuard(drops.clone());
                rt.spawn(async move {
                    let _guard = guard;
                    gate.await;
                })
            })
            .collect();
        for opener in &openers {
            opener.wait_polled(1);
        }
        let metrics = rt.metrics();
        assert_eq!(metrics.num_alive_tasks(), TASKS);
        assert_eq!(drops.get(), 0);

        drop(rt);
        assert_eq!(drops.get(), TASKS, "{workers} workers");
        assert_eq!(metrics.num_alive_tasks(), 0);
        for task in tasks {
            assert!(task.is_finished());
            let error = weft::block_on(task).unwrap_err();
            assert!(error.is_cancelled(), "{error:?}");
        }
        // The gates still hold the dead tasks' wakers: waking them now does
        // nothing, and dropping them frees the last of each task.
        for opener in openers {
            opener.open();
        }
        assert_eq!(drops.get(), TASKS);
        drop(metrics);
        assert_freed(&marker);
    }
}

/// Tasks still queued (never polled) when the runtime goes down are
/// cancelled and dropped like idle ones.
#[test]
fn dropping_the_runtime_cancels_queued_tasks() {
    const TASKS: usize = 20;
    for workers in WORKERS {
        let (rt, marker) = tracked_runtime(workers);
        let blocked = block_workers(&rt);
        let drops = Counter::new();
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let guard = DropGuard(drops.clone());
                rt.spawn(async move {
                    let _guard = guard;
                    pending::<()>().await;
                })
            })
            .collect();
        assert_eq!(rt.metrics().num_alive_tasks(), TASKS + workers);
        // The drop waits for the blocked workers, so it runs on its own
        // thread; the workers are let go right after it starts. Whether they
        // see the shutdown before or after polling the queued tasks, each
        // task must end cancelled and dropped once.
        let dropper = thread::spawn(move || drop(rt));
        blocked.open();
        dropper.join().unwrap();
        assert_eq!(drops.get(), TASKS);
        for task in tasks {
            assert!(weft::block_on(task).unwrap_err().is_cancelled());
        }
        drop(blocked);
        assert_freed(&marker);
    }
}

#[test]
fn spawn_on_a_shut_down_runtime_is_cancelled() {
    for workers in WORKERS {
        let (rt, marker) = tracked_runtime(workers);
        let handle = rt.handle().clone();
        drop(rt);

        let polls = Counter::new();
        let drops = Counter::new();
        let guard = DropGuard(drops.clone());
        let task = handle.spawn(poll_count(&polls, async move {
            let _guard = guard;
            1
        }));
        assert!(task.is_finished());
        assert_eq!(drops.get(), 1, "the future was not dropped at once");
        let error = weft::block_on(task).unwrap_err();
        assert!(error.is_cancelled(), "{error:?}");
        assert_eq!(polls.get(), 0);

        let ran = Arc::new(AtomicBool::new(false));
        let ran_in_closure = ran.clone();
        let task = handle.spawn_blocking(move || ran_in_closure.store(true, Ordering::SeqCst));
        assert!(weft::block_on(task).unwrap_err().is_cancelled());
        assert!(!ran.load(Ordering::SeqCst));

        // Inside the dead runtime's block_on, spawning resolves to Cancelled
        // too, rather than hanging.
        let error = handle
            .block_on(async { weft::spawn(async { 1 }).await })
            .unwrap_err();
        assert!(error.is_cancelled());
        assert_eq!(handle.metrics().num_alive_tasks(), 0);

        drop(handle);
        assert_freed(&marker);
    }
}

/// `shutdown_timeout` returns while a blocking closure is still blocked
/// (the closure waits on a latch opened only after it returned), cancels
/// the async tasks, and the closure still finishes on its own thread.
#[test]
fn shutdown_timeout_returns_while_a_blocking_closure_runs() {
    for workers in WORKERS {
        let (rt, marker) = tracked_runtime(workers);
        let started = Counter::new();
        let release = Latch::new();
        let finished = Counter::new();
        let (started_in, release_in, finished_in) =
            (started.clone(), release.clone(), finished.clone());
        let blocking = rt.spawn_blocking(move || {
            started_in.incr();
            release_in.wait();
            finished_in.incr();
            "closure done"
        });
        let (opener, gate) = Gate::new();
        let drops = Counter::new();
        let guard = DropGuard(drops.clone());
        let task = rt.spawn(async move {
            let _guard = guard;
            gate.await;
        });
        started.wait_for(1);
        opener.wait_polled(1);

        rt.rt.shutdown_timeout(Duration::from_millis(50));
        assert_eq!(finished.get(), 0, "shutdown_timeout waited for the closure");
        assert_eq!(drops.get(), 1);
        assert!(weft::block_on(task).unwrap_err().is_cancelled());

        release.open();
        assert_eq!(weft::block_on(blocking).unwrap(), "closure done");
        assert_eq!(finished.get(), 1);
        drop(opener);
        // The detached blocking thread lets go of the runtime when it exits.
        wait_until("the detached blocking thread to exit", || {
            Arc::strong_count(&marker) == 1
        });
    }
}

/// Closures still waiting for a blocking thread at shutdown never run:
/// their handles say cancelled.
#[test]
fn shutdown_cancels_queued_blocking_closures() {
    let (rt, running, release) = runtime_with_its_blocking_thread_busy("ran");
    let ran = Counter::new();
    let queued: Vec<_> = (0..5)
        .map(|_| {
            let ran = ran.clone();
            rt.spawn_blocking(move || {
                ran.incr();
            })
        })
        .collect();
    assert_eq!(rt.metrics().blocking_queue_depth(), 5);
    rt.shutdown_timeout(Duration::from_millis(10));
    release.open();
    assert_eq!(weft::block_on(running).unwrap(), "ran");
    for task in queued {
        assert!(weft::block_on(task).unwrap_err().is_cancelled());
    }
    assert_eq!(ran.get(), 0);
}

#[test]
fn shutdown_timeout_with_nothing_blocking_cancels_tasks() {
    for workers in WORKERS {
        let rt = runtime(workers);
        let drops = Counter::new();
        let guard = DropGuard(drops.clone());
        let task = rt.spawn(async move {
            let _guard = guard;
            pending::<()>().await;
        });
        rt.rt.shutdown_timeout(Duration::from_secs(10));
        assert_eq!(drops.get(), 1);
        assert!(weft::block_on(task).unwrap_err().is_cancelled());
    }
}

/// Destructors that panic during shutdown: the drop of the runtime returns
/// normally, the other tasks are still dropped, and the panicking ones
/// report the panic through their handles.
#[test]
fn a_destructor_that_panics_during_shutdown_does_not_take_the_drop_down() {
    for workers in WORKERS {
        let (rt, marker) = tracked_runtime(workers);
        let drops = Counter::new();
        let mut openers = Vec::new();
        let mut bombs = Vec::new();
        let mut quiet = Vec::new();
        for i in 0..10 {
            let (opener, gate) = Gate::new();
            openers.push(opener);
            if i % 2 == 0 {
                bombs.push(rt.spawn(async move {
                    let _bomb = PanicOnDrop("boom in drop");
                    gate.await;
                }));
            } else {
                let guard = DropGuard(drops.clone());
                quiet.push(rt.spawn(async move {
                    let _guard = guard;
                    gate.await;
                }));
            }
        }
        for opener in &openers {
            opener.wait_polled(1);
        }
        // A finished task whose unread output panics when dropped.
        let output_bomb = rt.spawn(async { PanicOnDrop("boom in output drop") });
        let abort = output_bomb.abort_handle();
        wait_until("the task to finish", || abort.is_finished());

        drop(rt);
        assert_eq!(drops.get(), 5);
        for task in bombs {
            let error = weft::block_on(task).unwrap_err();
            assert!(error.is_panic(), "{error:?}");
            assert_eq!(
                *error.into_panic().downcast::<&str>().unwrap(),
                "boom in drop"
            );
        }
        for task in quiet {
            assert!(weft::block_on(task).unwrap_err().is_cancelled());
        }
        // Dropping the unread output panics inside the runtime's code, which
        // must not unwind into the caller.
        drop(output_bomb);
        drop((openers, abort));
        assert_freed(&marker);
    }
}

/// Spawns one more task (holding another of itself, `depth` deep) when
/// dropped.
struct SpawnOnDrop {
    handle: Handle,
    depth: usize,
    drops: Arc<Counter>,
    spawned: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Drop for SpawnOnDrop {
    fn drop(&mut self) {
        if self.depth == 0 {
            return;
        }
        let child = SpawnOnDrop {
            handle: self.handle.clone(),
            depth: self.depth - 1,
            drops: self.drops.clone(),
            spawned: self.spawned.clone(),
        };
        let guard = DropGuard(self.drops.clone());
        let task = self.handle.spawn(async move {
            let _child = child;
            let _guard = guard;
            pending::<()>().await;
        });
        self.spawned.lock().unwrap().push(task);
    }
}

/// Wakes a waker when dropped.
struct WakeOnDrop(Waker);

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        self.0.wake_by_ref();
    }
}

/// Destructors run by the shutdown spawn new tasks (which must be
/// cancelled at once, recursively) and wake other tasks (which may or may
/// not have been cancelled yet): the drop neither hangs nor leaks, and
/// every future created is dropped exactly once.
#[test]
fn destructors_that_spawn_and_wake_during_shutdown_do_not_hang_or_leak() {
    const PAIRS: usize = 10;
    const DEPTH: usize = 3;
    for workers in WORKERS {
        let (rt, marker) = tracked_runtime(workers);
        let drops = Counter::new();
        let spawned = Arc::new(Mutex::new(Vec::new()));
        let mut openers = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..PAIRS {
            let (opener, gate) = Gate::new();
            let guard = DropGuard(drops.clone());
            tasks.push(rt.spawn(async move {
                let _guard = guard;
                gate.await;
            }));
            opener.wait_polled(1);
            let woken = WakeOnDrop(opener.waker().unwrap());
            openers.push(opener);

            let (opener, gate) = Gate::new();
            let spawner = SpawnOnDrop {
                handle: rt.handle().clone(),
                depth: DEPTH,
                drops: drops.clone(),
                spawned: spawned.clone(),
            };
            let guard = DropGuard(drops.clone());
            tasks.push(rt.spawn(async move {
                let _woken = woken;
                let _spawner = spawner;
                let _guard = guard;
                gate.await;
            }));
            opener.wait_polled(1);
            openers.push(opener);
        }

        drop(rt);
        let spawned = std::mem::take(&mut *spawned.lock().unwrap());
        assert_eq!(spawned.len(), PAIRS * DEPTH);
        assert_eq!(drops.get(), 2 * PAIRS + PAIRS * DEPTH);
        for task in tasks.into_iter().chain(spawned) {
            assert!(weft::block_on(task).unwrap_err().is_cancelled());
        }
        drop(openers);
        assert_freed(&marker);
    }
}

/// A future dropped by the shutdown finds its runtime as the current one,
/// as it does when an abort drops it on a worker: `Handle::current()` works
/// and a `weft::spawn` from the destructor goes to the runtime being shut
/// down (so it is cancelled) rather than to the global runtime.
#[test]
fn destructors_run_by_the_shutdown_see_their_runtime() {
    type Seen = Arc<Mutex<Option<(bool, JoinHandle<String>)>>>;
    struct Probe(Seen);
    impl Drop for Probe {
        fn drop(&mut self) {
            let in_runtime = Handle::try_current().is_ok();
            let task = weft::spawn(async { thread_name() });
            *self.0.lock().unwrap() = Some((in_runtime, task));
        }
    }
    for workers in WORKERS {
        let rt = runtime(workers);
        let seen: Seen = Arc::new(Mutex::new(None));
        let probe = Probe(seen.clone());
        let (opener, gate) = Gate::new();
        let _task = rt.spawn(async move {
            let _probe = probe;
            gate.await;
        });
        opener.wait_polled(1);
        drop(rt);
        let (in_runtime, task) = seen.lock().unwrap().take().unwrap();
        let spawned = weft::block_on(task);
        assert!(
            in_runtime,
            "Handle::try_current() failed in a destructor run by the shutdown; \
             weft::spawn from it ran on {spawned:?}"
        );
        assert!(spawned.unwrap_err().is_cancelled());
    }
}

#[test]
fn on_thread_stop_runs_once_per_thread_at_drop() {
    for workers in WORKERS {
        let starts = Counter::new();
        let stops = Counter::new();
        let stopped_names = Arc::new(Mutex::new(Vec::new()));
        let name = unique_name("stop");
        let (starts_in, stops_in, names_in) =
            (starts.clone(), stops.clone(), stopped_names.clone());
        let rt = Runtime::builder()
            .worker_threads(workers)
            .thread_name(name.clone())
            .on_thread_start(move || {
                starts_in.incr();
            })
            .on_thread_stop(move || {
                names_in.lock().unwrap().push(thread_name());
                stops_in.incr();
            })
            .build()
            .unwrap();
        // Every worker is running a task, so every worker has started.
        let blocked = block_workers(&rt);
        assert_eq!(starts.get(), workers);
        blocked.release(&rt);
        // Two blocking threads, alive at the same time.
        let meet = Rendezvous::new(2);
        let closures: Vec<_> = (0..2)
            .map(|_| {
                let meet = meet.clone();
                rt.spawn_blocking(move || meet.wait())
            })
            .collect();
        for closure in closures {
            assert!(rt.block_on(closure).unwrap());
        }
        assert_eq!(starts.get(), workers + 2);
        assert_eq!(stops.get(), 0);

        drop(rt);
        assert_eq!(stops.get(), workers + 2);
        let names = stopped_names.lock().unwrap();
        assert!(names.iter().all(|n| *n == name), "{names:?}");
    }
}

/// The last reference to a runtime dropped inside one of its own tasks: the
/// shutdown cannot wait for the thread it runs on, but must neither hang nor
/// lose the other tasks.
#[test]
fn dropping_the_runtime_inside_its_own_task_does_not_hang() {
    for workers in WORKERS {
        let (rt, marker) = tracked_runtime(workers);
        let rt = Arc::new(rt);
        let drops = Counter::new();
        let guard = DropGuard(drops.clone());
        let (opener, gate) = Gate::new();
        let other = rt.spawn(async move {
            let _guard = guard;
            gate.await;
        });
        opener.wait_polled(1);
        let (go, go_gate) = Gate::new();
        let last = rt.clone();
        let dropper = rt.spawn(async move {
            go_gate.await;
            drop(last);
            "dropped"
        });
        go.wait_polled(1);
        drop(rt);
        go.open();
        // The task may complete or be cancelled by its own shutdown; either
        // way its handle must resolve.
        if let Ok(output) = weft::block_on(dropper) {
            assert_eq!(output, "dropped");
        }
        assert!(weft::block_on(other).unwrap_err().is_cancelled());
        assert_eq!(drops.get(), 1);
        drop((opener, go));
        // The worker that ran the shutdown cannot join itself: it exits on
        // its own, and then nothing is left.
        wait_until("the last worker to exit", || {
            Arc::strong_count(&marker) == 1
        });
    }
}

/// Futures that wake their own task while the shutdown drops them: the
/// drop finishes, each is dropped once, and nothing leaks.
#[test]
fn destructors_that_wake_their_own_task_during_shutdown() {
    for workers in WORKERS {
        let (rt, marker) = tracked_runtime(workers);
        let polls = Counter::new();
        let drops = Counter::new();
        let tasks: Vec<_> = (0..10)
            .map(|_| rt.spawn(WakesItselfOnDrop::new(&polls, &drops)))
            .collect();
        polls.wait_for(10);
        drop(rt);
        assert_eq!(drops.get(), 10);
        assert_eq!(polls.get(), 10);
        for task in tasks {
            assert!(weft::block_on(task).unwrap_err().is_cancelled());
        }
        assert_freed(&marker);
    }
}

/// `Duration::MAX` reads as "wait as long as it takes", as a drop does; it
/// must not overflow computing a deadline.
#[test]
fn shutdown_timeout_with_duration_max_waits_like_a_drop() {
    for workers in WORKERS {
        let rt = runtime(workers);
        let started = Counter::new();
        let release = Latch::new();
        let (started_in, release_in) = (started.clone(), release.clone());
        let blocking = rt.spawn_blocking(move || {
            started_in.incr();
            release_in.wait();
            "released"
        });
        let task = rt.spawn(pending::<()>());
        started.wait_for(1);
        // Let the closure go from another thread, so the wait has an end.
        let releaser = thread::spawn(move || release.open());
        rt.rt.shutdown_timeout(Duration::MAX);
        releaser.join().unwrap();
        assert!(blocking.is_finished(), "returned before the closure ended");
        assert_eq!(weft::block_on(blocking).unwrap(), "released");
        assert!(weft::block_on(task).unwrap_err().is_cancelled());
    }
}

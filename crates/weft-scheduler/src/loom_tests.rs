//! loom models: every interleaving (up to `LOOM_MAX_PREEMPTIONS`) of the
//! task state machine and of the workers' park/unpark protocol.
//!
//! Run with `ci/loom.sh` (`RUSTFLAGS="--cfg weft_loom"`). The queues are a
//! mutex-protected stand-in under loom (see `queue.rs`); everything else is
//! the real code, through the `sync` module.
//!
//! Leak checks: every task holds a clone of its scheduler handle, so the
//! handle's strong count falling back to one proves every task was freed.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use loom::sync::atomic::{AtomicBool, AtomicUsize};
use loom::sync::Arc;
use loom::thread;

use crate::sync::{self, Condvar, Mutex, Ordering};
use crate::task::JoinHandle;
use crate::test_util::Manual;
use crate::{Config, Park, Scheduler, Unpark};

/// Pending until `open`; stores its waker; counts polls and drops.
struct Gate {
    state: Arc<GateState>,
}

struct GateState {
    open: AtomicBool,
    polls: AtomicUsize,
    drops: AtomicUsize,
    waker: Mutex<Option<Waker>>,
}

impl Future for Gate {
    type Output = usize;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let polls = self.state.polls.fetch_add(1, Ordering::SeqCst) + 1;
        *self.state.waker.lock() = Some(cx.waker().clone());
        if self.state.open.load(Ordering::SeqCst) {
            Poll::Ready(polls)
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.state.drops.fetch_add(1, Ordering::SeqCst);
    }
}

impl GateState {
    fn new() -> Arc<GateState> {
        Arc::new(GateState {
            open: AtomicBool::new(false),
            polls: AtomicUsize::new(0),
            drops: AtomicUsize::new(0),
            waker: Mutex::new(None),
        })
    }

    fn open_and_wake(&self) {
        self.open.store(true, Ordering::SeqCst);
        let waker = self.waker.lock().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Runs `f` under loom and prints how many interleavings it explored, and
/// whether it explored them all or stopped at `LOOM_MAX_DURATION`.
/// Spawns a `Gate` on `sched`; returns its join handle and its state.
fn spawn_gate(sched: &Manual) -> (JoinHandle<usize>, Arc<GateState>) {
    let gate = GateState::new();
    let join = sched.spawn(Gate {
        state: gate.clone(),
    });
    (join, gate)
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    static ITERATIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    ITERATIONS.store(0, std::sync::atomic::Ordering::Relaxed);
    let started = std::time::Instant::now();
    builder.check(move || {
        ITERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f();
    });
    let elapsed = started.elapsed();
    let complete = match builder.max_duration {
        Some(limit) if elapsed >= limit => "stopped at LOOM_MAX_DURATION: partial",
        _ => "complete",
    };
    eprintln!(
        "loom: {} interleavings in {:.2?} ({complete})",
        ITERATIONS.load(std::sync::atomic::Ordering::Relaxed),
        elapsed
    );
}

#[test]
fn loom_wake_races_poll() {
    model(|| {
        let sched = Manual::new();
        let (mut join, gate) = spawn_gate(&sched);
        sched.run_all();

        let waker_side = {
            let gate = gate.clone();
            thread::spawn(move || gate.open_and_wake())
        };
        // Runs concurrently with the wake: may find the task queued or not,
        // may poll it while the waker fires.
        sched.run_all();
        waker_side.join().unwrap();
        sched.run_all();

        let output = loom::future::block_on(&mut join).unwrap();
        assert!(output >= 2, "opened after the first poll");
        drop(join);
        assert_eq!(gate.drops.load(Ordering::SeqCst), 1);
        *gate.waker.lock() = None;
        assert!(sched.all_tasks_freed());
    });
}

#[test]
fn loom_join_waker_races_completion() {
    model(|| {
        let sched = Manual::new();
        let (join, gate) = spawn_gate(&sched);
        sched.run_all();

        let runner = {
            let gate = gate.clone();
            let sched = sched.clone();
            thread::spawn(move || {
                gate.open_and_wake();
                sched.run_all();
            })
        };
        // Registers the join waker while the task may be completing; a lost
        // wake-up here is a deadlock loom reports.
        let output = loom::future::block_on(join).unwrap();
        assert_eq!(output, 2);
        runner.join().unwrap();
        sched.shutdown();
        *gate.waker.lock() = None;
        assert!(sched.all_tasks_freed());
    });
}

#[test]
fn loom_abort_races_run_and_join_drop() {
    model(|| {
        let sched = Manual::new();
        let (join, gate) = spawn_gate(&sched);
        let abort = join.abort_handle();

        let aborter = thread::spawn(move || abort.abort());
        let dropper = thread::spawn(move || drop(join));
        sched.run_all();
        aborter.join().unwrap();
        dropper.join().unwrap();
        sched.run_all();

        assert_eq!(
            gate.drops.load(Ordering::SeqCst),
            1,
            "the future is dropped exactly once"
        );
        *gate.waker.lock() = None;
        assert!(sched.all_tasks_freed());
    });
}

#[test]
fn loom_shutdown_races_wake() {
    model(|| {
        let sched = Manual::new();
        let (join, gate) = spawn_gate(&sched);
        sched.run_all();

        let waker_side = {
            let gate = gate.clone();
            thread::spawn(move || gate.open_and_wake())
        };
        sched.shutdown();
        waker_side.join().unwrap();
        sched.shutdown();

        let result = loom::future::block_on(join);
        assert!(result.unwrap_err().is_cancelled());
        assert_eq!(gate.drops.load(Ordering::SeqCst), 1);
        assert!(sched.all_tasks_freed());
    });
}

#[test]
fn loom_output_dropped_once_when_join_handle_races_completion() {
    struct Output(Arc<AtomicUsize>);
    impl Drop for Output {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    model(|| {
        let sched = Manual::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let output = Output(drops.clone());
        let join = sched.spawn(async move { output });
        let dropper = thread::spawn(move || drop(join));
        sched.run_all();
        dropper.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert!(sched.all_tasks_freed());
    });
}

#[test]
fn loom_join_handle_drop_races_completion_with_a_waker_set() {
    struct Joiner(AtomicUsize);
    impl std::task::Wake for Joiner {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    model(|| {
        let sched = Manual::new();
        let (mut join, gate) = spawn_gate(&sched);
        sched.run_all();
        let joiner = std::sync::Arc::new(Joiner(AtomicUsize::new(0)));
        let waker = Waker::from(joiner.clone());
        let polled = Pin::new(&mut join).poll(&mut Context::from_waker(&waker));
        assert!(polled.is_pending());
        drop(waker);

        let dropper = thread::spawn(move || drop(join));
        gate.open_and_wake();
        sched.run_all();
        dropper.join().unwrap();

        *gate.waker.lock() = None;
        assert!(sched.all_tasks_freed());
        // The join waker is gone too: dropped by the handle if it won the
        // race, else freed with the task.
        assert_eq!(std::sync::Arc::strong_count(&joiner), 1);
    });
}

/// A driver with nothing to drive, on loom's primitives so the model sees
/// every block and wake.
struct LoomPark(std::sync::Arc<LoomParkInner>);

struct LoomParkInner {
    woken: Mutex<bool>,
    condvar: Condvar,
}

impl Park for LoomPark {
    fn park(&mut self) {
        let mut woken = self.0.woken.lock();
        while !*woken {
            sync::wait(&self.0.condvar, &mut woken);
        }
        *woken = false;
    }

    fn park_timeout(&mut self, _timeout: Duration) {
        // loom has no time: a timed park only consumes a stored wake-up.
        *self.0.woken.lock() = false;
    }

    fn unparker(&self) -> std::sync::Arc<dyn Unpark> {
        self.0.clone()
    }
}

impl Unpark for LoomParkInner {
    fn unpark(&self) {
        *self.woken.lock() = true;
        self.condvar.notify_one();
    }
}

fn loom_scheduler(workers: usize) -> Scheduler {
    let park = LoomPark(std::sync::Arc::new(LoomParkInner {
        woken: Mutex::new(false),
        condvar: Condvar::new(),
    }));
    let config = Config {
        worker_threads: workers,
        ..Config::default()
    };
    Scheduler::start(config, Box::new(park)).unwrap()
}

#[test]
fn loom_remote_spawn_is_never_lost_while_the_worker_parks() {
    model(|| {
        let sched = loom_scheduler(1);
        let join = sched.handle().spawn(async { 7 });
        assert_eq!(loom::future::block_on(join).unwrap(), 7);
        drop(sched);
    });
}

#[test]
fn loom_work_spreads_and_no_worker_sleeps_through_it() {
    model(|| {
        let sched = loom_scheduler(2);
        let handle = sched.handle().clone();
        let join = sched.handle().spawn(async move {
            // Spawned from a worker: goes to its LIFO slot / local queue,
            // where the other worker may steal it.
            let inner = handle.spawn(async { 1 });
            inner.await.unwrap() + 1
        });
        assert_eq!(loom::future::block_on(join).unwrap(), 2);
        drop(sched);
    });
}

#[test]
fn loom_wake_from_a_foreign_thread_reaches_a_parked_worker() {
    model(|| {
        let sched = loom_scheduler(2);
        let gate = GateState::new();
        let join = sched.handle().spawn(Gate {
            state: gate.clone(),
        });
        let foreign = {
            let gate = gate.clone();
            thread::spawn(move || gate.open_and_wake())
        };
        let polls = loom::future::block_on(join).unwrap();
        assert!(polls >= 1);
        foreign.join().unwrap();
        drop(sched);
        assert_eq!(gate.drops.load(Ordering::SeqCst), 1);
    });
}

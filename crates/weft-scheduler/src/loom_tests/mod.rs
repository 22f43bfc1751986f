//! loom models: every interleaving (up to `LOOM_MAX_PREEMPTIONS`) of the
//! scheduler's concurrent protocols, in one module per group (`ci/loom.sh`
//! runs each group on its own, by module path):
//!
//! - `task_state`: the task state word and reference count (wake, poll,
//!   complete, abort, waker clones, JoinHandle drop, shutdown), on the
//!   hand-cranked [`Manual`] scheduler;
//! - `parking`: real workers parking and waking (idle/searching counts, the
//!   LIFO slot, stealing, the worker parked in the driver);
//! - `blocking`: the blocking pool's threads (keep-alive exit, shutdown);
//! - `watchdog`: the stall watchdog's sleep/wake handshake.
//!
//! Run with `ci/loom.sh` (`RUSTFLAGS="--cfg weft_loom"`). The queues are a
//! mutex-protected stand-in under loom (see `queue.rs`); everything else is
//! the real code, through the `sync` module. loom has no clock: a timed wait
//! is modelled as a wait that may time out at any point (see
//! `sync::wait_timeout`).
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

/// Spawns a `Gate` on `sched`; returns its join handle and its state.
fn spawn_gate(sched: &Manual) -> (JoinHandle<usize>, Arc<GateState>) {
    let gate = GateState::new();
    let join = sched.spawn(Gate {
        state: gate.clone(),
    });
    (join, gate)
}

/// Runs `f` under loom and prints the model's name (the test thread's),
/// how many interleavings it explored and how long that took, and whether
/// it explored them all or stopped at `LOOM_MAX_DURATION`.
fn model(f: impl Fn() + Sync + Send + 'static) {
    use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering::Relaxed};
    // Counted per call, not in a static: the test harness runs models in
    // parallel, and a shared counter mixes their counts.
    let iterations = std::sync::Arc::new(StdAtomicUsize::new(0));
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    let started = std::time::Instant::now();
    {
        let iterations = iterations.clone();
        builder.check(move || {
            iterations.fetch_add(1, Relaxed);
            f();
        });
    }
    let elapsed = started.elapsed();
    let complete = match builder.max_duration {
        Some(limit) if elapsed >= limit => "stopped at LOOM_MAX_DURATION: partial",
        _ => "complete",
    };
    let thread = std::thread::current();
    eprintln!(
        "loom: {}: {} interleavings in {:.2?} ({complete})",
        thread.name().unwrap_or("a model"),
        iterations.load(Relaxed),
        elapsed
    );
}

mod task_state;

mod parking;

mod blocking;

mod watchdog;

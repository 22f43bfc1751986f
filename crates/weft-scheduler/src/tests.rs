//! Unit tests of the task harness (driven by a hand-cranked scheduler, so
//! every interleaving asserted here is deterministic) and of the scheduler
//! as a whole. Small enough to run under Miri (`ci/miri.sh`).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crate::task::{self, Id, JoinHandle};
use crate::test_util::Manual;
use crate::{Config, Park, Scheduler, Unpark};

/// Counts wake-ups.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_join<T>(join: &mut JoinHandle<T>, waker: &Waker) -> Poll<Result<T, task::JoinError>> {
    Pin::new(join).poll(&mut Context::from_waker(waker))
}

/// Counts its drops.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A future that stays pending, hands its waker out, and counts polls.
struct Gate {
    polls: Arc<AtomicUsize>,
    waker: Arc<Mutex<Option<Waker>>>,
    open: Arc<std::sync::atomic::AtomicBool>,
    _drop: DropCounter,
}

impl Future for Gate {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        if self.open.load(Ordering::SeqCst) {
            return Poll::Ready(7);
        }
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

struct GateControl {
    polls: Arc<AtomicUsize>,
    waker: Arc<Mutex<Option<Waker>>>,
    open: Arc<std::sync::atomic::AtomicBool>,
    drops: Arc<AtomicUsize>,
}

fn gate() -> (Gate, GateControl) {
    let control = GateControl {
        polls: Arc::default(),
        waker: Arc::default(),
        open: Arc::default(),
        drops: Arc::default(),
    };
    let gate = Gate {
        polls: control.polls.clone(),
        waker: control.waker.clone(),
        open: control.open.clone(),
        _drop: DropCounter(control.drops.clone()),
    };
    (gate, control)
}

impl GateControl {
    fn waker(&self) -> Waker {
        self.waker
            .lock()
            .unwrap()
            .clone()
            .expect("the gate was polled")
    }
    fn polls(&self) -> usize {
        self.polls.load(Ordering::SeqCst)
    }
    fn drops(&self) -> usize {
        self.drops.load(Ordering::SeqCst)
    }
    fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

#[test]
fn task_runs_and_join_handle_reads_output() {
    let sched = Manual::new();
    let join_waker = Arc::new(CountingWaker::default());
    let waker = Waker::from(join_waker.clone());
    let mut join = sched.spawn(async { 40 + 2 });
    assert!(poll_join(&mut join, &waker).is_pending());
    assert!(!join.is_finished());
    assert_eq!(sched.run_all(), 1);
    assert!(join.is_finished());
    assert_eq!(
        join_waker.0.load(Ordering::SeqCst),
        1,
        "completion wakes the joiner once"
    );
    assert_eq!(
        poll_join(&mut join, &waker).map(Result::unwrap),
        Poll::Ready(42)
    );
    assert_eq!(sched.alive(), 0);
}

#[test]
fn waking_a_notified_task_queues_it_once() {
    let sched = Manual::new();
    let (gate, control) = gate();
    let _join = sched.spawn(gate);
    sched.run_all();
    assert_eq!(control.polls(), 1);
    let waker = control.waker();
    waker.wake_by_ref();
    waker.wake_by_ref();
    let by_value = waker.clone();
    by_value.wake();
    assert_eq!(sched.queued(), 1, "three wakes, one Notified");
    sched.run_all();
    assert_eq!(control.polls(), 2);
    drop(waker);
    sched.shutdown();
    assert_eq!(control.drops(), 1);
}

#[test]
fn wake_during_poll_requeues_as_a_yield() {
    struct WakeSelf(u32);
    impl Future for WakeSelf {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 == 0 {
                return Poll::Ready(());
            }
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    let sched = Manual::new();
    let mut join = sched.spawn(WakeSelf(3));
    assert_eq!(sched.run_all(), 4);
    assert_eq!(sched.yields(), 3);
    assert!(poll_join(&mut join, Waker::noop()).is_ready());
}

#[test]
fn abort_before_first_poll_drops_future_without_polling() {
    let sched = Manual::new();
    let (gate, control) = gate();
    let mut join = sched.spawn(gate);
    join.abort();
    assert_eq!(sched.queued(), 1, "already queued: abort adds nothing");
    sched.run_all();
    assert_eq!(control.polls(), 0);
    assert_eq!(control.drops(), 1);
    let Poll::Ready(Err(error)) = poll_join(&mut join, Waker::noop()) else {
        panic!("cancelled")
    };
    assert!(error.is_cancelled());
    assert_eq!(error.id(), join.id());
}

#[test]
fn abort_idle_task_schedules_its_cancellation() {
    let sched = Manual::new();
    let (gate, control) = gate();
    let mut join = sched.spawn(gate);
    sched.run_all();
    let abort = join.abort_handle();
    abort.abort();
    abort.abort();
    assert_eq!(sched.queued(), 1);
    assert_eq!(control.drops(), 0, "dropped by the runner, not by abort()");
    sched.run_all();
    assert_eq!(control.drops(), 1);
    assert!(abort.is_finished());
    let Poll::Ready(Err(error)) = poll_join(&mut join, Waker::noop()) else {
        panic!("cancelled")
    };
    assert!(error.is_cancelled());
}

#[test]
fn abort_while_running_drops_after_the_poll() {
    struct AbortSelf(
        Arc<Mutex<Option<crate::task::AbortHandle>>>,
        #[allow(dead_code)] DropCounter,
    );
    impl Future for AbortSelf {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
            self.0.lock().unwrap().as_ref().expect("handle set").abort();
            Poll::Pending
        }
    }
    let sched = Manual::new();
    let slot = Arc::new(Mutex::new(None));
    let drops = Arc::new(AtomicUsize::new(0));
    let mut join = sched.spawn(AbortSelf(slot.clone(), DropCounter(drops.clone())));
    *slot.lock().unwrap() = Some(join.abort_handle());
    assert_eq!(
        sched.run_all(),
        1,
        "cancelled at the end of its own poll, not requeued"
    );
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(matches!(poll_join(&mut join, Waker::noop()), Poll::Ready(Err(e)) if e.is_cancelled()));
}

#[test]
fn abort_after_completion_keeps_the_output() {
    let sched = Manual::new();
    let mut join = sched.spawn(async { "done" });
    sched.run_all();
    join.abort();
    assert_eq!(sched.queued(), 0);
    assert_eq!(
        poll_join(&mut join, Waker::noop()).map(Result::unwrap),
        Poll::Ready("done")
    );
}

#[test]
fn output_dropped_once_whether_or_not_the_handle_outlives_the_task() {
    let drops = Arc::new(AtomicUsize::new(0));
    // Handle dropped first: the completing task drops the output.
    let sched = Manual::new();
    let counter = DropCounter(drops.clone());
    drop(sched.spawn(async move { counter }));
    sched.run_all();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    // Task completes first: the handle drops the unread output.
    let counter = DropCounter(drops.clone());
    let join = sched.spawn(async move { counter });
    sched.run_all();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(join);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn panics_are_caught_and_reported() {
    let sched = Manual::new();
    let mut join = sched.spawn(async { panic!("boom") });
    sched.run_all();
    let Poll::Ready(Err(error)) = poll_join(&mut join, Waker::noop()) else {
        panic!("panicked")
    };
    assert!(error.is_panic());
    assert!(error.to_string().contains("boom"), "{error}");
    assert_eq!(*error.into_panic().downcast::<&str>().unwrap(), "boom");
}

#[test]
fn panic_in_drop_during_cancel_is_a_panic_error() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("drop failed");
        }
    }
    let sched = Manual::new();
    let guard = PanicOnDrop;
    let mut join = sched.spawn(async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    });
    sched.run_all();
    join.abort();
    sched.run_all();
    let Poll::Ready(Err(error)) = poll_join(&mut join, Waker::noop()) else {
        panic!("done")
    };
    assert!(error.is_panic());
}

#[test]
fn join_waker_is_replaced_when_polled_with_another() {
    let sched = Manual::new();
    let (gate, control) = gate();
    let mut join = sched.spawn(gate);
    let first = Arc::new(CountingWaker::default());
    let second = Arc::new(CountingWaker::default());
    assert!(poll_join(&mut join, &Waker::from(first.clone())).is_pending());
    assert!(poll_join(&mut join, &Waker::from(second.clone())).is_pending());
    sched.run_all();
    control.open();
    control.waker().wake();
    sched.run_all();
    assert_eq!(first.0.load(Ordering::SeqCst), 0);
    assert_eq!(second.0.load(Ordering::SeqCst), 1);
    assert_eq!(
        poll_join(&mut join, Waker::noop()).map(Result::unwrap),
        Poll::Ready(7)
    );
}

#[test]
fn shutdown_cancels_idle_and_queued_tasks_and_wakers_outlive_them() {
    let sched = Manual::new();
    let (idle, idle_control) = gate();
    let (queued, queued_control) = gate();
    let mut idle_join = sched.spawn(idle);
    sched.run_all();
    let mut queued_join = sched.spawn(queued);
    let stale = idle_control.waker();
    assert_eq!(sched.alive(), 2);
    sched.shutdown();
    assert_eq!(sched.alive(), 0);
    assert_eq!((idle_control.drops(), queued_control.drops()), (1, 1));
    assert_eq!(queued_control.polls(), 0);
    for join in [&mut idle_join, &mut queued_join] {
        assert!(matches!(poll_join(join, Waker::noop()), Poll::Ready(Err(e)) if e.is_cancelled()));
    }
    // A waker of a task that is gone frees it; waking it does nothing.
    stale.wake_by_ref();
    assert_eq!(sched.queued(), 0);
    drop((stale, idle_join, queued_join, idle_control, queued_control));
    assert!(sched.all_tasks_freed());
}

#[test]
fn spawn_after_close_is_cancelled_at_once() {
    let sched = Manual::new();
    sched.shutdown();
    let (gate, control) = gate();
    let (task, notified, mut join) = task::new_task(gate, sched.clone(), Id::next());
    let task = sched
        .owned()
        .bind(task, crate::site::SpawnInfo::test_info(), None)
        .expect_err("the list is closed");
    drop(notified);
    task.shutdown();
    assert_eq!(control.drops(), 1);
    assert!(matches!(poll_join(&mut join, Waker::noop()), Poll::Ready(Err(e)) if e.is_cancelled()));
}

#[test]
fn task_id_is_visible_while_polled() {
    let sched = Manual::new();
    let mut join = sched.spawn(async { crate::task::id() });
    assert!(crate::task::try_id().is_none());
    sched.run_all();
    let Poll::Ready(Ok(id)) = poll_join(&mut join, Waker::noop()) else {
        panic!("done")
    };
    assert_eq!(id, join.id());
}

/// A driver with nothing to drive.
#[derive(Default)]
struct TestPark(Arc<(Mutex<bool>, std::sync::Condvar)>);

impl Park for TestPark {
    fn park(&mut self) {
        let (lock, condvar) = &*self.0;
        let mut woken = lock.lock().unwrap();
        while !*woken {
            woken = condvar.wait(woken).unwrap();
        }
        *woken = false;
    }

    fn park_timeout(&mut self, timeout: Duration) {
        let (lock, condvar) = &*self.0;
        let mut woken = lock.lock().unwrap();
        if !*woken && !timeout.is_zero() {
            woken = condvar.wait_timeout(woken, timeout).unwrap().0;
        }
        *woken = false;
    }

    fn unparker(&self) -> Arc<dyn Unpark> {
        Arc::new(TestUnpark(self.0.clone()))
    }
}

struct TestUnpark(Arc<(Mutex<bool>, std::sync::Condvar)>);

impl Unpark for TestUnpark {
    fn unpark(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_one();
    }
}

fn scheduler(workers: usize) -> Scheduler {
    let config = Config {
        worker_threads: workers,
        ..Config::default()
    };
    Scheduler::start(config, Box::<TestPark>::default()).unwrap()
}

/// Blocks the test thread on a join handle.
fn wait<T>(join: JoinHandle<T>) -> Result<T, task::JoinError> {
    struct Unparker(std::thread::Thread);
    impl Wake for Unparker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unparker(std::thread::current())));
    let mut join = join;
    loop {
        if let Poll::Ready(output) = poll_join(&mut join, &waker) {
            return output;
        }
        std::thread::park();
    }
}

#[test]
fn scheduler_runs_tasks_that_spawn_and_wake_each_other() {
    let count = if cfg!(miri) { 20 } else { 2_000 };
    for workers in [1, 2, 4] {
        let sched = scheduler(workers);
        let handle = sched.handle().clone();
        let root = handle.clone().spawn(async move {
            let children: Vec<_> = (0..count)
                .map(|i| {
                    handle.spawn(async move {
                        crate::task::yield_now().await;
                        i
                    })
                })
                .collect();
            let mut sum = 0;
            for child in children {
                sum += child.await.unwrap();
            }
            sum
        });
        assert_eq!(wait(root).unwrap(), count * (count - 1) / 2);
        assert_eq!(sched.handle().metrics().num_alive_tasks(), 0);
    }
}

#[test]
fn scheduler_shutdown_cancels_pending_tasks() {
    let sched = scheduler(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let joins: Vec<_> = (0..8)
        .map(|_| {
            let counter = DropCounter(drops.clone());
            sched.handle().spawn(async move {
                let _counter = counter;
                std::future::pending::<()>().await;
            })
        })
        .collect();
    let handle = sched.handle().clone();
    drop(sched);
    assert_eq!(drops.load(Ordering::SeqCst), 8);
    for join in joins {
        assert!(wait(join).unwrap_err().is_cancelled());
    }
    let (gate, control) = gate();
    assert!(wait(handle.spawn(gate)).unwrap_err().is_cancelled());
    assert_eq!(control.drops(), 1);
}

#[test]
fn blocking_pool_runs_closures_and_shuts_down() {
    let sched = scheduler(1);
    let join = sched
        .handle()
        .spawn_blocking(|| std::thread::current().name().map(str::to_owned));
    assert_eq!(wait(join).unwrap().as_deref(), Some("weft-worker"));
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let (started_tx, started) = std::sync::mpsc::channel::<()>();
    let stuck = sched.handle().spawn_blocking(move || {
        started_tx.send(()).unwrap();
        blocked.recv().is_ok()
    });
    // Only a closure that has started outlives shutdown; a queued one is
    // cancelled.
    started.recv().unwrap();
    sched.shutdown(Some(Duration::from_millis(1)));
    drop(release);
    assert!(!wait(stuck).unwrap(), "the closure ran to the end");
    assert!(wait(sched.handle().spawn_blocking(|| 1))
        .unwrap_err()
        .is_cancelled());
}

#[test]
fn zero_workers_is_an_error() {
    let config = Config {
        worker_threads: 0,
        ..Config::default()
    };
    let error = Scheduler::start(config, Box::<TestPark>::default()).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("worker_threads"));
}

#[test]
fn a_panicking_thread_hook_does_not_kill_the_worker() {
    let config = Config {
        worker_threads: 1,
        on_thread_start: Some(Arc::new(|| panic!("start hook failed"))),
        on_thread_stop: Some(Arc::new(|| panic!("stop hook failed"))),
        ..Config::default()
    };
    let sched = Scheduler::start(config, Box::<TestPark>::default()).unwrap();
    assert_eq!(wait(sched.handle().spawn(async { 5 })).unwrap(), 5);
    assert_eq!(wait(sched.handle().spawn_blocking(|| 6)).unwrap(), 6);
    drop(sched);
}

#[test]
fn dropping_the_scheduler_on_its_own_blocking_thread_does_not_wait_for_itself() {
    let sched = scheduler(1);
    let handle = sched.handle().clone();
    let (done_tx, done) = std::sync::mpsc::channel();
    let sched = Mutex::new(Some(sched));
    let sched = Arc::new(sched);
    let inside = sched.clone();
    drop(handle.spawn_blocking(move || {
        let owned = inside.lock().unwrap().take().unwrap();
        drop(owned);
        done_tx.send(()).unwrap();
    }));
    drop(sched);
    done.recv_timeout(Duration::from_secs(20))
        .expect("the shutdown from a blocking thread returned");
}

#[test]
fn dropping_a_join_handle_drops_its_waker_at_once() {
    let sched = Manual::new();
    let (gate, control) = gate();
    let mut join = sched.spawn(gate);
    let joiner = Arc::new(CountingWaker::default());
    assert!(poll_join(&mut join, &Waker::from(joiner.clone())).is_pending());
    assert_eq!(
        Arc::strong_count(&joiner),
        2,
        "the task holds the join waker"
    );
    drop(join);
    assert_eq!(
        Arc::strong_count(&joiner),
        1,
        "a dropped JoinHandle takes its waker back at once"
    );
    sched.shutdown();
    drop(control);
    assert!(sched.all_tasks_freed());
}

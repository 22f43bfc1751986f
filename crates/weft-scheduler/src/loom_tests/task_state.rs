//! The task state word and reference count, on the hand-cranked scheduler.

use super::*;

/// A waker fired from another thread while the task is queued or being
/// polled: the task still completes, having seen the gate open, and its
/// future is dropped once and the task freed.
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

/// `JoinHandle` polled (registering its waker) while the task completes on
/// another thread: the join waker is never lost (a lost one deadlocks).
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

/// `abort`, a run and the `JoinHandle` drop all at once: the future is
/// dropped exactly once and the task freed.
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

/// Shutdown cancelling a task while a waker fires: the join reports
/// cancelled, the future is dropped once, the task freed.
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

/// The `JoinHandle` dropped while the task stores its output: the output is
/// dropped exactly once (by whichever side owns it last).
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

/// `JoinHandle` with a registered waker dropped while the task completes:
/// the join waker is dropped too (not leaked), and the task freed.
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

/// Clones of the task's waker woken and dropped on one thread while the
/// task completes on another and its `JoinHandle` is dropped on a third:
/// every reference (run, waker clones, handle) is released, the last one
/// frees the task (a missed release leaks it, and the scheduler clone it
/// holds: `all_tasks_freed` fails), and the future is dropped exactly
/// once. The task completes, polled at most once more per wake.
#[test]
fn loom_waker_clones_race_completion_and_join_drop() {
    model(|| {
        let sched = Manual::new();
        let (join, gate) = spawn_gate(&sched);
        sched.run_all();
        let waker = gate
            .waker
            .lock()
            .clone()
            .expect("the first poll stored a waker");

        let waker_side = {
            let gate = gate.clone();
            thread::spawn(move || {
                let clone = waker.clone();
                gate.open.store(true, Ordering::SeqCst);
                clone.wake();
                waker.wake_by_ref();
                drop(waker);
            })
        };
        let dropper = thread::spawn(move || drop(join));
        // Races the wakes: may poll before the gate opens (and be woken
        // again), or run the woken task to completion.
        sched.run_all();
        waker_side.join().unwrap();
        dropper.join().unwrap();
        sched.run_all();

        let polls = gate.polls.load(Ordering::SeqCst);
        assert!((2..=3).contains(&polls), "polled {polls} times");
        assert_eq!(gate.drops.load(Ordering::SeqCst), 1, "future dropped once");
        *gate.waker.lock() = None;
        assert!(sched.all_tasks_freed());
    });
}

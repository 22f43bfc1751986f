//! Every bad-input rule of DESIGN.md: a clear error, never a hang or a
//! silent loss. `block_on` on a worker, zero-valued options,
//! `WEFT_WORKER_THREADS` that is not a positive integer, `Handle::current()`
//! outside a runtime, spawning on a shut-down runtime, and panicking tasks.

mod common;

use std::io;
use std::process::Command;
use std::thread;

use common::*;
use weft::{Handle, Runtime};

/// The text of a panic payload.
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => (*payload.downcast::<&str>().expect("a text payload")).to_owned(),
    }
}

/// `block_on` inside a task would stall the worker: it panics (inside the
/// task, so the handle reports it) with a message that says to `.await`.
#[test]
fn block_on_on_a_worker_thread_panics_with_an_await_hint() {
    for_each_workers(|rt| {
        let other = runtime(1);
        let other_handle = other.handle().clone();
        let attempts: Vec<(&str, weft::task::JoinHandle<()>)> = vec![
            (
                "Handle::current().block_on",
                rt.spawn(async { Handle::current().block_on(async {}) }),
            ),
            (
                "weft::block_on",
                rt.spawn(async { weft::block_on(async {}) }),
            ),
            (
                "another runtime's block_on",
                rt.spawn(async move { other_handle.block_on(async {}) }),
            ),
        ];
        for (what, task) in attempts {
            let error = rt.block_on(task).unwrap_err();
            assert!(error.is_panic(), "{what}: {error:?}");
            let text = panic_text(error.into_panic());
            assert!(text.contains(".await"), "{what}: {text}");
            assert!(text.contains("block_on"), "{what}: {text}");
        }
        // The workers that refused are still serving.
        assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
    });
}

#[test]
fn zero_valued_options_are_invalid_input_naming_the_option() {
    type SetZero = fn(&mut weft::Builder);
    let cases: [(&str, SetZero); 4] = [
        ("worker_threads", |b| {
            b.worker_threads(0);
        }),
        ("max_blocking_threads", |b| {
            b.max_blocking_threads(0);
        }),
        ("event_interval", |b| {
            b.event_interval(0);
        }),
        ("global_queue_interval", |b| {
            b.global_queue_interval(0);
        }),
    ];
    for (option, set_zero) in cases {
        let mut builder = Runtime::builder();
        builder.worker_threads(1);
        set_zero(&mut builder);
        let error = builder.build().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{option}");
        assert!(error.to_string().contains(option), "{option}: {error}");
        // Fixing the option makes the same builder work.
        builder
            .worker_threads(1)
            .max_blocking_threads(1)
            .event_interval(1)
            .global_queue_interval(1);
        let rt = builder.build().unwrap();
        assert_eq!(rt.block_on(rt.spawn(async { 2 })).unwrap(), 2);
    }
}

#[test]
#[should_panic(expected = "there is no weft runtime on this thread")]
fn handle_current_outside_a_runtime_panics() {
    let _ = Handle::current();
}

/// The panic says how to get into a runtime.
#[test]
fn handle_current_outside_a_runtime_says_how_to_enter_one() {
    let text = thread::spawn(|| Handle::current())
        .join()
        .map(|_| ())
        .map_err(panic_text)
        .unwrap_err();
    for hint in ["#[weft::main]", "Runtime::block_on", "weft::block_on"] {
        assert!(text.contains(hint), "missing {hint:?} in {text:?}");
    }
    let error = Handle::try_current().unwrap_err();
    assert_eq!(error.to_string(), text);
}

#[test]
fn try_current_is_err_outside_and_ok_inside_every_kind_of_runtime_thread() {
    for_each_workers(|rt| {
        assert!(Handle::try_current().is_err());
        let in_block_on = rt.block_on(async {
            Handle::try_current()
                .map(|h| h.metrics().num_workers())
                .ok()
        });
        assert_eq!(in_block_on, Some(rt.workers));
        // Left again when block_on returns.
        assert!(Handle::try_current().is_err());

        let in_task = rt.block_on(rt.spawn(async {
            Handle::try_current()
                .map(|h| h.metrics().num_workers())
                .ok()
        }));
        assert_eq!(in_task.unwrap(), Some(rt.workers));

        let in_blocking = rt.block_on(rt.spawn_blocking(|| {
            Handle::try_current()
                .map(|h| h.metrics().num_workers())
                .ok()
        }));
        assert_eq!(in_blocking.unwrap(), Some(rt.workers));

        // A plain thread spawned from a task is in no runtime.
        let in_plain_thread = rt.block_on(rt.spawn(async {
            thread::spawn(|| Handle::try_current().is_ok())
                .join()
                .unwrap()
        }));
        assert!(!in_plain_thread.unwrap());
    });
}

/// A nested `block_on` on the same (non-worker) thread leaves the outer
/// runtime current again when it returns.
#[test]
fn nested_block_on_restores_the_outer_runtime() {
    let outer = runtime(1);
    let inner = runtime(2);
    let (during, after) = outer.block_on(async {
        let during = inner.block_on(async { Handle::current().metrics().num_workers() });
        (during, Handle::current().metrics().num_workers())
    });
    assert_eq!((during, after), (2, 1));
}

/// A task that panics gives `is_panic`, and its worker goes on serving: on
/// one worker, the same thread then runs a hundred more tasks.
#[test]
fn a_panicking_task_is_reported_and_its_worker_keeps_serving() {
    for_each_workers(|rt| {
        let (tx, rx) = std::sync::mpsc::channel();
        let failed = rt.spawn(async move {
            tx.send(thread::current().id()).unwrap();
            panic!("task {}", std::hint::black_box("failed"));
        });
        let error = rt.block_on(failed).unwrap_err();
        assert!(error.is_panic());
        assert!(!error.is_cancelled());
        assert_eq!(panic_text(error.into_panic()), "task failed");
        let panicked_on = rx.recv().unwrap();

        let threads = rt.block_on(async {
            let tasks: Vec<_> = (0..100)
                .map(|_| weft::spawn(async { thread::current().id() }))
                .collect();
            let mut threads = Vec::new();
            for task in tasks {
                threads.push(task.await.unwrap());
            }
            threads
        });
        assert_eq!(threads.len(), 100);
        if rt.workers == 1 {
            assert!(threads.iter().all(|id| *id == panicked_on));
        }
    });
}

/// Panics from a future's destructor (after it completed, or when a
/// detached task's output is dropped) do not take the worker down.
#[test]
fn a_panic_in_a_tasks_drop_does_not_take_the_runtime_down() {
    for_each_workers(|rt| {
        // The future's destructor panics right after it returned Ready.
        let task = rt.spawn(async {
            let _bomb = PanicOnDrop("future drop");
            1
        });
        let error = rt.block_on(task).unwrap_err();
        assert!(error.is_panic(), "{error:?}");
        // A detached task whose output panics when the runtime drops it.
        let drops = Counter::new();
        let guard = DropGuard(drops.clone());
        drop(rt.spawn(async move {
            let _guard = guard;
            PanicOnDrop("output drop")
        }));
        drops.wait_for(1);
        wait_until("the detached task to leave the runtime", || {
            rt.metrics().num_alive_tasks() == 0
        });
        let sum = rt.block_on(async {
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

/// The short form of the rule (shutdown.rs has the details): a spawn on a
/// runtime that shut down resolves to Cancelled instead of being lost.
#[test]
fn spawn_on_a_shut_down_runtime_resolves_to_cancelled() {
    let rt = runtime(2);
    let handle = rt.handle().clone();
    drop(rt);
    let error = weft::block_on(handle.spawn(async { 1 })).unwrap_err();
    assert!(error.is_cancelled());
}

const CHILD_ENV: &str = "WEFT_WORKER_THREADS";

/// Runs in a child process with `WEFT_WORKER_THREADS` set (see the test
/// below), and also in a plain run, where it checks whatever the variable
/// holds there. Prints the outcome for the parent to check.
#[test]
fn builder_follows_weft_worker_threads() {
    let value = std::env::var(CHILD_ENV);
    let built = Runtime::builder().build();
    let valid = value.as_ref().map(|v| v.trim().parse::<usize>());
    match valid {
        Err(_) => {
            let cpus = thread::available_parallelism().map_or(1, |n| n.get());
            assert_eq!(built.unwrap().metrics().num_workers(), cpus);
            println!("child-outcome: default");
        }
        Ok(Ok(count)) if count > 0 => {
            let workers = built.unwrap().metrics().num_workers();
            assert_eq!(workers, count);
            println!("child-outcome: workers={workers}");
        }
        Ok(_) => {
            let error = built.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
            let text = error.to_string();
            assert!(text.contains(CHILD_ENV), "{text}");
            assert!(text.contains(value.as_ref().unwrap().as_str()), "{text}");
            println!("child-outcome: InvalidInput");
        }
    }
    // An explicit count wins over the variable, even a bad one.
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    assert_eq!(rt.metrics().num_workers(), 2);
}

/// Re-runs `builder_follows_weft_worker_threads` in a child process with
/// the variable set (the environment is process-wide, so it cannot be set
/// here without racing the other tests).
#[test]
fn weft_worker_threads_is_checked_in_a_child_process() {
    let cases = [
        ("3", "child-outcome: workers=3"),
        (" 2 ", "child-outcome: workers=2"),
        ("0", "child-outcome: InvalidInput"),
        ("garbage", "child-outcome: InvalidInput"),
        ("-1", "child-outcome: InvalidInput"),
        ("", "child-outcome: InvalidInput"),
    ];
    for (value, expected) in cases {
        let output = Command::new(std::env::current_exe().unwrap())
            .env(CHILD_ENV, value)
            .args([
                "--exact",
                "builder_follows_weft_worker_threads",
                "--nocapture",
                "--test-threads=1",
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{CHILD_ENV}={value:?}: child failed\n{stdout}\n{stderr}"
        );
        assert!(
            stdout.contains(expected) && stdout.contains("1 passed"),
            "{CHILD_ENV}={value:?}: expected {expected:?}\n{stdout}\n{stderr}"
        );
    }
}

/// In the child: the global runtime follows the variable too, and a bad
/// value makes its first use panic with a message naming the variable.
#[test]
fn global_runtime_follows_weft_worker_threads() {
    let value = std::env::var(CHILD_ENV);
    let outcome = std::panic::catch_unwind(|| {
        weft::block_on(async { Handle::current().metrics().num_workers() })
    });
    match value.as_ref().map(|v| v.trim().parse::<usize>()) {
        Err(_) => {
            let cpus = thread::available_parallelism().map_or(1, |n| n.get());
            assert_eq!(outcome.unwrap(), cpus);
            println!("child-outcome: default");
        }
        Ok(Ok(count)) if count > 0 => {
            assert_eq!(outcome.unwrap(), count);
            println!("child-outcome: workers={count}");
        }
        Ok(_) => {
            let text = panic_text(outcome.unwrap_err());
            assert!(text.contains("global runtime"), "{text}");
            assert!(text.contains(CHILD_ENV), "{text}");
            println!("child-outcome: panicked");
        }
    }
}

#[test]
fn weft_worker_threads_for_the_global_runtime_is_checked_in_a_child_process() {
    for (value, expected) in [
        ("3", "child-outcome: workers=3"),
        ("0", "child-outcome: panicked"),
        ("garbage", "child-outcome: panicked"),
    ] {
        let output = Command::new(std::env::current_exe().unwrap())
            .env(CHILD_ENV, value)
            .args([
                "--exact",
                "global_runtime_follows_weft_worker_threads",
                "--nocapture",
                "--test-threads=1",
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && stdout.contains(expected),
            "{CHILD_ENV}={value:?}: expected {expected:?}\n{stdout}\n{stderr}"
        );
    }
}

/// A future that panics while polled and again while dropped: one panic is
/// reported (the poll's), the second is contained, the worker serves on.
#[test]
fn a_task_that_panics_in_poll_and_in_drop() {
    for_each_workers(|rt| {
        let task = rt.spawn(async {
            let _bomb = PanicOnDrop("drop after a poll panic");
            panic!("poll {}", std::hint::black_box("panic"));
        });
        let error = rt.block_on(task).unwrap_err();
        assert!(error.is_panic());
        assert_eq!(panic_text(error.into_panic()), "poll panic");
        assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
    });
}

/// Wakes by panicking.
struct PanickingWaker;

impl std::task::Wake for PanickingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        panic!("a join waker panicked");
    }
}

/// The waker of whoever awaits a task panics when the task completes: the
/// worker that completed it lives on, and the output is still there.
#[test]
fn a_join_waker_that_panics_does_not_take_the_worker_down() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    for_each_workers(|rt| {
        let (opener, gate) = Gate::new();
        let mut task = rt.spawn(async move {
            gate.await;
            "output"
        });
        let waker = Waker::from(std::sync::Arc::new(PanickingWaker));
        let mut cx = Context::from_waker(&waker);
        assert!(std::pin::Pin::new(&mut task).poll(&mut cx).is_pending());
        opener.open();
        wait_until("the task to finish", || task.is_finished());
        // Every worker still runs tasks.
        let meet = Rendezvous::new(rt.workers);
        let tasks: Vec<_> = (0..rt.workers)
            .map(|_| {
                let meet = meet.clone();
                rt.spawn(async move { meet.wait() })
            })
            .collect();
        for each in tasks {
            assert!(rt.block_on(each).unwrap());
        }
        match std::pin::Pin::new(&mut task).poll(&mut cx) {
            Poll::Ready(output) => assert_eq!(output.unwrap(), "output"),
            Poll::Pending => panic!("a finished task's handle is pending"),
        }
    });
}

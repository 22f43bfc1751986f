//! `JoinHandle` and `JoinError`: awaiting output, `is_finished`, ids,
//! panics and cancellations, detaching, and awaiting across runtimes.

mod common;

use std::future::{pending, poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};

use common::*;
use weft::task::{self, JoinError};

#[test]
fn await_gives_the_output() {
    for_each_workers(|rt| {
        assert_eq!(rt.block_on(rt.spawn(async { 40 + 2 })).unwrap(), 42);
        let sum = rt.block_on(async {
            let tasks: Vec<_> = (0..100u64).map(|i| weft::spawn(async move { i })).collect();
            let mut sum = 0;
            for task in tasks {
                sum += task.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, 4950);
    });
}

#[test]
fn is_finished_before_and_after_completion() {
    for_each_workers(|rt| {
        let (opener, gate) = Gate::new();
        let mut task = rt.spawn(async move {
            gate.await;
            "done"
        });
        opener.wait_polled(1);
        assert!(!task.is_finished());
        assert!(!task.abort_handle().is_finished());

        opener.open();
        // Awaiting by reference keeps the handle.
        assert_eq!(rt.block_on(&mut task).unwrap(), "done");
        assert!(task.is_finished());
        assert!(task.abort_handle().is_finished());
    });
}

#[test]
fn id_matches_the_id_seen_inside_the_task() {
    for_each_workers(|rt| {
        let tasks: Vec<_> = (0..20).map(|_| rt.spawn(async { task::id() })).collect();
        let mut ids = std::collections::HashSet::new();
        for task in tasks {
            let id = task.id();
            assert_eq!(task.abort_handle().id(), id);
            assert_eq!(rt.block_on(task).unwrap(), id);
            assert!(ids.insert(id), "task id {id} given twice");
        }
        // `try_id` is `None` outside a task, `Some` inside.
        assert_eq!(task::try_id(), None);
        let task = rt.spawn(async { task::try_id() });
        let id = task.id();
        assert_eq!(rt.block_on(task).unwrap(), Some(id));
    });
}

/// The handle's `Debug` names the task, so logs can be matched up.
#[test]
fn join_handle_debug_shows_the_id() {
    let rt = runtime(1);
    let task = rt.spawn(async {});
    let id = task.id();
    assert!(format!("{task:?}").contains(&id.to_string()), "{task:?}");
    assert!(format!("{:?}", task.abort_handle()).contains(&id.to_string()));
    rt.block_on(task).unwrap();
}

#[test]
fn join_error_display_and_debug_mention_the_task_id() {
    let rt = runtime(2);

    let cancelled = rt.spawn(pending::<()>());
    let id = cancelled.id();
    cancelled.abort();
    let error = rt.block_on(cancelled).unwrap_err();
    assert_eq!(error.id(), id);
    let (display, debug) = (error.to_string(), format!("{error:?}"));
    assert!(display.contains(&id.to_string()), "{display}");
    assert!(display.contains("cancelled"), "{display}");
    assert!(debug.contains(&id.to_string()), "{debug}");
    assert!(debug.contains("Cancelled"), "{debug}");

    let panicked = rt.spawn(async { panic!("boom {}", std::hint::black_box(7)) });
    let id = panicked.id();
    let error = rt.block_on(panicked).unwrap_err();
    assert_eq!(error.id(), id);
    let (display, debug) = (error.to_string(), format!("{error:?}"));
    assert!(display.contains(&id.to_string()), "{display}");
    assert!(
        display.contains("panicked") && display.contains("boom 7"),
        "{display}"
    );
    assert!(debug.contains(&id.to_string()), "{debug}");
    assert!(
        debug.contains("Panic") && debug.contains("boom 7"),
        "{debug}"
    );

    // A payload that is not text still gets an id.
    let opaque = rt.spawn(async { std::panic::panic_any(5u32) });
    let id = opaque.id();
    let error = rt.block_on(opaque).unwrap_err();
    assert!(error.to_string().contains(&id.to_string()));
    assert!(format!("{error:?}").contains(&id.to_string()));
}

#[test]
fn into_panic_gives_the_payload() {
    for_each_workers(|rt| {
        let error = rt
            .block_on(rt.spawn(async { panic!("boom {}", std::hint::black_box(7)) }))
            .unwrap_err();
        assert!(error.is_panic());
        assert!(!error.is_cancelled());
        assert_eq!(*error.into_panic().downcast::<String>().unwrap(), "boom 7");

        let error = rt
            .block_on(rt.spawn(async { std::panic::panic_any(42u32) }))
            .unwrap_err();
        let payload = error.try_into_panic().unwrap();
        assert_eq!(*payload.downcast::<u32>().unwrap(), 42);

        // A static message is a `&str` payload.
        let error = rt
            .block_on(rt.spawn(async { panic!("static") }))
            .unwrap_err();
        assert_eq!(
            *error.into_panic().downcast::<&'static str>().unwrap(),
            "static"
        );
    });
}

#[test]
fn try_into_panic_on_a_cancelled_task_gives_the_error_back() {
    for_each_workers(|rt| {
        let task = rt.spawn(pending::<()>());
        let id = task.id();
        task.abort();
        let error = rt.block_on(task).unwrap_err();
        assert!(error.is_cancelled());
        assert!(!error.is_panic());
        let error = error.try_into_panic().unwrap_err();
        assert!(error.is_cancelled());
        assert_eq!(error.id(), id);
    });
}

#[test]
#[should_panic(expected = "into_panic on a cancelled task")]
fn into_panic_on_a_cancelled_task_panics() {
    let rt = runtime(1);
    let task = rt.spawn(pending::<()>());
    task.abort();
    let error = rt.block_on(task).unwrap_err();
    let _ = error.into_panic();
}

/// Dropping the handle detaches the task: it still runs to completion, and
/// its output and future are each dropped exactly once, by the runtime.
#[test]
fn dropping_the_handle_detaches_the_task() {
    for_each_workers(|rt| {
        let (opener, gate) = Gate::new();
        let (tx, rx) = mpsc::channel();
        let future_drops = Counter::new();
        let output_drops = Counter::new();
        let guard = DropGuard(future_drops.clone());
        let output = DropGuard(output_drops.clone());
        let task = rt.spawn(async move {
            let _guard = guard;
            gate.await;
            tx.send("ran to the end").unwrap();
            output
        });
        opener.wait_polled(1);
        drop(task);
        opener.open();
        assert_eq!(rx.recv_timeout(LIMIT).unwrap(), "ran to the end");
        future_drops.wait_for(1);
        output_drops.wait_for(1);
        wait_until("the detached task to leave the runtime", || {
            rt.metrics().num_alive_tasks() == 0
        });
        assert_eq!(future_drops.get(), 1);
        assert_eq!(output_drops.get(), 1);
    });
}

/// A handle dropped after its task completed drops the unread output.
#[test]
fn dropping_the_handle_of_a_finished_task_drops_its_output_once() {
    for_each_workers(|rt| {
        let output_drops = Counter::new();
        let output = DropGuard(output_drops.clone());
        let task = rt.spawn(async move { output });
        let abort = task.abort_handle();
        wait_until("the task to finish", || abort.is_finished());
        assert_eq!(output_drops.get(), 0, "the unread output was dropped early");
        drop(task);
        assert_eq!(output_drops.get(), 1);
    });
}

/// A task of one runtime awaited from another runtime's `block_on` and from
/// another runtime's task: the cross-runtime wake-up reaches the awaiter.
#[test]
fn await_a_handle_from_another_runtime() {
    for workers in WORKERS {
        let a = runtime(workers);
        let b = runtime(workers);

        // From B's block_on.
        let (opener, gate) = Gate::new();
        let task = a.spawn(async move {
            gate.await;
            thread_name()
        });
        let (polled_tx, polled_rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            polled_rx.recv().unwrap();
            opener.open();
        });
        let name = b.block_on(first_poll_then(polled_tx, task)).unwrap();
        assert_eq!(name, a.name);
        thread.join().unwrap();

        // From a task of B.
        let (opener, gate) = Gate::new();
        let task = a.spawn(async move {
            gate.await;
            thread_name()
        });
        let (polled_tx, polled_rx) = mpsc::channel();
        let awaiter = b.spawn(async move {
            let name = first_poll_then(polled_tx, task).await.unwrap();
            (name, thread_name())
        });
        polled_rx.recv_timeout(LIMIT).unwrap();
        opener.open();
        let (name, awaited_on) = b.block_on(awaiter).unwrap();
        assert_eq!(name, a.name);
        assert_eq!(awaited_on, b.name);
    }
}

/// Polls `task` and reports on `polled` after its first (pending) poll, so
/// the test can complete the task while the awaiter waits for it.
fn first_poll_then<T>(
    polled: mpsc::Sender<()>,
    mut task: weft::task::JoinHandle<T>,
) -> impl Future<Output = Result<T, JoinError>> {
    let mut first = true;
    poll_fn(move |cx| {
        let poll = Pin::new(&mut task).poll(cx);
        if first {
            first = false;
            assert!(poll.is_pending(), "the task finished before it was awaited");
            polled.send(()).unwrap();
        }
        poll
    })
}

/// Awaiting is cancel safe: a handle polled once (pending) and then dropped
/// from the `select`-like poll loop can be awaited again.
#[test]
fn a_handle_polled_then_awaited_again_gives_the_output() {
    for_each_workers(|rt| {
        let (opener, gate) = Gate::new();
        let mut task = rt.spawn(async move {
            gate.await;
            9
        });
        opener.wait_polled(1);
        let first = rt.block_on(poll_fn(|cx| Poll::Ready(Pin::new(&mut task).poll(cx))));
        assert!(first.is_pending());
        opener.open();
        assert_eq!(rt.block_on(task).unwrap(), 9);
    });
}

#[test]
fn join_error_converts_into_io_error() {
    let rt = runtime(1);

    let task = rt.spawn(pending::<()>());
    let id = task.id();
    task.abort();
    let error: io::Error = rt.block_on(task).unwrap_err().into();
    assert_eq!(error.kind(), io::ErrorKind::Other);
    assert!(error.to_string().contains("cancelled"), "{error}");
    assert!(error.to_string().contains(&id.to_string()), "{error}");

    let task = rt.spawn(async { panic!("disk on fire") });
    let error: io::Error = rt.block_on(task).unwrap_err().into();
    assert_eq!(error.kind(), io::ErrorKind::Other);
    assert!(error.to_string().contains("disk on fire"), "{error}");

    // So `?` works in functions returning io::Result.
    fn run(rt: &Rt) -> io::Result<u8> {
        let value = rt.block_on(rt.spawn(async { 3u8 }))?;
        rt.block_on(rt.spawn(async { panic!("second") }))?;
        Ok(value)
    }
    assert!(run(&rt).unwrap_err().to_string().contains("second"));
}

#[test]
#[should_panic(expected = "JoinHandle polled after it returned Ready")]
fn polling_a_handle_after_it_returned_ready_panics() {
    let rt = runtime(1);
    let mut task = rt.spawn(async { 1 });
    assert_eq!(rt.block_on(&mut task).unwrap(), 1);
    let _ = rt.block_on(poll_fn(|cx| Poll::Ready(Pin::new(&mut task).poll(cx))));
}

/// Counts its wake-ups.
struct CountingWaker(Arc<Counter>);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.incr();
    }
}

/// The handle polled with one waker and then another (as a `select!` that
/// moved to another task would): completion wakes the latest one.
#[test]
fn completion_wakes_the_latest_waker() {
    for_each_workers(|rt| {
        let (opener, gate) = Gate::new();
        let mut task = rt.spawn(async move {
            gate.await;
            "late"
        });
        let (first, second) = (Counter::new(), Counter::new());
        let first_waker = Waker::from(Arc::new(CountingWaker(first.clone())));
        let second_waker = Waker::from(Arc::new(CountingWaker(second.clone())));
        let mut poll_with =
            |waker: &Waker| Pin::new(&mut task).poll(&mut Context::from_waker(waker));
        assert!(poll_with(&first_waker).is_pending());
        // The same waker again changes nothing.
        assert!(poll_with(&first_waker).is_pending());
        assert!(poll_with(&second_waker).is_pending());
        opener.open();
        second.wait_for(1);
        assert_eq!(first.get(), 0, "a replaced waker was woken");
        assert_eq!(
            poll_with(&second_waker).map(Result::unwrap),
            Poll::Ready("late")
        );
    });
}

/// Awaiting handles of tasks that already finished spends the awaiting
/// task's coop budget (128 a poll): 300 of them take three polls, so the
/// awaiter gives its worker back in between.
#[test]
fn awaiting_many_finished_handles_spends_the_coop_budget() {
    for_each_workers(|rt| {
        let tasks: Vec<_> = (0..300).map(|i| rt.spawn(async move { i })).collect();
        let aborts: Vec<_> = tasks.iter().map(|task| task.abort_handle()).collect();
        wait_until("the tasks to finish", || {
            aborts.iter().all(|a| a.is_finished())
        });
        let polls = Counter::new();
        let sum = rt
            .block_on(rt.spawn(poll_count(&polls, async move {
                let mut sum = 0;
                for task in tasks {
                    sum += task.await.unwrap();
                }
                sum
            })))
            .unwrap();
        assert_eq!(sum, (0..300).sum::<i32>());
        assert_eq!(polls.get(), 3);
    });
}

/// `block_on` budgets each poll like a worker does: a loop that always finds
/// a finished handle still yields, so its `join!` sibling makes progress
/// before the loop ends.
#[test]
fn block_on_budget_lets_join_siblings_run() {
    let rt = weft::Runtime::builder().worker_threads(1).build().unwrap();
    let handles: Vec<_> = (0..1000).map(|i| rt.spawn(async move { i })).collect();
    let sibling_polls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let drained_before_sibling = rt.block_on(async {
        // Let every task finish so each handle is ready when awaited.
        while rt.metrics().num_alive_tasks() > 0 {
            weft::task::yield_now().await;
        }
        let polls = sibling_polls.clone();
        let drain = async {
            let mut drained = 0;
            for handle in handles {
                handle.await.unwrap();
                drained += 1;
                if polls.load(std::sync::atomic::Ordering::SeqCst) > 1 {
                    return Some(drained);
                }
            }
            None
        };
        let sibling = std::future::poll_fn(|_| {
            sibling_polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::task::Poll::<()>::Pending
        });
        weft::select! {
            biased;
            drained = drain => drained,
            _ = sibling => unreachable!(),
        }
    });
    let drained =
        drained_before_sibling.expect("the sibling was polled again before the drain ended");
    assert!(drained < 1000, "drained {drained}");
}

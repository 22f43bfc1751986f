//! Wakers: from foreign threads and other runtimes, by value and by
//! reference, on finished tasks, after the runtime is gone, while the task
//! runs; each wake-up gives exactly the polls it should.

mod common;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread;

use common::*;
use weft::runtime::RuntimeMetrics;
use weft::task::yield_now;

fn total_polls(metrics: &RuntimeMetrics) -> u64 {
    (0..metrics.num_workers())
        .map(|w| metrics.worker_poll_count(w))
        .sum()
}

/// Pending `rounds` times; each time it hands a clone of its waker to a
/// foreign thread, which wakes it (by value or by reference).
struct Pinger {
    rounds: usize,
    polls: Arc<Counter>,
    to_waker_thread: mpsc::Sender<Waker>,
}

impl Future for Pinger {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls.incr();
        if self.rounds == 0 {
            return Poll::Ready(());
        }
        self.rounds -= 1;
        self.to_waker_thread.send(cx.waker().clone()).unwrap();
        Poll::Pending
    }
}

/// Many tasks, each woken many times from plain OS threads, alternating
/// `wake` and `wake_by_ref`: every task finishes after exactly one poll per
/// wake-up plus the first.
#[test]
fn wakes_from_foreign_threads() {
    const TASKS: usize = 32;
    const ROUNDS: usize = 100;
    const WAKER_THREADS: usize = 4;
    for_each_workers(|rt| {
        let mut senders = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..WAKER_THREADS {
            let (tx, rx) = mpsc::channel::<Waker>();
            senders.push(tx);
            threads.push(thread::spawn(move || {
                let mut wakes = 0;
                for (i, waker) in rx.into_iter().enumerate() {
                    if i % 2 == 0 {
                        waker.wake();
                    } else {
                        waker.wake_by_ref();
                    }
                    wakes += 1;
                }
                wakes
            }));
        }
        let polls: Vec<_> = (0..TASKS).map(|_| Counter::new()).collect();
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                rt.spawn(Pinger {
                    rounds: ROUNDS,
                    polls: polls[i].clone(),
                    to_waker_thread: senders[i % WAKER_THREADS].clone(),
                })
            })
            .collect();
        drop(senders);
        for task in tasks {
            rt.block_on(task).unwrap();
        }
        let wakes: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(wakes, TASKS * ROUNDS);
        for counter in &polls {
            assert_eq!(counter.get(), ROUNDS + 1);
        }
    });
}

/// A task parked on a waker the test holds: `wake_by_ref` leaves the waker
/// usable, `wake` consumes it; each gives one poll.
#[test]
fn wake_by_ref_then_wake() {
    for_each_workers(|rt| {
        let (tx, rx) = mpsc::channel::<Waker>();
        let polls = Counter::new();
        let polls_in = polls.clone();
        let mut round = 0;
        let task = rt.spawn(poll_fn(move |cx| {
            polls_in.incr();
            round += 1;
            if round == 3 {
                return Poll::Ready(round);
            }
            if round == 1 {
                tx.send(cx.waker().clone()).unwrap();
            }
            Poll::Pending
        }));
        let waker = rx.recv_timeout(LIMIT).unwrap();
        polls.wait_for(1);
        waker.wake_by_ref();
        polls.wait_for(2);
        waker.wake();
        assert_eq!(rt.block_on(task).unwrap(), 3);
        assert_eq!(polls.get(), 3);
    });
}

/// Wakes that arrive while the task is already queued add nothing: ten
/// wakes of an idle task, while every worker is busy, give one poll (one
/// run of the task, by the workers' own count).
#[test]
fn repeated_wakes_of_a_queued_task_coalesce() {
    for workers in WORKERS {
        let rt = runtime(workers);
        let metrics = rt.metrics();
        let (tx, rx) = mpsc::channel::<Waker>();
        let polls = Counter::new();
        let polls_in = polls.clone();
        let task = rt.spawn(poll_fn(move |cx| {
            if polls_in.incr() == 1 {
                tx.send(cx.waker().clone()).unwrap();
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        }));
        let waker = rx.recv_timeout(LIMIT).unwrap();
        polls.wait_for(1);
        let blocked = block_workers(&rt);
        for _ in 0..9 {
            waker.wake_by_ref();
        }
        waker.wake();
        blocked.release(&rt);
        rt.block_on(task).unwrap();
        drop(rt);
        assert_eq!(polls.get(), 2);
        // The task's two polls and one for each of the blocking tasks.
        assert_eq!(total_polls(&metrics), 2 + workers as u64);
    }
}

/// Waking a task that already completed does nothing, however often and
/// however it is done; the last waker then frees the task.
#[test]
fn waking_a_completed_task_is_a_no_op() {
    for workers in WORKERS {
        let (rt, marker) = tracked_runtime(workers);
        let (tx, rx) = mpsc::channel::<Waker>();
        let polls = Counter::new();
        let task = rt.spawn(poll_count(
            &polls,
            poll_fn(move |cx| {
                tx.send(cx.waker().clone()).unwrap();
                Poll::Ready(5)
            }),
        ));
        let waker = rx.recv_timeout(LIMIT).unwrap();
        assert_eq!(rt.block_on(task).unwrap(), 5);
        waker.wake_by_ref();
        // By value, through a clone: the clone's reference is given up.
        let clone = waker.clone();
        clone.wake();
        waker.wake_by_ref();
        // Through a runtime where the wake is certainly seen, if it does
        // anything: a later task still runs fine.
        assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
        assert_eq!(polls.get(), 1);
        wait_until("the task to leave the runtime", || {
            rt.metrics().num_alive_tasks() == 0
        });
        drop(rt);
        waker.wake();
        assert_freed(&marker);
    }
}

/// Wakers of tasks cancelled by the shutdown, used and dropped after the
/// runtime is gone: no crash, and the last of them frees everything.
#[test]
fn wakers_outliving_the_runtime() {
    for workers in WORKERS {
        let (rt, marker) = tracked_runtime(workers);
        let mut openers = Vec::new();
        let mut wakers = Vec::new();
        for _ in 0..10 {
            let (opener, gate) = Gate::new();
            drop(rt.spawn(gate));
            opener.wait_polled(1);
            wakers.push(opener.waker().unwrap());
            openers.push(opener);
        }
        drop(rt);
        drop(openers);
        let clones: Vec<_> = wakers.iter().map(Waker::clone).collect();
        for (i, waker) in wakers.into_iter().enumerate() {
            if i % 2 == 0 {
                waker.wake();
            } else {
                waker.wake_by_ref();
            }
        }
        // The last references, dropped on another thread.
        thread::spawn(move || drop(clones)).join().unwrap();
        assert_freed(&marker);
    }
}

/// `yield_now` returns after the task was queued once more: exactly one
/// extra poll per yield, and other tasks run in between.
#[test]
fn yield_now_requeues_the_task() {
    for_each_workers(|rt| {
        let polls = Counter::new();
        let task = rt.spawn(poll_count(&polls, async {
            for _ in 0..10 {
                yield_now().await;
            }
            "done"
        }));
        assert_eq!(rt.block_on(task).unwrap(), "done");
        assert_eq!(polls.get(), 11);
    });
    // On one worker a yielding task lets a task it woke run before it
    // resumes.
    let rt = runtime(1);
    let (order, other) = rt
        .block_on(rt.spawn(async {
            let (opener, gate) = Gate::new();
            let log = Arc::new(std::sync::Mutex::new(Vec::new()));
            let log_in = log.clone();
            let other = weft::spawn(async move {
                gate.await;
                log_in.lock().unwrap().push("other");
            });
            // Let `other` run until it waits on the gate.
            while opener.polls() == 0 {
                yield_now().await;
            }
            opener.open();
            yield_now().await;
            log.lock().unwrap().push("yielder");
            let order = log.lock().unwrap().clone();
            (order, other)
        }))
        .unwrap();
    assert_eq!(order, ["other", "yielder"]);
    rt.block_on(other).unwrap();
}

/// A task woken while it runs (by itself, once or many times, by value or
/// by reference, or from another thread during its poll) is polled once
/// more, exactly.
#[test]
fn a_task_woken_while_running_is_polled_again_once() {
    for_each_workers(|rt| {
        // Woken by reference five times in its first poll, by value in its
        // second, then done: three polls.
        let polls = Counter::new();
        let polls_in = polls.clone();
        let task = rt.spawn(poll_fn(move |cx| match polls_in.incr() {
            1 => {
                for _ in 0..5 {
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
            2 => {
                // By value: an owned clone is consumed.
                let owned = cx.waker().clone();
                owned.wake();
                Poll::Pending
            }
            _ => Poll::Ready(()),
        }));
        rt.block_on(task).unwrap();
        assert_eq!(polls.get(), 3);

        // Woken from another thread while its poll is blocked.
        let (tx, rx) = mpsc::channel::<Waker>();
        let woken = Latch::new();
        let (woken_in, polls) = (woken.clone(), Counter::new());
        let polls_in = polls.clone();
        let task = rt.spawn(poll_fn(move |cx| {
            if polls_in.incr() == 1 {
                tx.send(cx.waker().clone()).unwrap();
                woken_in.wait();
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        }));
        let waker = rx.recv_timeout(LIMIT).unwrap();
        thread::spawn(move || waker.wake()).join().unwrap();
        woken.open();
        rt.block_on(task).unwrap();
        assert_eq!(polls.get(), 2);
    });
}

/// A task of runtime A woken from a worker of runtime B runs on A again,
/// not on B's worker that woke it.
#[test]
fn a_wake_from_another_runtimes_worker_runs_the_task_on_its_own_runtime() {
    for workers in WORKERS {
        let a = runtime(workers);
        let b = runtime(workers);
        let (opener, gate) = Gate::new();
        let task = a.spawn(async move {
            let before = thread_name();
            gate.await;
            (before, thread_name())
        });
        opener.wait_polled(1);
        b.block_on(b.spawn(async move { opener.open() })).unwrap();
        let (before, after) = a.block_on(task).unwrap();
        assert_eq!(before, a.name);
        assert_eq!(after, a.name);
    }
}

/// Two tasks taking turns (message passing): each hands the turn over and
/// wakes the other. Each turn costs one poll; no wake-up is lost.
#[test]
fn tasks_waking_each_other() {
    const ROUNDS: usize = 1000;

    #[derive(Default)]
    struct Table {
        turns: usize,
        parked: [Option<Waker>; 2],
    }

    fn player(
        me: usize,
        table: Arc<std::sync::Mutex<Table>>,
        polls: Arc<Counter>,
    ) -> impl Future<Output = ()> {
        poll_fn(move |cx| {
            polls.incr();
            let mut table = table.lock().unwrap();
            if table.turns < 2 * ROUNDS && table.turns % 2 == me {
                table.turns += 1;
                if let Some(other) = table.parked[1 - me].take() {
                    other.wake();
                }
            }
            if table.turns >= 2 * ROUNDS {
                return Poll::Ready(());
            }
            table.parked[me] = Some(cx.waker().clone());
            Poll::Pending
        })
    }

    for_each_workers(|rt| {
        let table = Arc::new(std::sync::Mutex::new(Table::default()));
        let polls = [Counter::new(), Counter::new()];
        let tasks: Vec<_> = (0..2)
            .map(|me| rt.spawn(player(me, table.clone(), polls[me].clone())))
            .collect();
        for task in tasks {
            rt.block_on(task).unwrap();
        }
        assert_eq!(table.lock().unwrap().turns, 2 * ROUNDS);
        for counter in &polls {
            // One poll a turn, one to see the game end, and at most one
            // more if a player looked before its first turn came.
            let polls = counter.get();
            assert!((ROUNDS..=ROUNDS + 1).contains(&polls), "{polls} polls");
        }
    });
}

/// Ping-pong with a plain thread: each round the task signals the thread
/// and waits, so the workers run out of work and go to sleep, and then the
/// thread's wake must get one of them up again. A lost wake-up would stall
/// a round (and fail the test at the bound of the wait).
#[test]
fn no_wake_up_is_lost_when_the_workers_sleep() {
    const ROUNDS: usize = 1000;
    for_each_workers(|rt| {
        let (to_thread, from_task) = mpsc::channel::<Waker>();
        let (to_task, from_thread) = mpsc::channel::<usize>();
        let thread = thread::spawn(move || {
            for round in 0..ROUNDS {
                let waker = from_task.recv_timeout(LIMIT).expect("the task stalled");
                to_task.send(round).unwrap();
                waker.wake();
            }
        });
        let mut next = 0;
        let task = rt.spawn(poll_fn(move |cx| {
            while let Ok(round) = from_thread.try_recv() {
                assert_eq!(round, next);
                next += 1;
            }
            if next == ROUNDS {
                return Poll::Ready(next);
            }
            to_thread.send(cx.waker().clone()).unwrap();
            Poll::Pending
        }));
        assert_eq!(rt.block_on(task).unwrap(), ROUNDS);
        thread.join().unwrap();

        // And spawns from outside onto a sleeping runtime, one at a time.
        for i in 0..ROUNDS {
            assert_eq!(rt.block_on(rt.spawn(async move { i })).unwrap(), i);
        }
    });
}

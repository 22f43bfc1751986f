//! `weft::task::JoinSet`: completion order, bookkeeping, abort, drop,
//! panics, detach, shutdown and `join_all`, each on 1 and 4 workers.
//!
//! Tests fix the order in which tasks finish with a [`Gate`] the test opens
//! for one task at a time, and wait for drops through a channel signalled
//! from the dropped value, never with sleeps.

use std::collections::HashMap;
use std::future::{pending, poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use weft::task::{yield_now, JoinSet};

/// Runs the test body once on a runtime with each of these worker counts
/// (under Miri, which interprets every thread one step at a time, 1 and 2).
const WORKERS: [usize; 2] = if cfg!(miri) { [1, 2] } else { [1, 4] };

/// `n`, or under Miri (`ci/miri.sh`, thousands of times slower) a count
/// that still exceeds the coop budget of 128 joins per poll.
const fn scaled(n: usize) -> usize {
    if cfg!(miri) && n > 300 {
        300
    } else {
        n
    }
}

/// How long a test waits for an event that should come at once before it
/// calls it a failure (a bound on a hang, not a synchronisation).
const PATIENCE: Duration = Duration::from_secs(10);

fn runtime(workers: usize) -> weft::Runtime {
    weft::Runtime::builder()
        .worker_threads(workers)
        .build()
        .unwrap()
}

fn on_each_runtime<F, Fut>(body: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    for workers in WORKERS {
        runtime(workers).block_on(body());
    }
}

/// Lets tasks finish one at a time: `wait(k)` returns once the test has
/// called `open(k)`.
#[derive(Clone)]
struct Gate(Arc<AtomicUsize>);

impl Gate {
    fn new() -> Self {
        Gate(Arc::new(AtomicUsize::new(usize::MAX)))
    }

    fn open(&self, k: usize) {
        self.0.store(k, SeqCst);
    }

    async fn wait(&self, k: usize) {
        while self.0.load(SeqCst) != k {
            yield_now().await;
        }
    }
}

/// Counts its drops and reports each one on a channel.
struct DropSignal {
    drops: Arc<AtomicUsize>,
    tx: mpsc::Sender<()>,
}

impl Drop for DropSignal {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
        let _ = self.tx.send(());
    }
}

/// Spawns `n` tasks that never finish, each owning a `DropSignal`, and
/// waits until all of them have started.
async fn spawn_pending_with_signals(
    set: &mut JoinSet<()>,
    n: usize,
) -> (Arc<AtomicUsize>, mpsc::Receiver<()>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    for _ in 0..n {
        let signal = DropSignal {
            drops: Arc::clone(&drops),
            tx: tx.clone(),
        };
        let started = Arc::clone(&started);
        set.spawn(async move {
            let _signal = signal;
            started.fetch_add(1, SeqCst);
            pending::<()>().await;
        });
    }
    while started.load(SeqCst) < n {
        yield_now().await;
    }
    (drops, rx)
}

fn panic_message(err: weft::task::JoinError) -> String {
    let payload = err.into_panic();
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        panic!("panic payload is neither &str nor String")
    }
}

#[test]
fn empty_set_returns_none() {
    on_each_runtime(|| async {
        let mut set: JoinSet<u32> = JoinSet::default();
        assert_eq!(set.len(), 0);
        assert!(set.is_empty());
        assert!(set.join_next().await.is_none());
        assert!(set.join_next_with_id().await.is_none());
        assert!(set.try_join_next().is_none());
        assert!(set.try_join_next_with_id().is_none());
        assert!(poll_fn(|cx| set.poll_join_next(cx)).await.is_none());
        assert!(set.join_all().await.is_empty());
    });
}

#[test]
fn join_next_returns_tasks_in_completion_order() {
    on_each_runtime(|| async {
        let gate = Gate::new();
        let mut set = JoinSet::new();
        for k in [3, 1, 4, 0, 2] {
            let gate = gate.clone();
            set.spawn(async move {
                gate.wait(k).await;
                k
            });
        }
        for k in 0..5 {
            gate.open(k);
            assert_eq!(set.join_next().await.unwrap().unwrap(), k);
        }
        assert!(set.join_next().await.is_none());
    });
}

#[test]
fn len_counts_tasks_until_they_are_joined() {
    on_each_runtime(|| async {
        let gate = Gate::new();
        let mut set = JoinSet::new();
        for k in 0..4 {
            let gate = gate.clone();
            set.spawn(async move {
                gate.wait(k).await;
                k
            });
            assert_eq!(set.len(), k + 1);
        }
        for k in 0..4 {
            gate.open(k);
            set.join_next().await.unwrap().unwrap();
            assert_eq!(set.len(), 3 - k);
        }
        assert!(set.is_empty());

        // Slots freed above are reused, and counted again.
        set.spawn(async { 10 });
        set.spawn(async { 20 });
        assert_eq!(set.len(), 2);
        let sum: usize = set.join_all().await.into_iter().sum();
        assert_eq!(sum, 30);
    });
}

#[test]
fn join_next_with_id_names_the_finished_task() {
    on_each_runtime(|| async {
        let gate = Gate::new();
        let mut set = JoinSet::new();
        let mut ids = Vec::new();
        for k in 0..3 {
            let gate = gate.clone();
            ids.push(
                set.spawn(async move {
                    gate.wait(k).await;
                    k
                })
                .id(),
            );
        }
        for k in [2, 0, 1] {
            gate.open(k);
            let (id, out) = set.join_next_with_id().await.unwrap().unwrap();
            assert_eq!((id, out), (ids[k], k));
        }
    });
}

#[test]
fn try_join_next_takes_finished_tasks_without_waiting() {
    on_each_runtime(|| async {
        let gate = Gate::new();
        let mut set = JoinSet::new();
        let task = {
            let gate = gate.clone();
            set.spawn(async move {
                gate.wait(0).await;
                "done"
            })
        };
        assert!(set.try_join_next().is_none());
        assert_eq!(set.len(), 1);

        gate.open(0);
        let out = loop {
            if let Some(res) = set.try_join_next_with_id() {
                break res;
            }
            yield_now().await;
        };
        assert_eq!(out.unwrap(), (task.id(), "done"));
        assert!(set.is_empty());
        assert!(set.try_join_next().is_none());
    });
}

#[test]
fn dropping_a_join_next_future_loses_nothing() {
    on_each_runtime(|| async {
        let gate = Gate::new();
        let mut set = JoinSet::new();
        let g = gate.clone();
        set.spawn(async move {
            g.wait(0).await;
            7
        });

        // Poll join_next once, while the task cannot finish, then drop it.
        {
            let mut next = pin!(set.join_next());
            let polled = poll_fn(|cx| Poll::Ready(next.as_mut().poll(cx))).await;
            assert!(polled.is_pending());
        }

        gate.open(0);
        assert_eq!(set.join_next().await.unwrap().unwrap(), 7);
    });
}

#[test]
fn abort_all_cancels_every_task() {
    on_each_runtime(|| async {
        let mut set = JoinSet::new();
        let (drops, _rx) = spawn_pending_with_signals(&mut set, 8).await;
        set.abort_all();
        assert_eq!(set.len(), 8, "aborted tasks stay until joined");

        let mut cancelled = 0;
        while let Some(res) = set.join_next().await {
            assert!(res.unwrap_err().is_cancelled());
            cancelled += 1;
        }
        assert_eq!(cancelled, 8);
        assert_eq!(drops.load(SeqCst), 8);
    });
}

#[test]
fn abort_handle_cancels_only_its_task() {
    on_each_runtime(|| async {
        let gate = Gate::new();
        let mut set = JoinSet::new();
        let doomed = set.spawn(pending::<usize>());
        let g = gate.clone();
        set.spawn(async move {
            g.wait(0).await;
            1
        });

        doomed.abort();
        let err = set.join_next().await.unwrap().unwrap_err();
        assert!(err.is_cancelled());
        assert_eq!(err.id(), doomed.id());
        assert!(doomed.is_finished());
        assert_eq!(set.len(), 1);

        gate.open(0);
        assert_eq!(set.join_next().await.unwrap().unwrap(), 1);
    });
}

#[test]
fn dropping_the_set_aborts_every_task() {
    for workers in WORKERS {
        let rt = runtime(workers);
        let (drops, rx) = rt.block_on(async {
            let mut set = JoinSet::new();
            let signals = spawn_pending_with_signals(&mut set, 16).await;
            drop(set);
            signals
        });
        for _ in 0..16 {
            rx.recv_timeout(PATIENCE)
                .expect("a task outlived its dropped JoinSet");
        }
        assert_eq!(drops.load(SeqCst), 16);
    }
}

#[test]
fn panics_come_back_as_panic_errors() {
    on_each_runtime(|| async {
        let mut set = JoinSet::new();
        set.spawn(async { panic!("boom") });
        set.spawn(async { 5 });

        let mut outputs = Vec::new();
        let mut panics = Vec::new();
        while let Some(res) = set.join_next().await {
            match res {
                Ok(out) => outputs.push(out),
                Err(err) => {
                    assert!(err.is_panic());
                    assert!(!err.is_cancelled());
                    panics.push(panic_message(err));
                }
            }
        }
        assert_eq!(outputs, [5]);
        assert_eq!(panics, ["boom"]);
    });
}

#[test]
fn ten_thousand_tasks_are_each_joined_exactly_once() {
    const N: usize = scaled(10_000);
    on_each_runtime(|| async {
        let mut set = JoinSet::new();
        let mut by_id = HashMap::new();
        for i in 0..N {
            let id = set.spawn(async move { i }).id();
            assert!(by_id.insert(id, i).is_none(), "task ids are unique");
        }
        assert_eq!(set.len(), N);

        let mut seen = vec![false; N];
        let mut sum = 0;
        while let Some(res) = set.join_next_with_id().await {
            let (id, i) = res.unwrap();
            assert_eq!(by_id[&id], i);
            assert!(!seen[i], "task {i} joined twice");
            seen[i] = true;
            sum += i;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(sum, N * (N - 1) / 2);
    });
}

#[test]
fn joining_inside_a_task_outlasts_the_coop_budget() {
    // Inside a task each join spends coop budget, so a long run of finished
    // tasks makes the handles answer `Pending` until the joiner yields.
    const N: usize = scaled(1_000);
    on_each_runtime(|| async {
        let mut set = JoinSet::new();
        for i in 0..N {
            set.spawn(async move { i });
        }
        let joiner = weft::spawn(async move {
            let mut sum = 0;
            while let Some(res) = set.join_next().await {
                sum += res.unwrap();
            }
            sum
        });
        assert_eq!(joiner.await.unwrap(), N * (N - 1) / 2);
    });
}

#[test]
fn reused_slots_never_mix_up_tasks() {
    // A window of tasks in flight, refilled as each one is joined, so slots
    // are freed and reused while late wakes for their old tasks may still
    // come in.
    const N: usize = scaled(10_000);
    const IN_FLIGHT: usize = 64;
    on_each_runtime(|| async {
        let mut set = JoinSet::new();
        let mut next = 0;
        let mut seen = vec![false; N];
        let mut joined = 0;
        while joined < N {
            while next < N && set.len() < IN_FLIGHT {
                let i = next;
                set.spawn(async move {
                    if i % 3 == 0 {
                        yield_now().await;
                    }
                    i
                });
                next += 1;
            }
            let i = set.join_next().await.unwrap().unwrap();
            assert!(!seen[i], "task {i} joined twice");
            seen[i] = true;
            joined += 1;
        }
        assert!(set.join_next().await.is_none());
    });
}

#[test]
fn poll_join_next_in_a_loop_yields_every_output() {
    on_each_runtime(|| async {
        let gate = Gate::new();
        let mut set = JoinSet::new();
        for k in 0..6 {
            let gate = gate.clone();
            set.spawn(async move {
                gate.wait(k).await;
                k
            });
        }
        let mut outputs = Vec::new();
        let mut opened = 0;
        gate.open(opened);
        poll_fn(|cx| loop {
            match set.poll_join_next(cx) {
                Poll::Ready(Some(res)) => {
                    outputs.push(res.unwrap());
                    opened += 1;
                    gate.open(opened);
                }
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        })
        .await;
        assert_eq!(outputs, [0, 1, 2, 3, 4, 5]);
    });
}

/// Counts the wakes of the task that polls a join set.
struct CountingWaker {
    wakes: Arc<AtomicUsize>,
    inner: Waker,
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
        self.inner.wake_by_ref();
    }
}

#[test]
fn join_all_returns_outputs_in_completion_order() {
    const ORDER: [usize; 6] = [4, 1, 5, 0, 3, 2];
    on_each_runtime(|| async {
        let gate = Gate::new();
        let mut set = JoinSet::new();
        for k in 0..ORDER.len() {
            let gate = gate.clone();
            set.spawn(async move {
                gate.wait(k).await;
                k
            });
        }

        // join_all cannot be paused between outputs, so drive it by hand
        // and open the gate for the next task only once the previous one
        // has woken the set (a wake between two polls can only be the one
        // task the gate lets finish) and the set has been polled since, so
        // its output is collected before the next task can finish.
        let mut all = pin!(set.join_all());
        let wakes = Arc::new(AtomicUsize::new(0));
        let mut released = 0;
        let mut wakes_at_release = None;
        let outputs = poll_fn(|cx: &mut Context<'_>| {
            let wakes_before_poll = wakes.load(SeqCst);
            let waker = Waker::from(Arc::new(CountingWaker {
                wakes: Arc::clone(&wakes),
                inner: cx.waker().clone(),
            }));
            let poll = all.as_mut().poll(&mut Context::from_waker(&waker));
            let collected = match wakes_at_release {
                None => true,
                Some(at_release) => wakes_before_poll > at_release,
            };
            if poll.is_pending() && collected && released < ORDER.len() {
                wakes_at_release = Some(wakes.load(SeqCst));
                gate.open(ORDER[released]);
                released += 1;
            }
            poll
        })
        .await;
        assert_eq!(outputs, ORDER);
    });
}

#[test]
fn join_all_resumes_a_task_panic() {
    on_each_runtime(|| async {
        let mut set = JoinSet::new();
        set.spawn(async { panic!("boom") });
        set.spawn(pending::<()>());
        let err = weft::spawn(set.join_all()).await.unwrap_err();
        assert!(err.is_panic());
        assert_eq!(panic_message(err), "boom");
    });
}

#[test]
fn join_all_panics_on_a_cancelled_task() {
    on_each_runtime(|| async {
        let mut set = JoinSet::new();
        set.spawn(pending::<()>()).abort();
        let err = weft::spawn(set.join_all()).await.unwrap_err();
        assert!(err.is_panic());
        assert!(panic_message(err).contains("aborted"));
    });
}

#[test]
fn shutdown_aborts_and_waits_for_every_task() {
    on_each_runtime(|| async {
        let mut set = JoinSet::new();
        let (drops, _rx) = spawn_pending_with_signals(&mut set, 8).await;
        set.shutdown().await;
        assert!(set.is_empty());
        assert_eq!(drops.load(SeqCst), 8);
        assert!(set.join_next().await.is_none());

        // The set is still usable afterwards.
        set.spawn(async {});
        set.join_next().await.unwrap().unwrap();
    });
}

#[test]
fn detach_all_leaves_tasks_running() {
    on_each_runtime(|| async {
        let gate = Gate::new();
        let (tx, rx) = mpsc::channel();
        let mut set = JoinSet::new();
        for k in 0..4 {
            let gate = gate.clone();
            let tx = tx.clone();
            set.spawn(async move {
                gate.wait(0).await;
                tx.send(k).unwrap();
                k
            });
        }
        // Poll once so the tasks hold the set's wakers when they are detached.
        assert!(set.try_join_next().is_none());
        set.detach_all();
        assert!(set.is_empty());
        assert!(set.join_next().await.is_none());

        // New tasks reuse the set while the detached ones finish and wake
        // their old entries.
        let g = gate.clone();
        set.spawn(async move {
            g.wait(1).await;
            99
        });
        gate.open(0);
        let mut sent: Vec<usize> = (0..4).map(|_| rx.recv_timeout(PATIENCE).unwrap()).collect();
        sent.sort_unstable();
        assert_eq!(sent, [0, 1, 2, 3]);
        assert_eq!(set.len(), 1);

        gate.open(1);
        assert_eq!(set.join_next().await.unwrap().unwrap(), 99);
    });
}

#[test]
fn spawn_blocking_tasks_complete_in_order() {
    on_each_runtime(|| async {
        let mut set = JoinSet::new();
        let mut senders = Vec::new();
        for k in 0..3 {
            let (tx, rx) = mpsc::channel::<()>();
            senders.push(tx);
            set.spawn_blocking(move || {
                rx.recv().unwrap();
                k
            });
        }
        for k in [1, 2, 0] {
            senders[k].send(()).unwrap();
            assert_eq!(set.join_next().await.unwrap().unwrap(), k);
        }
    });
}

#[test]
fn spawn_on_runs_tasks_on_the_given_runtime() {
    for workers in WORKERS {
        let target = runtime(workers);
        let mut set = JoinSet::new();
        for k in 0..4 {
            set.spawn_on(async move { k * 10 }, target.handle());
        }
        // Joined from another runtime: only the set's wakers cross over.
        let mut outputs = runtime(1).block_on(set.join_all());
        outputs.sort_unstable();
        assert_eq!(outputs, [0, 10, 20, 30]);
    }
}

#[test]
fn debug_shows_the_number_of_tasks() {
    on_each_runtime(|| async {
        let mut set = JoinSet::new();
        set.spawn(pending::<()>());
        set.spawn(pending::<()>());
        assert_eq!(format!("{set:?}"), "JoinSet { len: 2 }");
    });
}

//! Stress: the runtime under volume, loses no task, no wake-up and no
//! resource. Each scenario has a short default test (run by CI, seconds in
//! a debug build) and a `long_` test, ignored by default, that runs the
//! full size:
//!
//! ```text
//! cargo test --release -p weft-tests --test stress -- --ignored --nocapture
//! ```
//!
//! - `tasks_through_spawn_wake_complete` / `long_...`: pairs of tasks, the
//!   first parks with its waker published and spawns the second, which
//!   wakes it with a value; the first then awaits the second's
//!   `JoinHandle`. 100,000 tasks (short) or 10,000,000 (long) per worker
//!   count, in batches of 10,000 so memory stays bounded. Checks a checksum
//!   of the outputs, how many task bodies ran, `spawned_tasks_count` and
//!   `num_alive_tasks() == 0` at the end.
//! - `runtimes_dropped_with_pending_work` / `long_...`: 50 (short) or 1,000
//!   (long) runtimes, each dropped with tasks pending forever, hour-long
//!   sleeps, a pending accept, two pending TCP reads and an idle blocking
//!   thread. Every pending future is dropped, and the process's open
//!   descriptors and threads are back to their baseline afterwards. Runs
//!   in a child process (this binary again, with `WEFT_TEST_CHILD` set) so
//!   the other tests' descriptors and threads do not disturb the count.
//! - `wake_storm_from_foreign_threads` / `long_...`: 64 tasks woken by 8
//!   plain OS threads with every kind of wake (`wake`, `wake_by_ref`, on a
//!   taken, cloned or twice-cloned waker): 20,480 (short) or 2,000,000
//!   (long) signals per worker count. Every task gets exactly its signals,
//!   none stalls (a lost wake-up), and none is polled more than once per
//!   wake plus its first poll.
//! - `mixed_blocking_and_async_load` / `long_...`: 40 tasks alternating
//!   `spawn_blocking` (CPU work, sometimes a 1 ms sleep), yields, timers,
//!   and blocking closures that `Handle::block_on` a spawned task: 2,000
//!   (short) or 200,000 (long) operations per worker count. Checks the sum
//!   of their results, that the pool never ran more than
//!   `max_blocking_threads` (8) closures or threads at once, the spawn count
//!   and that no task is left alive.
//! - `loopback_connections_echo` / `long_...`: 200 (short) or 10,000 (long)
//!   loopback TCP connections, all held at once, each echoing messages of
//!   1 to 4,096 bytes for 100 ms (short) or 5 s (long); each connection
//!   echoes its first message before the next connects, so connecting never
//!   overflows the listener's backlog. The clients run in
//!   a child process (both ends of 10,000 connections would pass the usual
//!   hard limit of descriptors of one process), which checks every echoed
//!   byte; the server's per-connection stream checksums and byte count
//!   must match what the clients sent. Both processes raise their
//!   `RLIMIT_NOFILE` soft limit to the hard limit.
//!
//! Every wait is on a real event, bounded by [`LIMIT`] so a lost wake-up
//! fails the test instead of hanging it. Two loops re-check a figure no
//! event signals, both bounded by [`LIMIT`] too: the descriptor and thread
//! counts after the runtimes are dropped, and the wake storm's senders,
//! which hold a task's next signal until it took the last one (so most
//! signals find a waker to wake instead of piling up unread).

mod common;

use std::fs;
use std::future::{pending, poll_fn, Future};
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use weft::io::{AsyncReadExt, AsyncWriteExt};
use weft::net::{TcpListener, TcpStream};
use weft::task::yield_now;
use weft::time::{sleep, timeout};
use weft::Handle;

/// Tasks through spawn, wake and complete, per worker count.
const TASKS_SHORT: usize = 100_000;
const TASKS_LONG: usize = 10_000_000;
/// Tasks alive at once at most (spawned, then all awaited).
const TASK_BATCH: usize = 10_000;

/// Runtimes built and dropped with pending work.
const RUNTIMES_SHORT: usize = 50;
const RUNTIMES_LONG: usize = 1_000;

/// Signals per task in the wake storm: 64 × 320 = 20,480 (short) and
/// 64 × 31,250 = 2,000,000 (long) per worker count.
const STORM_TASKS: usize = 64;
const STORM_THREADS: usize = 8;
const SIGNALS_PER_TASK_SHORT: usize = 320;
const SIGNALS_PER_TASK_LONG: usize = 31_250;

/// Operations of the mixed load, per worker count, spread over
/// `MIXED_TASKS` tasks.
const OPS_SHORT: usize = 2_000;
const OPS_LONG: usize = 200_000;
const MIXED_TASKS: usize = 40;
const MAX_BLOCKING: usize = 8;

/// Loopback connections held at once, and how long each echoes.
const CONNECTIONS_SHORT: usize = 200;
const CONNECTIONS_LONG: usize = 10_000;
const ECHO_FOR_SHORT: Duration = Duration::from_millis(100);
const ECHO_FOR_LONG: Duration = Duration::from_secs(5);

const LOCALHOST: &str = "127.0.0.1:0";

/// Prints a figure of a run (shown with `--nocapture`).
fn report(what: &str, started: Instant) {
    eprintln!("stress: {what} in {:.2?}", started.elapsed());
}

// ---------------------------------------------------------------------------
// Tasks through spawn, wake and complete.

/// `i` scrambled (an odd multiply, a rotation, an xor): what the producer
/// of pair `i` hands over, so a lost or doubled output changes the
/// checksum; also the length of an echo message.
fn scramble(i: u64) -> u64 {
    i.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ i
}

/// One pair: this task parks with its waker published, spawns the producer
/// (which can only run once the waker is there), is woken by it with the
/// value, then awaits the producer's handle. So every pair is two tasks,
/// and the consumer completes only through a wake from the other task.
async fn handoff_pair(i: u64, bodies: Arc<AtomicU64>) -> u64 {
    bodies.fetch_add(1, Ordering::Relaxed);
    let slot: Arc<Mutex<(Option<u64>, Option<Waker>)>> = Arc::new(Mutex::new((None, None)));
    let mut producer = None;
    let value = poll_fn(|cx| {
        let mut state = slot.lock().unwrap();
        if let Some(value) = state.0.take() {
            return Poll::Ready(value);
        }
        state.1 = Some(cx.waker().clone());
        drop(state);
        if producer.is_none() {
            let (slot, bodies) = (slot.clone(), bodies.clone());
            producer = Some(weft::spawn(async move {
                bodies.fetch_add(1, Ordering::Relaxed);
                let value = scramble(i);
                let waker = {
                    let mut state = slot.lock().unwrap();
                    state.0 = Some(value);
                    state.1.take()
                };
                waker
                    .expect("the producer ran before its consumer published a waker")
                    .wake();
                value
            }));
        }
        Poll::Pending
    })
    .await;
    let produced = producer
        .expect("the consumer finished without spawning its producer")
        .await
        .unwrap();
    assert_eq!(produced, value, "pair {i}: the handed-over value changed");
    value.wrapping_add(produced)
}

fn tasks_through_spawn_wake_complete_with(tasks: usize) {
    assert_eq!(tasks % 2, 0);
    for workers in WORKERS {
        let started = Instant::now();
        let rt = runtime(workers);
        let bodies = Arc::new(AtomicU64::new(0));
        let pairs = (tasks / 2) as u64;
        let (mut checksum, mut expected) = (0u64, 0u64);
        let mut next = 0;
        while next < pairs {
            let end = (next + (TASK_BATCH / 2) as u64).min(pairs);
            let batch: Vec<_> = (next..end)
                .map(|i| rt.spawn(handoff_pair(i, bodies.clone())))
                .collect();
            checksum = rt
                .block_on(timeout(LIMIT, async move {
                    let mut sum = checksum;
                    for task in batch {
                        sum = sum.wrapping_add(task.await.unwrap());
                    }
                    sum
                }))
                .unwrap_or_else(|_| {
                    panic!(
                        "{workers} workers: pairs {next}..{end} stalled ({} task bodies \
                         ran): a lost wake-up",
                        bodies.load(Ordering::Relaxed)
                    )
                });
            expected = (next..end).fold(expected, |sum, i| {
                sum.wrapping_add(scramble(i).wrapping_mul(2))
            });
            next = end;
        }
        let metrics = rt.metrics();
        assert_eq!(checksum, expected, "{workers} workers: output checksum");
        assert_eq!(bodies.load(Ordering::Relaxed), tasks as u64);
        assert_eq!(metrics.spawned_tasks_count(), tasks as u64);
        // Every handle was awaited, and a task leaves the count before its
        // handle sees the output: no polling needed.
        assert_eq!(metrics.num_alive_tasks(), 0, "{workers} workers");
        report(
            &format!("{tasks} tasks spawned, woken and completed on {workers} workers"),
            started,
        );
    }
}

#[test]
fn tasks_through_spawn_wake_complete() {
    tasks_through_spawn_wake_complete_with(TASKS_SHORT);
}

#[test]
#[ignore = "long mode: cargo test --release -p weft-tests --test stress -- --ignored"]
fn long_tasks_through_spawn_wake_complete() {
    tasks_through_spawn_wake_complete_with(TASKS_LONG);
}

// ---------------------------------------------------------------------------
// Runtimes dropped with pending work.

/// Set in the child process; its value names the test to run there.
const CHILD_VAR: &str = "WEFT_TEST_CHILD";

/// In the parent, runs the test named `test` (a test of this file) alone in
/// a child process and asserts it passed; in that child, runs `scenario`.
#[track_caller]
fn in_child_process(test: &str, scenario: impl FnOnce()) {
    if std::env::var_os(CHILD_VAR).is_some() {
        scenario();
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            test,
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "--include-ignored",
        ])
        .env(CHILD_VAR, test)
        .output()
        .expect("starting the child process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // "1 passed": an exit status of 0 alone would also come from a filter
    // that matched no test.
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "the child process running {test} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    eprint!("{stderr}");
}

/// The descriptors this process has open, by number, with what each is.
fn open_fds() -> Vec<(i32, String)> {
    let mut fds: Vec<_> = fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd = entry.file_name().to_str()?.parse().ok()?;
            let target = fs::read_link(entry.path()).ok()?;
            Some((fd, target.display().to_string()))
        })
        .collect();
    // The directory handle that listed them is closed by now.
    fds.retain(|(_, target)| !target.starts_with("/proc/") || !target.ends_with("/fd"));
    fds.sort();
    fds
}

/// The number of threads of this process, as the kernel counts them.
fn thread_count() -> usize {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .expect("no Threads: line in /proc/self/status")
        .trim()
        .parse()
        .unwrap()
}

/// Calls `on_poll` after each poll of `future` with whether it finished.
struct OnPoll<F, C> {
    future: Pin<Box<F>>,
    on_poll: C,
}

impl<F: Future, C: FnMut(bool) + Unpin> Future for OnPoll<F, C> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let poll = self.future.as_mut().poll(cx);
        (self.on_poll)(poll.is_ready());
        poll
    }
}

type PendingWork = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One runtime with every kind of pending work, dropped once all of it
/// waits: tasks pending forever, hour-long sleeps, an accept, reads on
/// both ends of a TCP connection, and a blocking thread idle after its
/// closure. Every pending future is dropped by the drop.
fn drop_runtime_with_pending_work(workers: usize) {
    let rt = runtime(workers);
    let (listener, client, server) = rt.block_on(async {
        let listener = TcpListener::bind(LOCALHOST).await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (listener, client, server)
    });
    assert_eq!(rt.block_on(rt.spawn_blocking(|| 6 * 7)).unwrap(), 42);

    let mut work: Vec<PendingWork> = Vec::new();
    for _ in 0..4 {
        work.push(Box::pin(pending::<()>()));
    }
    for _ in 0..2 {
        work.push(Box::pin(async {
            sleep(Duration::from_secs(3600)).await;
        }));
    }
    work.push(Box::pin(async move {
        let _ = listener.accept().await;
    }));
    for mut stream in [client, server] {
        work.push(Box::pin(async move {
            let mut buf = [0; 8];
            let _ = stream.read(&mut buf).await;
        }));
    }
    let count = work.len();
    let (dropped, waiting) = (Counter::new(), Counter::new());
    let tasks: Vec<_> = work
        .into_iter()
        .map(|future| {
            let guard = DropGuard(dropped.clone());
            let waiting = waiting.clone();
            rt.spawn(OnPoll {
                future: Box::pin(async move {
                    let _guard = guard;
                    future.await;
                }),
                on_poll: move |ready: bool| {
                    assert!(!ready, "pending work finished");
                    waiting.incr();
                },
            })
        })
        .collect();
    // Each has been polled and is waiting (its socket or timer registered).
    waiting.wait_for(count);
    assert_eq!(rt.metrics().num_alive_tasks(), count);
    drop(rt);
    assert_eq!(dropped.get(), count, "pending futures left undropped");
    for task in &tasks {
        assert!(
            task.is_finished(),
            "a cancelled task's handle is not finished"
        );
    }
}

/// Waits (bounded) for the descriptors and thread count to come back to
/// `fds` and `threads`; threads the runtime joined may take a moment to
/// leave the kernel's count.
#[track_caller]
fn wait_for_baseline(fds: &[(i32, String)], threads: usize) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let (now_fds, now_threads) = (open_fds(), thread_count());
        if now_fds == fds && now_threads == threads {
            return;
        }
        if Instant::now() >= deadline {
            let leaked: Vec<_> = now_fds.iter().filter(|fd| !fds.contains(fd)).collect();
            panic!(
                "after {LIMIT:?}: {} descriptors open (baseline {}; new: {leaked:?}), \
                 {now_threads} threads (baseline {threads})",
                now_fds.len(),
                fds.len()
            );
        }
        thread::sleep(Duration::from_millis(1));
    }
}

fn runtimes_dropped_with_pending_work_with(test: &str, runtimes: usize) {
    in_child_process(test, || {
        let started = Instant::now();
        // Once first, so what is opened on first use only (the test
        // harness's, the runtime's globals) is open before the baseline.
        drop_runtime_with_pending_work(1);
        let (fds, threads) = (open_fds(), thread_count());
        for i in 0..runtimes {
            drop_runtime_with_pending_work(WORKERS[i % WORKERS.len()]);
        }
        wait_for_baseline(&fds, threads);
        report(
            &format!(
                "{runtimes} runtimes dropped with pending work; {} descriptors and {threads} \
                 threads before and after",
                fds.len()
            ),
            started,
        );
    });
}

#[test]
fn runtimes_dropped_with_pending_work() {
    runtimes_dropped_with_pending_work_with("runtimes_dropped_with_pending_work", RUNTIMES_SHORT);
}

#[test]
#[ignore = "long mode: cargo test --release -p weft-tests --test stress -- --ignored"]
fn long_runtimes_dropped_with_pending_work() {
    runtimes_dropped_with_pending_work_with(
        "long_runtimes_dropped_with_pending_work",
        RUNTIMES_LONG,
    );
}

// ---------------------------------------------------------------------------
// Wake storm from foreign threads.

/// Where foreign threads signal one task: a count of signals not yet
/// taken, and the waker of the task's last poll.
#[derive(Default)]
struct Signals {
    unread: AtomicU64,
    /// Signals claimed by a sender (sent or about to be).
    sent: AtomicU64,
    waker: Mutex<Option<Waker>>,
    polls: AtomicU64,
    /// Wakes delivered (a waker was there to wake).
    wakes: AtomicU64,
}

/// Completes once `want` signals arrived; returns how many did.
///
/// It publishes its waker before taking the count, and a signal adds to
/// the count before looking for the waker (both under or across the same
/// lock), so a signal is either seen by this poll or wakes the task.
struct AwaitSignals {
    signals: Arc<Signals>,
    received: u64,
    want: u64,
}

impl Future for AwaitSignals {
    type Output = u64;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        let this = &mut *self;
        this.signals.polls.fetch_add(1, Ordering::Relaxed);
        {
            let mut slot = this.signals.waker.lock().unwrap();
            match &*slot {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                _ => *slot = Some(cx.waker().clone()),
            }
        }
        this.received += this.signals.unread.swap(0, Ordering::AcqRel);
        if this.received >= this.want {
            Poll::Ready(this.received)
        } else {
            Poll::Pending
        }
    }
}

/// Sends one signal, waking the task in one of four ways chosen by `how`.
fn signal(signals: &Signals, how: usize) {
    signals.unread.fetch_add(1, Ordering::AcqRel);
    let mut slot = signals.waker.lock().unwrap();
    let delivered = match how % 4 {
        0 => slot.take().map(|waker| {
            drop(slot);
            waker.wake();
        }),
        1 => slot.take().map(|waker| {
            drop(slot);
            waker.wake_by_ref();
        }),
        2 => slot.clone().map(|waker| {
            drop(slot);
            waker.wake();
        }),
        _ => slot.clone().map(|waker| {
            drop(slot);
            let again = waker.clone();
            drop(waker);
            again.wake_by_ref();
        }),
    };
    if delivered.is_some() {
        signals.wakes.fetch_add(1, Ordering::Relaxed);
    }
}

/// The work of sender `t`: going round every task (starting at its own
/// offset, so the threads meet on the same tasks), sends one signal to each
/// task that has taken all its earlier ones, until each task's quota of
/// `per_task` signals has been claimed by some sender. Waiting for a task
/// to take its signals makes most signals find a waker to wake, instead of
/// piling up unread. Gives up after [`LIMIT`] without progress (a lost
/// wake-up), leaving the test to report the stalled tasks.
fn send_signals(all: &[Arc<Signals>], t: usize, per_task: usize) {
    let mut deadline = Instant::now() + LIMIT;
    let offset = t * STORM_TASKS / STORM_THREADS;
    loop {
        let (mut sent, mut open) = (false, false);
        for i in 0..STORM_TASKS {
            let task = (offset + i) % STORM_TASKS;
            let signals = &all[task];
            if signals.sent.load(Ordering::Relaxed) as usize >= per_task {
                continue;
            }
            open = true;
            if signals.unread.load(Ordering::Acquire) > 0 {
                continue;
            }
            let claimed = signals
                .sent
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |sent| {
                    ((sent as usize) < per_task).then_some(sent + 1)
                });
            if let Ok(n) = claimed {
                signal(signals, n as usize + t);
                sent = true;
            }
        }
        if !open {
            return;
        }
        if sent {
            deadline = Instant::now() + LIMIT;
        } else if Instant::now() >= deadline {
            return;
        } else {
            thread::yield_now();
        }
    }
}

fn wake_storm_with(per_task: usize) {
    for workers in WORKERS {
        let started = Instant::now();
        let rt = runtime(workers);
        let all: Arc<Vec<Arc<Signals>>> =
            Arc::new((0..STORM_TASKS).map(|_| Arc::default()).collect());
        let tasks: Vec<_> = all
            .iter()
            .map(|signals| {
                rt.spawn(AwaitSignals {
                    signals: signals.clone(),
                    received: 0,
                    want: per_task as u64,
                })
            })
            .collect();
        let senders: Vec<_> = (0..STORM_THREADS)
            .map(|t| {
                let all = all.clone();
                thread::spawn(move || send_signals(&all, t, per_task))
            })
            .collect();
        for sender in senders {
            sender.join().unwrap();
        }
        let received = rt.block_on(timeout(LIMIT, async move {
            let mut received = Vec::new();
            for task in tasks {
                received.push(task.await.unwrap());
            }
            received
        }));
        let received = received.unwrap_or_else(|_| {
            let unread: Vec<_> = all
                .iter()
                .map(|s| s.unread.load(Ordering::Relaxed))
                .collect();
            panic!(
                "{workers} workers: tasks stalled with every signal sent (a lost wake-up); \
                 signals not taken per task: {unread:?}"
            )
        });
        let (mut wakes, mut polls_all) = (0, 0);
        for (task, signals) in all.iter().enumerate() {
            assert_eq!(
                received[task], per_task as u64,
                "{workers} workers: task {task} got the wrong number of signals"
            );
            assert_eq!(signals.unread.load(Ordering::Relaxed), 0);
            let (polls, task_wakes) = (
                signals.polls.load(Ordering::Relaxed),
                signals.wakes.load(Ordering::Relaxed),
            );
            assert!(
                (1..=task_wakes + 1).contains(&polls),
                "{workers} workers: task {task} polled {polls} times for {task_wakes} wakes"
            );
            wakes += task_wakes;
            polls_all += polls;
        }
        assert_eq!(rt.metrics().num_alive_tasks(), 0);
        report(
            &format!(
                "{} signals from {STORM_THREADS} threads to {STORM_TASKS} tasks on {workers} \
                 workers, {wakes} wakes delivered, {polls_all} polls",
                per_task * STORM_TASKS
            ),
            started,
        );
    }
}

#[test]
fn wake_storm_from_foreign_threads() {
    wake_storm_with(SIGNALS_PER_TASK_SHORT);
}

#[test]
#[ignore = "long mode: cargo test --release -p weft-tests --test stress -- --ignored"]
fn long_wake_storm_from_foreign_threads() {
    wake_storm_with(SIGNALS_PER_TASK_LONG);
}

// ---------------------------------------------------------------------------
// Mixed blocking and async load.

/// The result of operation `x`, whichever way it is computed: some CPU
/// work (a few rounds of xorshift).
fn work(x: u64) -> u64 {
    let mut state = x.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for _ in 0..64 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
    }
    state
}

/// How many closures run in the blocking pool at once, and the most seen.
#[derive(Default)]
struct InPool {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl InPool {
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let now = self.now.fetch_add(1, Ordering::AcqRel) + 1;
        self.most.fetch_max(now, Ordering::AcqRel);
        let result = f();
        self.now.fetch_sub(1, Ordering::AcqRel);
        result
    }
}

/// Operation `k` of a task, computing `work(x)` one of four ways.
async fn mixed_op(k: usize, x: u64, pool: Arc<InPool>) -> u64 {
    match k % 4 {
        0 => weft::spawn_blocking(move || {
            pool.run(|| {
                if x.is_multiple_of(16) {
                    thread::sleep(Duration::from_millis(1));
                }
                work(x)
            })
        })
        .await
        .unwrap(),
        1 => {
            yield_now().await;
            work(x)
        }
        2 => {
            sleep(Duration::from_micros(500 * (x % 2))).await;
            work(x)
        }
        _ => {
            let handle = Handle::current();
            weft::spawn_blocking(move || {
                pool.run(|| {
                    handle.block_on(async move {
                        let inner = weft::spawn(async move {
                            yield_now().await;
                            work(x)
                        });
                        sleep(Duration::ZERO).await;
                        inner.await.unwrap()
                    })
                })
            })
            .await
            .unwrap()
        }
    }
}

fn mixed_blocking_and_async_load_with(ops: usize) {
    assert_eq!(ops % MIXED_TASKS, 0);
    let per_task = ops / MIXED_TASKS;
    for workers in WORKERS {
        let started = Instant::now();
        let (mut builder, _) = builder(workers);
        let rt = builder.max_blocking_threads(MAX_BLOCKING).build().unwrap();
        let pool = Arc::new(InPool::default());
        let most_threads = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..MIXED_TASKS)
            .map(|t| {
                let (pool, most_threads) = (pool.clone(), most_threads.clone());
                let metrics = rt.metrics();
                rt.spawn(async move {
                    let mut sum = 0u64;
                    for k in 0..per_task {
                        let x = (t * per_task + k) as u64;
                        sum = sum.wrapping_add(mixed_op(k, x, pool.clone()).await);
                        most_threads.fetch_max(metrics.num_blocking_threads(), Ordering::Relaxed);
                    }
                    sum
                })
            })
            .collect();
        let sum = rt
            .block_on(timeout(LIMIT, async move {
                let mut sum = 0u64;
                for task in tasks {
                    sum = sum.wrapping_add(task.await.unwrap());
                }
                sum
            }))
            .unwrap_or_else(|_| panic!("{workers} workers: the mixed load stalled"));
        let expected = (0..ops as u64).fold(0u64, |sum, x| sum.wrapping_add(work(x)));
        assert_eq!(sum, expected, "{workers} workers: sum of the results");
        let (most_closures, most_threads) = (
            pool.most.load(Ordering::Relaxed),
            most_threads.load(Ordering::Relaxed),
        );
        assert!(
            (1..=MAX_BLOCKING).contains(&most_closures),
            "{workers} workers: {most_closures} blocking closures ran at once (cap {MAX_BLOCKING})"
        );
        assert!(
            (1..=MAX_BLOCKING).contains(&most_threads),
            "{workers} workers: {most_threads} blocking threads seen (cap {MAX_BLOCKING})"
        );
        let metrics = rt.metrics();
        // One task per `MIXED_TASKS` and one inside each `block_on` op.
        let nested = (0..per_task).filter(|k| k % 4 == 3).count() * MIXED_TASKS;
        assert_eq!(metrics.spawned_tasks_count(), (MIXED_TASKS + nested) as u64);
        assert_eq!(metrics.num_alive_tasks(), 0, "{workers} workers");
        report(
            &format!(
                "{ops} mixed operations on {workers} workers, at most {most_closures} \
                 closures and {most_threads} blocking threads at once"
            ),
            started,
        );
    }
}

#[test]
fn mixed_blocking_and_async_load() {
    mixed_blocking_and_async_load_with(OPS_SHORT);
}

#[test]
#[ignore = "long mode: cargo test --release -p weft-tests --test stress -- --ignored"]
fn long_mixed_blocking_and_async_load() {
    mixed_blocking_and_async_load_with(OPS_LONG);
}

// ---------------------------------------------------------------------------
// Many loopback connections echoing.

/// Set in the child process that plays the clients; its value is the
/// server's address.
const ECHO_SERVER_VAR: &str = "WEFT_STRESS_ECHO_SERVER";

/// What the client process says it sent, on one line of its stderr.
const ECHO_REPORT: &str = "stress-echo-client:";

/// FNV-1a over a connection's byte stream, so the server's sum (read in
/// whatever chunks the kernel gives) matches the client's (written in
/// messages) only if every byte arrived, once and in order.
#[derive(Clone, Copy)]
struct StreamSum(u64);

impl StreamSum {
    fn new() -> StreamSum {
        StreamSum(0xcbf2_9ce4_8422_2325)
    }

    fn add(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The server side: accepts `connections`, echoes each until its client
/// closes, and returns the bytes echoed and the sum of the per-connection
/// stream sums. `open` counts connections accepted and not yet closed, and
/// `most_open` the most at once.
async fn echo_server(
    listener: TcpListener,
    connections: usize,
    most_open: Arc<AtomicUsize>,
) -> (u64, u64) {
    let open = Arc::new(AtomicUsize::new(0));
    let mut echoes = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let now = open.fetch_add(1, Ordering::AcqRel) + 1;
        most_open.fetch_max(now, Ordering::AcqRel);
        let open = open.clone();
        echoes.push(weft::spawn(async move {
            let (mut bytes, mut sum) = (0u64, StreamSum::new());
            let mut buf = vec![0; 4096];
            loop {
                let n = stream.read(&mut buf).await.expect("server read");
                if n == 0 {
                    break;
                }
                sum.add(&buf[..n]);
                bytes += n as u64;
                stream.write_all(&buf[..n]).await.expect("server write");
            }
            open.fetch_sub(1, Ordering::AcqRel);
            (bytes, sum.0)
        }));
    }
    let (mut bytes, mut sums) = (0u64, 0u64);
    for echo in echoes {
        let (b, s) = echo.await.unwrap();
        bytes += b;
        sums = sums.wrapping_add(s);
    }
    (bytes, sums)
}

/// One client connection and what it sent so far.
struct EchoClient {
    stream: TcpStream,
    conn: u64,
    round: u64,
    bytes: u64,
    sum: StreamSum,
}

impl EchoClient {
    /// Sends the next message (1 to 4,096 bytes of a pattern no other
    /// message shares) and checks its echo byte for byte.
    async fn echo_once(&mut self, echoed: &mut [u8]) {
        let seed = self.conn << 32 | self.round;
        let len = 1 + (scramble(seed) % 4096) as usize;
        let sent = pattern(seed, len);
        self.stream.write_all(&sent).await.expect("client write");
        self.stream
            .read_exact(&mut echoed[..len])
            .await
            .expect("client read");
        assert_same_bytes(&echoed[..len], &sent);
        self.sum.add(&sent);
        self.bytes += len as u64;
        self.round += 1;
    }
}

/// The client side, in the child process: opens `connections` to `addr`
/// (64 connecting at a time, each echoing a first message before the next
/// connect, so the server's accept queue cannot overflow and drop SYNs),
/// holds all of them, then has each echo messages until `echo_for` has
/// passed, checking every echoed byte. Reports connections, messages,
/// bytes, the sum of the stream sums and how long each phase took.
fn echo_clients(addr: std::net::SocketAddr, connections: usize, echo_for: Duration) {
    let limit = raise_fd_limit() as usize;
    assert!(
        limit > connections + 64,
        "RLIMIT_NOFILE is {limit}: too low for {connections} connections"
    );
    let rt = runtime(2);
    let connectors = 64.min(connections);
    let connecting = Instant::now();
    let clients = rt.block_on(timeout(LIMIT, async move {
        let tasks: Vec<_> = (0..connectors)
            .map(|c| {
                weft::spawn(async move {
                    let mut clients = Vec::new();
                    let mut echoed = vec![0; 4096];
                    for conn in (c..connections).step_by(connectors) {
                        let stream = TcpStream::connect(addr).await.expect("connect");
                        let mut client = EchoClient {
                            stream,
                            conn: conn as u64,
                            round: 0,
                            bytes: 0,
                            sum: StreamSum::new(),
                        };
                        client.echo_once(&mut echoed).await;
                        clients.push(client);
                    }
                    clients
                })
            })
            .collect();
        let mut clients = Vec::with_capacity(connections);
        for task in tasks {
            clients.extend(task.await.unwrap());
        }
        clients
    }));
    let clients = clients.expect("connecting every client took too long");
    assert_eq!(clients.len(), connections);
    let connect_time = connecting.elapsed();

    let echoing = Instant::now();
    let deadline = echoing + echo_for;
    let totals = rt.block_on(timeout(echo_for + LIMIT, async {
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|mut client| {
                weft::spawn(async move {
                    let mut echoed = vec![0; 4096];
                    while Instant::now() < deadline {
                        client.echo_once(&mut echoed).await;
                    }
                    client.stream.close().await.expect("client close");
                    let mut rest = [0; 1];
                    let eof = client.stream.read(&mut rest).await.expect("client eof");
                    assert_eq!(eof, 0, "the server sent bytes nobody asked for");
                    (client.round, client.bytes, client.sum.0)
                })
            })
            .collect();
        let (mut messages, mut bytes, mut sums) = (0u64, 0u64, 0u64);
        for task in tasks {
            let (m, b, s) = task.await.unwrap();
            messages += m;
            bytes += b;
            sums = sums.wrapping_add(s);
        }
        (messages, bytes, sums)
    }));
    let (messages, bytes, sums) = totals.expect("the echo clients stalled (a lost wake-up)");
    eprintln!(
        "{ECHO_REPORT} connections={connections} messages={messages} bytes={bytes} sums={sums} \
         connect_ms={} echo_ms={}",
        connect_time.as_millis(),
        echoing.elapsed().as_millis()
    );
}

/// Reads `key=value` from the client's report line.
fn report_field(report: &str, key: &str) -> u64 {
    report
        .split_whitespace()
        .find_map(|field| field.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in the client's report: {report}"))
        .parse()
        .unwrap()
}

fn loopback_connections_echo_with(test: &str, connections: usize, echo_for: Duration) {
    if let Some(addr) = std::env::var_os(ECHO_SERVER_VAR) {
        let addr = addr.to_str().unwrap().parse().unwrap();
        echo_clients(addr, connections, echo_for);
        return;
    }
    let started = Instant::now();
    let limit = raise_fd_limit() as usize;
    assert!(
        limit > connections + 64,
        "RLIMIT_NOFILE is {limit}: too low for {connections} connections"
    );
    let rt = runtime(2);
    let listener = rt.block_on(TcpListener::bind(LOCALHOST)).unwrap();
    let addr = listener.local_addr().unwrap();
    let most_open = Arc::new(AtomicUsize::new(0));
    let server = rt.spawn(echo_server(listener, connections, most_open.clone()));

    // The clients run in a child process: both ends of 10,000 connections
    // in one process would pass the usual hard limit on descriptors.
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            test,
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "--include-ignored",
        ])
        .env(ECHO_SERVER_VAR, addr.to_string())
        .output()
        .expect("starting the client process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "the client process failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    let report_line = stderr
        .lines()
        .find(|line| line.starts_with(ECHO_REPORT))
        .unwrap_or_else(|| panic!("the client process did not report:\n{stderr}"));

    let (bytes, sums) = rt
        .block_on(timeout(LIMIT, server))
        .expect("the echo server stalled after its clients closed")
        .unwrap();
    assert_eq!(
        most_open.load(Ordering::Relaxed),
        connections,
        "connections held at once"
    );
    assert_eq!(report_field(report_line, "connections"), connections as u64);
    assert_eq!(bytes, report_field(report_line, "bytes"), "bytes echoed");
    assert_eq!(sums, report_field(report_line, "sums"), "stream checksums");
    assert_eq!(rt.metrics().num_alive_tasks(), 0);
    report(
        &format!(
            "{connections} loopback connections held (connected in {} ms), {} messages and \
             {bytes} bytes echoed and verified (in {} ms)",
            report_field(report_line, "connect_ms"),
            report_field(report_line, "messages"),
            report_field(report_line, "echo_ms")
        ),
        started,
    );
}

#[test]
fn loopback_connections_echo() {
    loopback_connections_echo_with(
        "loopback_connections_echo",
        CONNECTIONS_SHORT,
        ECHO_FOR_SHORT,
    );
}

#[test]
#[ignore = "long mode: cargo test --release -p weft-tests --test stress -- --ignored"]
fn long_loopback_connections_echo() {
    loopback_connections_echo_with(
        "long_loopback_connections_echo",
        CONNECTIONS_LONG,
        ECHO_FOR_LONG,
    );
}

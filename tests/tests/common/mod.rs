//! Helpers shared by the runtime tests: runtimes on 1, 2 and 4 workers,
//! counters tests can wait on, drop guards, gates (futures the test opens),
//! and a way to occupy every worker of a runtime.
//!
//! Every wait here blocks on a real event (a condvar that the awaited code
//! signals). The bound on each wait (`LIMIT`) only turns a hang into a
//! failure with a message; no test relies on it passing for timing.
#![allow(dead_code)]

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use weft::task::JoinHandle;
use weft::{Builder, Runtime};

/// The worker counts every runtime behaviour is checked with.
pub const WORKERS: [usize; 3] = [1, 2, 4];

/// How long a wait may take before the test fails instead of hanging.
pub const LIMIT: Duration = Duration::from_secs(20);

/// A runtime built for a test, with the name its threads carry (unique per
/// runtime, so a test can tell which runtime ran a task).
pub struct Rt {
    pub rt: Runtime,
    pub name: String,
    pub workers: usize,
}

impl Deref for Rt {
    type Target = Runtime;

    fn deref(&self) -> &Runtime {
        &self.rt
    }
}

/// A name no other runtime in this process carries.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A builder for `workers` workers whose threads carry a unique name.
pub fn builder(workers: usize) -> (Builder, String) {
    let name = unique_name(&format!("rt{workers}w"));
    let mut builder = Runtime::builder();
    builder.worker_threads(workers).thread_name(name.clone());
    (builder, name)
}

/// A runtime with `workers` workers.
pub fn runtime(workers: usize) -> Rt {
    let (mut builder, name) = builder(workers);
    Rt {
        rt: builder.build().expect("building a test runtime"),
        name,
        workers,
    }
}

/// Runs `f` on a fresh runtime of each size in [`WORKERS`].
pub fn for_each_workers(mut f: impl FnMut(&Rt)) {
    for workers in WORKERS {
        let rt = runtime(workers);
        f(&rt);
    }
}

/// A runtime whose configuration holds the returned marker: once the
/// runtime and everything that keeps its scheduler alive (handles, tasks,
/// wakers) are gone, the marker's strong count is back to 1.
pub fn tracked_runtime(workers: usize) -> (Rt, Arc<()>) {
    let marker = Arc::new(());
    let name = unique_name(&format!("tr{workers}w"));
    let in_config = marker.clone();
    let thread_name = name.clone();
    let rt = Runtime::builder()
        .worker_threads(workers)
        .thread_name_fn(move || {
            let _keep = &in_config;
            thread_name.clone()
        })
        .build()
        .expect("building a test runtime");
    (Rt { rt, name, workers }, marker)
}

/// Asserts that nothing keeps a tracked runtime's scheduler alive any more.
#[track_caller]
pub fn assert_freed(marker: &Arc<()>) {
    assert_eq!(
        Arc::strong_count(marker),
        1,
        "the runtime's scheduler is still alive: a task, waker or handle leaked"
    );
}

/// The name of the calling thread.
pub fn thread_name() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// A count that other threads can wait on.
#[derive(Default)]
pub struct Counter {
    value: Mutex<usize>,
    changed: Condvar,
}

impl Counter {
    pub fn new() -> Arc<Counter> {
        Arc::new(Counter::default())
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        self.value.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds one; returns the new value.
    pub fn incr(&self) -> usize {
        let mut value = self.lock();
        *value += 1;
        self.changed.notify_all();
        *value
    }

    /// Subtracts one; returns the new value.
    pub fn decr(&self) -> usize {
        let mut value = self.lock();
        *value -= 1;
        self.changed.notify_all();
        *value
    }

    pub fn get(&self) -> usize {
        *self.lock()
    }

    /// Blocks until the count is at least `n`.
    #[track_caller]
    pub fn wait_for(&self, n: usize) {
        let deadline = Instant::now() + LIMIT;
        let mut value = self.lock();
        while *value < n {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("waited {LIMIT:?} for a count of {n}, got {}", *value));
            value = self
                .changed
                .wait_timeout(value, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// Counts its own drop on a [`Counter`].
pub struct DropGuard(pub Arc<Counter>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.incr();
    }
}

/// Panics when dropped (unless already panicking), with its text as a
/// `&'static str` payload.
pub struct PanicOnDrop(pub &'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !thread::panicking() {
            std::panic::panic_any(self.0);
        }
    }
}

/// Counts every poll of the wrapped future on a [`Counter`].
pub struct PollCount<F> {
    future: Pin<Box<F>>,
    polls: Arc<Counter>,
}

pub fn poll_count<F: Future>(polls: &Arc<Counter>, future: F) -> PollCount<F> {
    PollCount {
        future: Box::pin(future),
        polls: polls.clone(),
    }
}

impl<F: Future> Future for PollCount<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.incr();
        self.future.as_mut().poll(cx)
    }
}

/// A one-shot condition a blocking thread waits on; opening it releases
/// every waiter, now and later.
#[derive(Default)]
pub struct Latch {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Latch {
    pub fn new() -> Arc<Latch> {
        Arc::new(Latch::default())
    }

    pub fn open(&self) {
        *self.open.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.opened.notify_all();
    }

    pub fn is_open(&self) -> bool {
        *self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks until opened.
    #[track_caller]
    pub fn wait(&self) {
        let deadline = Instant::now() + LIMIT;
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        while !*open {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("waited {LIMIT:?} for a latch to open"));
            open = self
                .opened
                .wait_timeout(open, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// `n` parties meet: like `std::sync::Barrier`, but a party that waits
/// longer than `LIMIT` gives up and learns that the meeting failed, so a
/// runtime that does not run the parties in parallel fails the test instead
/// of hanging it.
pub struct Rendezvous {
    arrived: Mutex<usize>,
    all: Condvar,
    n: usize,
}

impl Rendezvous {
    pub fn new(n: usize) -> Arc<Rendezvous> {
        Arc::new(Rendezvous {
            arrived: Mutex::new(0),
            all: Condvar::new(),
            n,
        })
    }

    /// True if all `n` parties arrived.
    pub fn wait(&self) -> bool {
        let deadline = Instant::now() + LIMIT;
        let mut arrived = self.arrived.lock().unwrap_or_else(|e| e.into_inner());
        *arrived += 1;
        self.all.notify_all();
        while *arrived < self.n {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            arrived = self
                .all
                .wait_timeout(arrived, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// A future that stays pending until its [`GateOpener`] opens it.
pub struct Gate {
    shared: Arc<GateShared>,
}

/// Opens a [`Gate`]; also tells how often the gate was polled.
#[derive(Clone)]
pub struct GateOpener {
    shared: Arc<GateShared>,
}

struct GateShared {
    state: Mutex<(bool, Option<Waker>)>,
    polls: Arc<Counter>,
}

impl Gate {
    /// A closed gate and its opener.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> (GateOpener, Gate) {
        let shared = Arc::new(GateShared {
            state: Mutex::new((false, None)),
            polls: Counter::new(),
        });
        (
            GateOpener {
                shared: shared.clone(),
            },
            Gate { shared },
        )
    }
}

impl GateOpener {
    pub fn open(&self) {
        let waker = {
            let mut state = self.shared.state.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Polls of the gate so far.
    pub fn polls(&self) -> usize {
        self.shared.polls.get()
    }

    /// Blocks until the gate was polled `n` times.
    #[track_caller]
    pub fn wait_polled(&self, n: usize) {
        self.shared.polls.wait_for(n);
    }

    /// The waker of the last pending poll, if any.
    pub fn waker(&self) -> Option<Waker> {
        self.shared.state.lock().unwrap().1.clone()
    }
}

impl Future for Gate {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let ready = {
            let mut state = self.shared.state.lock().unwrap();
            if state.0 {
                true
            } else {
                state.1 = Some(cx.waker().clone());
                false
            }
        };
        // Counted after the waker is stored, so a test that saw the poll
        // can open the gate and be sure the task is woken.
        self.shared.polls.incr();
        if ready {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Every worker of a runtime, each held by one task that blocks its thread
/// until [`release`](Blocked::release) (or drop).
pub struct Blocked {
    latch: Arc<Latch>,
    handles: Vec<JoinHandle<()>>,
    /// The worker threads, one per worker.
    pub threads: Vec<ThreadId>,
}

/// Occupies every worker of `rt` (one blocking task each) and returns once
/// all of them are held, so nothing else can run until release.
#[track_caller]
pub fn block_workers(rt: &Runtime) -> Blocked {
    let workers = rt.metrics().num_workers();
    let latch = Latch::new();
    let started = Counter::new();
    let threads = Arc::new(Mutex::new(Vec::new()));
    let handles = (0..workers)
        .map(|_| {
            let latch = latch.clone();
            let started = started.clone();
            let threads = threads.clone();
            rt.spawn(async move {
                threads.lock().unwrap().push(thread::current().id());
                started.incr();
                latch.wait();
            })
        })
        .collect();
    started.wait_for(workers);
    let threads = threads.lock().unwrap().clone();
    Blocked {
        latch,
        handles,
        threads,
    }
}

impl Blocked {
    /// Lets the workers go and waits for the blocking tasks to finish.
    pub fn release(mut self, rt: &Runtime) {
        self.latch.open();
        for handle in std::mem::take(&mut self.handles) {
            rt.block_on(handle).expect("a blocking task failed");
        }
    }

    /// Lets the workers go without waiting.
    pub fn open(&self) {
        self.latch.open();
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        self.latch.open();
    }
}

/// Re-checks `condition` until it holds. For states that only a runtime's
/// internals reach (a metric published when a worker parks, a blocking
/// thread that exits after its keep-alive) and that no event signals.
#[track_caller]
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !condition() {
        assert!(Instant::now() < deadline, "waited {LIMIT:?} for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// A future that returns `Pending` `pending` times (waking itself each
/// time) and then `value`, and appends `id` to `log` on every poll.
pub fn logged<T: Unpin>(
    id: usize,
    pending: usize,
    value: T,
    log: &Arc<Mutex<Vec<usize>>>,
) -> impl Future<Output = T> {
    let log = Arc::clone(log);
    let mut pending = pending;
    let mut value = Some(value);
    std::future::poll_fn(move |cx| {
        log.lock().unwrap().push(id);
        if pending == 0 {
            Poll::Ready(value.take().expect("polled after it finished"))
        } else {
            pending -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

/// Returns `Pending` once (waking itself), then `Ready(())`: a yield that
/// does not go through the scheduler.
pub async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

/// Keeps its own task's waker, and wakes it (by reference, then by value)
/// from its destructor, as a channel end that notifies on close would.
/// Counts its polls in `polls` and its drop in `drops`.
pub struct WakesItselfOnDrop {
    waker: Option<Waker>,
    polls: Arc<Counter>,
    _guard: DropGuard,
}

impl WakesItselfOnDrop {
    pub fn new(polls: &Arc<Counter>, drops: &Arc<Counter>) -> WakesItselfOnDrop {
        WakesItselfOnDrop {
            waker: None,
            polls: polls.clone(),
            _guard: DropGuard(drops.clone()),
        }
    }
}

impl Future for WakesItselfOnDrop {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.waker = Some(cx.waker().clone());
        self.polls.incr();
        Poll::Pending
    }
}

impl Drop for WakesItselfOnDrop {
    fn drop(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake_by_ref();
            waker.wake();
        }
    }
}

/// A 1-worker runtime whose only blocking thread runs a closure that waits
/// for the returned latch and then returns `output`. It returns once the
/// closure has started, so every closure spawned after it queues.
pub fn runtime_with_its_blocking_thread_busy<T: Send + 'static>(
    output: T,
) -> (Runtime, JoinHandle<T>, Arc<Latch>) {
    let rt = Builder::new()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let started = Counter::new();
    let release = Latch::new();
    let (started_in, release_in) = (started.clone(), release.clone());
    let running = rt.spawn_blocking(move || {
        started_in.incr();
        release_in.wait();
        output
    });
    started.wait_for(1);
    (rt, running, release)
}

/// Raises this process's soft limit on open descriptors to its hard limit
/// and returns the new soft limit. Tests that hold many sockets at once
/// call it: the usual default soft limit (1024) is below what they need.
pub fn raise_fd_limit() -> libc::rlim_t {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for getrlimit to fill.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(got, 0, "getrlimit: {}", std::io::Error::last_os_error());
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `limit` is a valid rlimit; raising the soft limit up to
        // the hard one needs no privilege.
        let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
        assert_eq!(set, 0, "setrlimit: {}", std::io::Error::last_os_error());
    }
    limit.rlim_cur
}

/// `len` bytes of a pseudo-random pattern (xorshift64 seeded by `seed`),
/// so a byte that arrives out of order or twice shows.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Asserts two byte strings are equal, naming the first difference
/// instead of printing both.
#[track_caller]
pub fn assert_same_bytes(got: &[u8], want: &[u8]) {
    if let Some(at) = got.iter().zip(want).position(|(g, w)| g != w) {
        panic!(
            "bytes differ first at offset {at} (got {:#04x}, want {:#04x}); lengths {} and {}",
            got[at],
            want[at],
            got.len(),
            want.len()
        );
    }
    assert_eq!(got.len(), want.len(), "same prefix, different lengths");
}

/// A directory of its own under the system's temporary directory, removed
/// with its contents on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("weft-{}-{}", std::process::id(), unique_name(what)));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("creating a temporary directory");
        TempDir(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

//! Scheduler micro-benchmarks: weft against tokio and smol, side by side.
//!
//! One criterion group per row of `shared/BENCHMARKS.md`, one function per
//! runtime (`weft`, `tokio`, `smol`), every runtime on the same number of
//! worker threads: `WEFT_BENCH_WORKERS` (default 2).
//!
//! Rows:
//! - `spawn_many_local`: a task spawns 10 000 trivial tasks and awaits all
//!   their join handles; throughput in tasks.
//! - `yield_many`: 200 tasks each `yield_now` 1000 times; throughput in yields.
//! - `chained_spawn`: each task spawns the next, 1000 deep; the last one
//!   signals the bench; throughput in spawns.
//! - `ping_pong`: 1000 task pairs bounce a message 100 times over two
//!   `async_channel::bounded(1)` channels; throughput in round trips.
//! - `spawn_many_remote_idle`: the bench thread (not a worker) spawns 10 000
//!   trivial tasks onto idle workers and awaits them; throughput in tasks.
//! - `spawn_many_remote_busy`: the same while every worker runs tasks that
//!   respawn themselves (2 chains per worker), so remote spawns compete with
//!   local ones: a scheduler that starves its injector shows here.
//! - `timers`: 100 000 tasks each sleep 1–50 ms, then all are awaited; the
//!   row is the wall time past the last deadline (iteration time − 50 ms).
//! - `spawn_blocking`: 10 000 trivial closures started at once on the blocking
//!   pool, then all awaited; throughput in calls.
//!
//! How the three are driven, identically:
//! - Every row body is written once, generic over [`Spawner`], so the three
//!   runtimes run the very same code; only `spawn`, the join handle and
//!   `yield_now` differ. The channels are `async-channel` for all three.
//! - The timing loop runs through criterion's async support,
//!   `b.to_async(executor).iter(..)`. For weft that is weft's own
//!   `AsyncExecutor` impl for `&Runtime` (feature `criterion`); tokio and smol
//!   get a two-line local wrapper each (criterion's `async_tokio` /
//!   `async_smol` features are not enabled, and its smol executor would use
//!   smol's global executor, whose thread count we do not control).
//! - The bench thread is never one of the workers: tokio's and weft's
//!   `block_on` drive only the timing future on the calling thread, and for
//!   smol the bench thread runs `futures_lite::future::block_on(fut)` — *not*
//!   `block_on(ex.run(fut))`, which would turn it into an (n+1)-th worker.
//!   Each row body therefore starts by spawning its work onto the runtime, so
//!   all the measured spawning, yielding and messaging happens on the n
//!   workers.
//! - Only one runtime exists at a time: each is built just before its bench
//!   function and dropped right after, so an idle peer cannot disturb it.
//!
//! CPU columns: around every timed call criterion makes of a bench function
//! (its warm-up calls included: they run the same body), the process CPU
//! clock (`CLOCK_PROCESS_CPUTIME_ID`: every thread of the process, so the
//! workers, the bench thread, smol's reactor and the blocking pools) is read
//! before and after. When the function ends, the totals go to
//! `<criterion dir>/<row>/<runtime>/cpu.json`, next to criterion's own
//! `new/estimates.json`; `ci/bench_report.py` reads them. The criterion dir
//! is found as criterion finds it: `$CRITERION_HOME`, else
//! `$CARGO_TARGET_DIR/criterion`, else `criterion/` in the target directory
//! this bench binary was built into. The file holds `cpu_ns_per_element`
//! (total CPU over total elements: the chained_spawn "CPU ns" column) and
//! `cpu_ms_per_iteration` (the timers "CPU ms" column). Nothing is written
//! in criterion's test mode (`cargo test --benches`, `-- --test`).

use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use async_executor::Executor;
use criterion::async_executor::AsyncExecutor;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Worker threads for every runtime: `WEFT_BENCH_WORKERS`, default 2.
fn workers() -> usize {
    match std::env::var("WEFT_BENCH_WORKERS") {
        Ok(v) => v
            .trim()
            .parse()
            .ok()
            .filter(|&n: &usize| n > 0)
            .unwrap_or_else(|| panic!("WEFT_BENCH_WORKERS must be a positive integer, got {v:?}")),
        Err(_) => 2,
    }
}

// ---------------------------------------------------------------------------
// The runtime-specific surface the row bodies use.
// ---------------------------------------------------------------------------

/// What a row body needs from a runtime: spawn, join, detach, yield.
trait Spawner: Copy + Send + Sync + 'static {
    type Handle<T: Send + 'static>: Send + 'static;

    fn spawn<F>(self, fut: F) -> Self::Handle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Awaits a task's output; a failed task fails the bench.
    fn join<T: Send + 'static>(handle: Self::Handle<T>) -> impl Future<Output = T> + Send;

    /// Lets a task run on without anyone awaiting it.
    fn detach<T: Send + 'static>(handle: Self::Handle<T>);

    fn yield_now() -> impl Future<Output = ()> + Send;

    /// Completes after `duration`, on the runtime's timer.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send;

    /// Runs a closure on the runtime's blocking pool.
    fn spawn_blocking<T: Send + 'static>(
        self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> impl Future<Output = T> + Send;
}

/// weft: the free functions, which use the runtime the caller runs on.
#[derive(Clone, Copy)]
struct WeftSpawner;

impl Spawner for WeftSpawner {
    type Handle<T: Send + 'static> = weft::task::JoinHandle<T>;

    fn spawn<F>(self, fut: F) -> Self::Handle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        weft::spawn(fut)
    }

    async fn join<T: Send + 'static>(handle: Self::Handle<T>) -> T {
        handle.await.expect("weft task failed")
    }

    fn detach<T: Send + 'static>(handle: Self::Handle<T>) {
        drop(handle);
    }

    async fn yield_now() {
        weft::task::yield_now().await;
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        weft::time::sleep(duration)
    }

    fn spawn_blocking<T: Send + 'static>(
        self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> impl Future<Output = T> + Send {
        Self::join(weft::spawn_blocking(f))
    }
}

/// tokio: the free functions, which use the runtime the caller runs on.
#[derive(Clone, Copy)]
struct TokioSpawner;

impl Spawner for TokioSpawner {
    type Handle<T: Send + 'static> = tokio::task::JoinHandle<T>;

    fn spawn<F>(self, fut: F) -> Self::Handle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(fut)
    }

    async fn join<T: Send + 'static>(handle: Self::Handle<T>) -> T {
        handle.await.expect("tokio task failed")
    }

    fn detach<T: Send + 'static>(handle: Self::Handle<T>) {
        drop(handle);
    }

    async fn yield_now() {
        tokio::task::yield_now().await;
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }

    fn spawn_blocking<T: Send + 'static>(
        self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> impl Future<Output = T> + Send {
        Self::join(tokio::task::spawn_blocking(f))
    }
}

/// smol: a leaked `async_executor::Executor` run by n threads (see [`SmolRt`]).
#[derive(Clone, Copy)]
struct SmolSpawner(&'static Executor<'static>);

impl Spawner for SmolSpawner {
    type Handle<T: Send + 'static> = async_executor::Task<T>;

    fn spawn<F>(self, fut: F) -> Self::Handle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.spawn(fut)
    }

    fn join<T: Send + 'static>(handle: Self::Handle<T>) -> impl Future<Output = T> + Send {
        handle
    }

    fn detach<T: Send + 'static>(handle: Self::Handle<T>) {
        // A smol `Task` cancels on drop; detach it to match the others.
        handle.detach();
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }

    /// smol's timers (async-io's, driven by its own reactor thread).
    async fn sleep(duration: Duration) {
        smol::Timer::after(duration).await;
    }

    /// smol's blocking pool (the `blocking` crate, through `smol::unblock`).
    fn spawn_blocking<T: Send + 'static>(
        self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> impl Future<Output = T> + Send {
        smol::unblock(f)
    }
}

// ---------------------------------------------------------------------------
// Runtimes and the executors criterion drives them through.
// ---------------------------------------------------------------------------

/// `WEFT_BENCH_OBSERVE` picks what weft observes while benchmarked, to
/// measure what observing costs: unset or `default` (metrics and the stall
/// detector, as shipped), `no-stall` (the detector off), `histogram` (the
/// poll-time histogram on as well).
fn weft_runtime(n: usize) -> weft::Runtime {
    let mut builder = weft::Runtime::builder();
    builder.worker_threads(n);
    match std::env::var("WEFT_BENCH_OBSERVE").as_deref() {
        Err(_) | Ok("default") => {}
        Ok("no-stall") => {
            builder.stall_threshold(None);
        }
        Ok("histogram") => {
            builder.enable_poll_time_histogram();
        }
        Ok(other) => {
            panic!("WEFT_BENCH_OBSERVE={other:?}: expected default, no-stall or histogram")
        }
    }
    builder.build().expect("build weft runtime")
}

fn tokio_runtime(n: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(n)
        .enable_all()
        .build()
        .expect("build tokio runtime")
}

/// Criterion executor for tokio: `Runtime::block_on` on the bench thread.
struct TokioExec<'a>(&'a tokio::runtime::Runtime);

impl AsyncExecutor for TokioExec<'_> {
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        self.0.block_on(future)
    }
}

/// smol's multi-threaded setup: one executor, n threads each running
/// `block_on(ex.run(shutdown))`. The executor is leaked so tasks can hold a
/// `&'static` to it (one small leak per bench function); dropping `SmolRt`
/// closes the shutdown channel and joins the threads.
struct SmolRt {
    ex: &'static Executor<'static>,
    stop: Option<async_channel::Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl SmolRt {
    fn new(n: usize) -> Self {
        let ex: &'static Executor<'static> = Box::leak(Box::new(Executor::new()));
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let threads = (0..n)
            .map(|i| {
                let stopped = stopped.clone();
                thread::Builder::new()
                    .name(format!("smol-worker-{i}"))
                    .spawn(move || {
                        futures_lite::future::block_on(ex.run(async move {
                            // Err(closed) once `SmolRt` is dropped.
                            let _ = stopped.recv().await;
                        }))
                    })
                    .expect("spawn smol worker")
            })
            .collect();
        SmolRt {
            ex,
            stop: Some(stop),
            threads,
        }
    }
}

impl Drop for SmolRt {
    fn drop(&mut self) {
        drop(self.stop.take());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Criterion executor for smol: a plain `block_on` on the bench thread, which
/// does not run executor tasks; the n worker threads do.
struct SmolExec;

impl AsyncExecutor for SmolExec {
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        futures_lite::future::block_on(future)
    }
}

/// Drops a runtime on a helper thread and waits at most `limit` for it, so a
/// shutdown that hangs is reported instead of hanging the whole bench run.
fn drop_with_deadline<R: Send + 'static>(name: &str, rt: R, limit: Duration) {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        drop(rt);
        let _ = tx.send(());
    });
    if rx.recv_timeout(limit).is_err() {
        eprintln!(
            "warning: dropping the {name} runtime took longer than {limit:?}; left it behind"
        );
    }
}

// ---------------------------------------------------------------------------
// CPU columns.
// ---------------------------------------------------------------------------

/// CPU time consumed so far by all threads of this process.
fn process_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable `timespec` that outlives the call,
    // which is all clock_gettime(2) requires; the clock id is a constant the
    // kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    assert_eq!(
        rc,
        0,
        "clock_gettime(CLOCK_PROCESS_CPUTIME_ID): {}",
        io::Error::last_os_error()
    );
    let secs = u64::try_from(now.tv_sec).expect("CPU clock seconds are never negative");
    let nanos = u32::try_from(now.tv_nsec).expect("CPU clock nanoseconds fit in u32");
    Duration::new(secs, nanos)
}

/// Process CPU time and wall time over every timed call criterion made of
/// one bench function, with the iterations those calls ran.
#[derive(Default)]
struct CpuTally {
    iterations: u64,
    cpu: Duration,
    wall: Duration,
}

impl CpuTally {
    /// Writes `<criterion dir>/<row>/<runtime>/cpu.json`; a failure to write
    /// is reported, not fatal, so the timings still stand.
    fn write(&self, row: &str, runtime: &str, elements_per_iteration: u64) {
        if self.iterations == 0 || criterion_test_mode() {
            return; // filtered out, or a test run: nothing measured
        }
        let elements = self.iterations * elements_per_iteration;
        let cpu_ns = self.cpu.as_nanos();
        let json = format!(
            "{{\"row\": \"{row}\", \"runtime\": \"{runtime}\", \"workers\": {workers}, \
             \"iterations\": {iterations}, \"elements_per_iteration\": {elements_per_iteration}, \
             \"cpu_ns\": {cpu_ns}, \"wall_ns\": {wall_ns}, \
             \"cpu_ns_per_element\": {per_element:.1}, \"cpu_ms_per_iteration\": {per_iteration:.3}}}\n",
            workers = workers(),
            iterations = self.iterations,
            wall_ns = self.wall.as_nanos(),
            per_element = cpu_ns as f64 / elements as f64,
            per_iteration = cpu_ns as f64 / 1e6 / self.iterations as f64,
        );
        let dir = criterion_dir().join(row).join(runtime);
        let path = dir.join("cpu.json");
        if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, json)) {
            eprintln!("warning: could not write {}: {e}", path.display());
        }
    }
}

/// Criterion's test mode, decided from the arguments as criterion decides it:
/// no `--bench` (as under `cargo test --benches`), or `--test`.
fn criterion_test_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    !has("--bench") || has("--test")
}

/// Where criterion writes its results; see the module docs.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    // The bench binary is `<target>/[<triple>/]<profile>/deps/scheduler-<hash>`;
    // cargo marks `<target>` with a CACHEDIR.TAG.
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .find(|dir| dir.join("CACHEDIR.TAG").is_file())
                .map(|target| target.join("criterion"))
        })
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

// ---------------------------------------------------------------------------
// Rows.
// ---------------------------------------------------------------------------

/// One row of the table: a criterion group with one function per runtime.
trait Row {
    const NAME: &'static str;
    /// Elements one iteration processes (tasks, yields, spawns, round trips).
    const ELEMENTS: u64;
    /// Time an iteration spends waiting by design (a row's longest sleep);
    /// subtracted, so the row reports only what the runtime adds to it.
    const BASELINE: Duration = Duration::ZERO;
    fn run<S: Spawner>(sp: S) -> impl Future<Output = ()> + Send;
}

/// Times `R` on one runtime, through criterion's async support, and adds the
/// process CPU time and iterations of this call to `tally`.
fn measure<R: Row, S: Spawner>(
    b: &mut criterion::Bencher<'_>,
    exec: impl AsyncExecutor,
    sp: S,
    tally: &mut CpuTally,
) {
    let iterations = Cell::new(0u64);
    let cpu_start = process_cpu_time();
    let wall_start = Instant::now();
    if R::BASELINE.is_zero() {
        b.to_async(exec).iter(|| {
            iterations.set(iterations.get() + 1);
            R::run(sp)
        });
    } else {
        b.to_async(exec).iter_custom(|iters| {
            iterations.set(iterations.get() + iters);
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    R::run(sp).await;
                }
                let baseline = R::BASELINE * u32::try_from(iters).unwrap_or(u32::MAX);
                start.elapsed().saturating_sub(baseline)
            }
        });
    }
    tally.iterations += iterations.get();
    tally.wall += wall_start.elapsed();
    tally.cpu += process_cpu_time().saturating_sub(cpu_start);
}

fn bench_row<R: Row>(c: &mut Criterion) {
    let n = workers();
    let mut group = c.benchmark_group(R::NAME);
    group.throughput(Throughput::Elements(R::ELEMENTS));

    let rt = weft_runtime(n);
    let mut tally = CpuTally::default();
    group.bench_function("weft", |b| {
        measure::<R, _>(b, &rt, WeftSpawner, &mut tally);
    });
    tally.write(R::NAME, "weft", R::ELEMENTS);
    drop_with_deadline("weft", rt, Duration::from_secs(10));

    let rt = tokio_runtime(n);
    let mut tally = CpuTally::default();
    group.bench_function("tokio", |b| {
        measure::<R, _>(b, TokioExec(&rt), TokioSpawner, &mut tally);
    });
    tally.write(R::NAME, "tokio", R::ELEMENTS);
    drop_with_deadline("tokio", rt, Duration::from_secs(10));

    let rt = SmolRt::new(n);
    let sp = SmolSpawner(rt.ex);
    let mut tally = CpuTally::default();
    group.bench_function("smol", |b| {
        measure::<R, _>(b, SmolExec, sp, &mut tally);
    });
    tally.write(R::NAME, "smol", R::ELEMENTS);
    drop_with_deadline("smol", rt, Duration::from_secs(10));

    group.finish();
}

struct SpawnManyLocal;

impl Row for SpawnManyLocal {
    const NAME: &'static str = "spawn_many_local";
    const ELEMENTS: u64 = 10_000;

    async fn run<S: Spawner>(sp: S) {
        // One task on a worker spawns all the others (local spawns).
        S::join(sp.spawn(spawn_and_join_all(sp, Self::ELEMENTS as usize))).await;
    }
}

struct YieldMany;

impl YieldMany {
    const TASKS: usize = 200;
    const YIELDS: usize = 1000;
}

impl Row for YieldMany {
    const NAME: &'static str = "yield_many";
    const ELEMENTS: u64 = (YieldMany::TASKS * YieldMany::YIELDS) as u64;

    async fn run<S: Spawner>(sp: S) {
        let done = S::join(sp.spawn(async move {
            let handles: Vec<_> = (0..Self::TASKS)
                .map(|_| {
                    sp.spawn(async {
                        for _ in 0..Self::YIELDS {
                            S::yield_now().await;
                        }
                    })
                })
                .collect();
            let mut done = 0;
            for h in handles {
                S::join(h).await;
                done += 1;
            }
            done
        }))
        .await;
        assert_eq!(done, Self::TASKS);
    }
}

struct ChainedSpawn;

impl ChainedSpawn {
    /// Spawns a task that spawns the next one, `remaining` tasks in all; the
    /// last one sends on `done`.
    fn chain<S: Spawner>(sp: S, remaining: usize, done: async_channel::Sender<()>) {
        if remaining == 0 {
            done.try_send(()).expect("signal chained_spawn completion");
        } else {
            S::detach(sp.spawn(async move { Self::chain(sp, remaining - 1, done) }));
        }
    }
}

impl Row for ChainedSpawn {
    const NAME: &'static str = "chained_spawn";
    const ELEMENTS: u64 = 1000;

    async fn run<S: Spawner>(sp: S) {
        let (tx, rx) = async_channel::bounded(1);
        // The first spawn comes from the bench thread; the other 999 are made
        // by the tasks themselves, on the workers.
        Self::chain(sp, Self::ELEMENTS as usize, tx);
        rx.recv().await.expect("chained_spawn completion");
    }
}

struct PingPong;

impl PingPong {
    const PAIRS: usize = 1000;
    const ROUND_TRIPS: usize = 100;
}

impl Row for PingPong {
    const NAME: &'static str = "ping_pong";
    const ELEMENTS: u64 = (PingPong::PAIRS * PingPong::ROUND_TRIPS) as u64;

    async fn run<S: Spawner>(sp: S) {
        let trips = S::join(sp.spawn(async move {
            let mut handles = Vec::with_capacity(Self::PAIRS * 2);
            for _ in 0..Self::PAIRS {
                let (ping_tx, ping_rx) = async_channel::bounded::<usize>(1);
                let (pong_tx, pong_rx) = async_channel::bounded::<usize>(1);
                handles.push(sp.spawn(async move {
                    for i in 0..Self::ROUND_TRIPS {
                        ping_tx.send(i).await.expect("ping send");
                        let back = pong_rx.recv().await.expect("pong recv");
                        debug_assert_eq!(back, i);
                    }
                    Self::ROUND_TRIPS
                }));
                handles.push(sp.spawn(async move {
                    for _ in 0..Self::ROUND_TRIPS {
                        let i = ping_rx.recv().await.expect("ping recv");
                        pong_tx.send(i).await.expect("pong send");
                    }
                    0
                }));
            }
            let mut trips = 0;
            for h in handles {
                trips += S::join(h).await;
            }
            trips
        }))
        .await;
        assert_eq!(trips, Self::PAIRS * Self::ROUND_TRIPS);
    }
}

/// Spawns `n` trivial tasks from where it runs (a worker, or the bench
/// thread) and awaits them all.
async fn spawn_and_join_all<S: Spawner>(sp: S, n: usize) {
    let handles: Vec<_> = (0..n)
        .map(|i| sp.spawn(async move { black_box(i) }))
        .collect();
    let mut sum = 0;
    for h in handles {
        sum += S::join(h).await;
    }
    assert_eq!(sum, n * (n - 1) / 2);
}

struct SpawnManyRemoteIdle;

impl Row for SpawnManyRemoteIdle {
    const NAME: &'static str = "spawn_many_remote_idle";
    const ELEMENTS: u64 = 10_000;

    async fn run<S: Spawner>(sp: S) {
        // Spawned from the bench thread, which is not a worker: every spawn
        // goes through the runtime's remote (injection) path.
        spawn_and_join_all(sp, Self::ELEMENTS as usize).await;
    }
}

struct SpawnManyRemoteBusy;

impl SpawnManyRemoteBusy {
    /// A task that spawns its successor and ends, until `stop` is set.
    fn respawn<S: Spawner>(sp: S, stop: Arc<AtomicBool>) {
        if !stop.load(Ordering::Relaxed) {
            S::detach(sp.spawn(async move { Self::respawn(sp, stop) }));
        }
    }
}

impl Row for SpawnManyRemoteBusy {
    const NAME: &'static str = "spawn_many_remote_busy";
    const ELEMENTS: u64 = 10_000;

    async fn run<S: Spawner>(sp: S) {
        let stop = Arc::new(AtomicBool::new(false));
        for _ in 0..2 * workers() {
            let stop = stop.clone();
            S::detach(sp.spawn(async move { Self::respawn(sp, stop) }));
        }
        spawn_and_join_all(sp, Self::ELEMENTS as usize).await;
        stop.store(true, Ordering::Relaxed);
    }
}

struct Timers;

impl Timers {
    const TASKS: u64 = 100_000;
    /// Sleeps spread over 1..=50 ms.
    const LONGEST: Duration = Duration::from_millis(50);
}

impl Row for Timers {
    const NAME: &'static str = "timers";
    /// One iteration: the row reports wall time past the last deadline.
    const ELEMENTS: u64 = 1;
    const BASELINE: Duration = Timers::LONGEST;

    async fn run<S: Spawner>(sp: S) {
        let woken = S::join(sp.spawn(async move {
            let handles: Vec<_> = (0..Self::TASKS)
                .map(|i| sp.spawn(S::sleep(Duration::from_millis(1 + i % 50))))
                .collect();
            let mut woken = 0;
            for h in handles {
                S::join(h).await;
                woken += 1;
            }
            woken
        }))
        .await;
        assert_eq!(woken, Self::TASKS);
    }
}

struct SpawnBlocking;

impl Row for SpawnBlocking {
    const NAME: &'static str = "spawn_blocking";
    const ELEMENTS: u64 = 10_000;

    async fn run<S: Spawner>(sp: S) {
        const N: usize = SpawnBlocking::ELEMENTS as usize;
        let sum = S::join(sp.spawn(async move {
            // Each call starts its closure at once; awaiting comes after.
            let calls: Vec<_> = (0..N)
                .map(|i| sp.spawn_blocking(move || black_box(i)))
                .collect();
            let mut sum = 0;
            for call in calls {
                sum += call.await;
            }
            sum
        }))
        .await;
        assert_eq!(sum, N * (N - 1) / 2);
    }
}

// ---------------------------------------------------------------------------

fn spawn_many_local(c: &mut Criterion) {
    bench_row::<SpawnManyLocal>(c);
}

fn yield_many(c: &mut Criterion) {
    bench_row::<YieldMany>(c);
}

fn chained_spawn(c: &mut Criterion) {
    bench_row::<ChainedSpawn>(c);
}

fn ping_pong(c: &mut Criterion) {
    bench_row::<PingPong>(c);
}

fn spawn_many_remote_idle(c: &mut Criterion) {
    bench_row::<SpawnManyRemoteIdle>(c);
}

fn spawn_many_remote_busy(c: &mut Criterion) {
    bench_row::<SpawnManyRemoteBusy>(c);
}

fn spawn_blocking(c: &mut Criterion) {
    bench_row::<SpawnBlocking>(c);
}

fn timers(c: &mut Criterion) {
    bench_row::<Timers>(c);
}

criterion_group!(
    scheduler,
    spawn_many_local,
    yield_many,
    chained_spawn,
    ping_pong,
    spawn_many_remote_idle,
    spawn_many_remote_busy,
    spawn_blocking,
    timers
);
criterion_main!(scheduler);

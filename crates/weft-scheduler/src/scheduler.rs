//! The scheduler as a whole: its configuration, the state its workers
//! share, and the [`Handle`] through which tasks are spawned.

use std::fmt;
use std::future::Future;
use std::io;
use std::panic::Location;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::blocking::BlockingPool;
use crate::dump::{Dump, TaskDump};
use crate::idle::Idle;
use crate::metrics::{PollTimeHistogram, WorkerMetrics};
use crate::owned::OwnedTasks;
use crate::park::{Driver, Park, Unparker};
use crate::queue::{Injector, Steal, Stealer};
use crate::site::{Clock, SpawnInfo};
use crate::stall::{StallHook, Watchdog};
use crate::sync::{thread, Arc, AtomicBool, Mutex, Ordering};
use crate::task::{self, Id, JoinHandle, Notified, Schedule, Task};
use crate::worker;

/// A callback run on each runtime thread.
pub type ThreadCallback = std::sync::Arc<dyn Fn() + Send + Sync + 'static>;

/// Everything the scheduler can be configured with. The facade's `Builder`
/// fills it in.
#[derive(Clone)]
pub struct Config {
    /// Number of worker threads; at least 1.
    pub worker_threads: usize,
    /// Names worker and blocking threads.
    pub thread_name: std::sync::Arc<dyn Fn() -> String + Send + Sync + 'static>,
    /// Stack size of worker and blocking threads; `None` is std's default.
    pub thread_stack_size: Option<usize>,
    /// Most threads the blocking pool runs at once.
    pub max_blocking_threads: usize,
    /// How long an idle blocking thread waits for work before exiting.
    pub thread_keep_alive: Duration,
    /// Runs first on every worker and blocking thread.
    pub on_thread_start: Option<ThreadCallback>,
    /// Runs last on every worker and blocking thread.
    pub on_thread_stop: Option<ThreadCallback>,
    /// A busy worker polls the driver every this many ticks.
    pub event_interval: u32,
    /// A busy worker takes from the global queue first every this many
    /// ticks.
    pub global_queue_interval: u32,
    /// Report a task whose single poll runs longer than this; `None` turns
    /// the stall detector (and its watchdog thread) off.
    pub stall_threshold: Option<Duration>,
    /// Called once per stall; `None` prints one line on stderr.
    pub on_stall: Option<StallHook>,
    /// Time every poll into this histogram (two clock reads per poll);
    /// `None`, the default, times nothing.
    pub poll_time_histogram: Option<PollTimeHistogram>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            worker_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            thread_name: std::sync::Arc::new(|| "weft-worker".to_owned()),
            thread_stack_size: None,
            max_blocking_threads: 512,
            thread_keep_alive: Duration::from_secs(10),
            on_thread_start: None,
            on_thread_stop: None,
            event_interval: 61,
            global_queue_interval: 61,
            stall_threshold: Some(Duration::from_millis(100)),
            on_stall: None,
            poll_time_histogram: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("worker_threads", &self.worker_threads)
            .field("thread_stack_size", &self.thread_stack_size)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("thread_keep_alive", &self.thread_keep_alive)
            .field("event_interval", &self.event_interval)
            .field("global_queue_interval", &self.global_queue_interval)
            .field("stall_threshold", &self.stall_threshold)
            .field("poll_time_histogram", &self.poll_time_histogram)
            .finish_non_exhaustive()
    }
}

/// Runs a thread hook, containing its panic: a worker or blocking thread
/// that died in a user callback would leave its tasks hanging with no sign
/// of why, so the panic is reported on stderr and the thread carries on.
pub(crate) fn run_hook(name: &str, hook: &Option<ThreadCallback>) {
    let Some(hook) = hook else { return };
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook())) {
        let message = payload
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string payload".to_owned());
        let thread = std::thread::current();
        eprintln!(
            "weft: the {name} hook panicked on thread {:?} ({message}); the thread goes on serving",
            thread.name().unwrap_or("<unnamed>")
        );
    }
}

/// What a worker shares with everyone else.
pub(crate) struct Remote {
    pub(crate) stealer: Stealer<Notified<Handle>>,
    pub(crate) unparker: Unparker,
}

pub(crate) struct Shared {
    pub(crate) remotes: Box<[Remote]>,
    pub(crate) injector: Injector<Notified<Handle>>,
    /// Padded: workers write it on every search and park, and the fields
    /// around it are read on every spawn and every turn of a worker's loop.
    pub(crate) idle: CachePadded<Idle>,
    pub(crate) owned: OwnedTasks<Handle>,
    pub(crate) driver: std::sync::Arc<Driver>,
    /// Padded: each worker writes its own entry.
    pub(crate) worker_metrics: Box<[CachePadded<WorkerMetrics>]>,
    pub(crate) blocking: BlockingPool,
    pub(crate) config: Config,
    pub(crate) is_shutdown: AtomicBool,
    /// Spawn times and task ages are read from here. Padded: workers write
    /// it when they wake, and the fields around it are read on every turn
    /// of every worker's loop.
    pub(crate) clock: CachePadded<Clock>,
    /// The stall detector's shared half, if it is on. Padded: the watchdog
    /// takes its lock on every look.
    pub(crate) watchdog: CachePadded<Option<Watchdog>>,
}

/// A cloneable handle to a running scheduler: spawns tasks onto it from any
/// thread.
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

/// The scheduler's owner: dropping it (or calling
/// [`shutdown`](Scheduler::shutdown)) stops the workers and cancels every
/// task.
pub struct Scheduler {
    handle: Handle,
    workers: Mutex<Vec<thread::JoinHandle<()>>>,
    watchdog: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Cores built by `new` and not yet given a thread by `start_workers`
    /// (boxed, as the workers keep them; see `worker::create`).
    #[allow(clippy::vec_box)]
    idle_cores: Mutex<Vec<Box<worker::Core>>>,
}

impl Scheduler {
    /// Starts `config.worker_threads` workers that park on `driver` when
    /// idle: [`new`](Scheduler::new) then
    /// [`start_workers`](Scheduler::start_workers).
    ///
    /// # Errors
    ///
    /// As `new` and `start_workers`.
    pub fn start(config: Config, driver: Box<dyn Park>) -> io::Result<Scheduler> {
        let scheduler = Scheduler::new(config, driver)?;
        scheduler.start_workers()?;
        Ok(scheduler)
    }

    /// Builds the scheduler without starting its threads, so the caller can
    /// publish the handle somewhere the threads' `on_thread_start` hooks can
    /// find it. Tasks spawned now wait in the global queue.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `worker_threads` is 0.
    pub fn new(config: Config, driver: Box<dyn Park>) -> io::Result<Scheduler> {
        if config.worker_threads == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "worker_threads must be at least 1 (got 0); leave it unset to use one per CPU",
            ));
        }
        let (handle, cores) = worker::create(config, Driver::new(driver));
        Ok(Scheduler {
            handle,
            workers: Mutex::new(Vec::new()),
            watchdog: Mutex::new(None),
            idle_cores: Mutex::new(cores),
        })
    }

    /// Starts the worker threads (once; later calls do nothing).
    ///
    /// # Errors
    ///
    /// The OS error if a thread cannot be spawned; the threads already
    /// started stop when the scheduler is dropped.
    pub fn start_workers(&self) -> io::Result<()> {
        let cores = std::mem::take(&mut *self.idle_cores.lock());
        if cores.is_empty() {
            return Ok(());
        }
        for core in cores {
            let thread = worker::spawn_thread(&self.handle, core)?;
            self.workers.lock().push(thread);
        }
        if self.handle.shared.watchdog.is_some() {
            let shared = self.handle.shared.clone();
            let thread = std::thread::Builder::new()
                .name("weft-watchdog".to_owned())
                .spawn(move || shared.run_watchdog())?;
            *self.watchdog.lock() = Some(thread);
        }
        Ok(())
    }

    /// The handle tasks are spawned through.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Stops the workers, cancels every task (their `JoinHandle`s resolve to
    /// a cancelled [`JoinError`](crate::task::JoinError)) and waits for the
    /// blocking pool's threads for at most `timeout` (`None`: as long as
    /// they take). Idempotent.
    pub fn shutdown(&self, timeout: Option<Duration>) {
        let shared = &self.handle.shared;
        if shared.is_shutdown.swap(true, Ordering::SeqCst) {
            return;
        }
        for remote in shared.remotes.iter() {
            remote.unparker.unpark();
        }
        if let Some(watchdog) = &*shared.watchdog {
            watchdog.wake();
        }
        if let Some(thread) = self.watchdog.lock().take() {
            // A hook that dropped the runtime runs on the watchdog thread,
            // which cannot wait for itself; it ends after the hook returns.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
        if let Some(watchdog) = &*shared.watchdog {
            watchdog.drop_hook();
        }
        let workers = std::mem::take(&mut *self.workers.lock());
        let me = thread::current().id();
        for thread in workers {
            // A runtime dropped from inside one of its own tasks cannot wait
            // for its own thread; that thread exits when the task returns.
            if thread.thread().id() != me {
                let _ = thread.join();
            }
        }
        // Every worker has stopped: no task is running, so each one's future
        // is dropped here, on the thread that shuts down.
        for task in shared.owned.close_and_take_all() {
            task.shutdown();
        }
        shared.drain_injector();
        // Before waiting for blocking closures: one that waits on the
        // driver (a timer, a socket) would otherwise wait forever, since no
        // worker drives it any more. Dropping the driver fails those waits.
        shared.driver.release();
        shared.blocking.shutdown(timeout);
        // Cancelling may have woken tasks once more.
        shared.drain_injector();
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("config", &self.handle.shared.config)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Wakes a sleeping worker if work is waiting and nobody searches.
    pub(crate) fn notify_parked(&self) {
        if let Some(worker) = self.idle.worker_to_notify() {
            self.remotes[worker].unparker.unpark();
        }
    }

    fn drain_injector(&self) {
        loop {
            match self.injector.steal() {
                // Dropping a `Notified` only drops its reference; the task
                // itself was cancelled through the owned list.
                Steal::Success(task) => drop(task),
                Steal::Empty => break,
                Steal::Retry => {}
            }
        }
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.is_shutdown.load(Ordering::Acquire)
    }

    /// The watchdog thread's body.
    fn run_watchdog(&self) {
        let Some(watchdog) = &*self.watchdog else {
            return;
        };
        let watches: Vec<_> = self.worker_metrics.iter().map(|m| &m.watch).collect();
        crate::stall::run(
            watchdog,
            &watches,
            &|| self.is_shutdown(),
            &|| {
                self.clock.refresh();
            },
            &|id| self.owned.find(id).map(|(info, name)| (name, info.site())),
        );
    }
}

impl Handle {
    /// Spawns `future` as a new task.
    ///
    /// If the scheduler has shut down, the task is cancelled at once: its
    /// `JoinHandle` resolves to a cancelled `JoinError`.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_named(future, None)
    }

    /// Spawns `future` as a new task named `name`, which task dumps and
    /// stall reports show. Otherwise as [`spawn`](Handle::spawn).
    #[track_caller]
    pub fn spawn_named<F>(
        &self,
        future: F,
        name: Option<std::sync::Arc<str>>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_at(future, name, Location::caller())
    }

    /// As [`spawn_named`](Handle::spawn_named), with the spawn location
    /// given: for callers that cannot pass `#[track_caller]` through (a
    /// closure in between).
    pub fn spawn_at<F>(
        &self,
        future: F,
        name: Option<std::sync::Arc<str>>,
        location: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (task, notified, join) = task::new_task(future, self.clone(), Id::next());
        // A shared word while a worker is awake; the system clock only
        // for a spawn onto a runtime that sleeps, which also pays for
        // waking a worker (see `Clock`).
        let now = self.shared.clock.spawn_ms();
        let info = SpawnInfo::new(location, now, name.is_some());
        match self.shared.owned.bind(task, info, name) {
            Ok(()) => self.schedule_task(notified, false),
            Err(task) => {
                drop(notified);
                task.shutdown();
            }
        }
        join
    }

    /// Runs the blocking closure `f` on the scheduler's blocking pool (an
    /// elastic set of threads, separate from the workers). A closure spawned
    /// after shutdown resolves to a cancelled `JoinError`.
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.shared.blocking.spawn(f)
    }

    /// Live figures of this scheduler.
    pub fn metrics(&self) -> crate::RuntimeMetrics {
        crate::RuntimeMetrics::new(self.clone())
    }

    /// Lists the live tasks: id, name, spawn location, state, age and poll
    /// count. Safe to call while the workers are busy: it takes each shard
    /// of the task list in turn, for as long as copying its entries takes.
    pub fn dump(&self) -> Dump {
        let snapshots = self.shared.owned.snapshot();
        let now = Instant::now();
        let clock = &self.shared.clock;
        let sites = crate::site::sites(snapshots.iter().map(|task| task.info));
        let mut tasks: Vec<TaskDump> = snapshots
            .into_iter()
            .zip(sites)
            .map(|(task, location)| TaskDump {
                id: task.id,
                name: task.name,
                location,
                state: task.state,
                age: clock.age(task.info.spawned_ms(), now),
                polls: task.polls,
            })
            .collect();
        tasks.sort_by_key(|task| task.id);
        Dump { tasks }
    }

    /// True if both handles drive the same scheduler.
    pub fn ptr_eq(&self, other: &Handle) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// True once [`Scheduler::shutdown`] has begun.
    pub fn is_shutdown(&self) -> bool {
        self.shared.is_shutdown()
    }

    /// Queues a woken task: on this worker if this thread is one of ours,
    /// else in the injector.
    ///
    /// `self` often lives inside `task` itself (it is the task's scheduler
    /// hook), and once the task is queued another worker may run it to
    /// completion and free it. So nothing here touches `self` after the
    /// push: the local path notifies through the worker's own handle, and
    /// the remote path through an `Arc` taken before pushing.
    pub(crate) fn schedule_task(&self, task: Notified<Handle>, is_yield: bool) {
        let Err(task) = worker::schedule_local(self, task, is_yield) else {
            return;
        };
        let shared = self.shared.clone();
        shared.injector.push(task);

        // SeqCst (with the swap in `Scheduler::shutdown`): either shutdown's
        // drain sees this push, or this load sees the shutdown and drains
        // it here. A task left in the injector after shutdown would keep
        // `Shared` alive through its own handle, a cycle never freed.
        if shared.is_shutdown.load(Ordering::SeqCst) {
            shared.drain_injector();
            return;
        }
        shared.notify_parked();
    }

    /// Wakes a sleeping worker if work is waiting and nobody searches.
    pub(crate) fn notify_parked(&self) {
        self.shared.notify_parked();
    }
}

impl Schedule for Handle {
    fn schedule(&self, task: Notified<Self>) {
        self.schedule_task(task, false);
    }

    fn yield_now(&self, task: Notified<Self>) {
        self.schedule_task(task, true);
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.shared.owned.release(task)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.shared.remotes.len())
            .finish_non_exhaustive()
    }
}

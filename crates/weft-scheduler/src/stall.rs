//! The stall detector: notices a task whose single poll holds a worker for
//! longer than a threshold (a blocking call in async code, a long loop
//! without an `.await`), and reports it once. It watches tasks on worker
//! threads only; a future driven by `block_on` (the body of
//! `#[weft::main]`) is not a task and is not watched.
//!
//! # How it works, and what it costs
//!
//! Each worker publishes, when a poll begins, the poll's sequence number
//! (its poll counter) and the task's id: two relaxed stores to a cache
//! line only that worker writes, and no clock read. When the poll ends it
//! stores "idle", and when it parks "parked".
//!
//! A watchdog thread wakes every quarter of the threshold and reads every
//! worker's sequence number. A number it saw on its previous visit means
//! the same poll is still running; once it has seen the same number for at
//! least the threshold it calls the hook, once per stall. The duration it
//! reports is a lower bound, short by at most one watchdog period.
//!
//! When every worker is parked the watchdog sleeps until one wakes (a
//! worker leaving park checks one flag), so an idle runtime still has no
//! periodic wake-ups.
//!
//! That sleep has no timeout, so a lost wake-up would silence the detector
//! for good: `loom_tests::watchdog` models the handshake and shutdown.

use std::fmt;
use std::panic::Location;
use std::sync::Arc as StdArc;
use std::time::{Duration, Instant};

use crate::sync::{self, fence, AtomicBool, AtomicU64, Condvar, Mutex, Ordering};
use crate::task::Id;

/// What the stall detector reports: one task whose single poll has held a
/// worker for longer than the runtime's stall threshold.
///
/// # Examples
///
/// A hook that logs stalls in your own format:
///
/// ```
/// use weft_scheduler::StallInfo;
///
/// fn log_stall(info: &StallInfo) {
///     eprintln!(
///         "stall: task {} from {:?} has run {:?} on worker {}",
///         info.task_id(),
///         info.spawn_location(),
///         info.elapsed(),
///         info.worker(),
///     );
/// }
/// # let _ = log_stall;
/// ```
#[derive(Clone, Debug)]
pub struct StallInfo {
    pub(crate) task_id: Id,
    pub(crate) name: Option<StdArc<str>>,
    pub(crate) location: Option<&'static Location<'static>>,
    pub(crate) elapsed: Duration,
    pub(crate) worker: usize,
}

impl StallInfo {
    /// The stalled task's id.
    pub fn task_id(&self) -> Id {
        self.task_id
    }

    /// The task's name, if it was spawned with one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where the task was spawned: `None` only if the stalled poll ended
    /// and the task completed between the watchdog's look and the report.
    pub fn spawn_location(&self) -> Option<&'static Location<'static>> {
        self.location
    }

    /// How long the poll has been running when reported: at least the
    /// threshold, and short of the truth by at most one watchdog period (a
    /// quarter of the threshold, at least 1 ms) plus the time earlier hooks
    /// took.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Index of the worker thread the poll runs on (as in the worker
    /// metrics).
    pub fn worker(&self) -> usize {
        self.worker
    }
}

impl fmt::Display for StallInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.task_id)?;
        if let Some(name) = &self.name {
            write!(f, " ({name:?})")?;
        }
        if let Some(location) = self.location {
            write!(f, " spawned at {location}")?;
        }
        write!(
            f,
            " has been running one poll for {} ms on worker {}",
            self.elapsed.as_millis(),
            self.worker
        )
    }
}

/// A stall hook, called on the watchdog thread.
pub type StallHook = StdArc<dyn Fn(&StallInfo) + Send + Sync + 'static>;

/// The default hook: one line on stderr.
pub(crate) fn print_stall(info: &StallInfo) {
    eprintln!(
        "weft: {info}; every task queued behind it on that worker waits. \
         Move blocking work to spawn_blocking, or .await inside long loops."
    );
}

const IDLE: u64 = 0;
const PARKED: u64 = u64::MAX;

/// What one worker publishes for the watchdog.
#[derive(Debug)]
pub(crate) struct PollWatch {
    /// The running poll's sequence number, or `IDLE` / `PARKED`.
    seq: AtomicU64,
    /// The id of the task in that poll.
    task: AtomicU64,
}

impl PollWatch {
    pub(crate) fn new() -> PollWatch {
        PollWatch {
            seq: AtomicU64::new(IDLE),
            task: AtomicU64::new(0),
        }
    }

    /// A poll begins. `seq` is never 0 or `u64::MAX` (the worker's poll
    /// counter, already counting this poll).
    #[inline]
    pub(crate) fn poll_started(&self, seq: u64, task: Id) {
        self.task.store(task.as_u64(), Ordering::Relaxed);
        // Release: a watchdog that reads this number reads this task id.
        self.seq.store(seq, Ordering::Release);
    }

    /// No poll is running on this worker.
    #[inline]
    pub(crate) fn idle(&self) {
        self.seq.store(IDLE, Ordering::Relaxed);
    }

    pub(crate) fn parked(&self) {
        self.seq.store(PARKED, Ordering::SeqCst);
    }

    /// The worker left park: if the watchdog sleeps because every worker
    /// was parked, wake it.
    pub(crate) fn unparked(&self, watchdog: &Watchdog) {
        // SeqCst, with the watchdog's `sleeping` store and re-check: either
        // it sees this worker awake, or this load sees it asleep. The fence
        // (one on each side, between the store and the load) says the same
        // in the form loom checks: it models SeqCst accesses as AcqRel, and
        // finds this store-buffering handshake losing the wake-up without it.
        self.seq.store(IDLE, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if watchdog.sleeping.load(Ordering::SeqCst) {
            watchdog.wake();
        }
    }

    /// The poll number and task id, read consistently.
    fn read(&self) -> (u64, u64) {
        loop {
            let seq = self.seq.load(Ordering::Acquire);
            let task = self.task.load(Ordering::Relaxed);
            if self.seq.load(Ordering::Acquire) == seq {
                return (seq, task);
            }
        }
    }
}

/// The watchdog's shared half: its configuration and how to wake it.
pub(crate) struct Watchdog {
    pub(crate) threshold: Duration,
    /// Taken (and dropped) at shutdown: a hook may hold a `Handle` of its
    /// own runtime, and that cycle must not outlive the runtime.
    hook: Mutex<Option<StallHook>>,
    sleeping: AtomicBool,
    lock: Mutex<()>,
    condvar: Condvar,
}

impl Watchdog {
    pub(crate) fn new(threshold: Duration, hook: Option<StallHook>) -> Watchdog {
        Watchdog {
            threshold,
            hook: Mutex::new(Some(hook.unwrap_or_else(|| StdArc::new(print_stall)))),
            sleeping: AtomicBool::new(false),
            lock: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }

    /// Drops the hook, at shutdown.
    pub(crate) fn drop_hook(&self) {
        let hook = self.hook.lock().take();
        drop(hook);
    }

    /// Wakes the watchdog (a worker woke, or shutdown).
    pub(crate) fn wake(&self) {
        let _guard = self.lock.lock();
        self.sleeping.store(false, Ordering::SeqCst);
        self.condvar.notify_all();
    }

    /// How often the watchdog looks.
    fn period(&self) -> Duration {
        (self.threshold / 4).max(Duration::from_millis(1))
    }
}

/// What the watchdog remembers of one worker's running poll.
#[derive(Clone, Copy)]
struct Seen {
    seq: u64,
    /// The task seen in that poll when it was first seen.
    task: u64,
    since: Instant,
    reported: bool,
}

/// The watchdog thread's loop; returns when `is_shutdown` says so (the
/// scheduler wakes it then).
pub(crate) fn run(
    watchdog: &Watchdog,
    watches: &[&PollWatch],
    is_shutdown: &dyn Fn() -> bool,
    on_tick: &dyn Fn(),
    lookup: &dyn Fn(Id) -> Option<(Option<StdArc<str>>, &'static Location<'static>)>,
) {
    let mut seen: Vec<Option<Seen>> = vec![None; watches.len()];
    let period = watchdog.period();
    let mut guard = watchdog.lock.lock();
    while !is_shutdown() {
        drop(guard);
        on_tick();
        let now = Instant::now();
        let mut all_parked = true;
        for (worker, watch) in watches.iter().enumerate() {
            let (seq, task) = watch.read();
            // `task` may belong to the next poll if this one just ended
            // (the pair is not read atomically); `Seen` keeps the first.
            all_parked &= seq == PARKED;
            if seq == IDLE || seq == PARKED {
                seen[worker] = None;
                continue;
            }
            match &mut seen[worker] {
                Some(old) if old.seq == seq => {
                    let elapsed = now.saturating_duration_since(old.since);
                    if !old.reported && elapsed >= watchdog.threshold {
                        old.reported = true;
                        report(watchdog, worker, old.task, elapsed, lookup);
                    }
                }
                slot => {
                    *slot = Some(Seen {
                        seq,
                        task,
                        since: now,
                        reported: false,
                    })
                }
            }
        }
        guard = watchdog.lock.lock();
        if all_parked {
            watchdog.sleeping.store(true, Ordering::SeqCst);
            // Pairs with the fence in `PollWatch::unparked`.
            fence(Ordering::SeqCst);
            let still = watches
                .iter()
                .all(|watch| watch.seq.load(Ordering::SeqCst) == PARKED);
            while still && watchdog.sleeping.load(Ordering::SeqCst) && !is_shutdown() {
                sync::wait(&watchdog.condvar, &mut guard);
            }
            watchdog.sleeping.store(false, Ordering::SeqCst);
        } else if !is_shutdown() {
            // Checked under the lock: `wake` takes it after shutdown began,
            // so its notification cannot slip in before this wait.
            sync::wait_timeout(&watchdog.condvar, &mut guard, period);
        }
    }
}

fn report(
    watchdog: &Watchdog,
    worker: usize,
    task: u64,
    elapsed: Duration,
    lookup: &dyn Fn(Id) -> Option<(Option<StdArc<str>>, &'static Location<'static>)>,
) {
    let Some(task_id) = Id::from_u64(task) else {
        return;
    };
    let (name, location) = match lookup(task_id) {
        Some((name, location)) => (name, Some(location)),
        None => (None, None),
    };
    let info = StallInfo {
        task_id,
        name,
        location,
        elapsed,
        worker,
    };
    let hook = watchdog.hook.lock().clone();
    let Some(hook) = hook else {
        return;
    };
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(&info))).is_err() {
        eprintln!("weft: the on_stall hook panicked while reporting: {info}");
    }
}

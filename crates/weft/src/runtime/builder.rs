//! `Builder`: every knob of a runtime.

use std::fmt;
use std::io;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use weft_scheduler::{Config, PollTimeHistogram, Scheduler};

use super::handle::HandleInner;
use super::park::ReactorPark;
use super::{context, Handle, Runtime, StallInfo};

/// Configures and builds a [`Runtime`].
///
/// Methods take and return `&mut Builder`, so they chain:
///
/// ```
/// use std::time::Duration;
///
/// let rt = weft::Runtime::builder()
///     .worker_threads(2)
///     .thread_name("my-app-worker")
///     .max_blocking_threads(64)
///     .thread_keep_alive(Duration::from_secs(5))
///     .build()
///     .unwrap();
/// assert_eq!(rt.metrics().num_workers(), 2);
/// ```
pub struct Builder {
    worker_threads: Option<usize>,
    config: Config,
    /// Bucket bounds as given, checked by `build`.
    poll_time_buckets: Option<Vec<Duration>>,
}

impl Builder {
    /// A builder with the defaults: one worker per CPU (or
    /// `WEFT_WORKER_THREADS`), at most 512 blocking threads kept alive 10 s
    /// when idle, `event_interval` and `global_queue_interval` 61.
    pub fn new() -> Builder {
        Builder {
            worker_threads: None,
            config: Config::default(),
            poll_time_buckets: None,
        }
    }

    /// Number of worker threads. Defaults to `WEFT_WORKER_THREADS` if set,
    /// else the number of CPUs. `build()` fails for 0.
    pub fn worker_threads(&mut self, count: usize) -> &mut Self {
        self.worker_threads = Some(count);
        self
    }

    /// Names every worker and blocking thread `name`.
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        let name: String = name.into();
        self.config.thread_name = Arc::new(move || name.clone());
        self
    }

    /// Names threads with `f`, called once per thread started.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let rt = weft::Runtime::builder()
    ///     .thread_name_fn(|| {
    ///         static NEXT: AtomicUsize = AtomicUsize::new(0);
    ///         format!("app-{}", NEXT.fetch_add(1, Ordering::Relaxed))
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn thread_name_fn<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() -> String + Send + Sync + 'static,
    {
        self.config.thread_name = Arc::new(f);
        self
    }

    /// Stack size, in bytes, of worker and blocking threads.
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.config.thread_stack_size = Some(bytes);
        self
    }

    /// Most blocking-pool threads alive at once (default 512). Closures
    /// beyond that wait in a queue. `build()` fails for 0.
    pub fn max_blocking_threads(&mut self, count: usize) -> &mut Self {
        self.config.max_blocking_threads = count;
        self
    }

    /// How long an idle blocking thread waits for work before exiting
    /// (default 10 s).
    pub fn thread_keep_alive(&mut self, duration: Duration) -> &mut Self {
        self.config.thread_keep_alive = duration;
        self
    }

    /// Runs `f` first on every worker and blocking thread.
    pub fn on_thread_start<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.config.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs `f` last on every worker and blocking thread.
    pub fn on_thread_stop<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.config.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// A busy worker checks for I/O and timer events every `ticks` task
    /// polls (default 61). `build()` fails for 0.
    pub fn event_interval(&mut self, ticks: u32) -> &mut Self {
        self.config.event_interval = ticks;
        self
    }

    /// A busy worker takes a task from the global queue before its own every
    /// `ticks` task polls (default 61), so tasks spawned from outside cannot
    /// starve. `build()` fails for 0.
    pub fn global_queue_interval(&mut self, ticks: u32) -> &mut Self {
        self.config.global_queue_interval = ticks;
        self
    }

    /// Reports every spawned task whose single poll runs longer than
    /// `threshold`
    /// (default 100 ms; the future given to `block_on`, such as the body of
    /// `#[weft::main]`, is not a task and is not watched): a task that
    /// blocks its worker (a blocking system
    /// call, `std::thread::sleep`, a long computation without an
    /// `.await`) stalls every task queued behind it on that worker. `None`
    /// turns the detector off. `build()` fails for a zero threshold.
    ///
    /// Each stall is reported once, through [`on_stall`](Builder::on_stall)
    /// (default: one line on stderr), with the task's id, name, spawn
    /// location, how long the poll has run and on which worker.
    ///
    /// The detector costs each poll two relaxed stores to a cache line its
    /// worker owns (no clock read); a watchdog thread looks every quarter
    /// of the threshold while any worker is awake, and sleeps while all of
    /// them are parked.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Runtime::builder()
    ///     .stall_threshold(Some(Duration::from_millis(250)))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// let quiet = weft::Runtime::builder().stall_threshold(None).build().unwrap();
    /// # drop(quiet);
    /// ```
    pub fn stall_threshold(&mut self, threshold: Option<Duration>) -> &mut Self {
        self.config.stall_threshold = threshold;
        self
    }

    /// Calls `hook` (on the watchdog thread) for each stall instead of
    /// printing it; see [`stall_threshold`](Builder::stall_threshold). A
    /// panic in the hook is caught and reported on stderr.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// let stalls = Arc::new(Mutex::new(Vec::new()));
    /// let seen = stalls.clone();
    /// let rt = weft::Runtime::builder()
    ///     .on_stall(move |info| seen.lock().unwrap().push(info.task_id()))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn on_stall<F>(&mut self, hook: F) -> &mut Self
    where
        F: Fn(&StallInfo) + Send + Sync + 'static,
    {
        self.config.on_stall = Some(Arc::new(hook));
        self
    }

    /// Times every poll into a histogram, with ten buckets split at 10, 25,
    /// 50, 100, 250 and 500 µs and 1, 10 and 100 ms; see
    /// [`RuntimeMetrics`](crate::runtime::RuntimeMetrics). Off by default:
    /// it costs two clock reads per poll.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().enable_poll_time_histogram().build().unwrap();
    /// assert!(rt.metrics().poll_time_histogram_enabled());
    /// ```
    pub fn enable_poll_time_histogram(&mut self) -> &mut Self {
        self.config.poll_time_histogram = Some(PollTimeHistogram::default());
        self.poll_time_buckets = None;
        self
    }

    /// Times every poll into a histogram whose buckets are split at
    /// `bounds` (strictly increasing, at least one): bucket 0 counts polls
    /// shorter than `bounds[0]`, the last bucket those of `bounds[n - 1]`
    /// or longer. `build()` fails for bounds that are empty or not
    /// increasing.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Runtime::builder()
    ///     .poll_time_histogram_buckets(&[Duration::from_micros(50), Duration::from_millis(5)])
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.metrics().poll_time_histogram_num_buckets(), 3);
    /// ```
    pub fn poll_time_histogram_buckets(&mut self, bounds: &[Duration]) -> &mut Self {
        self.poll_time_buckets = Some(bounds.to_vec());
        self
    }

    /// Starts the runtime's threads.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero `worker_threads`, `max_blocking_threads`,
    /// `event_interval`, `global_queue_interval` or `stall_threshold`, bad
    /// poll-time histogram bounds, or an unparsable
    /// `WEFT_WORKER_THREADS`; the OS error if a thread cannot be started.
    ///
    /// ```
    /// let error = weft::Runtime::builder().worker_threads(0).build().unwrap_err();
    /// assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn build(&mut self) -> io::Result<Runtime> {
        let mut config = self.config.clone();
        config.worker_threads = match self.worker_threads {
            Some(count) => count,
            None => worker_threads_from_env()?.unwrap_or(config.worker_threads),
        };
        for (name, value) in [
            ("max_blocking_threads", config.max_blocking_threads),
            ("event_interval", config.event_interval as usize),
            (
                "global_queue_interval",
                config.global_queue_interval as usize,
            ),
        ] {
            if value == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{name} must be at least 1 (got 0)"),
                ));
            }
        }
        if config.stall_threshold == Some(Duration::ZERO) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "stall_threshold must be longer than zero; pass None to turn the stall detector off",
            ));
        }
        if let Some(bounds) = &self.poll_time_buckets {
            if bounds.is_empty() || bounds.windows(2).any(|pair| pair[0] >= pair[1]) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "poll_time_histogram_buckets needs at least one bound, strictly \
                         increasing; got {bounds:?}"
                    ),
                ));
            }
            config.poll_time_histogram = Some(PollTimeHistogram::new(bounds));
        }

        let driver = weft_reactor::Driver::new()?;
        let handle = Handle {
            inner: Arc::new(HandleInner {
                scheduler: OnceLock::new(),
                reactor: driver.handle().clone(),
            }),
        };
        // Weak: the scheduler keeps this closure for its whole life, and a
        // strong handle in it would keep the scheduler alive forever.
        let thread_handle = Arc::downgrade(&handle.inner);
        let user_start = config.on_thread_start.take();
        config.on_thread_start = Some(Arc::new(move || {
            if let Some(inner) = thread_handle.upgrade() {
                context::set_for_thread(Handle { inner });
            }
            if let Some(start) = &user_start {
                start();
            }
        }));
        let scheduler = Scheduler::new(config, Box::new(ReactorPark::new(driver)))?;
        // Published before any thread starts, so `on_thread_start` hooks can
        // already use `Handle::current()`.
        let _ = handle.inner.scheduler.set(scheduler.handle().clone());
        scheduler.start_workers()?;
        Ok(Runtime { handle, scheduler })
    }
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("worker_threads", &self.worker_threads)
            .field("config", &self.config)
            .finish()
    }
}

/// `WEFT_WORKER_THREADS`, if set.
fn worker_threads_from_env() -> io::Result<Option<usize>> {
    match std::env::var("WEFT_WORKER_THREADS") {
        Ok(value) => match value.trim().parse::<usize>() {
            Ok(count) if count > 0 => Ok(Some(count)),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("WEFT_WORKER_THREADS must be a positive integer, got {value:?}"),
            )),
        },
        Err(_) => Ok(None),
    }
}

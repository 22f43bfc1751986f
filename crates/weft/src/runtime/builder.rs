//! `Builder`: every knob of a runtime.

use std::fmt;
use std::io;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use weft_scheduler::{Config, Scheduler};

use super::handle::HandleInner;
use super::park::ReactorPark;
use super::{context, Handle, Runtime};

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
}

impl Builder {
    /// A builder with the defaults: one worker per CPU (or
    /// `WEFT_WORKER_THREADS`), at most 512 blocking threads kept alive 10 s
    /// when idle, `event_interval` and `global_queue_interval` 61.
    pub fn new() -> Builder {
        Builder {
            worker_threads: None,
            config: Config::default(),
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

    /// Starts the runtime's threads.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero `worker_threads`, `max_blocking_threads`,
    /// `event_interval` or `global_queue_interval`, or an unparsable
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

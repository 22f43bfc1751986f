//! `RuntimeMetrics`: the figures a runtime keeps about itself.

use std::fmt;
use std::time::Duration;

use weft_scheduler::PollTimeHistogram;

/// Live figures of a runtime, from [`Runtime::metrics`](crate::Runtime::metrics)
/// or [`Handle::metrics`](crate::Handle::metrics). Cheap to create and to
/// clone; every method reads the current value.
///
/// # What the figures cost
///
/// - **Per-worker counters** (polls, steals, parks, unparks, LIFO hits,
///   budget-forced yields, busy time, local queue depth) are counted in
///   plain fields that only the worker itself writes, and *published* with
///   relaxed stores when the worker parks and every `event_interval` turns
///   of its loop (61 by default). The hot path pays no atomic increment;
///   busy time costs one clock read per park, wake-up and publication. A
///   figure read while a worker is busy may lag by up to one interval.
/// - **Runtime figures** are read when asked: `num_alive_tasks` and
///   `spawned_tasks_count` take each shard lock of the task list in turn;
///   `remote_schedule_count` sums per-worker counts, published like the
///   worker figures.
/// - **Reactor figures** are read under the reactor's locks when asked;
///   `events_delivered` costs one relaxed add per `epoll_wait` that
///   returned events.
/// - **Poll timing** (the poll-time histogram and a measured mean) is off by
///   default: it costs two clock reads per poll (about 50 ns here). Turn it
///   on with [`Builder::enable_poll_time_histogram`](crate::Builder::enable_poll_time_histogram).
///
/// # Examples
///
/// ```
/// let rt = weft::Runtime::builder().worker_threads(2).build().unwrap();
/// rt.block_on(async {
///     weft::spawn(async {}).await.unwrap();
/// });
/// let metrics = rt.metrics();
/// assert_eq!(metrics.num_workers(), 2);
/// assert_eq!(metrics.spawned_tasks_count(), 1);
/// assert_eq!(metrics.num_alive_tasks(), 0);
/// ```
#[derive(Clone)]
pub struct RuntimeMetrics {
    scheduler: weft_scheduler::RuntimeMetrics,
    reactor: weft_reactor::Handle,
}

impl RuntimeMetrics {
    pub(crate) fn new(
        scheduler: weft_scheduler::RuntimeMetrics,
        reactor: weft_reactor::Handle,
    ) -> RuntimeMetrics {
        RuntimeMetrics { scheduler, reactor }
    }

    // Runtime-wide figures.

    /// Number of worker threads.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().worker_threads(3).build().unwrap();
    /// assert_eq!(rt.metrics().num_workers(), 3);
    /// ```
    pub fn num_workers(&self) -> usize {
        self.scheduler.num_workers()
    }

    /// Tasks spawned and not yet completed (blocking closures not included).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let task = rt.spawn(std::future::pending::<()>());
    /// assert_eq!(rt.metrics().num_alive_tasks(), 1);
    /// task.abort();
    /// # let _ = rt.block_on(task);
    /// ```
    pub fn num_alive_tasks(&self) -> usize {
        self.scheduler.num_alive_tasks()
    }

    /// Tasks spawned since the runtime started (blocking closures not
    /// included).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// rt.block_on(rt.spawn(async {})).unwrap();
    /// assert_eq!(rt.metrics().spawned_tasks_count(), 1);
    /// ```
    pub fn spawned_tasks_count(&self) -> u64 {
        self.scheduler.spawned_tasks_count()
    }

    /// Tasks scheduled from outside the workers (spawned or woken by
    /// another thread): counted when a worker takes them from the global
    /// queue, and published like the worker figures (when a worker parks,
    /// and every `event_interval` turns). Tasks still waiting in the queue
    /// are in [`injection_queue_depth`](RuntimeMetrics::injection_queue_depth).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// rt.block_on(rt.spawn(async {})).unwrap(); // spawned from this thread
    /// drop(rt.metrics().remote_schedule_count()); // 1 once a worker parks
    /// ```
    pub fn remote_schedule_count(&self) -> u64 {
        self.scheduler.remote_schedule_count()
    }

    /// Tasks waiting in the global (injection) queue.
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// assert_eq!(rt.metrics().injection_queue_depth(), 0);
    /// ```
    pub fn injection_queue_depth(&self) -> usize {
        self.scheduler.injection_queue_depth()
    }

    /// Threads in the blocking pool, busy or idle.
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// rt.block_on(rt.spawn_blocking(|| ())).unwrap();
    /// assert!(rt.metrics().num_blocking_threads() >= 1);
    /// ```
    pub fn num_blocking_threads(&self) -> usize {
        self.scheduler.num_blocking_threads()
    }

    /// Idle threads in the blocking pool (waiting for work until their
    /// keep-alive runs out).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// assert_eq!(rt.metrics().num_idle_blocking_threads(), 0);
    /// ```
    pub fn num_idle_blocking_threads(&self) -> usize {
        self.scheduler.num_idle_blocking_threads()
    }

    /// Closures waiting for a blocking thread (the pool is at
    /// `max_blocking_threads`).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// assert_eq!(rt.metrics().blocking_queue_depth(), 0);
    /// ```
    pub fn blocking_queue_depth(&self) -> usize {
        self.scheduler.blocking_queue_depth()
    }

    /// Workers searching for work to steal right now.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().worker_threads(2).build().unwrap();
    /// assert!(rt.metrics().num_searching_workers() <= 1);
    /// ```
    pub fn num_searching_workers(&self) -> usize {
        self.scheduler.num_searching_workers()
    }

    // Reactor figures.

    /// Sockets registered with the reactor right now.
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let _listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     assert_eq!(weft::Handle::current().metrics().num_registrations(), 1);
    /// });
    /// ```
    pub fn num_registrations(&self) -> usize {
        self.reactor.num_registrations()
    }

    /// Readiness events the reactor delivered to sockets since it started.
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// assert_eq!(rt.metrics().events_delivered(), 0);
    /// ```
    pub fn events_delivered(&self) -> u64 {
        self.reactor.events_delivered()
    }

    /// Timers in the timer wheel right now (a `Sleep` enters it when first
    /// polled before its deadline and leaves when it fires or is dropped).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// assert_eq!(rt.metrics().num_timers(), 0);
    /// ```
    pub fn num_timers(&self) -> usize {
        self.reactor.num_timers()
    }

    // Per-worker figures: `worker` is an index below `num_workers()`; each
    // panics otherwise.

    /// Task polls by worker `worker`.
    ///
    /// # Panics
    ///
    /// If `worker >= num_workers()`; so do all the `worker_` figures.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(rt.spawn(async {})).unwrap();
    /// // Published when the worker parks, so possibly still 0 here.
    /// let _polls = rt.metrics().worker_poll_count(0);
    /// ```
    #[track_caller]
    pub fn worker_poll_count(&self, worker: usize) -> u64 {
        self.scheduler.worker_poll_count(worker)
    }

    /// Tasks worker `worker` stole from other workers.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().worker_threads(2).build().unwrap();
    /// let _ = rt.metrics().worker_steal_count(1);
    /// ```
    #[track_caller]
    pub fn worker_steal_count(&self, worker: usize) -> u64 {
        self.scheduler.worker_steal_count(worker)
    }

    /// Successful steal operations of worker `worker` (each takes one task
    /// or more: half the victim's queue).
    ///
    /// ```
    /// let rt = weft::Runtime::builder().worker_threads(2).build().unwrap();
    /// let m = rt.metrics();
    /// assert!(m.worker_steal_operations(0) <= m.worker_steal_count(0));
    /// ```
    #[track_caller]
    pub fn worker_steal_operations(&self, worker: usize) -> u64 {
        self.scheduler.worker_steal_operations(worker)
    }

    /// Times worker `worker` went to sleep for lack of work.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().worker_threads(1).build().unwrap();
    /// let _ = rt.metrics().worker_park_count(0);
    /// ```
    #[track_caller]
    pub fn worker_park_count(&self, worker: usize) -> u64 {
        self.scheduler.worker_park_count(worker)
    }

    /// Times worker `worker` woke from sleep (spurious wake-ups included; a
    /// worker that woke with nothing to do sleeps again, so this can exceed
    /// the park count). Published when the worker next parks, so a sleeping
    /// worker shows one park more than it has unparks.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().worker_threads(1).build().unwrap();
    /// let _ = rt.metrics().worker_unpark_count(0);
    /// ```
    #[track_caller]
    pub fn worker_unpark_count(&self, worker: usize) -> u64 {
        self.scheduler.worker_unpark_count(worker)
    }

    /// Polls by worker `worker` of a task taken from its LIFO slot: a task
    /// woken or spawned by the task it ran just before (or woken by I/O it
    /// just polled), run next while its data is warm in cache.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().worker_threads(1).build().unwrap();
    /// let _ = rt.metrics().worker_lifo_hits(0);
    /// ```
    #[track_caller]
    pub fn worker_lifo_hits(&self, worker: usize) -> u64 {
        self.scheduler.worker_lifo_hits(worker)
    }

    /// Task runs on worker `worker` that were made to yield by the coop
    /// budget: after 128 resource operations in one run, a socket or timer
    /// answered `Pending` (and woke the task) although it was ready.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().worker_threads(1).build().unwrap();
    /// let _ = rt.metrics().worker_budget_forced_yields(0);
    /// ```
    #[track_caller]
    pub fn worker_budget_forced_yields(&self, worker: usize) -> u64 {
        self.scheduler.worker_budget_forced_yields(worker)
    }

    /// Time worker `worker` has spent awake since it started: running
    /// tasks, looking for work and polling for I/O without blocking.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().worker_threads(1).build().unwrap();
    /// let _ = rt.metrics().worker_total_busy_duration(0);
    /// ```
    #[track_caller]
    pub fn worker_total_busy_duration(&self, worker: usize) -> std::time::Duration {
        self.scheduler.worker_total_busy_duration(worker)
    }

    /// Tasks in worker `worker`'s local queue when it last published.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().worker_threads(1).build().unwrap();
    /// let _ = rt.metrics().worker_local_queue_depth(0);
    /// ```
    #[track_caller]
    pub fn worker_local_queue_depth(&self, worker: usize) -> usize {
        self.scheduler.worker_local_queue_depth(worker)
    }

    /// Mean duration of worker `worker`'s polls. Measured if poll timing is
    /// on; otherwise estimated as its busy time divided by its polls, which
    /// also counts the scheduler's own time between polls. Zero before the
    /// first poll.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().worker_threads(1).build().unwrap();
    /// let _ = rt.metrics().worker_mean_poll_time(0);
    /// ```
    #[track_caller]
    pub fn worker_mean_poll_time(&self, worker: usize) -> Duration {
        self.scheduler.worker_mean_poll_time(worker)
    }

    // Poll-time histogram.

    /// True if the runtime times every poll (see
    /// [`Builder::enable_poll_time_histogram`](crate::Builder::enable_poll_time_histogram)).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// assert!(!rt.metrics().poll_time_histogram_enabled());
    /// ```
    pub fn poll_time_histogram_enabled(&self) -> bool {
        self.scheduler.poll_time_histogram().is_some()
    }

    /// Buckets of the poll-time histogram; 0 when it is off.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().enable_poll_time_histogram().build().unwrap();
    /// assert_eq!(rt.metrics().poll_time_histogram_num_buckets(), 10);
    /// ```
    pub fn poll_time_histogram_num_buckets(&self) -> usize {
        self.scheduler
            .poll_time_histogram()
            .map_or(0, PollTimeHistogram::num_buckets)
    }

    /// The poll durations bucket `bucket` counts: `start..end`; the last
    /// bucket ends at `Duration::MAX`.
    ///
    /// # Panics
    ///
    /// If the histogram is off or `bucket` is out of range.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Runtime::builder()
    ///     .poll_time_histogram_buckets(&[Duration::from_micros(100)])
    ///     .build()
    ///     .unwrap();
    /// let metrics = rt.metrics();
    /// assert_eq!(metrics.poll_time_histogram_bucket_range(0), Duration::ZERO..Duration::from_micros(100));
    /// assert_eq!(metrics.poll_time_histogram_bucket_range(1).end, Duration::MAX);
    /// ```
    #[track_caller]
    pub fn poll_time_histogram_bucket_range(&self, bucket: usize) -> std::ops::Range<Duration> {
        self.scheduler
            .poll_time_histogram()
            .expect("poll timing is off: enable the poll-time histogram on the runtime's Builder")
            .bucket_range(bucket)
    }

    /// Polls of worker `worker` whose duration fell in bucket `bucket`.
    ///
    /// # Panics
    ///
    /// If `worker` or `bucket` is out of range, or the histogram is off.
    ///
    /// ```
    /// let rt = weft::Runtime::builder()
    ///     .worker_threads(1)
    ///     .enable_poll_time_histogram()
    ///     .build()
    ///     .unwrap();
    /// let _ = rt.metrics().worker_poll_time_histogram_bucket_count(0, 0);
    /// ```
    #[track_caller]
    pub fn worker_poll_time_histogram_bucket_count(&self, worker: usize, bucket: usize) -> u64 {
        self.scheduler
            .worker_poll_time_histogram_bucket_count(worker, bucket)
    }
}

impl fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeMetrics")
            .field("num_workers", &self.num_workers())
            .field("num_alive_tasks", &self.num_alive_tasks())
            .field("num_registrations", &self.num_registrations())
            .finish_non_exhaustive()
    }
}

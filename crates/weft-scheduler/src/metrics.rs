//! Runtime figures: read from any thread, written without contention.
//!
//! Each worker counts in plain fields of its own core and publishes them to
//! its [`WorkerMetrics`] with relaxed stores when it parks and every
//! `event_interval` ticks, so the hot path pays no shared atomic increment.
//! A figure read while a worker is busy may therefore lag by up to one
//! interval.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::stall::PollWatch;

/// Counters one worker publishes, and what it tells the stall detector.
/// Statistics only: std's atomics even under loom.
#[derive(Debug)]
pub(crate) struct WorkerMetrics {
    pub(crate) poll_count: AtomicU64,
    pub(crate) steal_count: AtomicU64,
    pub(crate) steal_operations: AtomicU64,
    pub(crate) park_count: AtomicU64,
    pub(crate) unpark_count: AtomicU64,
    pub(crate) lifo_hits: AtomicU64,
    pub(crate) budget_forced_yields: AtomicU64,
    pub(crate) injector_pops: AtomicU64,
    pub(crate) busy_ns: AtomicU64,
    pub(crate) local_queue_depth: AtomicU64,
    /// Sum of the timed polls' durations; with the histogram only.
    pub(crate) poll_time_ns: AtomicU64,
    /// One count per bucket of the poll-time histogram; empty when off.
    pub(crate) poll_time_buckets: Box<[AtomicU64]>,
    pub(crate) watch: PollWatch,
}

/// The owning worker's unpublished counts.
#[derive(Debug)]
pub(crate) struct WorkerCounts {
    pub(crate) poll_count: u64,
    pub(crate) steal_count: u64,
    pub(crate) steal_operations: u64,
    pub(crate) park_count: u64,
    pub(crate) unpark_count: u64,
    pub(crate) lifo_hits: u64,
    pub(crate) budget_forced_yields: u64,
    /// Tasks taken from the injector (the global queue).
    pub(crate) injector_pops: u64,
    /// Busy time up to `busy_since`.
    pub(crate) busy: Duration,
    /// When the worker last woke; `None` while parked.
    pub(crate) busy_since: Option<Instant>,
    pub(crate) poll_time: Duration,
    pub(crate) poll_time_buckets: Box<[u64]>,
}

impl WorkerCounts {
    pub(crate) fn new(histogram: Option<&PollTimeHistogram>) -> WorkerCounts {
        WorkerCounts {
            poll_count: 0,
            steal_count: 0,
            steal_operations: 0,
            park_count: 0,
            unpark_count: 0,
            lifo_hits: 0,
            budget_forced_yields: 0,
            injector_pops: 0,
            busy: Duration::ZERO,
            busy_since: None,
            poll_time: Duration::ZERO,
            poll_time_buckets: vec![0; histogram.map_or(0, PollTimeHistogram::num_buckets)]
                .into_boxed_slice(),
        }
    }

    /// Busy time so far, counting the current stretch up to `now`.
    fn busy_until(&self, now: Instant) -> Duration {
        match self.busy_since {
            Some(since) => self.busy + now.saturating_duration_since(since),
            None => self.busy,
        }
    }

    pub(crate) fn start_busy(&mut self, now: Instant) {
        self.busy_since = Some(now);
    }

    pub(crate) fn stop_busy(&mut self, now: Instant) {
        self.busy = self.busy_until(now);
        self.busy_since = None;
    }

    /// Records one timed poll.
    pub(crate) fn record_poll_time(&mut self, histogram: &PollTimeHistogram, elapsed: Duration) {
        self.poll_time += elapsed;
        self.poll_time_buckets[histogram.bucket(elapsed)] += 1;
    }
}

impl WorkerMetrics {
    pub(crate) fn new(histogram: Option<&PollTimeHistogram>) -> WorkerMetrics {
        let buckets = histogram.map_or(0, PollTimeHistogram::num_buckets);
        WorkerMetrics {
            poll_count: AtomicU64::new(0),
            steal_count: AtomicU64::new(0),
            steal_operations: AtomicU64::new(0),
            park_count: AtomicU64::new(0),
            unpark_count: AtomicU64::new(0),
            lifo_hits: AtomicU64::new(0),
            budget_forced_yields: AtomicU64::new(0),
            injector_pops: AtomicU64::new(0),
            busy_ns: AtomicU64::new(0),
            local_queue_depth: AtomicU64::new(0),
            poll_time_ns: AtomicU64::new(0),
            poll_time_buckets: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
            watch: PollWatch::new(),
        }
    }

    /// Relaxed: the figures are statistics; no memory is published with them.
    pub(crate) fn publish(&self, counts: &WorkerCounts, local_queue_depth: usize, now: Instant) {
        let store = |cell: &AtomicU64, value: u64| cell.store(value, Ordering::Relaxed);
        store(&self.poll_count, counts.poll_count);
        store(&self.steal_count, counts.steal_count);
        store(&self.steal_operations, counts.steal_operations);
        store(&self.park_count, counts.park_count);
        store(&self.unpark_count, counts.unpark_count);
        store(&self.lifo_hits, counts.lifo_hits);
        store(&self.budget_forced_yields, counts.budget_forced_yields);
        store(&self.injector_pops, counts.injector_pops);
        store(&self.busy_ns, nanos(counts.busy_until(now)));
        store(&self.local_queue_depth, local_queue_depth as u64);
        store(&self.poll_time_ns, nanos(counts.poll_time));
        for (cell, &count) in self
            .poll_time_buckets
            .iter()
            .zip(&*counts.poll_time_buckets)
        {
            store(cell, count);
        }
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The poll-time histogram's buckets: bucket `i` counts polls shorter than
/// `bounds[i]` (and at least `bounds[i - 1]`); the last bucket, one past the
/// bounds, counts the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollTimeHistogram {
    bounds: Box<[Duration]>,
}

impl PollTimeHistogram {
    /// Buckets split at `bounds`, which must be strictly increasing and
    /// non-empty.
    ///
    /// # Panics
    ///
    /// If `bounds` is empty or not strictly increasing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft_scheduler::PollTimeHistogram;
    ///
    /// let histogram = PollTimeHistogram::new(&[Duration::from_micros(100), Duration::from_millis(1)]);
    /// assert_eq!(histogram.num_buckets(), 3);
    /// ```
    #[track_caller]
    pub fn new(bounds: &[Duration]) -> PollTimeHistogram {
        assert!(
            !bounds.is_empty(),
            "a poll-time histogram needs at least one bucket bound"
        );
        assert!(
            bounds.windows(2).all(|pair| pair[0] < pair[1]),
            "poll-time histogram bounds must be strictly increasing, got {bounds:?}"
        );
        PollTimeHistogram {
            bounds: bounds.into(),
        }
    }

    /// The number of buckets: one more than the bounds.
    pub fn num_buckets(&self) -> usize {
        self.bounds.len() + 1
    }

    /// The durations bucket `bucket` counts: `start..end`, where the last
    /// bucket ends at `Duration::MAX`.
    ///
    /// # Panics
    ///
    /// If `bucket >= num_buckets()`.
    #[track_caller]
    pub fn bucket_range(&self, bucket: usize) -> std::ops::Range<Duration> {
        assert!(
            bucket < self.num_buckets(),
            "bucket {bucket} out of range: the histogram has {} buckets",
            self.num_buckets()
        );
        let start = if bucket == 0 {
            Duration::ZERO
        } else {
            self.bounds[bucket - 1]
        };
        let end = self.bounds.get(bucket).copied().unwrap_or(Duration::MAX);
        start..end
    }

    pub(crate) fn bucket(&self, elapsed: Duration) -> usize {
        self.bounds.partition_point(|&bound| bound <= elapsed)
    }
}

impl Default for PollTimeHistogram {
    /// Ten buckets split at 10, 25, 50, 100, 250 and 500 µs and 1, 10 and
    /// 100 ms.
    fn default() -> PollTimeHistogram {
        let us = Duration::from_micros;
        let ms = Duration::from_millis;
        PollTimeHistogram::new(&[
            us(10),
            us(25),
            us(50),
            us(100),
            us(250),
            us(500),
            ms(1),
            ms(10),
            ms(100),
        ])
    }
}

//! Tasks, the work-stealing scheduler and the blocking pool of the weft
//! runtime. This crate does no I/O: it parks idle workers through the
//! [`Park`] trait, which the `weft` facade implements for its driver.
//!
//! # Vocabulary
//!
//! - **Task**: a spawned future in one heap allocation; see [`task`].
//! - **Worker**: a thread that runs tasks. It owns a *local queue* (a
//!   Chase–Lev deque others can steal from) and a *LIFO slot* for the task
//!   it just woke.
//! - **Injector**: the global queue for tasks spawned or woken from outside
//!   the workers.
//! - **Stealing**: an idle worker takes half of a random victim's queue.
//! - **Searching**: a worker looking for work to steal. At most half of the
//!   workers search at once.
//! - **Driver**: whatever an idle worker blocks in ([`Park`]); one worker at
//!   a time parks there, the rest on their own condvar.
//! - **Coop budget**: how many resource operations one task poll may
//!   complete before it is made to yield; see [`coop`].
//!
//! The scheduler's design follows "Making the Tokio scheduler 10x faster"
//! (Carl Lerche, 2019) and the "Scheduling multithreaded computations by
//! work stealing" paper (Blumofe & Leiserson, 1999).
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod blocking;
pub mod coop;
mod dump;
mod idle;
mod metrics;
mod owned;
mod park;
mod queue;
mod scheduler;
mod site;
mod stall;
mod sync;
pub mod task;
mod worker;

#[cfg(all(test, weft_loom))]
mod loom_tests;
#[cfg(test)]
mod test_util;
#[cfg(all(test, not(weft_loom)))]
mod tests;

pub use dump::{Dump, TaskDump};
pub use metrics::PollTimeHistogram;
pub use park::{Park, Unpark};
pub use scheduler::{Config, Handle, Scheduler, ThreadCallback};
pub use stall::{StallHook, StallInfo};
pub use worker::is_worker_thread;

use std::sync::atomic::Ordering;
use std::time::Duration;

/// Live figures of a scheduler, read on demand. Cheap to create; each call
/// reads the current value. The `weft` facade documents each figure and
/// its cost; this is where they are read.
///
/// Worker figures are published by each worker when it parks and every
/// `event_interval` ticks, so they may lag a busy worker slightly.
#[derive(Clone, Debug)]
pub struct RuntimeMetrics {
    handle: Handle,
}

impl RuntimeMetrics {
    fn new(handle: Handle) -> RuntimeMetrics {
        RuntimeMetrics { handle }
    }

    /// Number of worker threads.
    pub fn num_workers(&self) -> usize {
        self.handle.shared.remotes.len()
    }

    /// Tasks spawned and not yet completed (blocking closures not included).
    pub fn num_alive_tasks(&self) -> usize {
        self.handle.shared.owned.len()
    }

    /// Tasks spawned since the scheduler started (blocking closures not
    /// included).
    pub fn spawned_tasks_count(&self) -> u64 {
        self.handle.shared.owned.spawned()
    }

    /// Tasks the workers took from the global queue, through which every
    /// task spawned or woken outside the workers passes. Published like the
    /// worker figures; tasks still waiting are in `injection_queue_depth`.
    pub fn remote_schedule_count(&self) -> u64 {
        self.handle
            .shared
            .worker_metrics
            .iter()
            .map(|worker| worker.injector_pops.load(Ordering::Relaxed))
            .sum()
    }

    /// The poll-time histogram's buckets, if poll timing is on.
    pub fn poll_time_histogram(&self) -> Option<&PollTimeHistogram> {
        self.handle.shared.config.poll_time_histogram.as_ref()
    }

    /// Threads in the blocking pool, busy or idle.
    pub fn num_blocking_threads(&self) -> usize {
        self.handle.shared.blocking.num_threads()
    }

    /// Idle threads in the blocking pool.
    pub fn num_idle_blocking_threads(&self) -> usize {
        self.handle.shared.blocking.num_idle_threads()
    }

    /// Closures waiting for a blocking thread.
    pub fn blocking_queue_depth(&self) -> usize {
        self.handle.shared.blocking.queue_depth()
    }

    /// Tasks waiting in the global (injection) queue.
    pub fn injection_queue_depth(&self) -> usize {
        self.handle.shared.injector.len()
    }

    /// Workers currently searching for work to steal.
    pub fn num_searching_workers(&self) -> usize {
        self.handle.shared.idle.num_searching()
    }

    #[track_caller]
    fn worker(&self, worker: usize) -> &metrics::WorkerMetrics {
        let all = &self.handle.shared.worker_metrics;
        all.get(worker).unwrap_or_else(|| {
            panic!(
                "worker index {worker} out of range: the runtime has {} workers",
                all.len()
            )
        })
    }

    /// Task polls by worker `worker`.
    ///
    /// # Panics
    ///
    /// If `worker >= num_workers()`.
    pub fn worker_poll_count(&self, worker: usize) -> u64 {
        self.worker(worker).poll_count.load(Ordering::Relaxed)
    }

    /// Tasks worker `worker` stole from other workers.
    ///
    /// # Panics
    ///
    /// If `worker >= num_workers()`.
    pub fn worker_steal_count(&self, worker: usize) -> u64 {
        self.worker(worker).steal_count.load(Ordering::Relaxed)
    }

    /// Successful steal operations (each takes one or more tasks) by worker
    /// `worker`.
    ///
    /// # Panics
    ///
    /// If `worker >= num_workers()`.
    pub fn worker_steal_operations(&self, worker: usize) -> u64 {
        self.worker(worker).steal_operations.load(Ordering::Relaxed)
    }

    /// Times worker `worker` went to sleep.
    ///
    /// # Panics
    ///
    /// If `worker >= num_workers()`.
    pub fn worker_park_count(&self, worker: usize) -> u64 {
        self.worker(worker).park_count.load(Ordering::Relaxed)
    }

    /// Times worker `worker` woke from sleep (spurious wake-ups included).
    /// Published when it next parks or every `event_interval` turns, so a
    /// sleeping worker shows one park more than unparks.
    ///
    /// # Panics
    ///
    /// If `worker >= num_workers()`.
    pub fn worker_unpark_count(&self, worker: usize) -> u64 {
        self.worker(worker).unpark_count.load(Ordering::Relaxed)
    }

    /// Polls of a task taken from worker `worker`'s LIFO slot (a task woken
    /// or spawned by the task the worker just ran, or woken by I/O it just
    /// polled).
    ///
    /// # Panics
    ///
    /// If `worker >= num_workers()`.
    pub fn worker_lifo_hits(&self, worker: usize) -> u64 {
        self.worker(worker).lifo_hits.load(Ordering::Relaxed)
    }

    /// Task runs on worker `worker` in which a resource answered `Pending`
    /// because the coop budget was spent, making the task yield.
    ///
    /// # Panics
    ///
    /// If `worker >= num_workers()`.
    pub fn worker_budget_forced_yields(&self, worker: usize) -> u64 {
        self.worker(worker)
            .budget_forced_yields
            .load(Ordering::Relaxed)
    }

    /// Time worker `worker` spent awake (running tasks, searching, polling
    /// the driver without blocking) since it started.
    ///
    /// # Panics
    ///
    /// If `worker >= num_workers()`.
    pub fn worker_total_busy_duration(&self, worker: usize) -> Duration {
        Duration::from_nanos(self.worker(worker).busy_ns.load(Ordering::Relaxed))
    }

    /// Mean duration of worker `worker`'s polls: measured if poll timing is
    /// on; otherwise its busy time divided by its polls, which also counts
    /// the time between polls. Zero before the first poll.
    ///
    /// # Panics
    ///
    /// If `worker >= num_workers()`.
    pub fn worker_mean_poll_time(&self, worker: usize) -> Duration {
        let metrics = self.worker(worker);
        let polls = metrics.poll_count.load(Ordering::Relaxed);
        let total = if self.poll_time_histogram().is_some() {
            metrics.poll_time_ns.load(Ordering::Relaxed)
        } else {
            metrics.busy_ns.load(Ordering::Relaxed)
        };
        Duration::from_nanos(total.checked_div(polls).unwrap_or(0))
    }

    /// Polls of worker `worker` whose duration fell in bucket `bucket` of
    /// the [poll-time histogram](RuntimeMetrics::poll_time_histogram).
    ///
    /// # Panics
    ///
    /// If `worker >= num_workers()`, if poll timing is off, or if `bucket`
    /// is out of range.
    #[track_caller]
    pub fn worker_poll_time_histogram_bucket_count(&self, worker: usize, bucket: usize) -> u64 {
        let buckets = &self.worker(worker).poll_time_buckets;
        assert!(
            !buckets.is_empty(),
            "poll timing is off: enable the poll-time histogram on the runtime's Builder"
        );
        buckets
            .get(bucket)
            .unwrap_or_else(|| {
                panic!(
                    "bucket {bucket} out of range: the histogram has {} buckets",
                    buckets.len()
                )
            })
            .load(Ordering::Relaxed)
    }

    /// Tasks in worker `worker`'s local queue when it last published.
    ///
    /// # Panics
    ///
    /// If `worker >= num_workers()`.
    pub fn worker_local_queue_depth(&self, worker: usize) -> usize {
        self.worker(worker)
            .local_queue_depth
            .load(Ordering::Relaxed) as usize
    }
}

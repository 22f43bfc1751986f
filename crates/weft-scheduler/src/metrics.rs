//! Runtime figures: read from any thread, written without contention.
//!
//! Each worker counts in plain fields of its own core and publishes them to
//! its [`WorkerMetrics`] with relaxed stores when it parks and every
//! `event_interval` ticks, so the hot path pays no shared atomic increment.
//! A figure read while a worker is busy may therefore lag by up to one
//! interval.

use crate::sync::{AtomicU64, Ordering};

/// Counters one worker publishes.
#[derive(Debug, Default)]
pub(crate) struct WorkerMetrics {
    pub(crate) poll_count: AtomicU64,
    pub(crate) steal_count: AtomicU64,
    pub(crate) steal_operations: AtomicU64,
    pub(crate) park_count: AtomicU64,
    pub(crate) local_queue_depth: AtomicU64,
}

/// The owning worker's unpublished counts.
#[derive(Debug, Default)]
pub(crate) struct WorkerCounts {
    pub(crate) poll_count: u64,
    pub(crate) steal_count: u64,
    pub(crate) steal_operations: u64,
    pub(crate) park_count: u64,
}

impl WorkerMetrics {
    pub(crate) fn new() -> WorkerMetrics {
        WorkerMetrics {
            poll_count: AtomicU64::new(0),
            steal_count: AtomicU64::new(0),
            steal_operations: AtomicU64::new(0),
            park_count: AtomicU64::new(0),
            local_queue_depth: AtomicU64::new(0),
        }
    }

    /// Relaxed: the figures are statistics; no memory is published with them.
    pub(crate) fn publish(&self, counts: &WorkerCounts, local_queue_depth: usize) {
        self.poll_count.store(counts.poll_count, Ordering::Relaxed);
        self.steal_count
            .store(counts.steal_count, Ordering::Relaxed);
        self.steal_operations
            .store(counts.steal_operations, Ordering::Relaxed);
        self.park_count.store(counts.park_count, Ordering::Relaxed);
        self.local_queue_depth
            .store(local_queue_depth as u64, Ordering::Relaxed);
    }
}

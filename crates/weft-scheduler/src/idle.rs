//! Which workers sleep, and how many search for work.
//!
//! A worker is *unparked* unless it sits in the sleepers list, and
//! *searching* while it looks for work to steal. Both counts share one atomic
//! word so a producer reads them together.
//!
//! Two rules keep wake-ups cheap (after tokio's 2019 scheduler notes):
//! - a producer wakes a sleeper only if nobody is searching (a searcher
//!   will find the new task) and someone sleeps;
//! - at most half the workers search at once, and a searcher that finds
//!   work wakes one more sleeper only if it was the last searcher. Work
//!   spreads one worker at a time instead of as a thundering herd.
//!
//! And one rule makes them reliable: the last searcher to park re-checks
//! every queue after it stopped counting as searching (see
//! `transition_worker_to_parked`). Producers push and then read the counts;
//! the parker decrements and then reads the queues; with both sides
//! sequentially consistent, one of them sees the other, so a task pushed
//! while every worker goes to sleep is never stranded.

use crate::sync::{AtomicUsize, Mutex, Ordering};

const UNPARKED_SHIFT: usize = 16;
const UNPARKED_ONE: usize = 1 << UNPARKED_SHIFT;
const SEARCHING_MASK: usize = UNPARKED_ONE - 1;

pub(crate) struct Idle {
    /// Searching workers in the low 16 bits, unparked workers above.
    state: AtomicUsize,
    /// Indexes of parked workers.
    sleepers: Mutex<Vec<usize>>,
    num_workers: usize,
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Idle {
        assert!(num_workers < SEARCHING_MASK, "too many workers");
        Idle {
            state: AtomicUsize::new(num_workers << UNPARKED_SHIFT),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
        }
    }

    /// After work was pushed: the worker to wake, if one should be woken.
    /// The woken worker counts as unparked and searching from here on.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        if !self.should_notify() {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        if !self.should_notify() {
            return None;
        }
        let worker = sleepers.pop()?;
        // SeqCst: part of the push-then-check protocol above.
        self.state.fetch_add(UNPARKED_ONE | 1, Ordering::SeqCst);
        Some(worker)
    }

    fn should_notify(&self) -> bool {
        // SeqCst: the producer's push must be ordered before this read.
        let state = self.state.load(Ordering::SeqCst);
        searching(state) == 0 && unparked(state) < self.num_workers
    }

    /// A worker goes to sleep. True if it was the last searcher, in which
    /// case it must re-check the queues (and notify if they hold work).
    /// Calls `last_awake` (under the sleepers lock, which every wake-up
    /// also takes, so nothing a woken worker does can come before it) if
    /// this was the last unparked worker.
    pub(crate) fn transition_worker_to_parked(
        &self,
        worker: usize,
        is_searching: bool,
        last_awake: impl FnOnce(),
    ) -> bool {
        let mut sleepers = self.sleepers.lock();
        let delta = UNPARKED_ONE + usize::from(is_searching);
        // SeqCst: the re-check of the queues that follows must not be
        // ordered before this decrement.
        let prev = self.state.fetch_sub(delta, Ordering::SeqCst);
        sleepers.push(worker);
        if prev >> UNPARKED_SHIFT == 1 {
            last_awake();
        }
        is_searching && searching(prev) == 1
    }

    /// A worker with nothing local wants to steal; false if enough
    /// workers already search.
    pub(crate) fn transition_worker_to_searching(&self) -> bool {
        let state = self.state.load(Ordering::SeqCst);
        if 2 * searching(state) >= self.num_workers {
            return false;
        }
        self.state.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// A searching worker found work. True if it was the last searcher (so
    /// it should wake another worker to take over the search).
    pub(crate) fn transition_worker_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(searching(prev) > 0);
        searching(prev) == 1
    }

    /// True while `worker` is in the sleepers list (it was not woken by
    /// `worker_to_notify`).
    pub(crate) fn is_parked(&self, worker: usize) -> bool {
        self.sleepers.lock().contains(&worker)
    }

    /// Takes `worker` out of the sleepers list on its own initiative (for
    /// shutdown). True if it was there.
    pub(crate) fn unpark_worker_by_id(&self, worker: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        match sleepers.iter().position(|&w| w == worker) {
            Some(at) => {
                sleepers.swap_remove(at);
                self.state.fetch_add(UNPARKED_ONE, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    pub(crate) fn num_searching(&self) -> usize {
        searching(self.state.load(Ordering::SeqCst))
    }
}

fn searching(state: usize) -> usize {
    state & SEARCHING_MASK
}

fn unparked(state: usize) -> usize {
    state >> UNPARKED_SHIFT
}

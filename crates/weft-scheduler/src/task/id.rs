//! Task ids and the id of the task running on this thread.

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

/// An opaque id, unique among all tasks spawned in this process.
///
/// # Examples
///
/// ```
/// use weft_scheduler::task::Id;
///
/// fn describe(id: Id) -> String {
///     format!("task {id}")
/// }
/// # let _ = describe;
/// ```
#[derive(Clone, Copy, Debug, Hash, Eq, PartialEq, Ord, PartialOrd)]
pub struct Id(NonZeroU64);

/// Threads take ids from the shared counter in blocks of `1 << BLOCK_SHIFT`,
/// so spawning on several workers at once does not bounce one counter
/// between their caches, and the ids one thread hands out in a row share a
/// block (the owned-task list keeps a block's tasks in one shard).
const BLOCK_SHIFT: u32 = 8;

impl Id {
    pub(crate) fn next() -> Id {
        // Not part of any synchronisation protocol (only uniqueness matters),
        // so these stay std's atomic and thread-local even under loom.
        static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);
        std::thread_local! {
            /// The rest of this thread's block: next id, end (exclusive).
            static BLOCK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
        }
        let take = |count| NEXT_BLOCK.fetch_add(count, Ordering::Relaxed);
        let id = BLOCK
            .try_with(|block| {
                let (mut next, mut end) = block.get();
                if next == end {
                    next = take(1 << BLOCK_SHIFT);
                    end = next + (1 << BLOCK_SHIFT);
                }
                block.set((next + 1, end));
                next
            })
            // A spawn from a thread-local destructor: one id, no block.
            .unwrap_or_else(|_| take(1));
        Id(NonZeroU64::new(id).expect("task ids exhausted"))
    }

    /// Which block of ids this one came from: ids spawned in a row on one
    /// thread share it.
    pub(crate) fn block(self) -> u64 {
        self.0.get() >> BLOCK_SHIFT
    }

    /// The id with this number, if it could be one.
    pub(crate) fn from_u64(id: u64) -> Option<Id> {
        NonZeroU64::new(id).map(Id)
    }

    /// The id as a number, e.g. for logs.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

thread_local! {
    static CURRENT: Cell<Option<Id>> = const { Cell::new(None) };
    /// Set when a `JoinHandle` polled by the current task was not ready;
    /// cleared when a poll begins.
    static WAITING_ON_JOIN: Cell<bool> = const { Cell::new(false) };
}

/// A `JoinHandle` awaited on this thread was not ready.
pub(crate) fn note_waiting_on_join() {
    WAITING_ON_JOIN.with(|waiting| waiting.set(true));
}

/// Sets the current task id for the duration of one poll.
pub(crate) struct CurrentTaskGuard {
    previous: Option<Id>,
}

impl CurrentTaskGuard {
    pub(crate) fn enter(id: Id) -> CurrentTaskGuard {
        let previous = CURRENT.with(|current| current.replace(Some(id)));
        WAITING_ON_JOIN.with(|waiting| waiting.set(false));
        CurrentTaskGuard { previous }
    }

    /// Whether a `JoinHandle` was awaited and not ready since `enter`.
    pub(crate) fn waited_on_join(&self) -> bool {
        WAITING_ON_JOIN.with(Cell::get)
    }
}

impl Drop for CurrentTaskGuard {
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.previous));
    }
}

/// The id of the task being polled on this thread, if any.
pub fn try_id() -> Option<Id> {
    CURRENT.with(Cell::get)
}

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

impl Id {
    pub(crate) fn next() -> Id {
        // Not part of any synchronisation protocol (only uniqueness matters),
        // so it stays a std atomic even under loom.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        Id(NonZeroU64::new(id).expect("task ids exhausted"))
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
}

/// Sets the current task id for the duration of one poll.
pub(crate) struct CurrentTaskGuard {
    previous: Option<Id>,
}

impl CurrentTaskGuard {
    pub(crate) fn enter(id: Id) -> CurrentTaskGuard {
        let previous = CURRENT.with(|current| current.replace(Some(id)));
        CurrentTaskGuard { previous }
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

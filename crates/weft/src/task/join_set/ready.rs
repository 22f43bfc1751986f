//! The wake queue of a `JoinSet`: each entry's waker records the entry as
//! ready and wakes the set once, so `join_next` polls only the entries that
//! were woken, not all of them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Wake, Waker};

use super::Key;

/// The list that entry wakers push onto, shared by the set and its wakers.
#[derive(Default)]
pub(super) struct ReadyList {
    state: Mutex<ReadyState>,
}

#[derive(Default)]
pub(super) struct ReadyState {
    /// Entries woken since the set last took this list.
    pub(super) ready: VecDeque<Key>,
    /// The waker of the last `poll_join_next` that returned `Pending`; taken
    /// by the first entry that is woken after it, so a burst of completions
    /// wakes the parent once.
    pub(super) parent: Option<Waker>,
}

impl ReadyList {
    pub(super) fn lock(&self) -> MutexGuard<'_, ReadyState> {
        // Nothing panics while holding the lock except an allocation failure,
        // and the state stays consistent then too, so a poisoned lock is fine.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The waker of one entry: waking it queues the entry and wakes the parent.
pub(super) struct EntryWaker {
    pub(super) key: Key,
    /// True while the entry sits on a queue (`local` or `ready`), so repeated
    /// wakes push it once.
    pub(super) queued: AtomicBool,
    pub(super) ready: Arc<ReadyList>,
}

impl Wake for EntryWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // AcqRel: pairs with the Release in `poll_entries`, which clears the
        // flag before polling the handle.
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let parent = {
            let mut state = self.ready.lock();
            state.ready.push_back(self.key);
            state.parent.take()
        };
        if let Some(parent) = parent {
            parent.wake();
        }
    }
}

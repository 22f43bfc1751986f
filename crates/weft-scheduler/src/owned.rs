//! The list of live tasks a scheduler owns, so shutdown can cancel every
//! one of them and metrics can count them.
//!
//! Sharded by task id block (see `Id::next`) so spawning and completing on
//! different workers rarely contend. Each shard is a `Vec` of task
//! references; a task records its index in the header (written only under
//! the shard's lock), so removal is a swap-remove with no search.

use crossbeam_utils::CachePadded;

use crate::sync::Mutex;
use crate::task::Task;

pub(crate) struct OwnedTasks<S: 'static> {
    /// Padded: shards are locked from different workers, and neighbours on
    /// one cache line would contend even when the locks do not.
    shards: Box<[CachePadded<Mutex<Shard<S>>>]>,
    mask: usize,
}

struct Shard<S: 'static> {
    tasks: Vec<Task<S>>,
    closed: bool,
}

impl<S: 'static> OwnedTasks<S> {
    pub(crate) fn new(num_workers: usize) -> OwnedTasks<S> {
        let count = (num_workers * 4).next_power_of_two().max(4);
        let shards = (0..count)
            .map(|_| {
                CachePadded::new(Mutex::new(Shard {
                    tasks: Vec::new(),
                    closed: false,
                }))
            })
            .collect();
        OwnedTasks {
            shards,
            mask: count - 1,
        }
    }

    /// A task's shard, by its id's block: a thread spawning many tasks in a
    /// row keeps to one shard, whose lock stays in its cache, and two
    /// spawning threads rarely share one.
    fn shard(&self, task: &Task<S>) -> &Mutex<Shard<S>> {
        &self.shards[task.id().block() as usize & self.mask]
    }

    /// Adds a new task; gives it back if the list is closed (the runtime is
    /// shutting down), and the caller must shut it down.
    pub(crate) fn bind(&self, task: Task<S>) -> Result<(), Task<S>> {
        let mut shard = self.shard(&task).lock();
        if shard.closed {
            return Err(task);
        }
        let index = shard.tasks.len();
        set_owned_index(&shard, &task, index);
        shard.tasks.push(task);
        Ok(())
    }

    /// Removes a completed task, returning the list's reference to it.
    pub(crate) fn release(&self, task: &Task<S>) -> Option<Task<S>> {
        let mut shard = self.shard(task).lock();
        let index = owned_index(&shard, task);
        if index == usize::MAX {
            return None;
        }
        let removed = shard.tasks.swap_remove(index);
        debug_assert_eq!(removed.id(), task.id());
        set_owned_index(&shard, &removed, usize::MAX);
        if let Some(moved) = shard.tasks.get(index) {
            set_owned_index(&shard, moved, index);
        }
        Some(removed)
    }

    /// Refuses new tasks from now on and hands over every live task, for
    /// the caller to shut down.
    pub(crate) fn close_and_take_all(&self) -> Vec<Task<S>> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            shard.closed = true;
            let tasks = std::mem::take(&mut shard.tasks);
            for task in tasks {
                set_owned_index(&shard, &task, usize::MAX);
                all.push(task);
            }
        }
        all
    }

    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().tasks.len())
            .sum()
    }
}

/// A task's index in its shard. `_locked` is the task's shard, borrowed
/// from its guard: the lock that makes the unsynchronised access sound.
fn owned_index<S>(_locked: &Shard<S>, task: &Task<S>) -> usize {
    task.header().owned_index.with(|slot| {
        // SAFETY: `owned_index` is only accessed with its shard locked, as
        // the borrowed guard shows.
        unsafe { *slot }
    })
}

/// Records a task's index in its shard; see [`owned_index`].
fn set_owned_index<S>(_locked: &Shard<S>, task: &Task<S>, index: usize) {
    task.header().owned_index.with_mut(|slot| {
        // SAFETY: as in `owned_index`.
        unsafe { *slot = index }
    });
}

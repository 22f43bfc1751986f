//! The list of live tasks a scheduler owns, so shutdown can cancel every
//! one of them, metrics can count them and a dump can list them.
//!
//! Sharded by task id block (see `Id::next`) so spawning and completing on
//! different workers rarely contend. Each shard is a `Vec` of entries, a
//! task reference and its packed [`SpawnInfo`]; a task records its index in
//! the header (written only under the shard's lock), so removal is a
//! swap-remove with no search. Names live in a per-shard map, so an unnamed
//! task costs 16 bytes here.

use std::collections::HashMap;
use std::sync::Arc as StdArc;

use crossbeam_utils::CachePadded;

use crate::site::SpawnInfo;
use crate::sync::Mutex;
use crate::task::{Id, Task};

pub(crate) struct OwnedTasks<S: 'static> {
    /// Padded: shards are locked from different workers, and neighbours on
    /// one cache line would contend even when the locks do not.
    shards: Box<[CachePadded<Mutex<Shard<S>>>]>,
    mask: usize,
}

/// `repr(C)`, hot fields first: the lock word and everything a spawn or a
/// completion touches (`tasks`, `spawned`, `closed`) share one cache line;
/// the name map, rarely touched, comes after.
#[repr(C)]
struct Shard<S: 'static> {
    tasks: Vec<Entry<S>>,
    /// Tasks ever bound to this shard.
    spawned: u64,
    closed: bool,
    /// Names of the named tasks among `tasks`.
    names: HashMap<Id, StdArc<str>>,
}

struct Entry<S: 'static> {
    task: Task<S>,
    info: SpawnInfo,
}

/// What the owned list knows of one live task, copied out for a dump.
pub(crate) struct Snapshot {
    pub(crate) id: Id,
    pub(crate) info: SpawnInfo,
    pub(crate) name: Option<StdArc<str>>,
    pub(crate) state: crate::task::TaskState,
    pub(crate) polls: u64,
}

impl<S: 'static> OwnedTasks<S> {
    pub(crate) fn new(num_workers: usize) -> OwnedTasks<S> {
        let count = (num_workers * 4).next_power_of_two().max(4);
        let shards = (0..count)
            .map(|_| {
                CachePadded::new(Mutex::new(Shard {
                    tasks: Vec::new(),
                    names: HashMap::new(),
                    spawned: 0,
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
    fn shard(&self, id: Id) -> &Mutex<Shard<S>> {
        &self.shards[id.block() as usize & self.mask]
    }

    /// Adds a new task; gives it back if the list is closed (the runtime is
    /// shutting down), and the caller must shut it down. `name` goes with
    /// `info.is_named()`.
    pub(crate) fn bind(
        &self,
        task: Task<S>,
        info: SpawnInfo,
        name: Option<StdArc<str>>,
    ) -> Result<(), Task<S>> {
        let id = task.id();
        let mut shard = self.shard(id).lock();
        if shard.closed {
            return Err(task);
        }
        let index = shard.tasks.len();
        set_owned_index(&shard, &task, index);
        shard.tasks.push(Entry { task, info });
        shard.spawned += 1;
        if let Some(name) = name {
            debug_assert!(info.is_named());
            insert_name(&mut shard.names, id, name);
        }
        Ok(())
    }

    /// Removes a completed task, returning the list's reference to it.
    pub(crate) fn release(&self, task: &Task<S>) -> Option<Task<S>> {
        let mut shard = self.shard(task.id()).lock();
        let index = owned_index(&shard, task);
        if index == usize::MAX {
            return None;
        }
        let removed = shard.tasks.swap_remove(index);
        debug_assert_eq!(removed.task.id(), task.id());
        set_owned_index(&shard, &removed.task, usize::MAX);
        if let Some(moved) = shard.tasks.get(index) {
            set_owned_index(&shard, &moved.task, index);
        }
        if removed.info.is_named() {
            remove_name(&mut shard.names, task.id());
        }
        Some(removed.task)
    }

    /// Refuses new tasks from now on and hands over every live task, for
    /// the caller to shut down.
    pub(crate) fn close_and_take_all(&self) -> Vec<Task<S>> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            shard.closed = true;
            let tasks = std::mem::take(&mut shard.tasks);
            shard.names.clear();
            for entry in tasks {
                set_owned_index(&shard, &entry.task, usize::MAX);
                all.push(entry.task);
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

    /// Tasks ever bound, shutdown's refusals not included.
    pub(crate) fn spawned(&self) -> u64 {
        self.shards.iter().map(|shard| shard.lock().spawned).sum()
    }

    /// Copies out what is known of every live task, one shard lock at a
    /// time (each held only while its entries are copied), so spawns and
    /// completions on other shards go on meanwhile.
    pub(crate) fn snapshot(&self) -> Vec<Snapshot> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            all.reserve(shard.tasks.len());
            for entry in &shard.tasks {
                let (state, polls) = entry.task.observe();
                all.push(Snapshot {
                    id: entry.task.id(),
                    info: entry.info,
                    name: entry
                        .info
                        .is_named()
                        .then(|| shard.names.get(&entry.task.id()).cloned())
                        .flatten(),
                    state,
                    polls,
                });
            }
        }
        all
    }

    /// The spawn information and name of live task `id`, if it is live.
    pub(crate) fn find(&self, id: Id) -> Option<(SpawnInfo, Option<StdArc<str>>)> {
        let shard = self.shard(id).lock();
        let entry = shard.tasks.iter().find(|entry| entry.task.id() == id)?;
        Some((entry.info, shard.names.get(&id).cloned()))
    }
}

/// Out of line: named tasks are rare, and this code would otherwise be
/// copied into every spawn's monomorphised code.
#[cold]
#[inline(never)]
fn insert_name(names: &mut HashMap<Id, StdArc<str>>, id: Id, name: StdArc<str>) {
    names.insert(id, name);
}

/// As [`insert_name`].
#[cold]
#[inline(never)]
fn remove_name(names: &mut HashMap<Id, StdArc<str>>, id: Id) {
    names.remove(&id);
}

/// A task's index in its shard. `_locked` is the task's shard, borrowed
/// from its guard: the lock that makes the unsynchronised access sound.
fn owned_index<S>(_locked: &Shard<S>, task: &Task<S>) -> usize {
    let index = task.header().owned_index.with(|slot| {
        // SAFETY: `owned_index` is only accessed with its shard locked, as
        // the borrowed guard shows.
        unsafe { *slot }
    });
    if index == u32::MAX {
        usize::MAX
    } else {
        index as usize
    }
}

/// Records a task's index in its shard; see [`owned_index`].
fn set_owned_index<S>(_locked: &Shard<S>, task: &Task<S>, index: usize) {
    let index = if index == usize::MAX {
        u32::MAX
    } else {
        u32::try_from(index)
            .ok()
            .filter(|&index| index != u32::MAX)
            .expect("more than 4 billion live tasks in one shard")
    };
    task.header().owned_index.with_mut(|slot| {
        // SAFETY: as in `owned_index`.
        unsafe { *slot = index }
    });
}

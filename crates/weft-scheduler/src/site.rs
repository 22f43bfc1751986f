//! What the runtime remembers about each live task besides the task itself
//! (where it was spawned, when, whether it has a name), packed into one
//! word next to the task in the owned-task list, so it costs no room in
//! the task allocation and 8 bytes in the list.
//!
//! - **Spawn site**: `spawn` is `#[track_caller]`; its `Location` is
//!   interned once per call site into a process-wide table and stored as a
//!   23-bit index. A per-thread cache makes a repeated spawn from the same
//!   site a load and a compare.
//! - **Spawn time**: milliseconds since the scheduler started, read from
//!   its [`Clock`] (40 bits: 34 years).
//! - **Named**: one bit; the name itself lives in the shard's name map, so
//!   only named tasks pay for it.
//!
//! None of this is part of a synchronisation protocol, so it uses std's
//! mutex and thread-locals even under loom.

use std::cell::Cell;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SITE_BITS: u32 = 23;
const TIME_BITS: u32 = 40;
const SITE_MASK: u64 = (1 << SITE_BITS) - 1;
const TIME_MASK: u64 = (1 << TIME_BITS) - 1;
const NAMED: u64 = 1 << 63;
/// Index of the "unknown" site, used if the table is ever full.
const UNKNOWN_SITE: u32 = 0;

/// A spawn site, its time and whether it has a name, in one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpawnInfo(u64);

impl SpawnInfo {
    pub(crate) fn new(site: &'static Location<'static>, spawned_ms: u64, named: bool) -> SpawnInfo {
        let site = u64::from(intern(site));
        let time = spawned_ms.min(TIME_MASK);
        SpawnInfo(site | time << SITE_BITS | if named { NAMED } else { 0 })
    }

    /// Spawn information for tests that bind tasks by hand.
    #[cfg(test)]
    #[track_caller]
    pub(crate) fn test_info() -> SpawnInfo {
        SpawnInfo::new(Location::caller(), 0, false)
    }

    pub(crate) fn site(self) -> &'static Location<'static> {
        lookup((self.0 & SITE_MASK) as u32)
    }

    pub(crate) fn spawned_ms(self) -> u64 {
        (self.0 >> SITE_BITS) & TIME_MASK
    }

    pub(crate) fn is_named(self) -> bool {
        self.0 & NAMED != 0
    }
}

struct Table {
    sites: Vec<&'static Location<'static>>,
    index: HashMap<Location<'static>, u32>,
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

thread_local! {
    /// Direct-mapped cache of this thread's recent spawn sites: (address of
    /// the `Location`, index).
    static CACHE: [Cell<(usize, u32)>; 8] = const { [const { Cell::new((0, 0)) }; 8] };
}

fn intern(site: &'static Location<'static>) -> u32 {
    let address = site as *const Location<'static> as usize;
    let slot = (address >> 3) % 8;
    let cached = CACHE.try_with(|cache| {
        let (key, index) = cache[slot].get();
        (key == address).then_some(index)
    });
    if let Ok(Some(index)) = cached {
        return index;
    }
    let index = intern_slow(site);
    let _ = CACHE.try_with(|cache| cache[slot].set((address, index)));
    index
}

#[cold]
fn intern_slow(site: &'static Location<'static>) -> u32 {
    let mut table = TABLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let table = table.get_or_insert_with(|| Table {
        // Index 0 (`UNKNOWN_SITE`) names this function: only seen if more
        // than 8 million distinct call sites ever spawned.
        sites: vec![Location::caller()],
        index: HashMap::new(),
    });
    if let Some(&index) = table.index.get(site) {
        return index;
    }
    if table.sites.len() > SITE_MASK as usize {
        return UNKNOWN_SITE;
    }
    let index = table.sites.len() as u32;
    table.sites.push(site);
    table.index.insert(*site, index);
    index
}

fn lookup(index: u32) -> &'static Location<'static> {
    let table = TABLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let sites = &table.as_ref().expect("a spawn site was interned").sites;
    sites[index as usize]
}

/// The spawn sites of `infos`, looked up under one lock of the table.
pub(crate) fn sites(infos: impl Iterator<Item = SpawnInfo>) -> Vec<&'static Location<'static>> {
    let table = TABLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(table) = table.as_ref() else {
        // Nothing was ever spawned, so there is nothing to look up.
        return infos.map(|_| Location::caller()).collect();
    };
    infos
        .map(|info| table.sites[(info.0 & SITE_MASK) as usize])
        .collect()
}

/// The scheduler's clock for task ages: a start instant, and a coarse
/// "now" in milliseconds, so a spawn reads one shared word instead of the
/// system clock (about 25 ns).
///
/// The coarse clock is *fresh* from the moment a worker wakes (and
/// refreshes it) until the last awake worker parks. While fresh it is
/// refreshed by every awake worker every `event_interval` turns of its
/// loop, and by the stall watchdog on every look (every 25 ms by default).
/// A spawn reads it while it is fresh and reads the system clock
/// otherwise. So a spawn time is early (a task's age reads high) by at
/// most one watchdog period with the stall detector on; with it off, by up
/// to the time an awake worker takes for `event_interval` turns (as long
/// as a blocking poll blocks).
#[derive(Debug)]
pub(crate) struct Clock {
    start: Instant,
    now_ms: AtomicU64,
    fresh: AtomicBool,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock {
            start: Instant::now(),
            now_ms: AtomicU64::new(0),
            fresh: AtomicBool::new(false),
        }
    }

    /// Milliseconds since the start, for a spawn time: the coarse clock
    /// while it is fresh, else the system clock.
    pub(crate) fn spawn_ms(&self) -> u64 {
        // Acquire, with `worker_woke`'s Release: a fresh flag comes with the
        // time stored before it.
        if self.fresh.load(Ordering::Acquire) {
            self.now_ms.load(Ordering::Relaxed)
        } else {
            // Not published: a spawner should not write the line every
            // spawn reads (the workers publish when they wake).
            self.since_start(Instant::now())
        }
    }

    /// A worker woke: refresh, and the clock stays fresh while it is awake.
    pub(crate) fn worker_woke(&self, now: Instant) {
        self.refresh_at(now);
        if !self.fresh.load(Ordering::Relaxed) {
            self.fresh.store(true, Ordering::Release);
        }
    }

    /// The last awake worker is parking: nobody refreshes the clock now.
    pub(crate) fn all_asleep(&self) {
        // Written only when it changes: spawns read this line.
        if self.fresh.load(Ordering::Relaxed) {
            self.fresh.store(false, Ordering::Relaxed);
        }
    }

    /// Reads the system clock and publishes it; returns milliseconds since
    /// the start.
    pub(crate) fn refresh(&self) -> u64 {
        self.refresh_at(Instant::now())
    }

    /// As [`refresh`](Clock::refresh), with the time already read.
    pub(crate) fn refresh_at(&self, now: Instant) -> u64 {
        let now = self.since_start(now);
        // Written only when it moves (at most once a millisecond), so
        // readers keep the line in their caches. `fetch_max`, not a store:
        // refreshes from several threads race, and the clock must not step
        // back.
        if self.now_ms.load(Ordering::Relaxed) < now {
            self.now_ms.fetch_max(now, Ordering::Relaxed);
        }
        now
    }

    pub(crate) fn since_start(&self, instant: Instant) -> u64 {
        instant.saturating_duration_since(self.start).as_millis() as u64
    }

    /// How long ago `ms` (milliseconds since the start) was, at `now`.
    pub(crate) fn age(&self, ms: u64, now: Instant) -> Duration {
        Duration::from_millis(self.since_start(now).saturating_sub(ms))
    }
}

#[cfg(all(test, not(weft_loom)))]
mod tests {
    use super::*;

    #[track_caller]
    fn here() -> &'static Location<'static> {
        Location::caller()
    }

    #[test]
    fn packs_site_time_and_name() {
        let site = here();
        let info = SpawnInfo::new(site, 123_456, true);
        assert_eq!(info.site(), site);
        assert_eq!(info.spawned_ms(), 123_456);
        assert!(info.is_named());
        let other = here();
        let info = SpawnInfo::new(other, TIME_MASK + 5, false);
        assert_eq!(info.site().line(), other.line());
        assert_eq!(info.spawned_ms(), TIME_MASK, "time saturates");
        assert!(!info.is_named());
    }

    #[test]
    fn one_site_one_index() {
        let sites: Vec<_> = (0..3).map(|_| here()).collect();
        let indexes: Vec<_> = sites.iter().map(|site| intern(site)).collect();
        assert_eq!(indexes[0], indexes[1]);
        assert_eq!(indexes[1], indexes[2]);
        assert_ne!(intern(here()), indexes[0]);
    }
}

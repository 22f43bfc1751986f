//! A hierarchical timing wheel: the driver's store of pending timers.
//!
//! # Vocabulary
//!
//! - A **tick** is the wheel's unit of time (1 ms; the driver converts
//!   `Instant`s). `elapsed` is the tick the wheel has advanced to.
//! - A **level** `L` (0 to 5) has 64 **slots**; each slot of level `L` spans
//!   `64^L` ticks, so a level spans `64^(L+1)` ticks and the top level
//!   `64^6` ticks (about 795 days).
//! - An **entry** is one timer: a deadline and the caller's payload. It is
//!   *pending* while it waits in the wheel and *fired* once `advance` passed
//!   its deadline; a fired entry stays in storage until `remove`.
//!
//! # Where an entry waits
//!
//! An entry due at `deadline > elapsed` goes to the level of the highest
//! 6-bit digit in which `deadline` and `elapsed` differ, in the slot named by
//! the deadline's digit at that level. So level 0 holds the entries due
//! within `elapsed`'s current window of 64 ticks, level 1 those due within
//! its current window of 4096 ticks but not in the first, and so on. Two
//! facts follow, and the whole wheel rests on them:
//!
//! 1. Every occupied slot of a level lies *after* `elapsed`'s own slot at
//!    that level (the digits differ and the deadline is later), so the first
//!    occupied slot of a level is its lowest set bit: a `trailing_zeros` on
//!    the level's `u64` occupancy bitmap, no scan.
//! 2. Every slot of level `L` starts after everything level `L - 1` can
//!    hold, so the next thing to do is the first occupied slot of the lowest
//!    non-empty level.
//!
//! `advance(now)` handles those slots one at a time in time order: it moves
//! `elapsed` to the slot's start, unlinks the slot's whole list, fires the
//! entries due by then and puts the others back in. Seen from the slot's
//! start their deadline differs only in lower digits, so they land on lower
//! levels: this is the **cascade**. An entry cascades at most once a level,
//! and a level-0 slot holds only entries due at exactly its tick, so entries
//! fire in deadline order and never early.
//!
//! Two lists sit outside the levels. The **due** list takes entries inserted
//! or reset at a deadline `<= elapsed`; the next `advance` fires them first,
//! sorted by deadline. The **overflow** list takes deadlines beyond the top
//! level's current window: it is treated as one more slot, starting at the
//! window that holds the earliest of its deadlines (a lower bound kept on
//! insert), where its entries are sorted again; those still beyond go back
//! to it. So a deadline of `u64::MAX` costs one cascade per window that
//! holds a deadline, not one per 795 days.
//!
//! # Why O(1)
//!
//! Entries live in a `Slab`; each slot's list is doubly linked through slab
//! indices, so insert (push at the head of one list), cancel and reset
//! (unlink, push) touch a constant number of nodes and allocate nothing
//! beyond the slab's growth. Finding the next expiration looks at six
//! bitmaps. `advance` costs O(1) a slot handled plus O(1) an entry each time
//! it cascades (at most once a level, plus once each time the overflow list
//! is sorted while it waits there) or fires; the due list adds a sort.
//!
//! The design is Varghese and Lauck's hierarchical timing wheel ("Hashed and
//! Hierarchical Timing Wheels", SOSP 1987); choosing the level from the
//! highest differing digit of `deadline ^ elapsed` follows tokio's timer
//! driver.

use std::fmt;

use slab::Slab;

/// Bits of a tick that one level's slot index takes.
const SLOT_BITS: u32 = 6;

/// Slots a level, one bit each in the level's occupancy bitmap.
const SLOTS: usize = 1 << SLOT_BITS;

/// Levels in the wheel; level `LEVELS - 1` spans [`WHEEL_SPAN`] ticks.
const LEVELS: usize = 6;

/// Ticks the top level spans: deadlines further than this from `elapsed`'s
/// top-level window wait in the overflow list.
const WHEEL_SPAN: u64 = 1 << (SLOT_BITS * LEVELS as u32);

/// Ticks one slot of `level` spans (`level` may be `LEVELS`: the span of a
/// whole top level).
fn slot_span(level: usize) -> u64 {
    1 << (SLOT_BITS * level as u32)
}

/// A timing wheel of entries carrying a `T`, due at tick deadlines.
pub(crate) struct Wheel<T> {
    /// Every entry, pending or fired, until `remove`.
    entries: Slab<Entry<T>>,
    /// The lists of the slots, level 0 first.
    levels: Box<[Level; LEVELS]>,
    /// Head of the list of entries due at or before `elapsed`.
    due: Option<usize>,
    /// Head of the list of entries beyond the top level's current window.
    overflow: Option<usize>,
    /// A lower bound on the deadlines in `overflow`, meaningless while it is
    /// empty (exact after each time the list is sorted again; a cancel may
    /// leave it low, which only costs one early look at the list).
    overflow_floor: u64,
    /// The tick the wheel has advanced to.
    elapsed: u64,
    /// Entries pending (in some list).
    pending: usize,
    /// Reused buffer for the entries one step of `advance` fires.
    scratch: Vec<usize>,
}

/// Names one entry of a [`Wheel`]: valid until [`Wheel::remove`] takes the
/// entry out (after that the wheel may hand the same key to a new entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TimerKey(usize);

/// One entry: the caller's payload and its links in a list.
struct Entry<T> {
    value: T,
    deadline: u64,
    /// The list the entry waits in; `None` once fired.
    list: Option<List>,
    prev: Option<usize>,
    next: Option<usize>,
}

/// The lists an entry can wait in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum List {
    Slot { level: usize, slot: usize },
    Due,
    Overflow,
}

/// One level: a list head a slot, and which of them are non-empty.
struct Level {
    /// Bit `s` is set iff `slots[s]` is `Some`.
    occupied: u64,
    slots: [Option<usize>; SLOTS],
}

impl<T> Wheel<T> {
    /// An empty wheel at tick 0.
    pub(crate) fn new() -> Wheel<T> {
        Wheel {
            entries: Slab::new(),
            levels: Box::new(std::array::from_fn(|_| Level {
                occupied: 0,
                slots: [None; SLOTS],
            })),
            due: None,
            overflow: None,
            overflow_floor: u64::MAX,
            elapsed: 0,
            pending: 0,
            scratch: Vec::new(),
        }
    }

    /// The tick the wheel has advanced to.
    #[cfg(test)]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// The number of entries pending (not fired and not removed).
    pub(crate) fn len(&self) -> usize {
        self.pending
    }

    /// Adds an entry due at `deadline` and returns its key.
    ///
    /// A deadline `<= elapsed` is already due: the next [`advance`] fires
    /// it, even `advance(elapsed)`.
    ///
    /// [`advance`]: Wheel::advance
    pub(crate) fn insert(&mut self, deadline: u64, value: T) -> TimerKey {
        let index = self.entries.insert(Entry {
            value,
            deadline,
            list: None,
            prev: None,
            next: None,
        });
        self.pending += 1;
        self.place(index);
        TimerKey(index)
    }

    /// Moves a pending or fired entry to `deadline`; it is pending again,
    /// with the same rules as [`insert`](Wheel::insert). O(1).
    ///
    /// # Panics
    ///
    /// If `key` was removed.
    pub(crate) fn reset(&mut self, key: TimerKey, deadline: u64) {
        let index = self.check(key);
        if self.entries[index].list.is_some() {
            self.unlink(index);
        } else {
            self.pending += 1;
        }
        self.entries[index].deadline = deadline;
        self.place(index);
    }

    /// Takes the entry out for good and returns its payload: a cancel if it
    /// was pending. O(1).
    ///
    /// # Panics
    ///
    /// If `key` was already removed. (A key whose slot was reused by a later
    /// `insert` names that new entry; the driver drops a key when it removes
    /// it, so this cannot happen there.)
    pub(crate) fn remove(&mut self, key: TimerKey) -> T {
        let index = self.check(key);
        if self.entries[index].list.is_some() {
            self.unlink(index);
            self.pending -= 1;
        }
        self.entries.remove(index).value
    }

    /// The payload of an entry, pending or fired.
    ///
    /// # Panics
    ///
    /// If `key` was removed.
    pub(crate) fn get_mut(&mut self, key: TimerKey) -> &mut T {
        let index = self.check(key);
        &mut self.entries[index].value
    }

    /// The tick an entry is (or was) due at.
    ///
    /// # Panics
    ///
    /// If `key` was removed.
    #[cfg(test)]
    pub(crate) fn deadline(&self, key: TimerKey) -> u64 {
        self.entries[self.check(key)].deadline
    }

    /// True once [`advance`](Wheel::advance) fired the entry and it was not
    /// reset since.
    ///
    /// # Panics
    ///
    /// If `key` was removed.
    pub(crate) fn is_fired(&self, key: TimerKey) -> bool {
        self.entries[self.check(key)].list.is_none()
    }

    /// The earliest tick at which [`advance`](Wheel::advance) has work: an
    /// entry's deadline, or the start of a slot whose entries must cascade
    /// to lower levels. `None` when nothing is pending.
    ///
    /// Never below `elapsed`, and never above the earliest pending deadline
    /// unless that has passed: then an entry is already due and this is
    /// `elapsed`. It equals the earliest deadline when that lies ahead in
    /// `elapsed`'s current 64-tick window.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        self.next_list().map(|(tick, _)| tick)
    }

    /// Advances the wheel to `now` and fires every pending entry due by
    /// then, in non-decreasing deadline order (ties in no set order). Each
    /// is marked fired (it stays until [`remove`](Wheel::remove)) and passed
    /// to `fire`.
    ///
    /// Time never goes back: a `now` below `elapsed` leaves `elapsed` as it
    /// is, but entries already due (deadline `<= elapsed`) still fire.
    ///
    /// # Panics
    ///
    /// If `fire` panics, the panic passes through and the wheel stays
    /// consistent: entries handled together with the one that panicked
    /// (those of one slot) count as fired without a call, later ones stay
    /// pending.
    pub(crate) fn advance(&mut self, now: u64, mut fire: impl FnMut(TimerKey, &mut T)) {
        // Each batch is marked fired before `fire` sees any of it, so that
        // a panic in `fire` cannot leave an entry linked to nothing.
        let mut batch = std::mem::take(&mut self.scratch);
        let mut cursor = self.take(List::Due);
        while let Some(index) = cursor {
            cursor = self.entries[index].next;
            self.mark_fired(index);
            batch.push(index);
        }
        batch.sort_by_key(|&index| self.entries[index].deadline);
        self.deliver(&mut batch, &mut fire);
        while let Some((start, list)) = self.next_list() {
            if start > now {
                break;
            }
            // Every list before this one is empty, so nothing is lost by
            // jumping to its start. It lies after `elapsed` (the due list
            // was fired above and the loop places only entries due after
            // `start`), so each turn makes progress.
            debug_assert!(start > self.elapsed, "{list:?} at {start} is not ahead");
            self.elapsed = start;
            let mut cursor = self.take(list);
            while let Some(index) = cursor {
                cursor = self.entries[index].next;
                if self.entries[index].deadline <= start {
                    self.mark_fired(index);
                    batch.push(index);
                } else {
                    self.place(index);
                }
            }
            self.deliver(&mut batch, &mut fire);
        }
        self.elapsed = self.elapsed.max(now);
        self.scratch = batch;
    }

    /// The index of `key`'s entry, if it was not removed.
    fn check(&self, key: TimerKey) -> usize {
        assert!(
            self.entries.contains(key.0),
            "TimerKey used after Wheel::remove; a key is valid only until it is removed"
        );
        key.0
    }

    /// The first list `advance` must handle, and the tick it starts at.
    fn next_list(&self) -> Option<(u64, List)> {
        if self.due.is_some() {
            return Some((self.elapsed, List::Due));
        }
        for (level, lists) in self.levels.iter().enumerate() {
            if lists.occupied != 0 {
                let slot = lists.occupied.trailing_zeros() as usize;
                // The level's window holds `elapsed` (fact 1 of the module
                // docs), and the slot is at or after `elapsed`'s own.
                let window = self.elapsed & !(slot_span(level + 1) - 1);
                let start = window + slot as u64 * slot_span(level);
                return Some((start, List::Slot { level, slot }));
            }
        }
        // A later top-level window: the floor's, which is after elapsed's.
        self.overflow
            .map(|_| (self.overflow_floor & !(WHEEL_SPAN - 1), List::Overflow))
    }

    /// Puts a pending entry that is in no list into the list its deadline
    /// and `elapsed` call for.
    fn place(&mut self, index: usize) {
        let deadline = self.entries[index].deadline;
        let list = if deadline <= self.elapsed {
            List::Due
        } else {
            let differ = deadline ^ self.elapsed;
            if differ >= WHEEL_SPAN {
                // A floor left by entries cancelled since may lie in a past
                // window: an empty list starts afresh.
                self.overflow_floor = match self.overflow {
                    Some(_) => self.overflow_floor.min(deadline),
                    None => deadline,
                };
                List::Overflow
            } else {
                // `differ > 0`: the deadline is after `elapsed`.
                let level = (differ.ilog2() / SLOT_BITS) as usize;
                let slot = (deadline >> (SLOT_BITS * level as u32)) as usize & (SLOTS - 1);
                List::Slot { level, slot }
            }
        };
        let head = self.head(list);
        let old = head.replace(index);
        if let List::Slot { level, slot } = list {
            self.levels[level].occupied |= 1 << slot;
        }
        if let Some(old) = old {
            self.entries[old].prev = Some(index);
        }
        let entry = &mut self.entries[index];
        entry.list = Some(list);
        entry.prev = None;
        entry.next = old;
    }

    /// Takes a pending entry out of its list; it stays counted as pending.
    fn unlink(&mut self, index: usize) {
        let entry = &mut self.entries[index];
        let (prev, next) = (entry.prev.take(), entry.next.take());
        let list = entry.list.take().expect("unlink of an entry in no list");
        if let Some(next) = next {
            self.entries[next].prev = prev;
        }
        match prev {
            Some(prev) => self.entries[prev].next = next,
            None => {
                *self.head(list) = next;
                if let (List::Slot { level, slot }, None) = (list, next) {
                    self.levels[level].occupied &= !(1 << slot);
                }
            }
        }
    }

    /// Empties `list` and returns its old head; the entries keep their
    /// `next` links so the caller can walk them.
    fn take(&mut self, list: List) -> Option<usize> {
        if let List::Slot { level, slot } = list {
            self.levels[level].occupied &= !(1 << slot);
        }
        self.head(list).take()
    }

    /// The head of `list`.
    fn head(&mut self, list: List) -> &mut Option<usize> {
        match list {
            List::Slot { level, slot } => &mut self.levels[level].slots[slot],
            List::Due => &mut self.due,
            List::Overflow => &mut self.overflow,
        }
    }

    /// Marks an entry that was taken out of its list as fired.
    fn mark_fired(&mut self, index: usize) {
        let entry = &mut self.entries[index];
        entry.list = None;
        entry.prev = None;
        entry.next = None;
        self.pending -= 1;
    }

    /// Passes each fired entry of `batch` to `fire`, in order, and empties
    /// the batch.
    fn deliver(&mut self, batch: &mut Vec<usize>, fire: &mut impl FnMut(TimerKey, &mut T)) {
        for index in batch.drain(..) {
            fire(TimerKey(index), &mut self.entries[index].value);
        }
    }
}

impl<T> fmt::Debug for Wheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("elapsed", &self.elapsed)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[path = "wheel_tests.rs"]
mod tests;

//! Fuzzes the reactor's timer wheel against a model: a sorted set of
//! pending `(deadline, key)` pairs and a map of every entry not removed.
//!
//! The input decodes (with `arbitrary`) into a sequence of operations:
//! insert, reset, remove, payload writes, advances (forward, backward, to
//! `next_expiration`, until empty) and advances whose `fire` callback panics.
//! Deadlines are picked to reach every list of the wheel: the current
//! 64-tick window, level boundaries (`64^k` and its neighbours), the
//! overflow list beyond `64^6` ticks, the end of time (`u64::MAX`), absolute
//! ticks and the past.
//!
//! After each operation the wheel must agree with the model, as `wheel.rs`
//! documents it: no entry fires before its deadline, every due entry fires
//! exactly once and in deadline order, removed entries never fire,
//! `next_expiration` is never after the earliest pending deadline (and
//! equals it inside `elapsed`'s 64-tick window), `len` and `is_fired` match.
//!
//! wheel.rs is compiled in as a module, so its `pub(crate)` API is usable;
//! its `#[cfg(test)]` helpers (`elapsed`, `deadline`) are not, so the model
//! keeps time itself.

#![no_main]

use std::collections::{BTreeSet, HashMap, HashSet};
use std::panic::{self, AssertUnwindSafe};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[path = "../../crates/weft-reactor/src/time/wheel.rs"]
mod wheel;

use wheel::{TimerKey, Wheel};

/// Ticks the wheel's top level spans (`64^6`); further deadlines overflow.
const WHEEL_SPAN: u64 = 1 << 36;

/// A tick, mostly relative to the wheel's current time.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum When {
    /// A few ticks ahead: level 0 or 1.
    Soon(u8),
    /// Up to 65535 ticks ahead: the lower levels.
    Near(u16),
    /// `64^level` ticks ahead, nudged by -1, 0 or +1: a level boundary.
    Boundary { level: u8, nudge: u8 },
    /// Whole top-level spans ahead plus some: the overflow list.
    Overflow { spans: u16, plus: u32 },
    /// Some ticks back: already due.
    Past(u16),
    /// An absolute tick.
    At(u64),
    /// A few ticks before the end of time.
    End(u8),
}

impl When {
    fn tick(self, elapsed: u64) -> u64 {
        match self {
            When::Soon(n) => elapsed.saturating_add(u64::from(n % 130)),
            When::Near(n) => elapsed.saturating_add(u64::from(n)),
            When::Boundary { level, nudge } => {
                let ahead = 64u64.pow(1 + u32::from(level % 6)) - 1 + u64::from(nudge % 3);
                elapsed.saturating_add(ahead)
            }
            When::Overflow { spans, plus } => elapsed
                .saturating_add(u64::from(spans).saturating_mul(WHEEL_SPAN))
                .saturating_add(u64::from(plus)),
            When::Past(n) => elapsed.saturating_sub(u64::from(n)),
            When::At(tick) => tick,
            When::End(n) => u64::MAX - u64::from(n % 4),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Insert(When),
    /// Removes the live entry at this index (modulo their number).
    Remove(u16),
    Reset(u16, When),
    /// Writes a new payload through `get_mut`.
    Touch(u16),
    Advance(When),
    /// Advances to `next_expiration` (or to `elapsed` when it is `None`).
    AdvanceToNext,
    /// Follows `next_expiration` until nothing is pending.
    RunUntilEmpty,
    /// Advances with a `fire` that panics on its `n`-th call.
    AdvancePanicking(When, u8),
}

/// The panic payload of a deliberately failing `fire`.
struct FirePanic;

/// What the model knows of one entry.
#[derive(Debug, Clone, Copy)]
struct Timer {
    /// The model's own name for the entry (a `TimerKey` is opaque here and
    /// is reused after a remove).
    id: u64,
    deadline: u64,
    fired: bool,
    payload: u64,
}

/// What the wheel should hold.
#[derive(Default)]
struct Model {
    elapsed: u64,
    /// Pending entries by (deadline, id).
    pending: BTreeSet<(u64, u64)>,
    /// Every entry not removed.
    entries: HashMap<TimerKey, Timer>,
    /// The key of each entry not removed, by id.
    ids: HashMap<u64, TimerKey>,
    /// The keys of `entries`, to pick from by index.
    keys: Vec<TimerKey>,
    /// The last payload or id handed out.
    last_number: u64,
}

impl Model {
    fn fresh_number(&mut self) -> u64 {
        self.last_number += 1;
        self.last_number
    }

    fn pick(&self, index: u16) -> Option<usize> {
        (!self.keys.is_empty()).then(|| usize::from(index) % self.keys.len())
    }

    /// Checks the entries `advance(now)` passed to `fire` (key and payload,
    /// in order) against the model, and marks them fired.
    fn check_delivered(&mut self, now: u64, delivered: &[(TimerKey, u64)]) {
        let now = now.max(self.elapsed);
        let mut seen = HashSet::new();
        let mut last = 0;
        for &(key, payload) in delivered {
            assert!(
                seen.insert(key),
                "{key:?} fired twice in one advance to {now}"
            );
            let timer = self
                .entries
                .get_mut(&key)
                .unwrap_or_else(|| panic!("{key:?} fired but was removed (or never inserted)"));
            assert!(!timer.fired, "{key:?} fired again without a reset");
            assert_eq!(
                payload, timer.payload,
                "{key:?} fired with another entry's payload"
            );
            assert!(
                timer.deadline <= now,
                "{key:?} fired early: deadline {} at advance to {now}",
                timer.deadline
            );
            assert!(
                timer.deadline >= last,
                "fired out of order: deadline {} after {last}",
                timer.deadline
            );
            last = timer.deadline;
            timer.fired = true;
            assert!(self.pending.remove(&(timer.deadline, timer.id)));
        }
    }

    /// Checks a completed `advance(now)` that fired `delivered`: exactly
    /// the entries due by then, each once, in order.
    fn check_advance(&mut self, now: u64, delivered: &[(TimerKey, u64)]) {
        self.check_delivered(now, delivered);
        let now = now.max(self.elapsed);
        if let Some(&(deadline, id)) = self.pending.first() {
            assert!(
                deadline > now,
                "{:?} due at {deadline} did not fire in advance to {now}",
                self.ids[&id]
            );
        }
        self.elapsed = now;
    }

    /// Checks everything the wheel reports against the model.
    fn check(&self, wheel: &mut Wheel<u64>) {
        assert_eq!(wheel.len(), self.pending.len(), "len");
        let next = wheel.next_expiration();
        match self.pending.first() {
            None => assert_eq!(next, None, "next_expiration with nothing pending"),
            Some(&(min, _)) => {
                let next = next.expect("next_expiration is None with entries pending");
                let elapsed = self.elapsed;
                assert!(
                    next >= elapsed,
                    "next_expiration {next} before elapsed {elapsed}"
                );
                assert!(
                    next <= min.max(elapsed),
                    "next_expiration {next} after the earliest deadline {min} (elapsed {elapsed})"
                );
                if min <= elapsed {
                    assert_eq!(next, elapsed, "an entry is due: next_expiration is elapsed");
                } else if min ^ elapsed < 64 {
                    assert_eq!(next, min, "earliest deadline in elapsed's 64-tick window");
                }
            }
        }
        for (&key, timer) in &self.entries {
            assert_eq!(wheel.is_fired(key), timer.fired, "is_fired({key:?})");
            assert_eq!(*wheel.get_mut(key), timer.payload, "get_mut({key:?})");
        }
    }
}

/// Advances `wheel` to `now` and returns what it fired, in order.
fn advance(wheel: &mut Wheel<u64>, now: u64) -> Vec<(TimerKey, u64)> {
    let mut fired = Vec::new();
    wheel.advance(now, |key, payload| fired.push((key, *payload)));
    fired
}

fuzz_target!(|ops: Vec<Op>| {
    let mut wheel = Wheel::new();
    let mut model = Model::default();
    for op in ops {
        let elapsed = model.elapsed;
        match op {
            Op::Insert(when) => {
                let deadline = when.tick(elapsed);
                let payload = model.fresh_number();
                let key = wheel.insert(deadline, payload);
                let id = model.fresh_number();
                let timer = Timer {
                    id,
                    deadline,
                    fired: false,
                    payload,
                };
                assert!(
                    model.entries.insert(key, timer).is_none(),
                    "insert returned {key:?}, which names a live entry"
                );
                model.pending.insert((deadline, id));
                model.ids.insert(id, key);
                model.keys.push(key);
            }
            Op::Remove(index) => {
                if let Some(at) = model.pick(index) {
                    let key = model.keys.swap_remove(at);
                    let timer = model.entries.remove(&key).unwrap();
                    model.pending.remove(&(timer.deadline, timer.id));
                    model.ids.remove(&timer.id);
                    assert_eq!(wheel.remove(key), timer.payload, "remove({key:?})");
                }
            }
            Op::Reset(index, when) => {
                if let Some(at) = model.pick(index) {
                    let key = model.keys[at];
                    let deadline = when.tick(elapsed);
                    wheel.reset(key, deadline);
                    let timer = model.entries.get_mut(&key).unwrap();
                    if !timer.fired {
                        model.pending.remove(&(timer.deadline, timer.id));
                    }
                    timer.deadline = deadline;
                    timer.fired = false;
                    model.pending.insert((deadline, timer.id));
                }
            }
            Op::Touch(index) => {
                if let Some(at) = model.pick(index) {
                    let key = model.keys[at];
                    let payload = model.fresh_number();
                    *wheel.get_mut(key) = payload;
                    model.entries.get_mut(&key).unwrap().payload = payload;
                }
            }
            Op::Advance(when) => {
                let now = when.tick(elapsed);
                let fired = advance(&mut wheel, now);
                model.check_advance(now, &fired);
            }
            Op::AdvanceToNext => {
                let now = wheel.next_expiration().unwrap_or(elapsed);
                let fired = advance(&mut wheel, now);
                model.check_advance(now, &fired);
            }
            Op::RunUntilEmpty => {
                // Each step either fires or cascades; an entry cascades at
                // most once a level, plus once a top-level window in
                // overflow, so a few steps an entry is plenty.
                let budget = 8 * (model.pending.len() + 1);
                let mut steps = 0;
                while let Some(now) = wheel.next_expiration() {
                    steps += 1;
                    assert!(
                        steps <= budget,
                        "following next_expiration: {steps} steps and still {} pending",
                        wheel.len()
                    );
                    let fired = advance(&mut wheel, now);
                    model.check_advance(now, &fired);
                    model.check(&mut wheel);
                }
                assert!(
                    model.pending.is_empty(),
                    "next_expiration None with entries pending"
                );
            }
            Op::AdvancePanicking(when, calls) => {
                let now = when.tick(elapsed);
                let calls = usize::from(calls % 8);
                let mut delivered = Vec::new();
                let hook = panic::take_hook();
                panic::set_hook(Box::new(|_| {}));
                let result = panic::catch_unwind(AssertUnwindSafe(|| {
                    wheel.advance(now, |key, payload| {
                        if delivered.len() == calls {
                            panic::panic_any(FirePanic);
                        }
                        delivered.push((key, *payload));
                    })
                }));
                panic::set_hook(hook);
                match result {
                    Ok(()) => model.check_advance(now, &delivered),
                    Err(payload) if payload.is::<FirePanic>() => {
                        check_after_panic(&mut wheel, &mut model, now, &delivered)
                    }
                    Err(payload) => {
                        let message = payload
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| payload.downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        panic!("Wheel::advance panicked by itself: {message}");
                    }
                }
            }
        }
        model.check(&mut wheel);
    }
});

/// After `fire` panicked in `advance(now)`, the wheel must be consistent:
/// the entries it passed to `fire` are fired, those handled with the one
/// that panicked count as fired (due, and no earlier than any delivered),
/// later ones stay pending. Then a second `advance(now)` must fire what is
/// left due, which also brings the model's clock back in step (the wheel's
/// clock stopped at the start of the slot it was firing).
fn check_after_panic(
    wheel: &mut Wheel<u64>,
    model: &mut Model,
    now: u64,
    delivered: &[(TimerKey, u64)],
) {
    model.check_delivered(now, delivered);
    let limit = now.max(model.elapsed);
    let floor = delivered
        .last()
        .map_or(0, |(key, _)| model.entries[key].deadline);
    let pending: Vec<(u64, TimerKey)> = model
        .pending
        .iter()
        .map(|&(deadline, id)| (deadline, model.ids[&id]))
        .collect();
    let mut silently_fired = Vec::new();
    for &(deadline, key) in &pending {
        if wheel.is_fired(key) {
            assert!(
                deadline <= limit,
                "{key:?} marked fired early by a panicking advance to {now}: deadline {deadline}"
            );
            assert!(
                deadline >= floor,
                "{key:?} (deadline {deadline}) fired without a call, before one delivered at {floor}"
            );
            silently_fired.push((deadline, key));
        }
    }
    let newest = silently_fired
        .iter()
        .map(|&(d, _)| d)
        .max()
        .unwrap_or(floor);
    for &(deadline, key) in &pending {
        if !wheel.is_fired(key) {
            assert!(
                deadline >= newest,
                "{key:?} due at {deadline} still pending after one due at {newest} fired"
            );
        }
    }
    for (deadline, key) in silently_fired {
        let timer = model.entries.get_mut(&key).unwrap();
        model.pending.remove(&(deadline, timer.id));
        timer.fired = true;
    }
    assert_eq!(
        wheel.len(),
        model.pending.len(),
        "len after a panic in fire"
    );
    let fired = advance(wheel, now);
    model.check_advance(now, &fired);
}

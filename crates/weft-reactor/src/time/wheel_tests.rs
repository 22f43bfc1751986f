use std::collections::{BTreeSet, HashMap};
use std::panic::{self, AssertUnwindSafe};

use proptest::prelude::*;
use proptest::sample::Index;

use super::{TimerKey, Wheel, WHEEL_SPAN};

/// Advances `wheel` to `now` and returns the keys it fired, in order.
fn advance<T>(wheel: &mut Wheel<T>, now: u64) -> Vec<TimerKey> {
    let mut fired = Vec::new();
    wheel.advance(now, |key, _| fired.push(key));
    fired
}

/// SplitMix64: a small deterministic generator for the bulk test.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[test]
fn fires_at_its_deadline_and_not_before() {
    let mut wheel = Wheel::new();
    let key = wheel.insert(10, 7u32);
    assert_eq!(wheel.len(), 1);
    assert_eq!(wheel.next_expiration(), Some(10));

    assert!(advance(&mut wheel, 9).is_empty());
    assert!(!wheel.is_fired(key));
    assert_eq!(wheel.elapsed(), 9);

    let mut seen = Vec::new();
    wheel.advance(10, |key, value| {
        seen.push((key, *value));
        *value += 1;
    });
    assert_eq!(seen, [(key, 7)]);
    assert!(wheel.is_fired(key));
    assert_eq!(wheel.len(), 0);
    assert_eq!(wheel.next_expiration(), None);
    assert_eq!(wheel.deadline(key), 10);
    // A fired entry stays until removed, with what `fire` left in it.
    assert_eq!(*wheel.get_mut(key), 8);
    assert_eq!(wheel.remove(key), 8);
    assert!(advance(&mut wheel, 1_000).is_empty());
}

#[test]
fn deadline_at_or_before_elapsed_fires_on_next_advance() {
    let mut wheel = Wheel::new();
    advance(&mut wheel, 100);
    let at = wheel.insert(100, ());
    let late = wheel.insert(50, ());
    let zero = wheel.insert(0, ());
    assert_eq!(wheel.len(), 3);
    assert_eq!(wheel.next_expiration(), Some(100));

    // `advance(elapsed)` fires them, earliest deadline first.
    assert_eq!(advance(&mut wheel, 100), [zero, late, at]);
    assert_eq!(wheel.len(), 0);

    // Even an advance to an earlier tick fires what is due.
    let due = wheel.insert(70, ());
    let later = wheel.insert(101, ());
    assert_eq!(advance(&mut wheel, 20), [due]);
    assert_eq!(wheel.elapsed(), 100);
    assert!(!wheel.is_fired(later));
}

#[test]
fn advance_to_an_earlier_tick_keeps_time() {
    let mut wheel = Wheel::new();
    advance(&mut wheel, 1_000);
    let key = wheel.insert(1_005, ());
    assert!(advance(&mut wheel, 3).is_empty());
    assert_eq!(wheel.elapsed(), 1_000);
    assert_eq!(wheel.next_expiration(), Some(1_005));
    assert!(advance(&mut wheel, 1_004).is_empty());
    assert_eq!(advance(&mut wheel, 1_005), [key]);
    assert!(advance(&mut wheel, 0).is_empty());
    assert_eq!(wheel.elapsed(), 1_005);
}

#[test]
fn cancelled_entry_never_fires() {
    let mut wheel = Wheel::new();
    let deadlines = [5, 5_000, 5_000_000, WHEEL_SPAN + 3, u64::MAX];
    let keys: Vec<_> = deadlines.iter().map(|&d| wheel.insert(d, d)).collect();
    // Cancel every other one, in each kind of list.
    assert_eq!(wheel.remove(keys[0]), 5);
    assert_eq!(wheel.remove(keys[2]), 5_000_000);
    assert_eq!(wheel.remove(keys[4]), u64::MAX);
    assert_eq!(wheel.len(), 2);
    assert_eq!(advance(&mut wheel, u64::MAX), [keys[1], keys[3]]);
    assert_eq!(wheel.len(), 0);
    assert_eq!(wheel.next_expiration(), None);
}

#[test]
fn cancel_of_a_due_entry() {
    let mut wheel = Wheel::new();
    advance(&mut wheel, 10);
    let gone = wheel.insert(3, ());
    let kept = wheel.insert(4, ());
    wheel.remove(gone);
    assert_eq!(advance(&mut wheel, 10), [kept]);
}

#[test]
fn reset_moves_earlier_and_later() {
    let mut wheel = Wheel::new();
    let earlier = wheel.insert(100_000, ());
    let later = wheel.insert(10, ());
    wheel.reset(earlier, 40);
    wheel.reset(later, 4_200);
    assert_eq!(wheel.deadline(earlier), 40);
    assert_eq!(wheel.len(), 2);
    assert_eq!(wheel.next_expiration(), Some(40));

    assert!(advance(&mut wheel, 39).is_empty());
    assert_eq!(advance(&mut wheel, 40), [earlier]);
    assert!(advance(&mut wheel, 4_199).is_empty());
    assert_eq!(advance(&mut wheel, 4_200), [later]);

    // Reset to the past: due at once.
    let key = wheel.insert(9_000, ());
    wheel.reset(key, 1);
    assert_eq!(wheel.next_expiration(), Some(4_200));
    assert_eq!(advance(&mut wheel, 4_200), [key]);
}

#[test]
fn reset_after_fire_rearms() {
    let mut wheel = Wheel::new();
    let key = wheel.insert(5, ());
    assert_eq!(advance(&mut wheel, 5), [key]);
    assert!(wheel.is_fired(key));

    wheel.reset(key, 300);
    assert!(!wheel.is_fired(key));
    assert_eq!(wheel.len(), 1);
    assert!(advance(&mut wheel, 299).is_empty());
    assert_eq!(advance(&mut wheel, 300), [key]);

    wheel.reset(key, 0);
    assert_eq!(wheel.len(), 1);
    assert_eq!(advance(&mut wheel, 300), [key]);
    assert_eq!(wheel.len(), 0);
}

#[test]
fn level_boundaries_fire_exactly_on_time() {
    let bases = [
        0,
        1,
        63,
        12_345,
        64u64.pow(3) - 1,
        64u64.pow(5) + 7,
        WHEEL_SPAN - 2,
        3 * WHEEL_SPAN + 64u64.pow(4),
        u64::MAX - 2 * WHEEL_SPAN,
    ];
    for base in bases {
        for k in 1..=6u32 {
            let power = 64u64.pow(k);
            for ahead in [power - 1, power, power + 1] {
                let deadline = base + ahead;
                let context = format!("base {base}, {ahead} ahead");

                // One jump to just before, then to the deadline.
                let mut wheel = Wheel::new();
                advance(&mut wheel, base);
                let key = wheel.insert(deadline, ());
                assert!(advance(&mut wheel, deadline - 1).is_empty(), "{context}");
                assert_eq!(advance(&mut wheel, deadline), [key], "{context}");

                // Following next_expiration: never past the deadline, and
                // only a handful of cascades.
                let mut wheel = Wheel::new();
                advance(&mut wheel, base);
                let key = wheel.insert(deadline, ());
                let mut steps = 0;
                loop {
                    let next = wheel.next_expiration().expect(&context);
                    assert!(next >= wheel.elapsed() && next <= deadline, "{context}");
                    let fired = advance(&mut wheel, next);
                    steps += 1;
                    if next == deadline {
                        assert_eq!(fired, [key], "{context}");
                        break;
                    }
                    assert!(fired.is_empty(), "{context}");
                }
                assert!(steps <= 7, "{context}: {steps} steps");
                assert_eq!(wheel.next_expiration(), None, "{context}");
            }
        }
    }
}

#[test]
fn far_future_never_fires_early() {
    let mut wheel = Wheel::new();
    let half = wheel.insert(u64::MAX / 2, ());
    let almost = wheel.insert(u64::MAX - 1, ());
    let max = wheel.insert(u64::MAX, ());
    let nows = [
        1,
        WHEEL_SPAN - 1,
        WHEEL_SPAN,
        WHEEL_SPAN + 1,
        1 << 40,
        u64::MAX / 4,
        u64::MAX / 2 - 1,
    ];
    for now in nows {
        assert!(advance(&mut wheel, now).is_empty(), "now {now}");
        let next = wheel.next_expiration().unwrap();
        assert!(next >= wheel.elapsed() && next <= u64::MAX / 2, "now {now}");
    }
    assert_eq!(advance(&mut wheel, u64::MAX / 2), [half]);
    let next = wheel.next_expiration().unwrap();
    assert!(next >= wheel.elapsed() && next < u64::MAX);
    assert!(advance(&mut wheel, u64::MAX - 2).is_empty());
    assert_eq!(advance(&mut wheel, u64::MAX - 1), [almost]);
    assert_eq!(wheel.next_expiration(), Some(u64::MAX));
    assert_eq!(advance(&mut wheel, u64::MAX), [max]);
    assert_eq!(wheel.next_expiration(), None);
    assert_eq!(wheel.elapsed(), u64::MAX);

    // At the end of time a new deadline can only be due.
    let last = wheel.insert(u64::MAX, ());
    assert_eq!(wheel.next_expiration(), Some(u64::MAX));
    assert_eq!(advance(&mut wheel, u64::MAX), [last]);
}

#[test]
fn far_future_takes_few_steps() {
    // Following next_expiration to u64::MAX visits one top-level window
    // holding a deadline, not every 795 days.
    let mut wheel = Wheel::new();
    let key = wheel.insert(u64::MAX, ());
    let mut steps = 0;
    while let Some(next) = wheel.next_expiration() {
        assert!(next >= wheel.elapsed());
        let fired = advance(&mut wheel, next);
        steps += 1;
        if next == u64::MAX {
            assert_eq!(fired, [key]);
        } else {
            assert!(fired.is_empty());
        }
    }
    assert!(steps <= 8, "{steps} steps");
}

#[test]
fn cancelled_overflow_minimum_costs_one_early_look() {
    let mut wheel = Wheel::new();
    let soon = wheel.insert(WHEEL_SPAN * 2 + 5, ());
    let far = wheel.insert(WHEEL_SPAN * 9 + 5, ());
    wheel.remove(soon);
    // The stale lower bound may point at the earlier window; never past
    // the remaining deadline.
    let next = wheel.next_expiration().unwrap();
    assert!(next <= WHEEL_SPAN * 9 + 5);
    assert!(advance(&mut wheel, next).is_empty());
    assert_eq!(wheel.next_expiration(), Some(WHEEL_SPAN * 9));
    assert!(advance(&mut wheel, WHEEL_SPAN * 9 + 4).is_empty());
    assert_eq!(advance(&mut wheel, WHEEL_SPAN * 9 + 5), [far]);
}

#[test]
fn overflow_forgets_cancelled_deadlines() {
    // The overflow list empties by a cancel, time passes the cancelled
    // deadline, and a new far deadline must not be looked for in the past.
    let mut wheel = Wheel::new();
    let gone = wheel.insert(WHEEL_SPAN, ());
    wheel.remove(gone);
    advance(&mut wheel, WHEEL_SPAN + 1);
    let key = wheel.insert(3 * WHEEL_SPAN, ());
    assert_eq!(wheel.next_expiration(), Some(3 * WHEEL_SPAN));
    assert!(advance(&mut wheel, 3 * WHEEL_SPAN - 1).is_empty());
    assert_eq!(advance(&mut wheel, 3 * WHEEL_SPAN), [key]);
}

#[test]
fn next_expiration_is_min_deadline_in_level0_window() {
    let mut wheel = Wheel::new();
    advance(&mut wheel, 1_000); // window 960..1024
    assert_eq!(wheel.next_expiration(), None);
    wheel.insert(1_030, ());
    let next = wheel.next_expiration().unwrap();
    assert!((1_000..=1_030).contains(&next));
    wheel.insert(1_010, ());
    assert_eq!(wheel.next_expiration(), Some(1_010));
    let first = wheel.insert(1_001, ());
    assert_eq!(wheel.next_expiration(), Some(1_001));
    wheel.remove(first);
    assert_eq!(wheel.next_expiration(), Some(1_010));
    wheel.insert(900, ());
    assert_eq!(wheel.next_expiration(), Some(1_000));
}

#[test]
fn a_panic_in_fire_leaves_the_wheel_consistent() {
    let mut wheel = Wheel::new();
    let first = wheel.insert(10, ());
    let second = wheel.insert(10, ());
    let later = wheel.insert(20, ());
    let far = wheel.insert(5_000, ());
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        wheel.advance(30, |_, _| panic!("fire failed"));
    }));
    assert!(result.is_err());

    // The slot that was being fired counts as fired; later ones wait.
    assert!(wheel.is_fired(first) && wheel.is_fired(second));
    assert_eq!(wheel.elapsed(), 10);
    assert_eq!(wheel.len(), 2);
    assert_eq!(wheel.next_expiration(), Some(20));
    assert_eq!(advance(&mut wheel, 30), [later]);
    assert_eq!(advance(&mut wheel, 5_000), [far]);
    for key in [first, second, later, far] {
        wheel.remove(key);
    }
    assert_eq!(wheel.len(), 0);
}

#[test]
#[should_panic(expected = "valid only until it is removed")]
fn removed_key_panics() {
    let mut wheel = Wheel::new();
    let key = wheel.insert(1, ());
    wheel.remove(key);
    wheel.remove(key);
}

#[test]
fn many_timers_fire_in_order() {
    let (count, horizon) = if cfg!(miri) {
        (1_000, 2_000)
    } else {
        (100_000, 60_000)
    };
    let mut rng = SplitMix(0x5eed);
    let mut wheel = Wheel::new();
    let keys: Vec<_> = (0..count)
        .map(|_| {
            let deadline = 1 + rng.next() % horizon;
            wheel.insert(deadline, deadline)
        })
        .collect();
    assert_eq!(wheel.len(), count);

    let mut fired = 0;
    for now in 1..=horizon {
        wheel.advance(now, |_, &mut deadline| {
            // Stepping one tick at a time, each fires exactly on time.
            assert_eq!(deadline, now);
            fired += 1;
        });
        assert_eq!(wheel.len(), count - fired);
    }
    assert_eq!(fired, count);
    assert_eq!(wheel.len(), 0);
    assert_eq!(wheel.next_expiration(), None);
    for key in keys {
        assert!(wheel.is_fired(key));
        wheel.remove(key);
    }
}

/// One step of the model test; deltas are relative to `elapsed`.
#[derive(Clone, Debug)]
enum Op {
    Insert(u64),
    InsertPast(u64),
    Cancel(Index),
    Reset(Index, u64),
    Advance(u64),
    AdvanceBack(u64),
    AdvanceToNext,
}

/// A delta picked by `kind`: a small step, a level boundary (`64^k` or a
/// neighbour) or a huge jump. Shrinks towards small steps.
fn delta(kind: u8, raw: u64) -> u64 {
    match kind {
        0..=3 => raw % 200,
        4..=6 => 64u64.pow(1 + (raw % 6) as u32) - 1 + raw / 6 % 3,
        7 => WHEEL_SPAN + raw % (1 << 40),
        _ => [u64::MAX / 2, u64::MAX, raw][(raw % 3) as usize],
    }
}

/// One flat tuple mapped to an `Op`, weighted by the ranges of `pick`.
/// (`prop_oneof!` reads better but is slow to generate under Miri.)
fn op() -> impl Strategy<Value = Op> {
    (0..15u8, 0..9u8, any::<u64>(), any::<Index>()).prop_map(
        |(pick, kind, raw, index)| match pick {
            0..=4 => Op::Insert(delta(kind, raw)),
            5 => Op::InsertPast(raw % 300),
            6..=7 => Op::Cancel(index),
            8..=9 => Op::Reset(index, delta(kind, raw)),
            10..=11 => Op::Advance(raw % 200),
            12 => Op::Advance(delta(kind, raw)),
            13 => Op::AdvanceBack(raw % 300),
            _ => Op::AdvanceToNext,
        },
    )
}

/// What the wheel should hold.
#[derive(Default)]
struct Model {
    elapsed: u64,
    /// Pending entries by (deadline, key).
    pending: BTreeSet<(u64, usize)>,
    /// Every entry not removed: its deadline and whether it fired.
    entries: HashMap<usize, (u64, bool)>,
    /// The keys of `entries`, to pick from by index.
    keys: Vec<TimerKey>,
}

impl Model {
    fn insert(&mut self, key: TimerKey, deadline: u64) {
        self.pending.insert((deadline, key.0));
        self.entries.insert(key.0, (deadline, false));
        self.keys.push(key);
    }

    fn reset(&mut self, key: TimerKey, deadline: u64) {
        let (old, fired) = self.entries[&key.0];
        if !fired {
            self.pending.remove(&(old, key.0));
        }
        self.pending.insert((deadline, key.0));
        self.entries.insert(key.0, (deadline, false));
    }

    fn remove(&mut self, at: usize) -> TimerKey {
        let key = self.keys.swap_remove(at);
        let (deadline, _) = self.entries.remove(&key.0).unwrap();
        self.pending.remove(&(deadline, key.0));
        key
    }

    /// Checks an advance to `now` that fired `fired`, and applies it.
    fn advance(&mut self, now: u64, fired: &[TimerKey]) -> Result<(), TestCaseError> {
        let now = now.max(self.elapsed);
        let deadlines: Vec<u64> = fired.iter().map(|k| self.entries[&k.0].0).collect();
        prop_assert!(
            deadlines.windows(2).all(|w| w[0] <= w[1]),
            "fired out of order: {deadlines:?}"
        );
        let mut got: Vec<usize> = fired.iter().map(|k| k.0).collect();
        got.sort_unstable();
        let mut want: Vec<usize> = self
            .pending
            .iter()
            .take_while(|&&(deadline, _)| deadline <= now)
            .map(|&(_, key)| key)
            .collect();
        want.sort_unstable();
        prop_assert_eq!(got, want, "fired set at {}", now);
        for key in fired {
            let entry = self.entries.get_mut(&key.0).unwrap();
            self.pending.remove(&(entry.0, key.0));
            entry.1 = true;
        }
        self.elapsed = now;
        Ok(())
    }

    /// Checks everything the wheel reports against the model.
    fn check(&self, wheel: &Wheel<usize>) -> Result<(), TestCaseError> {
        prop_assert_eq!(wheel.elapsed(), self.elapsed);
        prop_assert_eq!(wheel.len(), self.pending.len());
        let next = wheel.next_expiration();
        match self.pending.first() {
            None => prop_assert_eq!(next, None),
            Some(&(min, _)) => {
                let next = next.expect("next_expiration is None with entries pending");
                prop_assert!(next >= self.elapsed, "next {} before elapsed", next);
                prop_assert!(next <= min.max(self.elapsed), "next {} after {}", next, min);
                if min <= self.elapsed {
                    prop_assert_eq!(next, self.elapsed);
                } else if min ^ self.elapsed < 64 {
                    prop_assert_eq!(next, min);
                }
            }
        }
        for (&index, &(deadline, fired)) in &self.entries {
            prop_assert_eq!(wheel.deadline(TimerKey(index)), deadline);
            prop_assert_eq!(wheel.is_fired(TimerKey(index)), fired);
        }
        Ok(())
    }
}

/// Operations in one sequence: fewer under Miri, where checking every
/// entry after each step makes a case cost the square of its length.
fn max_ops() -> usize {
    if cfg!(miri) {
        40
    } else {
        200
    }
}

fn run_model(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut wheel = Wheel::new();
    let mut model = Model::default();
    let mut next_value = 0;
    for op in ops {
        let elapsed = model.elapsed;
        match op {
            Op::Insert(delta) | Op::InsertPast(delta) => {
                let deadline = match op {
                    Op::Insert(_) => elapsed.saturating_add(delta),
                    _ => elapsed.saturating_sub(delta),
                };
                next_value += 1;
                let key = wheel.insert(deadline, next_value);
                prop_assert_eq!(*wheel.get_mut(key), next_value);
                model.insert(key, deadline);
            }
            Op::Cancel(index) => {
                if !model.keys.is_empty() {
                    let key = model.remove(index.index(model.keys.len()));
                    wheel.remove(key);
                }
            }
            Op::Reset(index, delta) => {
                if !model.keys.is_empty() {
                    let key = model.keys[index.index(model.keys.len())];
                    let deadline = elapsed.saturating_add(delta);
                    wheel.reset(key, deadline);
                    model.reset(key, deadline);
                }
            }
            Op::Advance(_) | Op::AdvanceBack(_) | Op::AdvanceToNext => {
                let now = match op {
                    Op::Advance(delta) => elapsed.saturating_add(delta),
                    Op::AdvanceBack(delta) => elapsed.saturating_sub(delta),
                    _ => wheel.next_expiration().unwrap_or(elapsed),
                };
                let fired = advance(&mut wheel, now);
                model.advance(now, &fired)?;
            }
        }
        model.check(&wheel)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 8 } else { ProptestConfig::default().cases },
        // Miri's isolation forbids the regression file.
        failure_persistence: if cfg!(miri) { None } else { ProptestConfig::default().failure_persistence },
        ..ProptestConfig::default()
    })]

    #[test]
    fn matches_model(ops in prop::collection::vec(op(), 1..max_ops())) {
        run_model(ops)?;
    }
}

//! What the expansions of `join!`, `try_join!` and `select!` call at run time.
//!
//! The facade re-exports this module as `weft::__macro_support` (hidden from
//! the docs), and the macros name every item through
//! `$crate::__macro_support::...`, so an expansion works in any crate that
//! depends on weft, under whatever name, without that crate importing
//! anything. Nothing here is public API: names and signatures may change
//! with any release.
//!
//! The join helpers keep each branch as a `Pin<&mut Option<F>>` pinned on
//! the caller's stack plus a separate `Option<F::Output>` for its result.
//! `Option::as_pin_mut` and `Pin::set` give safe access to the pinned future
//! and let it be dropped as soon as it finishes, so the macros need no
//! `unsafe` at all.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

pub use core::future::{poll_fn, Future, IntoFuture};
pub use core::pin::{pin, Pin};
pub use core::task::{Context, Poll};

/// Turns one `join!` operand into the slot that the expansion pins.
pub fn join_future<F: IntoFuture>(future: F) -> Option<F::IntoFuture> {
    Some(future.into_future())
}

/// An empty output slot whose type is tied to the pinned future beside it,
/// so type inference needs no help from the macro.
pub fn join_output<F: Future>(_future: &Pin<&mut Option<F>>) -> Option<F::Output> {
    None
}

/// Polls one `join!` branch unless it has already finished.
///
/// Returns `true` once the branch has finished: its output is in `output`
/// and the future itself has been dropped in place.
pub fn poll_join<F: Future>(
    future: &mut Pin<&mut Option<F>>,
    output: &mut Option<F::Output>,
    cx: &mut Context<'_>,
) -> bool {
    let Some(running) = future.as_mut().as_pin_mut() else {
        return true;
    };
    match running.poll(cx) {
        Poll::Ready(value) => {
            *output = Some(value);
            // Drop the finished future now rather than when the whole join
            // ends, so whatever it still owns is released early.
            future.set(None);
            true
        }
        Poll::Pending => false,
    }
}

/// Polls one `try_join!` branch unless it has already finished.
///
/// `Ok(true)` means the branch has finished with `Ok` (its value is in
/// `output`), `Ok(false)` that it has not finished yet, and `Err(e)` that
/// it failed. A finished future is dropped in place either way.
pub fn poll_try_join<F, T, E>(
    future: &mut Pin<&mut Option<F>>,
    output: &mut Option<T>,
    cx: &mut Context<'_>,
) -> Result<bool, E>
where
    F: Future<Output = Result<T, E>>,
{
    let Some(running) = future.as_mut().as_pin_mut() else {
        return Ok(true);
    };
    match running.poll(cx) {
        Poll::Ready(result) => {
            future.set(None);
            *output = Some(result?);
            Ok(true)
        }
        Poll::Pending => Ok(false),
    }
}

/// An empty output slot for a `try_join!` branch whose future yields
/// `Result<T, E>`: the slot holds the `T`.
pub fn try_join_output<F, T, E>(_future: &Pin<&mut Option<F>>) -> Option<T>
where
    F: Future<Output = Result<T, E>>,
{
    None
}

/// Moves a finished branch's output out of its slot.
///
/// # Panics
///
/// If the slot is empty, which would mean the expansion finished a join
/// before every branch had finished: a bug in the macro, not in the caller.
pub fn take_output<T>(output: &mut Option<T>) -> T {
    output
        .take()
        .expect("weft join: a branch's output was taken before it finished")
}

/// A pseudo-random number in `0..n`, for the branch `select!` polls first.
///
/// xorshift64* on a per-thread state: fast, needs no locking, and is good
/// enough to spread the first poll evenly. Not for anything that needs real
/// randomness.
///
/// # Panics
///
/// If `n` is zero (a `select!` always has at least one branch).
pub fn thread_rng_n(n: u32) -> u32 {
    assert!(n > 0, "thread_rng_n: the range must not be empty");
    let x = RNG_STATE.with(|state| {
        let mut x = state.get();
        if x == 0 {
            x = seed();
        }
        // xorshift64* (Vigna, "An experimental exploration of Marsaglia's
        // xorshift generators, scrambled", 2016).
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    });
    // Lemire's multiply-shift maps the high 32 bits onto 0..n without a
    // division.
    (((x >> 32) * u64::from(n)) >> 32) as u32
}

thread_local! {
    /// This thread's generator state; 0 means "not seeded yet" (xorshift
    /// never reaches 0 from a non-zero state).
    static RNG_STATE: Cell<u64> = const { Cell::new(0) };
}

/// A non-zero seed that differs between threads and between runs: a
/// process-wide counter (distinct per thread) mixed with the address of a
/// stack variable (distinct per thread, and per run under ASLR).
fn seed() -> u64 {
    // Relaxed: the counter only needs to hand out distinct values.
    static SEEDS: AtomicU64 = AtomicU64::new(0);
    let local = 0u8;
    let address = &local as *const u8 as u64;
    let count = SEEDS.fetch_add(1, Ordering::Relaxed);
    let mixed = splitmix64(address ^ splitmix64(count));
    if mixed == 0 {
        0x9e37_79b9_7f4a_7c15
    } else {
        mixed
    }
}

/// SplitMix64's finaliser (Steele, Lea, Flood, "Fast splittable
/// pseudorandom number generators", 2014): spreads nearby inputs (adjacent
/// counters, addresses on one page) over all 64 bits.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::thread_rng_n;

    #[test]
    fn thread_rng_n_stays_in_range_and_covers_it() {
        let mut seen = [0u32; 7];
        for _ in 0..7_000 {
            let n = thread_rng_n(7);
            seen[n as usize] += 1;
        }
        assert!(seen.iter().all(|&count| count > 0), "{seen:?}");
        for _ in 0..1_000 {
            assert_eq!(thread_rng_n(1), 0);
        }
    }

    #[test]
    fn threads_get_different_sequences() {
        let draw = || (0..16).map(|_| thread_rng_n(1 << 16)).collect::<Vec<_>>();
        let here = draw();
        let there = std::thread::spawn(draw).join().unwrap();
        assert_ne!(here, there);
    }
}

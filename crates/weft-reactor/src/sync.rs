//! Every synchronisation primitive the reactor shares between threads, in
//! one place.
//!
//! Built normally, these are std's atomics and `parking_lot`'s mutex, so
//! this module costs nothing. Built for tests with
//! `RUSTFLAGS="--cfg weft_loom"`, they are loom's, so the loom models in
//! `loom_tests.rs` explore every interleaving of the real readiness and
//! timer code. (Only for tests: loom is a dev-dependency, so a plain
//! library build under that cfg, as `cargo clippy --lib --tests` makes,
//! stays on std.) Code outside this module never names
//! `std::sync::atomic` or `parking_lot` directly.
//!
//! `Arc` stays std's everywhere: the reactor's reference counts guard no
//! protocol of its own, and the models check leaks by counting references.

#[cfg(not(all(test, weft_loom)))]
mod imp {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

    /// A mutex with parking_lot's API (no poisoning).
    pub(crate) type Mutex<T> = parking_lot::Mutex<T>;
}

#[cfg(all(test, weft_loom))]
mod imp {
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

    /// loom's mutex behind parking_lot's API (`lock()` returns the guard).
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        #[track_caller]
        pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
    }
}

pub(crate) use imp::*;

//! Every synchronisation primitive the scheduler uses, in one place.
//!
//! Built normally, these are std's atomics, `parking_lot`'s locks and std's
//! threads. Built with `RUSTFLAGS="--cfg weft_loom"`, they are loom's, so the
//! loom models in this crate explore every interleaving of the real code.
//! Code outside this module never names `std::sync::atomic`, `parking_lot` or
//! `std::thread::spawn` directly.

#[cfg(not(weft_loom))]
mod imp {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    pub(crate) use std::sync::Arc;
    pub(crate) use std::thread;
    pub(crate) use std::thread_local;

    /// A mutex with parking_lot's API (no poisoning).
    pub(crate) type Mutex<T> = parking_lot::Mutex<T>;
    pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;

    /// A condition variable used with [`Mutex`].
    pub(crate) type Condvar = parking_lot::Condvar;

    /// An `UnsafeCell` whose accesses go through closures, so loom can check
    /// them for data races.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        #[inline]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        #[inline]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }

    /// Waits on `condvar` for at most `timeout`.
    pub(crate) fn wait_timeout<T>(
        condvar: &Condvar,
        guard: &mut MutexGuard<'_, T>,
        timeout: std::time::Duration,
    ) {
        let _ = condvar.wait_for(guard, timeout);
    }

    /// Waits on `condvar` until notified.
    pub(crate) fn wait<T>(condvar: &Condvar, guard: &mut MutexGuard<'_, T>) {
        condvar.wait(guard);
    }
}

#[cfg(weft_loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    pub(crate) use loom::sync::Arc;
    pub(crate) use loom::thread;
    pub(crate) use loom::thread_local;

    /// loom's mutex behind parking_lot's API (`lock()` returns the guard).
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);
    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        #[track_caller]
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
    }

    /// loom's condvar behind parking_lot's API.
    #[derive(Debug, Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    /// loom cannot model time: a timed wait is a plain wait that may also
    /// return spuriously, which callers must tolerate anyway.
    pub(crate) fn wait_timeout<T>(
        condvar: &Condvar,
        guard: &mut MutexGuard<'_, T>,
        _timeout: std::time::Duration,
    ) {
        wait(condvar, guard);
    }

    /// Waits on `condvar` until notified.
    pub(crate) fn wait<T>(condvar: &Condvar, guard: &mut MutexGuard<'_, T>) {
        // loom's wait consumes the guard; swap it through a take-and-replace.
        replace_with(guard, |g| condvar.0.wait(g).unwrap());
    }

    #[track_caller]
    fn replace_with<G>(slot: &mut G, f: impl FnOnce(G) -> G) {
        // SAFETY: `slot` is read out and written back before anything else
        // can observe it; `f` does not unwind in loom models (a panic there
        // aborts the model anyway).
        unsafe {
            let old = std::ptr::read(slot);
            std::ptr::write(slot, f(old));
        }
    }
}

pub(crate) use imp::*;

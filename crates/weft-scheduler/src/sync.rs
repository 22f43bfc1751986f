//! Every synchronisation primitive the scheduler uses, in one place.
//!
//! Built normally, these are std's atomics, `parking_lot`'s locks and std's
//! threads. Built with `RUSTFLAGS="--cfg weft_loom"`, they are loom's, so the
//! loom models in this crate explore every interleaving of the real code.
//! Code outside this module never names `std::sync::atomic`, `parking_lot` or
//! `std::thread::spawn` directly.

#[cfg(not(weft_loom))]
mod imp {
    pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
    pub(crate) use std::sync::Arc;
    pub(crate) use std::thread;

    /// `thread_local!` with `const` initialisers (no lazy-init check on
    /// access); under loom, loom's per-model-thread locals, which take the
    /// initialiser as a plain expression.
    macro_rules! const_thread_local {
        ($($(#[$attr:meta])* static $name:ident: $t:ty = const $init:block;)*) => {
            std::thread_local! { $($(#[$attr])* static $name: $t = const $init;)* }
        };
    }
    pub(crate) use const_thread_local;

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

    /// Whether `thread` has finished running, so joining it will not block.
    pub(crate) fn is_finished<T>(thread: &thread::JoinHandle<T>) -> bool {
        thread.is_finished()
    }
}

#[cfg(weft_loom)]
mod imp {
    use std::ops::{Deref, DerefMut};

    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
    pub(crate) use loom::sync::Arc;
    pub(crate) use loom::thread;

    /// See the other `const_thread_local`: the same declarations, as loom's.
    macro_rules! const_thread_local {
        ($($(#[$attr:meta])* static $name:ident: $t:ty = const $init:block;)*) => {
            loom::thread_local! { $($(#[$attr])* static $name: $t = $init;)* }
        };
    }
    pub(crate) use const_thread_local;

    /// loom's mutex behind parking_lot's API (`lock()` returns the guard).
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    /// loom's guard, plus the mutex it came from: a timed wait unlocks and
    /// locks again by hand (see [`wait_timeout`]). `None` only inside a wait.
    pub(crate) struct MutexGuard<'a, T> {
        mutex: &'a loom::sync::Mutex<T>,
        guard: Option<loom::sync::MutexGuard<'a, T>>,
    }

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        #[track_caller]
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard {
                mutex: &self.0,
                guard: Some(self.0.lock().unwrap()),
            }
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;

        fn deref(&self) -> &T {
            self.guard.as_ref().expect("mutex guard used inside a wait")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.guard.as_mut().expect("mutex guard used inside a wait")
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

    /// loom has no time, so a timed wait is modelled as one that may time
    /// out at any point: it unlocks, yields (so loom runs the other threads
    /// first, as far as the model's schedule goes) and locks again, without
    /// waiting for a notification.
    ///
    /// The caller's "woken" and "timed out" branches are both explored: a
    /// notification sent while the lock is released is seen once it is
    /// retaken, as if it had ended the wait, and a timeout that fires
    /// before the notifier acts is the schedule where the notifier runs
    /// later. What the model cannot check is that a notification ends the
    /// wait early: a waiter that would only wake at its deadline looks the
    /// same as one woken at once. Callers that measure their timeout with
    /// `Instant` (the blocking pool's keep-alive) use a zero timeout in
    /// models, so that every return without a notification is a timeout.
    pub(crate) fn wait_timeout<T>(
        _condvar: &Condvar,
        guard: &mut MutexGuard<'_, T>,
        _timeout: std::time::Duration,
    ) {
        drop(guard.guard.take());
        loom::thread::yield_now();
        guard.guard = Some(guard.mutex.lock().unwrap());
    }

    /// Waits on `condvar` until notified.
    pub(crate) fn wait<T>(condvar: &Condvar, guard: &mut MutexGuard<'_, T>) {
        let inner = guard.guard.take().expect("mutex guard used inside a wait");
        guard.guard = Some(condvar.0.wait(inner).unwrap());
    }

    /// loom's join handles cannot say; answering "still running" leaves a
    /// thread detached, which a model with no deadline never does anyway.
    pub(crate) fn is_finished<T>(_thread: &thread::JoinHandle<T>) -> bool {
        false
    }
}

pub(crate) use imp::*;

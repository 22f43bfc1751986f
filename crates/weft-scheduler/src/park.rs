//! How idle workers sleep.
//!
//! The scheduler owns the [`Park`] trait; whoever builds the runtime passes
//! one implementation of it, the *driver* (the I/O reactor, or a plain
//! thread parker when there is none). At most one idle worker at a time
//! blocks in the driver, so I/O events and timers are still served while
//! every worker sleeps; the other idle workers sleep on their own condvar.
//! A [`Parker`] hides which of the two a worker is in: `unpark` wakes it
//! either way, and an `unpark` that comes first makes the next `park`
//! return at once, so no wake-up is lost between deciding to sleep and
//! sleeping.

use std::fmt;
use std::time::Duration;

use crate::sync::{self, Arc, AtomicBool, AtomicUsize, Condvar, Mutex, Ordering, UnsafeCell};

/// Blocks the calling worker until woken: implemented by the runtime's
/// driver (an I/O reactor's `epoll_wait`, or a condvar).
///
/// An [`Unpark::unpark`] that happens before `park` must make that `park`
/// return at once (the wake-up is stored, not lost). Spurious returns are
/// allowed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_scheduler::{Park, Unpark};
///
/// /// A driver with nothing to drive: sleeps on a condvar.
/// #[derive(Default)]
/// struct Sleep(std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);
///
/// impl Park for Sleep {
///     fn park(&mut self) {
///         let (lock, condvar) = &*self.0;
///         let mut woken = lock.lock().unwrap();
///         while !*woken {
///             woken = condvar.wait(woken).unwrap();
///         }
///         *woken = false;
///     }
///     fn park_timeout(&mut self, timeout: Duration) {
///         let (lock, condvar) = &*self.0;
///         let woken = lock.lock().unwrap();
///         let (mut woken, _) = condvar.wait_timeout(woken, timeout).unwrap();
///         *woken = false;
///     }
///     fn unparker(&self) -> std::sync::Arc<dyn Unpark> {
///         std::sync::Arc::new(Wake(self.0.clone()))
///     }
/// }
///
/// struct Wake(std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);
///
/// impl Unpark for Wake {
///     fn unpark(&self) {
///         *self.0 .0.lock().unwrap() = true;
///         self.0 .1.notify_one();
///     }
/// }
/// ```
pub trait Park: Send + 'static {
    /// Blocks until unparked (or an event the driver serves arrives).
    fn park(&mut self);

    /// As [`park`](Park::park), for at most `timeout`. A zero timeout polls
    /// the driver without blocking.
    fn park_timeout(&mut self, timeout: Duration);

    /// A handle that wakes a thread blocked in [`park`](Park::park).
    fn unparker(&self) -> std::sync::Arc<dyn Unpark>;
}

/// Wakes a thread parked in a [`Park`]; callable from any thread.
pub trait Unpark: Send + Sync + 'static {
    /// Wakes the parked thread, or makes its next park return at once.
    fn unpark(&self);
}

/// The driver, shared by all workers; whoever holds its lock may block in it.
pub(crate) struct Driver {
    park: TryLock<Box<dyn Park>>,
    unpark: std::sync::Arc<dyn Unpark>,
}

impl Driver {
    pub(crate) fn new(park: Box<dyn Park>) -> Driver {
        let unpark = park.unparker();
        Driver {
            park: TryLock::new(park),
            unpark,
        }
    }

    /// Drops the driver (the scheduler shut down, and no worker will park
    /// again), so what it owns (an `epoll` instance, its registrations'
    /// wakers) is freed now rather than when the last task handle goes.
    pub(crate) fn release(&self) {
        if let Some(mut park) = self.park.try_lock() {
            park.with_mut(|park| *park = Box::new(Released));
        }
    }

    /// Polls the driver without blocking, if no other worker is in it.
    pub(crate) fn poll_now(&self) {
        if let Some(mut park) = self.park.try_lock() {
            park.with_mut(|park| park.park_timeout(Duration::ZERO));
        }
    }
}

/// What a released driver leaves behind: nobody parks on it any more, and
/// a park that still happens returns at once.
struct Released;

impl Park for Released {
    fn park(&mut self) {}

    fn park_timeout(&mut self, _timeout: Duration) {}

    fn unparker(&self) -> std::sync::Arc<dyn Unpark> {
        std::sync::Arc::new(Released)
    }
}

impl Unpark for Released {
    fn unpark(&self) {}
}

/// A lock that is only ever tried, never waited for: the worker that gets
/// it blocks in the driver, and the others sleep elsewhere.
///
/// A flag instead of a mutex because nobody ever waits on it, and because
/// loom 0.7 reports false deadlocks for `Mutex::try_lock` (tokio-rs/loom
/// issue 376) where this is modelled exactly.
struct TryLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the flag gives one thread at a time access to the value, as a
// mutex would; the value moves between threads, so it must be `Send`.
unsafe impl<T: Send> Sync for TryLock<T> {}

struct TryLockGuard<'a, T> {
    lock: &'a TryLock<T>,
}

impl<T> TryLock<T> {
    fn new(value: T) -> TryLock<T> {
        TryLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    fn try_lock(&self) -> Option<TryLockGuard<'_, T>> {
        // Acquire: pairs with the Release in the guard's drop, so this
        // holder sees the previous holder's writes to the value.
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| TryLockGuard { lock: self })
    }
}

impl<T> TryLockGuard<'_, T> {
    fn with_mut<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: the guard exists only while this thread holds the flag, so
        // no other reference to the value exists.
        self.lock.value.with_mut(|value| f(unsafe { &mut *value }))
    }
}

impl<T> Drop for TryLockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

/// One worker's sleeping place. Clones share it.
#[derive(Clone)]
pub(crate) struct Parker {
    inner: Arc<ParkerInner>,
}

/// Wakes one worker's [`Parker`].
#[derive(Clone)]
pub(crate) struct Unparker {
    inner: Arc<ParkerInner>,
}

struct ParkerInner {
    state: AtomicUsize,
    mutex: Mutex<()>,
    condvar: Condvar,
    driver: std::sync::Arc<Driver>,
}

impl Parker {
    pub(crate) fn new(driver: std::sync::Arc<Driver>) -> Parker {
        Parker {
            inner: Arc::new(ParkerInner {
                state: AtomicUsize::new(EMPTY),
                mutex: Mutex::new(()),
                condvar: Condvar::new(),
                driver,
            }),
        }
    }

    pub(crate) fn unparker(&self) -> Unparker {
        Unparker {
            inner: self.inner.clone(),
        }
    }

    /// Sleeps until unparked; may return spuriously.
    pub(crate) fn park(&mut self) {
        let inner = &*self.inner;
        // SeqCst (here and in `unpark`): a stored wake-up must be seen.
        if inner
            .state
            .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
        match inner.driver.park.try_lock() {
            Some(mut driver) => driver.with_mut(|driver| inner.park_driver(&mut **driver)),
            None => inner.park_condvar(),
        }
    }
}

impl ParkerInner {
    fn park_driver(&self, driver: &mut dyn Park) {
        match self
            .state
            .compare_exchange(EMPTY, PARKED_DRIVER, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                // A swap, not a store: a failed CAS is only a load and may
                // have read an older NOTIFIED than the latest unpark's. The
                // swap reads the latest one, so this thread synchronises
                // with that unparker and sees what it published (e.g. the
                // shutdown flag). Found by loom.
                self.state.swap(EMPTY, Ordering::SeqCst);
                return;
            }
            Err(actual) => panic!("inconsistent parker state {actual}"),
        }
        driver.park();
        // Whether an unpark, an event or a spurious return ended the park,
        // the wake-up (if any) is consumed.
        match self.state.swap(EMPTY, Ordering::SeqCst) {
            NOTIFIED | PARKED_DRIVER => {}
            actual => panic!("inconsistent parker state {actual}"),
        }
    }

    fn park_condvar(&self) {
        let mut guard = self.mutex.lock();
        match self
            .state
            .compare_exchange(EMPTY, PARKED_CONDVAR, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                // A swap, not a store: a failed CAS is only a load and may
                // have read an older NOTIFIED than the latest unpark's. The
                // swap reads the latest one, so this thread synchronises
                // with that unparker and sees what it published (e.g. the
                // shutdown flag). Found by loom.
                self.state.swap(EMPTY, Ordering::SeqCst);
                return;
            }
            Err(actual) => panic!("inconsistent parker state {actual}"),
        }
        loop {
            sync::wait(&self.condvar, &mut guard);
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return;
            }
            // Spurious wake-up: keep sleeping.
        }
    }
}

impl Unparker {
    pub(crate) fn unpark(&self) {
        let inner = &*self.inner;
        match inner.state.swap(NOTIFIED, Ordering::SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // Taking the lock orders this notify after the sleeper's
                // wait began, so it cannot be missed.
                drop(inner.mutex.lock());
                inner.condvar.notify_one();
            }
            PARKED_DRIVER => inner.driver.unpark.unpark(),
            actual => panic!("inconsistent parker state {actual}"),
        }
    }
}

impl fmt::Debug for Parker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parker").finish_non_exhaustive()
    }
}

//! The driver: one `mio::Poll`, the registrations it serves and the timers.
//!
//! [`Driver`] is the blocking half: whoever owns it (one idle worker at a
//! time) calls [`Driver::park`], which sleeps in `epoll_wait` until an I/O
//! event, the next timer deadline or an unpark, then wakes the tasks
//! concerned. [`Handle`] is the shared half: sockets register through it,
//! timers are inserted through it, and any thread unparks the driver with
//! it.

use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Weak};
use std::task::Waker;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::io::{shut_down_error, ScheduledIo};
use crate::ready::Ready;
use crate::sync::{AtomicBool, AtomicU64, Mutex, Ordering};
use crate::time::TimeState;

/// The token of the driver's own `mio::Waker`. Registration tokens never
/// take this value: their index part stays below `MAX_REGISTRATIONS`.
const WAKER_TOKEN: mio::Token = mio::Token(usize::MAX);

/// A token is `generation << INDEX_BITS | slab index`.
const INDEX_BITS: u32 = 24;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// Registrations one driver holds at once (about 16 million).
const MAX_REGISTRATIONS: usize = INDEX_MASK;

/// Events taken from the kernel per `epoll_wait`.
const EVENTS_CAPACITY: usize = 1024;

/// The blocking half of a reactor: whoever owns it (one idle worker at a
/// time) sleeps in [`Driver::park`] until an I/O event, the next timer
/// deadline or an [unpark](Handle::unpark), then wakes the tasks concerned.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use weft_reactor::Driver;
///
/// let mut driver = Driver::new()?;
/// let start = Instant::now();
/// driver.park(Some(Duration::from_millis(5)))?; // nothing registered: sleeps 5 ms
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Driver {
    poll: mio::Poll,
    events: mio::Events,
    handle: Handle,
    /// Wakers collected while locks are held, woken after.
    wakers: Vec<Waker>,
}

/// The shared half of a reactor: registers sockets and timers, and wakes
/// the driver from any thread. Cheap to clone.
///
/// # Examples
///
/// ```
/// use weft_reactor::Driver;
///
/// let mut driver = Driver::new()?;
/// let handle = driver.handle().clone();
/// std::thread::spawn(move || handle.unpark());
/// driver.park(None)?; // returns once the other thread unparked it
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    registry: mio::Registry,
    waker: mio::Waker,
    ios: Mutex<IoSlab>,
    pub(crate) time: Mutex<TimeState>,
    /// Tick zero of the timer wheel.
    pub(crate) start: Instant,
    is_shutdown: AtomicBool,
    /// Readiness events delivered to live registrations: one relaxed add
    /// per `epoll_wait` that returned events, by the one parked thread.
    events_delivered: AtomicU64,
}

struct IoSlab {
    slab: Slab<Arc<ScheduledIo>>,
    next_generation: usize,
}

impl Driver {
    /// Opens a new `epoll` instance with its waker.
    pub fn new() -> io::Result<Driver> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        let shared = Shared {
            registry,
            waker,
            ios: Mutex::new(IoSlab {
                slab: Slab::new(),
                next_generation: 0,
            }),
            time: Mutex::new(TimeState::new()),
            start: Instant::now(),
            is_shutdown: AtomicBool::new(false),
            events_delivered: AtomicU64::new(0),
        };
        Ok(Driver {
            poll,
            events: mio::Events::with_capacity(EVENTS_CAPACITY),
            handle: Handle {
                shared: Arc::new(shared),
            },
            wakers: Vec::new(),
        })
    }

    /// The shared half of this driver.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Waits for I/O events, the next timer deadline, an
    /// [unpark](Handle::unpark) or `timeout` (`None`: no limit;
    /// `Some(ZERO)`: only collects what is ready), whichever comes first,
    /// and wakes the tasks they concern.
    pub fn park(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let shared = &*self.handle.shared;
        let timeout = shared.before_park(timeout);
        let result = self.poll.poll(&mut self.events, timeout);
        // Awake again (inserts need not unpark it) and fire due timers.
        shared.after_park(&mut self.wakers);
        match result {
            Ok(()) => shared.dispatch_events(&self.events, &mut self.wakers),
            // A signal: return as a spurious wake-up.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        wake_all(self.wakers.drain(..));
        Ok(())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Without the driver nobody delivers events or fires timers: fail
        // every waiter now rather than leave it hanging.
        self.handle.shutdown();
    }
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

impl Handle {
    /// Interrupts a [`Driver::park`] in progress, or makes the next one
    /// return at once.
    pub fn unpark(&self) {
        self.shared.unpark();
    }

    /// An [`Unparker`]: unparks like [`unpark`](Handle::unpark) but does
    /// not keep the driver's state (and descriptors) alive.
    pub fn unparker(&self) -> Unparker {
        Unparker {
            shared: Arc::downgrade(&self.shared),
        }
    }

    /// Fails every registration and timer of this driver with an error
    /// saying the runtime shut down, and wakes their tasks. New ones fail
    /// at once. Idempotent.
    pub fn shutdown(&self) {
        let shared = &*self.shared;
        if shared.is_shutdown.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut wakers = Vec::new();
        for (_, io) in shared.ios.lock().slab.iter() {
            io.shutdown(&mut wakers);
        }
        shared.time.lock().shutdown(&mut wakers);
        wake_all(wakers);
    }

    /// True once [`shutdown`](Handle::shutdown) ran.
    pub fn is_shutdown(&self) -> bool {
        self.shared.is_shutdown.load(Ordering::Acquire)
    }

    /// The number of sockets registered right now.
    pub fn num_registrations(&self) -> usize {
        self.shared.ios.lock().slab.len()
    }

    /// Readiness events delivered to registered sockets since the driver
    /// started (the driver's own wake-ups and stale events not counted).
    pub fn events_delivered(&self) -> u64 {
        self.shared.events_delivered.load(Ordering::Relaxed)
    }

    /// True if both handles belong to the same driver.
    pub fn ptr_eq(&self, other: &Handle) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    pub(crate) fn register(
        &self,
        source: &mut impl mio::event::Source,
    ) -> io::Result<(usize, Arc<ScheduledIo>)> {
        let shared = &*self.shared;
        let (key, io) = {
            let mut ios = shared.ios.lock();
            // Checked under the lock `shutdown` takes to fail every
            // registration, so none slips in after it.
            if shared.is_shutdown.load(Ordering::Acquire) {
                return Err(shut_down_error());
            }
            let IoSlab {
                slab,
                next_generation,
            } = &mut *ios;
            let entry = slab.vacant_entry();
            let key = entry.key();
            if key >= MAX_REGISTRATIONS {
                return Err(io::Error::other(format!(
                    "a weft runtime holds at most {MAX_REGISTRATIONS} sockets at once"
                )));
            }
            let generation = *next_generation & (usize::MAX >> INDEX_BITS);
            *next_generation = next_generation.wrapping_add(1);
            let io = Arc::new(ScheduledIo::new(generation));
            entry.insert(io.clone());
            (key, io)
        };
        let token = mio::Token((io.generation << INDEX_BITS) | key);
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        if let Err(e) = shared.registry.register(source, token, interest) {
            self.release(key, &io);
            return Err(e);
        }
        Ok((key, io))
    }

    pub(crate) fn deregister(&self, source: &mut impl mio::event::Source) -> io::Result<()> {
        self.shared.registry.deregister(source)
    }

    /// Frees the slab slot of a dropped registration.
    pub(crate) fn release(&self, key: usize, io: &Arc<ScheduledIo>) {
        let mut ios = self.shared.ios.lock();
        if ios.slab.get(key).is_some_and(|slot| Arc::ptr_eq(slot, io)) {
            ios.slab.remove(key);
        }
    }
}

impl Shared {
    /// Sets the readiness each event reports and collects the wakers.
    fn dispatch_events(&self, events: &mio::Events, wakers: &mut Vec<Waker>) {
        if events.is_empty() {
            return;
        }
        let ios = self.ios.lock();
        let mut delivered = 0;
        for event in events.iter() {
            let token = event.token();
            if token == WAKER_TOKEN {
                continue;
            }
            let index = token.0 & INDEX_MASK;
            let generation = token.0 >> INDEX_BITS;
            match ios.slab.get(index) {
                Some(io) if io.generation == generation => {
                    io.set_readiness(Ready::from_event(event), wakers);
                    delivered += 1;
                }
                // The registration is gone, or the slot has a new owner.
                _ => {}
            }
        }
        drop(ios);
        if delivered > 0 {
            self.events_delivered
                .fetch_add(delivered, Ordering::Relaxed);
        }
    }

    pub(crate) fn unpark(&self) {
        // Only fails on errors `eventfd` cannot return for a valid
        // descriptor (mio handles a full counter itself).
        self.waker
            .wake()
            .expect("weft: could not wake the I/O driver (eventfd write failed)");
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.is_shutdown.load(Ordering::Acquire)
    }
}

/// Wakes every waker, each under `catch_unwind`: a waker is user code, and
/// one that panics must neither unwind into the worker driving the reactor
/// (killing it) nor into a runtime's drop, nor leave the wakers after it
/// unwoken. The panic hook has already reported the panic; the task behind
/// that waker is the user's to recover.
pub(crate) fn wake_all(wakers: impl IntoIterator<Item = Waker>) {
    for waker in wakers {
        let _ = panic::catch_unwind(AssertUnwindSafe(move || waker.wake()));
    }
}

/// Wakes a driver from any thread without keeping it alive: once the
/// driver and every [`Handle`] are gone, `unpark` does nothing.
///
/// # Examples
///
/// ```
/// use weft_reactor::Driver;
///
/// let mut driver = Driver::new()?;
/// let unparker = driver.handle().unparker();
/// std::thread::spawn(move || unparker.unpark());
/// driver.park(None)?; // returns once the other thread unparked it
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Unparker {
    shared: Weak<Shared>,
}

impl Unparker {
    /// As [`Handle::unpark`], if the driver still exists.
    pub fn unpark(&self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.unpark();
        }
    }
}

impl fmt::Debug for Unparker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unparker").finish_non_exhaustive()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("is_shutdown", &self.is_shutdown())
            .finish_non_exhaustive()
    }
}

//! Registrations: one per socket, holding its readiness and its two wakers.
//!
//! Readiness is *edge-triggered*: the driver sets flags when the operating
//! system reports an edge, and they stay set until an operation proves them
//! stale: it returned `WouldBlock` (which clears every flag it observed), or,
//! for the TCP streams that opt in with [`Registration::poll_transfer`], it
//! read or wrote less than asked, which means the kernel buffer was drained
//! or filled. So a socket that stays readable costs no `epoll_wait` between
//! reads, and a request that fits in one read costs one `read` instead of a
//! `read` plus a `WouldBlock` one.
//!
//! The readiness word also carries a *tick*, bumped by every event the
//! driver delivers. Clearing names the tick it observed, and does nothing if
//! an event arrived since: a wake-up between "the read returned
//! `WouldBlock`" and "clear the flag" is never lost.

use std::io;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::driver::Handle;
use crate::ready::{Direction, Ready};
use crate::sync::{AtomicUsize, Mutex, Ordering};

/// Readiness flags in the low byte.
const READY_MASK: usize = 0xff;
/// Set once the driver shut down: every operation fails from then on.
const SHUTDOWN: usize = 1 << 8;
/// The event tick, in all the bits above (48 of them on 64-bit targets, so
/// a stale observation never matches a newer tick in practice).
const TICK_SHIFT: usize = 16;
const TICK_MASK: usize = usize::MAX << TICK_SHIFT;

/// What the driver and the socket's users share about one registration.
#[derive(Debug)]
pub(crate) struct ScheduledIo {
    /// Ready flags, the shutdown bit and the event tick (see the constants).
    readiness: AtomicUsize,
    /// The generation of the slab slot this registration occupies; a token
    /// whose generation differs belongs to a previous owner of the slot.
    pub(crate) generation: usize,
    waiters: Mutex<Waiters>,
}

#[derive(Debug, Default)]
struct Waiters {
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// Readiness observed by [`Registration::poll_ready`], to hand back to
/// [`Registration::clear_readiness`] when it turns out stale.
///
/// # Examples
///
/// See [`Registration`].
#[derive(Clone, Copy, Debug)]
pub struct ReadyEvent {
    /// The flags that were set.
    pub ready: Ready,
    tick: usize,
}

impl ScheduledIo {
    pub(crate) fn new(generation: usize) -> ScheduledIo {
        ScheduledIo {
            readiness: AtomicUsize::new(0),
            generation,
            waiters: Mutex::new(Waiters::default()),
        }
    }

    /// The driver delivers an event: add its flags, bump the tick, and take
    /// the wakers it concerns into `wakers` (woken after the driver drops
    /// its locks).
    pub(crate) fn set_readiness(&self, ready: Ready, wakers: &mut Vec<Waker>) {
        // AcqRel: the Release publishes the flags to the task that reads
        // them; the Acquire orders this after earlier clears.
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                let tick = (current & TICK_MASK).wrapping_add(1 << TICK_SHIFT);
                Some((current & !TICK_MASK) | tick | ready.bits())
            });
        self.take_wakers(ready, wakers);
    }

    /// Marks the registration dead and takes both wakers.
    pub(crate) fn shutdown(&self, wakers: &mut Vec<Waker>) {
        self.readiness.fetch_or(SHUTDOWN, Ordering::AcqRel);
        self.take_wakers(Direction::Read.mask() | Direction::Write.mask(), wakers);
    }

    fn take_wakers(&self, ready: Ready, wakers: &mut Vec<Waker>) {
        let mut waiters = self.waiters.lock();
        if !(ready & Direction::Read.mask()).is_empty() {
            wakers.extend(waiters.reader.take());
        }
        if !(ready & Direction::Write.mask()).is_empty() {
            wakers.extend(waiters.writer.take());
        }
    }

    pub(crate) fn ready_event(&self, direction: Direction) -> Poll<io::Result<ReadyEvent>> {
        // Acquire: pairs with the driver's Release in `set_readiness`.
        let current = self.readiness.load(Ordering::Acquire);
        if current & SHUTDOWN != 0 {
            return Poll::Ready(Err(shut_down_error()));
        }
        let ready = Ready::from_bits(current & READY_MASK) & direction.mask();
        if ready.is_empty() {
            return Poll::Pending;
        }
        Poll::Ready(Ok(ReadyEvent {
            ready,
            tick: current & TICK_MASK,
        }))
    }

    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        if let ready @ Poll::Ready(_) = self.ready_event(direction) {
            return ready;
        }
        let (replaced, ready) = {
            let mut waiters = self.waiters.lock();
            let slot = match direction {
                Direction::Read => &mut waiters.reader,
                Direction::Write => &mut waiters.writer,
            };
            let replaced = match slot {
                Some(waker) if waker.will_wake(cx.waker()) => None,
                _ => slot.replace(cx.waker().clone()),
            };
            // Checked again with the waker stored: the driver takes wakers
            // under the same lock after setting the flags, so an event
            // either shows here or finds this waker.
            (replaced, self.ready_event(direction))
        };
        // Dropped outside the lock: it may hold the last reference to a
        // task whose destructor reaches this registration again.
        drop(replaced);
        ready
    }

    /// Clears the flags of `event`, all of them: an operation that returned
    /// `WouldBlock` proves even closed and error flags stale (as on a UDP
    /// socket once its pending ICMP error was reported).
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        self.clear(event, event.ready);
    }

    /// Clears only the readable and writable flags of `event`: a short
    /// transfer drained a buffer, but end of stream or an error stays.
    fn clear_drained(&self, event: ReadyEvent) {
        self.clear(event, event.ready & (Ready::READABLE | Ready::WRITABLE));
    }

    fn clear(&self, event: ReadyEvent, flags: Ready) {
        let clear = flags.bits();
        // Only if no event arrived since `event` was observed (same tick).
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                (current & TICK_MASK == event.tick).then_some(current & !clear)
            });
    }
}

pub(crate) fn shut_down_error() -> io::Error {
    io::Error::other(
        "the weft runtime this I/O resource or timer belongs to has shut down; \
         create it on a running runtime",
    )
}

/// A socket registered with a driver: waits for its readiness.
///
/// Dropping it removes the registration; deregister the socket from the
/// operating system first with [`Registration::deregister`] (or close it).
///
/// # Examples
///
/// ```
/// use std::io::{self, Read};
/// use std::task::Poll;
/// use weft_reactor::{mio, Direction, Driver, Registration};
///
/// let mut driver = Driver::new()?;
/// let (mut a, mut b) = mio::net::UnixStream::pair()?;
/// let reg = Registration::new(driver.handle(), &mut b)?;
/// io::Write::write_all(&mut a, b"hi")?;
///
/// // Read in the poll style: wait for readiness, try, clear on WouldBlock.
/// let waker = std::task::Waker::noop();
/// let mut cx = std::task::Context::from_waker(waker);
/// let mut buf = [0; 8];
/// let n = loop {
///     match reg.poll_io(&mut cx, Direction::Read, || b.read(&mut buf)) {
///         Poll::Ready(result) => break result?,
///         Poll::Pending => driver.park(None)?, // delivers the event
///     }
/// };
/// assert_eq!(&buf[..n], b"hi");
/// # Ok::<(), io::Error>(())
/// ```
#[derive(Debug)]
pub struct Registration {
    handle: Handle,
    io: Arc<ScheduledIo>,
    key: usize,
}

impl Registration {
    /// Registers `source` for both reading and writing, edge-triggered.
    ///
    /// Fails if the driver has shut down.
    pub fn new(handle: &Handle, source: &mut impl mio::event::Source) -> io::Result<Registration> {
        let (key, io) = handle.register(source)?;
        Ok(Registration {
            handle: handle.clone(),
            io,
            key,
        })
    }

    /// The driver this registration belongs to.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Ready if `direction` has readiness (or the driver shut down, as an
    /// error); otherwise stores the waker and returns `Pending`.
    pub fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.io.poll_ready(cx, direction)
    }

    /// The flags in `event` proved stale: clear them, unless an event
    /// arrived since.
    pub fn clear_readiness(&self, event: ReadyEvent) {
        self.io.clear_readiness(event);
    }

    /// Runs the non-blocking operation `f` once `direction` is ready,
    /// clearing readiness and waiting again each time `f` returns
    /// `WouldBlock`.
    pub fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        f: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_op(cx, direction, f, |_, _| {})
    }

    /// As [`poll_io`](Registration::poll_io) for a TCP transfer of `len`
    /// bytes: a transfer shorter than asked (but not zero) drained or filled
    /// the kernel buffer, so readiness is cleared without spending a system
    /// call on the `WouldBlock` that would follow.
    ///
    /// Only for sockets where a short transfer does mean that: TCP streams,
    /// with one exception, urgent data (a read stops at the urgent mark, so
    /// a peer that sends `MSG_OOB` data can stall its own connection until
    /// it sends more). Not for Unix streams (a read stops at a message that
    /// carries descriptors or credentials) or datagrams. `len` must count
    /// only the bytes one system call can take (at most `IOV_MAX` buffers).
    pub fn poll_transfer(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        len: usize,
        f: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.poll_op(cx, direction, f, |&n, event| {
            if n > 0 && n < len {
                self.io.clear_drained(event);
            }
        })
    }

    /// The loop of `poll_io` and `poll_transfer`: wait for readiness, try
    /// `f`, clear and wait again on `WouldBlock`; `done` sees a success and
    /// the readiness it used.
    fn poll_op<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut f: impl FnMut() -> io::Result<R>,
        done: impl FnOnce(&R, ReadyEvent),
    ) -> Poll<io::Result<R>> {
        loop {
            let event = match self.poll_ready(cx, direction) {
                Poll::Ready(Ok(event)) => event,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            match f() {
                Ok(value) => {
                    done(&value, event);
                    return Poll::Ready(Ok(value));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_readiness(event),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Removes `source` from the operating system's interest list. Call it
    /// before closing a socket whose descriptor may have been duplicated.
    pub fn deregister(&self, source: &mut impl mio::event::Source) -> io::Result<()> {
        self.handle.deregister(source)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.handle.release(self.key, &self.io);
    }
}

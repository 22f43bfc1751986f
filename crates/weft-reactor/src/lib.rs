//! The I/O driver and timer wheel of the weft runtime (no scheduling).
//!
//! - [`Driver`] owns one `mio::Poll`. Whoever parks on it (one idle worker
//!   at a time) sleeps in `epoll_wait` until an I/O event, the next timer
//!   deadline, or an [unpark](Handle::unpark) from another thread, and then
//!   wakes the tasks concerned.
//! - [`Registration`] is one socket's entry: edge-triggered readiness and
//!   one reader and one writer waker. Its token carries a generation, so a
//!   stale event never wakes the next owner of the slot.
//! - [`Timer`] is one entry of a hierarchical timer wheel (1 ms resolution,
//!   64 slots a level, 6 levels, O(1) insert and cancel).
//!
//! The crate knows nothing about tasks or workers: the `weft` facade plugs
//! the driver into the scheduler's `Park` trait, and its socket and timer
//! types are built on [`Registration`] and [`Timer`].
#![forbid(unsafe_code)]

mod driver;
mod io;
mod ready;
mod sync;
mod time;

#[cfg(all(test, weft_loom))]
mod loom_tests;
// Under loom the crate's mutexes and atomics are loom's, which exist only
// inside a model: the tests that run a real driver are for normal builds.
#[cfg(all(test, not(weft_loom)))]
mod tests;

pub use driver::{Driver, Handle, Unparker};
pub use io::{ReadyEvent, Registration};
pub use ready::{Direction, Ready};
pub use time::Timer;

/// The mio version this crate registers sources with, for the facade's
/// socket types.
pub use mio;

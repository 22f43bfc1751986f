//! The I/O driver and timer wheel of the weft runtime.
//!
//! This crate is reserved for the reactor: one `mio::Poll` per runtime, a
//! slab of registrations whose tokens carry a generation, edge-triggered
//! readiness with one reader and one writer waker each, and a hierarchical
//! timer wheel (1 ms resolution, 64 slots a level, 6 levels).
//!
//! It has no public API yet. Until it lands, the `weft` facade parks idle
//! workers on a plain thread parker, and the runtime offers no I/O or timers.
//! It will never depend on `weft-scheduler`: the scheduler parks through its
//! own `Park` trait, which the facade implements for this crate's driver.
#![forbid(unsafe_code)]

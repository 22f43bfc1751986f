//! The I/O driver and timer wheel of the weft runtime.
#![forbid(unsafe_code)]

mod time;

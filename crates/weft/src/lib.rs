//! weft: a multi-threaded, work-stealing async runtime (being assembled).
#[macro_use]
mod macros;

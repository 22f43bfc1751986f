//! `Elapsed`: the error of a [`Timeout`](super::Timeout) whose deadline
//! came first.

use std::error::Error;
use std::fmt;
use std::io;

/// The deadline of a [`timeout`](super::timeout) passed before its future
/// finished.
///
/// It converts into an [`io::Error`] of kind
/// [`TimedOut`](io::ErrorKind::TimedOut), so `?` works in functions that
/// return `io::Result`.
///
/// # Examples
///
/// ```
/// use std::future::pending;
/// use std::io;
/// use weft::time::{timeout, Duration};
///
/// weft::block_on(async {
///     let elapsed = timeout(Duration::from_millis(1), pending::<()>()).await.unwrap_err();
///     assert_eq!(elapsed.to_string(), "deadline has elapsed");
///     let error = io::Error::from(elapsed);
///     assert_eq!(error.kind(), io::ErrorKind::TimedOut);
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(());

impl Elapsed {
    pub(super) fn new() -> Elapsed {
        Elapsed(())
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl Error for Elapsed {}

impl From<Elapsed> for io::Error {
    fn from(elapsed: Elapsed) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, elapsed)
    }
}

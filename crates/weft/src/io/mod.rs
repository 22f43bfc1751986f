//! Async I/O traits (from futures-io) and the extension methods that give
//! them `read`, `write_all`, `copy` and friends: `use
//! weft::io::{AsyncReadExt, AsyncWriteExt}` is all a program needs.
//!
//! ```
//! # weft::block_on(async {
//! use weft::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let (mut a, mut b) = weft::net::UnixStream::pair()?;
//! a.write_all(b"hello").await?;
//! a.close().await?;
//! let mut got = String::new();
//! b.read_to_string(&mut got).await?;
//! assert_eq!(got, "hello");
//! # Ok::<(), std::io::Error>(()) }).unwrap();
//! ```

pub(crate) mod poll_evented;

pub use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};
pub use futures_util::io::{
    copy, copy_buf, empty, repeat, sink, AsyncBufReadExt, AsyncReadExt, AsyncSeekExt,
    AsyncWriteExt, BufReader, BufWriter, Cursor,
};

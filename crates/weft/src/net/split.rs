//! Halves of a stream, so one task reads while another writes.
//!
//! A stream has one reader waker and one writer waker, so its two halves
//! can wait at the same time from different tasks. Two tasks reading the
//! *same* stream at once would overwrite each other's waker, and the one
//! overwritten would not be woken; split halves never do that.

use std::fmt;
use std::io;
use std::io::{IoSlice, IoSliceMut};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// A stream that can be split into halves: [`TcpStream`](super::TcpStream)
/// and [`UnixStream`](super::UnixStream).
///
/// # Examples
///
/// ```
/// fn halves<S: weft::net::SplitStream>(_: &S) {}
/// # let _ = halves::<weft::net::TcpStream>;
/// ```
pub trait SplitStream: sealed::Sealed + Send + Sync + 'static {
    /// Shuts the writing side down, as dropping an [`OwnedWriteHalf`] does.
    fn shutdown_write(&self) -> io::Result<()>;
}

/// The reading half of a borrowed stream, from `split`.
///
/// # Examples
///
/// ```
/// # weft::block_on(async {
/// use weft::io::{AsyncReadExt, AsyncWriteExt};
///
/// let (a, b) = weft::net::UnixStream::pair()?;
/// let (mut read, _write) = b.split();
/// (&a).write_all(b"ping").await?;
/// let mut buf = [0; 4];
/// read.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"ping");
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub struct ReadHalf<'a, S>(pub(crate) &'a S);

/// The writing half of a borrowed stream, from `split`. Closing it
/// (`poll_close`) shuts the stream's writing side down.
///
/// # Examples
///
/// See [`ReadHalf`].
pub struct WriteHalf<'a, S>(pub(crate) &'a S);

/// The reading half of a stream, from `into_split`; owns its share of the
/// stream, so it can move to another task.
///
/// # Examples
///
/// ```
/// # weft::block_on(async {
/// use weft::io::{AsyncReadExt, AsyncWriteExt};
///
/// let (a, b) = weft::net::UnixStream::pair()?;
/// let (mut read, mut write) = b.into_split();
/// let reader = weft::spawn(async move {
///     let mut buf = [0; 4];
///     read.read_exact(&mut buf).await.map(|_| buf)
/// });
/// write.write_all(b"to a").await?;
/// let mut buf = [0; 4];
/// (&a).read_exact(&mut buf).await?;
/// (&a).write_all(b"to b").await?;
/// assert_eq!(&reader.await.unwrap()?, b"to b");
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub struct OwnedReadHalf<S> {
    stream: Arc<S>,
}

/// The writing half of a stream, from `into_split`. Dropping it shuts the
/// stream's writing side down (the peer reads end of stream), unless it is
/// reunited with its reading half first.
///
/// # Examples
///
/// See [`OwnedReadHalf`].
pub struct OwnedWriteHalf<S: SplitStream> {
    stream: Arc<S>,
    shutdown_on_drop: bool,
}

/// The halves given to `reunite` came from different streams; here they are
/// back.
///
/// # Examples
///
/// ```
/// let (a, b) = weft::block_on(async { weft::net::UnixStream::pair() }).unwrap();
/// let (a_read, _a_write) = a.into_split();
/// let (_b_read, b_write) = b.into_split();
/// assert!(a_read.reunite(b_write).is_err());
/// ```
pub struct ReuniteError<S: SplitStream>(pub OwnedReadHalf<S>, pub OwnedWriteHalf<S>);

pub(crate) fn split_owned<S: SplitStream>(stream: S) -> (OwnedReadHalf<S>, OwnedWriteHalf<S>) {
    let stream = Arc::new(stream);
    (
        OwnedReadHalf {
            stream: stream.clone(),
        },
        OwnedWriteHalf {
            stream,
            shutdown_on_drop: true,
        },
    )
}

impl<S: SplitStream> OwnedReadHalf<S> {
    /// Puts the stream back together, if `other` is its writing half.
    pub fn reunite(self, mut other: OwnedWriteHalf<S>) -> Result<S, ReuniteError<S>> {
        if !Arc::ptr_eq(&self.stream, &other.stream) {
            return Err(ReuniteError(self, other));
        }
        other.shutdown_on_drop = false;
        drop(other);
        Ok(Arc::try_unwrap(self.stream)
            .unwrap_or_else(|_| unreachable!("both halves were given back, so no other owner")))
    }
}

impl<S: SplitStream> OwnedWriteHalf<S> {
    /// Puts the stream back together, if `other` is its reading half.
    pub fn reunite(self, other: OwnedReadHalf<S>) -> Result<S, ReuniteError<S>> {
        other.reunite(self)
    }
}

impl<S: SplitStream> Drop for OwnedWriteHalf<S> {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            // The stream may already be closed by the peer; nothing to do then.
            let _ = self.stream.shutdown_write();
        }
    }
}

impl<'a, S> AsyncRead for ReadHalf<'a, S>
where
    &'a S: AsyncRead,
{
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }

    fn poll_read_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read_vectored(cx, bufs)
    }
}

impl<'a, S> AsyncWrite for WriteHalf<'a, S>
where
    &'a S: AsyncWrite,
{
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

impl<S> AsyncRead for OwnedReadHalf<S>
where
    for<'a> &'a S: AsyncRead,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_read(cx, buf)
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_read_vectored(cx, bufs)
    }
}

impl<S: SplitStream> AsyncWrite for OwnedWriteHalf<S>
where
    for<'a> &'a S: AsyncWrite,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.stream).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.stream).poll_close(cx)
    }
}

impl<S> AsRef<S> for OwnedReadHalf<S> {
    fn as_ref(&self) -> &S {
        &self.stream
    }
}

impl<S: SplitStream> AsRef<S> for OwnedWriteHalf<S> {
    fn as_ref(&self) -> &S {
        &self.stream
    }
}

impl<S: fmt::Debug> fmt::Debug for ReadHalf<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReadHalf").field(self.0).finish()
    }
}

impl<S: fmt::Debug> fmt::Debug for WriteHalf<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WriteHalf").field(self.0).finish()
    }
}

impl<S: fmt::Debug> fmt::Debug for OwnedReadHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedReadHalf").field(&self.stream).finish()
    }
}

impl<S: SplitStream + fmt::Debug> fmt::Debug for OwnedWriteHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedWriteHalf").field(&self.stream).finish()
    }
}

impl<S: SplitStream> fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<S: SplitStream> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same stream")
    }
}

impl<S: SplitStream> std::error::Error for ReuniteError<S> {}

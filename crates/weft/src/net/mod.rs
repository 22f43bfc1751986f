//! TCP, UDP and Unix-domain sockets on the runtime's reactor.
//!
//! Every type registers with the reactor of the runtime the current thread
//! is in (or the global runtime's, outside any), and implements futures-io's
//! `AsyncRead`/`AsyncWrite` where it is a stream, so the whole futures
//! ecosystem (`weft::io`'s extension methods, codecs, adapters) works with
//! it. A socket whose runtime shut down fails every operation with an
//! `io::Error` saying so.
//!
//! ```no_run
//! use weft::io::{AsyncReadExt, AsyncWriteExt};
//! use weft::net::TcpListener;
//!
//! #[weft::main]
//! async fn main() -> std::io::Result<()> {
//!     let listener = TcpListener::bind("127.0.0.1:7000").await?;
//!     loop {
//!         let (mut stream, _) = listener.accept().await?;
//!         weft::spawn(async move {
//!             let mut buf = vec![0; 4096];
//!             while let Ok(n @ 1..) = stream.read(&mut buf).await {
//!                 if stream.write_all(&buf[..n]).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! }
//! ```
//!
//! Addresses given as `impl ToSocketAddrs` resolve with the system resolver
//! on the calling thread; a host name that needs DNS blocks it for the
//! lookup, so resolve such names in [`spawn_blocking`](crate::spawn_blocking)
//! first on a busy server. Literal addresses (`"127.0.0.1:80"`) never block.

mod split;
pub mod tcp;
mod udp;
pub mod unix;

pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, SplitStream, WriteHalf};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// The most buffers one `readv`/`writev` takes (Linux's `IOV_MAX`): std
/// passes no more, so only these count towards what one call can transfer.
const IOV_MAX: usize = 1024;

/// The bytes one vectored system call can transfer.
fn vectored_len(lens: impl Iterator<Item = usize>) -> usize {
    lens.take(IOV_MAX).sum()
}

/// Waits for a connection with `poll_accept`, riding out a shortage of file
/// descriptors (`EMFILE`, `ENFILE`): the pending connection stays in the
/// kernel's backlog while this sleeps, 1 ms at first and doubling up to
/// 500 ms, and retries. The first shortage of each stretch is reported
/// once on stderr, naming `what`.
async fn accept_with_backoff<T>(
    what: impl std::fmt::Display,
    mut poll_accept: impl FnMut(&mut std::task::Context<'_>) -> std::task::Poll<io::Result<T>>,
) -> io::Result<T> {
    const MIN_BACKOFF: std::time::Duration = std::time::Duration::from_millis(1);
    const MAX_BACKOFF: std::time::Duration = std::time::Duration::from_millis(500);
    let mut backoff = MIN_BACKOFF;
    loop {
        match std::future::poll_fn(&mut poll_accept).await {
            Err(error) if is_out_of_descriptors(&error) => {
                if backoff == MIN_BACKOFF {
                    eprintln!(
                        "weft: accept on {what} failed: {error}; retrying with backoff until a \
                         descriptor frees (raise RLIMIT_NOFILE or close connections)"
                    );
                }
                crate::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            result => return result,
        }
    }
}

/// True for the errors that mean "no descriptor left for the new
/// connection": retrying later can succeed.
fn is_out_of_descriptors(error: &io::Error) -> bool {
    const EMFILE: i32 = 24;
    const ENFILE: i32 = 23;
    matches!(error.raw_os_error(), Some(EMFILE | ENFILE))
}

/// Tries `f` on every address `addr` resolves to, returning the first
/// success or the last error.
async fn each_addr<T, F, Fut>(addr: impl ToSocketAddrs, mut f: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last_error = None;
    for addr in addr.to_socket_addrs()? {
        match f(addr).await {
            Ok(value) => return Ok(value),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket address",
        )
    }))
}

/// Implements `AsyncRead` and `AsyncWrite` for a stream type and for a
/// shared reference to it, and its `readable`/`writable` waits, on top of its `io: PollEvented<mio stream>` and
/// its `poll_stream` method (which decides whether a short transfer may
/// clear readiness).
macro_rules! stream_io {
    ($stream:ty) => {
        impl futures_io::AsyncRead for &$stream {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                use std::io::Read;
                self.poll_stream(cx, weft_reactor::Direction::Read, buf.len(), |mut io| {
                    io.read(buf)
                })
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                use std::io::Read;
                let len = $crate::net::vectored_len(bufs.iter().map(|buf| buf.len()));
                self.poll_stream(cx, weft_reactor::Direction::Read, len, |mut io| {
                    io.read_vectored(bufs)
                })
            }
        }

        impl futures_io::AsyncWrite for &$stream {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                use std::io::Write;
                self.poll_stream(cx, weft_reactor::Direction::Write, buf.len(), |mut io| {
                    io.write(buf)
                })
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                use std::io::Write;
                let len = $crate::net::vectored_len(bufs.iter().map(|buf| buf.len()));
                self.poll_stream(cx, weft_reactor::Direction::Write, len, |mut io| {
                    io.write_vectored(bufs)
                })
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                // Writes go straight to the kernel: nothing is buffered here.
                std::task::Poll::Ready(Ok(()))
            }

            /// Shuts the writing side down: the peer reads end of stream.
            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.io.get_ref().shutdown(std::net::Shutdown::Write))
            }
        }

        impl futures_io::AsyncRead for $stream {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_read(cx, buf)
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_read_vectored(cx, bufs)
            }
        }

        impl futures_io::AsyncWrite for $stream {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_write_vectored(cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut &*self).poll_flush(cx)
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut &*self).poll_close(cx)
            }
        }

        impl $stream {
            /// Waits until the stream is readable (data, end of stream or
            /// an error), without reading. Readiness stays set until a read
            /// on this stream returns `WouldBlock`, so this is for waiting
            /// before a read, not for polling in a loop around reads made
            /// some other way.
            pub async fn readable(&self) -> std::io::Result<()> {
                std::future::poll_fn(|cx| self.io.poll_ready(cx, weft_reactor::Direction::Read))
                    .await
            }

            /// Waits until the stream is writable, without writing; the
            /// same caveat as [`readable`](Self::readable) applies.
            pub async fn writable(&self) -> std::io::Result<()> {
                std::future::poll_fn(|cx| self.io.poll_ready(cx, weft_reactor::Direction::Write))
                    .await
            }
        }

        $crate::net::socket_traits!($stream);

        impl $crate::net::split::sealed::Sealed for $stream {}

        impl $crate::net::SplitStream for $stream {
            fn shutdown_write(&self) -> std::io::Result<()> {
                self.io.get_ref().shutdown(std::net::Shutdown::Write)
            }
        }
    };
}
use stream_io;

/// `Debug`, `AsRawFd` and `AsFd` for a socket type holding
/// `io: PollEvented<_>`.
macro_rules! socket_traits {
    ($socket:ty) => {
        impl std::fmt::Debug for $socket {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.io.fmt(f)
            }
        }

        impl std::os::fd::AsRawFd for $socket {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.io.get_ref().as_raw_fd()
            }
        }

        impl std::os::fd::AsFd for $socket {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.io.get_ref().as_fd()
            }
        }
    };
}
use socket_traits;

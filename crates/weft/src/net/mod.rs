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
/// shared reference to it, on top of its `io: PollEvented<mio stream>`.
/// Reads and writes that transfer less than asked clear readiness (the
/// kernel buffer is drained or full), saving a `WouldBlock` system call.
macro_rules! stream_io {
    ($stream:ty) => {
        impl futures_io::AsyncRead for &$stream {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                use std::io::Read;
                self.io
                    .poll_transfer(cx, weft_reactor::Direction::Read, buf.len(), |mut io| {
                        io.read(buf)
                    })
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                use std::io::Read;
                let len = bufs.iter().map(|buf| buf.len()).sum();
                self.io
                    .poll_transfer(cx, weft_reactor::Direction::Read, len, |mut io| {
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
                self.io
                    .poll_transfer(cx, weft_reactor::Direction::Write, buf.len(), |mut io| {
                        io.write(buf)
                    })
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                use std::io::Write;
                let len = bufs.iter().map(|buf| buf.len()).sum();
                self.io
                    .poll_transfer(cx, weft_reactor::Direction::Write, len, |mut io| {
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

        impl std::os::fd::AsRawFd for $stream {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.io.get_ref().as_raw_fd()
            }
        }

        impl std::os::fd::AsFd for $stream {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.io.get_ref().as_fd()
            }
        }

        impl $crate::net::split::sealed::Sealed for $stream {}

        impl $crate::net::SplitStream for $stream {
            fn shutdown_write(&self) -> std::io::Result<()> {
                self.io.get_ref().shutdown(std::net::Shutdown::Write)
            }
        }
    };
}
use stream_io;

/// `AsRawFd` and `AsFd` for a socket type holding `io: PollEvented<_>`.
macro_rules! as_fd {
    ($socket:ty) => {
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
use as_fd;

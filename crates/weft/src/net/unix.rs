//! Unix-domain sockets: [`UnixListener`], [`UnixStream`] and
//! [`UnixDatagram`], and the stream's halves.

use std::future::poll_fn;
use std::io;
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::task::{ready, Context, Poll};

use weft_reactor::{mio, Direction};

use super::split::{self, split_owned};
use crate::io::poll_evented::PollEvented;

/// The reading half of a borrowed [`UnixStream`].
pub type ReadHalf<'a> = split::ReadHalf<'a, UnixStream>;
/// The writing half of a borrowed [`UnixStream`].
pub type WriteHalf<'a> = split::WriteHalf<'a, UnixStream>;
/// The owned reading half of a [`UnixStream`].
pub type OwnedReadHalf = split::OwnedReadHalf<UnixStream>;
/// The owned writing half of a [`UnixStream`].
pub type OwnedWriteHalf = split::OwnedWriteHalf<UnixStream>;

/// A Unix-domain socket listening for connections.
///
/// # Examples
///
/// ```
/// # weft::block_on(async {
/// use weft::io::{AsyncReadExt, AsyncWriteExt};
/// use weft::net::{UnixListener, UnixStream};
///
/// let dir = std::env::temp_dir().join(format!("weft-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("listener.sock");
/// # let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path)?;
/// let mut client = UnixStream::connect(&path).await?;
/// let (mut server, _) = listener.accept().await?;
/// client.write_all(b"hi").await?;
/// let mut buf = [0; 2];
/// server.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"hi");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub struct UnixListener {
    io: PollEvented<mio::net::UnixListener>,
}

impl UnixListener {
    /// Binds to the filesystem path `path` (which must not exist yet).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::new(mio::net::UnixListener::bind(path)?)
    }

    fn new(listener: mio::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: PollEvented::new(listener)?,
        })
    }

    /// Wraps a listener from the standard library, switching it to
    /// non-blocking mode.
    pub fn from_std(listener: net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        UnixListener::new(mio::net::UnixListener::from_std(listener))
    }

    /// Gives back the standard library's listener, still non-blocking.
    pub fn into_std(self) -> io::Result<net::UnixListener> {
        Ok(OwnedFd::from(self.io.into_inner()?).into())
    }

    /// Waits for a connection. Rides out a shortage of file descriptors
    /// like [`TcpListener::accept`](super::TcpListener::accept).
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        super::accept_with_backoff("a Unix listener", |cx| self.poll_accept(cx)).await
    }

    /// Polls for [`accept`](Self::accept), returning every error as it
    /// comes.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let (stream, addr) = ready!(self
            .io
            .poll_io(cx, Direction::Read, |listener| listener.accept()))?;
        Poll::Ready(UnixStream::new(stream).map(|stream| (stream, addr)))
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

super::socket_traits!(UnixListener);

/// A Unix-domain stream: `AsyncRead` and `AsyncWrite` (for `&UnixStream`
/// too). Closing it shuts the writing side down.
///
/// # Examples
///
/// ```
/// # weft::block_on(async {
/// use weft::io::{AsyncReadExt, AsyncWriteExt};
///
/// let (mut a, mut b) = weft::net::UnixStream::pair()?;
/// a.write_all(b"ping").await?;
/// let mut buf = [0; 4];
/// b.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"ping");
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub struct UnixStream {
    io: PollEvented<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let stream = UnixStream::new(mio::net::UnixStream::connect(path)?)?;
        poll_fn(|cx| stream.poll_connected(cx)).await?;
        Ok(stream)
    }

    /// A connected pair of streams.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::new(a)?, UnixStream::new(b)?))
    }

    fn new(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: PollEvented::new(stream)?,
        })
    }

    fn poll_connected(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.io.poll_ready(cx, Direction::Write))?;
        match self.io.get_ref().take_error()? {
            Some(error) => Poll::Ready(Err(error)),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Wraps a stream from the standard library, switching it to
    /// non-blocking mode.
    pub fn from_std(stream: net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::new(mio::net::UnixStream::from_std(stream))
    }

    /// Gives back the standard library's stream, still non-blocking.
    pub fn into_std(self) -> io::Result<net::UnixStream> {
        Ok(OwnedFd::from(self.io.into_inner()?).into())
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Shuts down the reading side, the writing side or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Borrowed halves; see [`TcpStream::split`](super::TcpStream::split).
    pub fn split(&self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (split::ReadHalf(self), split::WriteHalf(self))
    }

    /// Owned halves; see [`TcpStream::into_split`](super::TcpStream::into_split).
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split_owned(self)
    }
}

impl UnixStream {
    /// Reads and writes for `stream_io!`. Unlike TCP, a short read does
    /// not prove the buffer drained (a read stops at a message carrying
    /// descriptors or credentials), so readiness clears only on
    /// `WouldBlock`.
    fn poll_stream(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        _len: usize,
        f: impl FnMut(&mio::net::UnixStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.io.poll_io(cx, direction, f)
    }
}

super::stream_io!(UnixStream);

/// A Unix-domain datagram socket.
///
/// # Examples
///
/// ```
/// # weft::block_on(async {
/// let (a, b) = weft::net::UnixDatagram::pair()?;
/// a.send(b"one datagram").await?;
/// let mut buf = [0; 32];
/// let n = b.recv(&mut buf).await?;
/// assert_eq!(&buf[..n], b"one datagram");
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub struct UnixDatagram {
    io: PollEvented<mio::net::UnixDatagram>,
}

impl UnixDatagram {
    /// Binds to the filesystem path `path`.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::new(mio::net::UnixDatagram::bind(path)?)
    }

    /// A socket bound to no address (it can send, and receive replies once
    /// connected).
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::new(mio::net::UnixDatagram::unbound()?)
    }

    /// A connected pair of sockets.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::new(a)?, UnixDatagram::new(b)?))
    }

    fn new(socket: mio::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: PollEvented::new(socket)?,
        })
    }

    /// Wraps a socket from the standard library, switching it to
    /// non-blocking mode.
    pub fn from_std(socket: net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        UnixDatagram::new(mio::net::UnixDatagram::from_std(socket))
    }

    /// Gives back the standard library's socket, still non-blocking.
    pub fn into_std(self) -> io::Result<net::UnixDatagram> {
        Ok(OwnedFd::from(self.io.into_inner()?).into())
    }

    /// Sets the default destination of [`send`](Self::send).
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.io.get_ref().connect(path)
    }

    /// Sends `buf` to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| {
            self.io
                .poll_io(cx, Direction::Write, |socket| socket.send(buf))
        })
        .await
    }

    /// Receives one datagram into `buf`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| {
            self.io
                .poll_io(cx, Direction::Read, |socket| socket.recv(buf))
        })
        .await
    }

    /// Sends `buf` to the socket at `path`.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        poll_fn(|cx| {
            self.io
                .poll_io(cx, Direction::Write, |socket| socket.send_to(buf, path))
        })
        .await
    }

    /// Receives one datagram and the address it came from.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| {
            self.io
                .poll_io(cx, Direction::Read, |socket| socket.recv_from(buf))
        })
        .await
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Shuts down the reading side, the writing side or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }
}

super::socket_traits!(UnixDatagram);

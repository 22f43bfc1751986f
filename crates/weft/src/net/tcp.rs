//! TCP: [`TcpListener`] and [`TcpStream`], and the stream's halves.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{self, Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::task::{ready, Context, Poll};

use weft_reactor::{mio, Direction};

use super::split::{self, split_owned};
use crate::io::poll_evented::PollEvented;

/// The reading half of a borrowed [`TcpStream`].
pub type ReadHalf<'a> = split::ReadHalf<'a, TcpStream>;
/// The writing half of a borrowed [`TcpStream`].
pub type WriteHalf<'a> = split::WriteHalf<'a, TcpStream>;
/// The owned reading half of a [`TcpStream`].
pub type OwnedReadHalf = split::OwnedReadHalf<TcpStream>;
/// The owned writing half of a [`TcpStream`].
pub type OwnedWriteHalf = split::OwnedWriteHalf<TcpStream>;

/// A TCP socket listening for connections.
///
/// # Examples
///
/// ```
/// # weft::block_on(async {
/// use weft::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let client = weft::spawn(async move { TcpStream::connect(addr).await });
/// let (_server_side, peer) = listener.accept().await?;
/// assert_eq!(peer, client.await.unwrap()?.local_addr()?);
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub struct TcpListener {
    io: PollEvented<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (the first of its addresses that works), with
    /// `SO_REUSEADDR` set and a backlog of 1024.
    ///
    /// ```
    /// # weft::block_on(async {
    /// let listener = weft::net::TcpListener::bind("127.0.0.1:0").await?;
    /// assert!(listener.local_addr()?.port() != 0);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        super::each_addr(addr, |addr| async move {
            TcpListener::new(mio::net::TcpListener::bind(addr)?)
        })
        .await
    }

    fn new(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: PollEvented::new(listener)?,
        })
    }

    /// Wraps a listener from the standard library, switching it to
    /// non-blocking mode.
    ///
    /// ```
    /// # weft::block_on(async {
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let listener = weft::net::TcpListener::from_std(std_listener)?;
    /// # let _ = listener;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn from_std(listener: net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::new(mio::net::TcpListener::from_std(listener))
    }

    /// Gives back the standard library's listener, still in non-blocking
    /// mode.
    ///
    /// ```
    /// # weft::block_on(async {
    /// let listener = weft::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let std_listener = listener.into_std()?;
    /// # let _ = std_listener;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<net::TcpListener> {
        let listener = self.io.into_inner()?;
        Ok(OwnedFd::from(listener).into())
    }

    /// Waits for a connection.
    ///
    /// When the process or system runs out of file descriptors (`EMFILE`,
    /// `ENFILE`), the pending connection stays in the kernel's backlog and
    /// `accept` waits and retries, 1 ms at first and doubling up to
    /// 500 ms, instead of failing (which ends most accept loops) or retrying
    /// at once (which spins a worker at 100 %). The first shortage of each
    /// stretch is reported once on stderr. Use [`poll_accept`](Self::poll_accept)
    /// to see those errors instead.
    ///
    /// ```
    /// # weft::block_on(async {
    /// use weft::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let _client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (stream, peer) = listener.accept().await?;
    /// assert_eq!(stream.peer_addr()?, peer);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        super::accept_with_backoff(DisplayAddr(self.local_addr()), |cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection: the building block of [`accept`](Self::accept),
    /// returning every error as it comes (including running out of file
    /// descriptors).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (stream, addr) = ready!(self
            .io
            .poll_io(cx, Direction::Read, |listener| listener.accept()))?;
        Poll::Ready(TcpStream::new(stream).map(|stream| (stream, addr)))
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The `IP_TTL` option.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Sets the `IP_TTL` option.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }
}

struct DisplayAddr(io::Result<SocketAddr>);

impl fmt::Display for DisplayAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Ok(addr) => addr.fmt(f),
            Err(_) => f.write_str("a listener"),
        }
    }
}

super::socket_traits!(TcpListener);

/// A TCP connection: `AsyncRead` and `AsyncWrite` (for `&TcpStream` too,
/// so a reader and a writer can share it).
///
/// Closing it (`poll_close`, e.g. `AsyncWriteExt::close`) shuts the writing
/// side down; the peer then reads end of stream.
///
/// # Examples
///
/// ```
/// # weft::block_on(async {
/// use weft::io::{AsyncReadExt, AsyncWriteExt};
/// use weft::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let mut client = TcpStream::connect(listener.local_addr()?).await?;
/// let (mut server, _) = listener.accept().await?;
/// client.write_all(b"hello").await?;
/// client.close().await?; // half-close: the server reads to the end
/// let mut got = Vec::new();
/// server.read_to_end(&mut got).await?;
/// assert_eq!(got, b"hello");
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub struct TcpStream {
    io: PollEvented<mio::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each address it resolves to in turn.
    ///
    /// A closed port gives an error of kind `ConnectionRefused`.
    ///
    /// ```
    /// # weft::block_on(async {
    /// let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?; // freed again
    /// let error = weft::net::TcpStream::connect(closed).await.unwrap_err();
    /// assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        super::each_addr(addr, |addr| async move {
            let stream = TcpStream::new(mio::net::TcpStream::connect(addr)?)?;
            poll_fn(|cx| stream.poll_connected(cx)).await?;
            Ok(stream)
        })
        .await
    }

    pub(crate) fn new(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: PollEvented::new(stream)?,
        })
    }

    /// Waits for a non-blocking connect to finish: writable, then either a
    /// pending error or a peer address.
    fn poll_connected(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let registration = self.io.registration();
        loop {
            let event = ready!(registration.poll_ready(cx, Direction::Write))?;
            let stream = self.io.get_ref();
            if let Some(error) = stream.take_error()? {
                return Poll::Ready(Err(error));
            }
            match stream.peer_addr() {
                Ok(_) => return Poll::Ready(Ok(())),
                // Not connected yet (a spurious event): wait again.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    registration.clear_readiness(event)
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Wraps a connected stream from the standard library, switching it to
    /// non-blocking mode.
    ///
    /// ```
    /// # weft::block_on(async {
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let std_stream = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// let stream = weft::net::TcpStream::from_std(std_stream)?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn from_std(stream: net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::new(mio::net::TcpStream::from_std(stream))
    }

    /// Gives back the standard library's stream, still in non-blocking
    /// mode.
    ///
    /// ```
    /// # weft::block_on(async {
    /// # let listener = weft::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = weft::net::TcpStream::connect(listener.local_addr()?).await?;
    /// let std_stream = stream.into_std()?;
    /// # let _ = std_stream;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<net::TcpStream> {
        let stream = self.io.into_inner()?;
        Ok(OwnedFd::from(stream).into())
    }

    /// The local address of this connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The remote address of this connection.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets `TCP_NODELAY`: send small writes at once instead of waiting to
    /// coalesce them (Nagle's algorithm). Request-response servers want it.
    ///
    /// ```
    /// # weft::block_on(async {
    /// # let listener = weft::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = weft::net::TcpStream::connect(listener.local_addr()?).await?;
    /// stream.set_nodelay(true)?;
    /// assert!(stream.nodelay()?);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// The `TCP_NODELAY` option.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// The `IP_TTL` option.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Sets the `IP_TTL` option.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// Shuts down the reading side, the writing side or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Receives data without taking it out of the socket: the next read
    /// returns it again. Waits until some data (or end of stream) arrives.
    ///
    /// ```
    /// # weft::block_on(async {
    /// use weft::io::{AsyncReadExt, AsyncWriteExt};
    /// # let listener = weft::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let mut client = weft::net::TcpStream::connect(listener.local_addr()?).await?;
    /// let (mut server, _) = listener.accept().await?;
    /// client.write_all(b"peek").await?;
    /// let mut buf = [0; 4];
    /// let n = server.peek(&mut buf).await?;
    /// server.read_exact(&mut buf[..n]).await?; // still there
    /// assert_eq!(&buf[..n], &b"peek"[..n]);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_peek(cx, buf)).await
    }

    /// Polls for [`peek`](Self::peek).
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io
            .poll_io(cx, Direction::Read, |stream| stream.peek(buf))
    }

    /// Borrowed halves: one task (or one branch of a `select!`) can read
    /// while another writes.
    ///
    /// ```
    /// # weft::block_on(async {
    /// use weft::io::{copy, AsyncWriteExt};
    /// # let listener = weft::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let mut client = weft::net::TcpStream::connect(listener.local_addr()?).await?;
    /// let (stream, _) = listener.accept().await?;
    /// let (read, mut write) = stream.split();
    /// # client.write_all(b"echo").await?; client.close().await?;
    /// copy(read, &mut write).await?; // echo until the client closes
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn split(&self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (split::ReadHalf(self), split::WriteHalf(self))
    }

    /// Owned halves that can move to different tasks; see
    /// [`OwnedReadHalf::reunite`](split::OwnedReadHalf::reunite).
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split_owned(self)
    }
}

impl TcpStream {
    /// Reads and writes for `stream_io!`: a transfer shorter than asked
    /// drained or filled the kernel buffer, so readiness is cleared without
    /// the `WouldBlock` system call that would prove it (see
    /// `Registration::poll_transfer` for the one exception, urgent data).
    fn poll_stream(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        len: usize,
        f: impl FnMut(&mio::net::TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.io.poll_transfer(cx, direction, len, f)
    }
}

super::stream_io!(TcpStream);

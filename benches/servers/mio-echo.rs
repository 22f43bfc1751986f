//! The floor for the TCP echo row of BENCHMARKS.md: weft's `echo-server`
//! example without a runtime, as a hand-written mio event loop. It echoes
//! like the runtime servers (a 16 KiB buffer, read, then write back all that
//! was read), so what a runtime spends above this server's CPU per message
//! is the runtime's own cost.
//!
//! ```text
//! WEFT_WORKER_THREADS=2 cargo run --release -p weft-benches --example mio-echo -- 127.0.0.1:7000
//! cargo run --release -p weft-benches --example echo-load -- 127.0.0.1:7000
//! ```
//!
//! It prints `mio-echo: listening on 127.0.0.1:7000 with 2 threads`, a line
//! for each client that leaves (`127.0.0.1:51234: closed after 42 bytes`, as
//! weft's does), and serves until killed.
//!
//! Each of the N threads owns a `Poll`, a listening socket and its
//! connections, as in `mio-http`: the listeners share the port through
//! `SO_REUSEPORT` and the kernel spreads new connections across them. A read
//! that returns less than the buffer's size has drained the socket (epoll is
//! edge-triggered, and bytes arriving later raise a new edge), so a message
//! costs one `read`, one `write` and a share of an `epoll_wait`.

mod args;
mod mio_floor;

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;

/// The listener's token; connections use their slab key, which never gets
/// this large.
const LISTENER: Token = Token(usize::MAX);

fn main() -> io::Result<()> {
    mio_floor::serve("mio-echo", event_loop)
}

/// One thread's loop: wait for events, accept, echo; never returns unless
/// epoll itself fails.
fn event_loop(mut listener: TcpListener) -> io::Result<()> {
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(1024);
    let mut connections = Slab::new();
    loop {
        if let Err(err) = poll.poll(&mut events, None) {
            if err.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        for event in &events {
            if event.token() == LISTENER {
                accept_all(&listener, poll.registry(), &mut connections);
                continue;
            }
            let key = event.token().0;
            // A connection closed earlier in this batch, or a new one that
            // got its key: echoing finds nothing to do.
            let Some(connection) = connections.get_mut(key) else {
                continue;
            };
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                connection.readable = true;
            }
            match connection.echo() {
                Ok(Status::Open) => continue,
                Ok(Status::Closed) => println!(
                    "{}: closed after {} bytes",
                    connection.peer, connection.total
                ),
                Err(err) => eprintln!("{}: {err}", connection.peer),
            }
            // Closing the socket removes it from the epoll set.
            connections.remove(key);
        }
    }
}

/// Accepts until the backlog is empty, as edge-triggered readiness requires.
fn accept_all(listener: &TcpListener, registry: &Registry, connections: &mut Slab<Connection>) {
    loop {
        match listener.accept() {
            Ok((mut stream, peer)) => {
                let entry = connections.vacant_entry();
                // Both interests once, so a full send buffer never costs a
                // re-registration: a writable edge arrives when it drains.
                let registered = registry.register(
                    &mut stream,
                    Token(entry.key()),
                    Interest::READABLE | Interest::WRITABLE,
                );
                match registered {
                    Ok(()) => {
                        entry.insert(Connection::new(stream, peer));
                    }
                    Err(err) => eprintln!("mio-echo: new connection: {err}"),
                }
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => return,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            // Out of file descriptors, say. The connections left in the
            // backlog are tried again with the next one that arrives.
            Err(err) => {
                eprintln!("mio-echo: accept: {err}");
                return;
            }
        }
    }
}

/// What [`Connection::echo`] left the connection as.
enum Status {
    /// Waiting for the next readable or writable event.
    Open,
    /// The client closed its side: drop it.
    Closed,
}

/// One client: its socket and the bytes read but not yet written back.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    buf: Box<[u8]>,
    /// `buf[written..filled]` is still to be written back.
    filled: usize,
    written: usize,
    /// The socket may hold unread bytes: set by a readable event, cleared
    /// by a read that drains it.
    readable: bool,
    /// Bytes echoed so far, for the "closed" line.
    total: u64,
}

impl Connection {
    fn new(stream: TcpStream, peer: SocketAddr) -> Self {
        Connection {
            stream,
            peer,
            buf: vec![0; 16 * 1024].into_boxed_slice(),
            filled: 0,
            written: 0,
            readable: false,
            total: 0,
        }
    }

    /// Writes back what is pending, then reads and writes back until the
    /// socket is drained or its send buffer is full.
    fn echo(&mut self) -> io::Result<Status> {
        loop {
            while self.written < self.filled {
                match self.stream.write(&self.buf[self.written..self.filled]) {
                    Ok(0) => return Err(ErrorKind::WriteZero.into()),
                    Ok(n) => self.written += n,
                    // The writable edge brings us back.
                    Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(Status::Open),
                    Err(err) if err.kind() == ErrorKind::Interrupted => {}
                    Err(err) => return Err(err),
                }
            }
            if !self.readable {
                return Ok(Status::Open);
            }
            match self.stream.read(&mut self.buf) {
                Ok(0) => return Ok(Status::Closed),
                Ok(n) => {
                    self.readable = n == self.buf.len();
                    self.filled = n;
                    self.written = 0;
                    self.total += n as u64;
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => self.readable = false,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
    }
}

//! The floor for the HTTP rows of BENCHMARKS.md: weft's `hello-http` example
//! without a runtime, as a hand-written mio event loop. It answers byte for
//! byte like the runtime servers (they all share `examples/http/mod.rs`), so
//! what a runtime spends above this server's CPU and system calls per
//! request is the runtime's own cost.
//!
//! ```text
//! WEFT_WORKER_THREADS=2 cargo run --release -p weft-benches --example mio-http -- 127.0.0.1:8080
//! curl -i http://127.0.0.1:8080/
//! wrk -t1 -c100 -d5s http://127.0.0.1:8080/
//! ```
//!
//! It prints `mio-http: listening on 127.0.0.1:8080 with 2 threads` and then
//! serves until killed.
//!
//! Each of the N threads owns a `Poll`, a listening socket and its
//! connections; nothing is shared, so there are no wake-ups between
//! threads. The listeners share the port through `SO_REUSEPORT`, and the
//! kernel spreads new connections across them. epoll is edge-triggered
//! (mio's only mode): a readable event means "read until the socket is
//! drained", and a read that returns less than the buffer's free space has
//! drained it, since bytes arriving after it raise a new edge (tokio relies
//! on the same). So a request costs one `read`, one `write`, and its share of
//! an `epoll_wait`.

#[path = "../../examples/http/mod.rs"]
mod http;

mod args;
mod mio_floor;

use std::io::{self, ErrorKind, Read, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;

/// The listener's token; connections use their slab key, which never gets
/// this large.
const LISTENER: Token = Token(usize::MAX);

fn main() -> io::Result<()> {
    mio_floor::serve("mio-http", event_loop)
}

/// One thread's loop: wait for events, accept, serve; never returns unless
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
            // got its key: serving it finds nothing to do.
            let Some(connection) = connections.get_mut(key) else {
                continue;
            };
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                connection.readable = true;
            }
            match connection.serve() {
                Ok(Status::Open) => {}
                Ok(Status::Done) => {
                    // Closing the socket removes it from the epoll set.
                    connections.remove(key);
                }
                Err(err) => {
                    // Clients (wrk among them) reset connections they are
                    // done with: not worth a log line.
                    if !matches!(
                        err.kind(),
                        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
                    ) {
                        eprintln!("mio-http: connection: {err}");
                    }
                    connections.remove(key);
                }
            }
        }
    }
}

/// Accepts until the backlog is empty, as edge-triggered readiness requires.
fn accept_all(listener: &TcpListener, registry: &Registry, connections: &mut Slab<Connection>) {
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let entry = connections.vacant_entry();
                // Both interests once, so a full send buffer never costs a
                // re-registration: a writable edge arrives when it drains.
                let registered = stream.set_nodelay(true).and_then(|()| {
                    registry.register(
                        &mut stream,
                        Token(entry.key()),
                        Interest::READABLE | Interest::WRITABLE,
                    )
                });
                match registered {
                    Ok(()) => {
                        entry.insert(Connection::new(stream));
                    }
                    Err(err) => eprintln!("mio-http: new connection: {err}"),
                }
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => return,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            // Out of file descriptors, say. The connections left in the
            // backlog are tried again with the next one that arrives.
            Err(err) => {
                eprintln!("mio-http: accept: {err}");
                return;
            }
        }
    }
}

/// What [`Connection::serve`] left the connection as.
enum Status {
    /// Waiting for the next readable or writable event.
    Open,
    /// The client closed it, or a request asked to: drop it.
    Done,
}

/// One client: its socket, its read buffer, and the responses not yet
/// written.
struct Connection {
    stream: TcpStream,
    buf: Box<[u8]>,
    /// Bytes of `buf` read but not yet answered (an incomplete request).
    filled: usize,
    out: Vec<u8>,
    /// Bytes of `out` already written.
    written: usize,
    /// The socket may hold unread bytes: set by a readable event, cleared
    /// by a read that drains it.
    readable: bool,
    /// Close once `out` is written.
    closing: bool,
}

impl Connection {
    fn new(stream: TcpStream) -> Self {
        Connection {
            stream,
            buf: vec![0; http::READ_BUF].into_boxed_slice(),
            filled: 0,
            out: Vec::with_capacity(4096),
            written: 0,
            readable: false,
            closing: false,
        }
    }

    /// Writes pending responses, then reads and answers until the socket is
    /// drained or its send buffer is full: one read, then one write for
    /// everything that read completed.
    fn serve(&mut self) -> io::Result<Status> {
        loop {
            while self.written < self.out.len() {
                match self.stream.write(&self.out[self.written..]) {
                    Ok(0) => return Err(ErrorKind::WriteZero.into()),
                    Ok(n) => self.written += n,
                    // The writable edge brings us back.
                    Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(Status::Open),
                    Err(err) if err.kind() == ErrorKind::Interrupted => {}
                    Err(err) => return Err(err),
                }
            }
            self.out.clear();
            self.written = 0;
            if self.closing {
                return Ok(Status::Done);
            }
            if !self.readable {
                return Ok(Status::Open);
            }

            let space = &mut self.buf[self.filled..];
            let space_len = space.len();
            match self.stream.read(space) {
                Ok(0) => return Ok(Status::Done),
                Ok(n) => {
                    self.readable = n == space_len;
                    self.filled += n;
                    let progress = http::respond(&self.buf[..self.filled], &mut self.out);
                    self.closing = progress.close;
                    self.buf.copy_within(progress.consumed..self.filled, 0);
                    self.filled -= progress.consumed;
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => self.readable = false,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
    }
}

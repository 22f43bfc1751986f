//! A chat server on weft: each line a client sends goes to every other
//! client, prefixed with the sender's address.
//!
//! ```text
//! cargo run --release -p weft-examples --bin chat                    # 127.0.0.1:6000
//! cargo run --release -p weft-examples --bin chat -- 6001            # another port, or IP:PORT
//! ```
//!
//! Then connect from two or more terminals and type lines:
//!
//! ```text
//! nc 127.0.0.1 6000                  # or: telnet 127.0.0.1 6000
//! cargo run --release -p weft-examples --bin tcp-client -- 6000
//! ```
//!
//! Each client gets a welcome line; the others see `* 127.0.0.1:51234
//! joined (3 here now)`, then `127.0.0.1:51234: hello` for each line it
//! sends, and `* 127.0.0.1:51234 left`.
//!
//! # Slow clients
//!
//! A client that reads slowly, or not at all, must not hold up the others.
//! Each client has its own task writing to its socket, fed by a bounded
//! queue of [`QUEUE`] lines, and a sender never waits on it: when a client's
//! queue is full, lines for that client are **dropped**, and once it drains
//! its queue it is told how many it missed. Dropping lines rather than the
//! client keeps a briefly stalled client (a suspended `nc`, a slow link)
//! connected; a client that never reads costs at most
//! `QUEUE` queued lines and misses the rest.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_channel::{Receiver, Sender, TrySendError};
use weft::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use weft::net::{TcpListener, TcpStream};

/// Lines waiting for one client before further lines for it are dropped.
const QUEUE: usize = 64;

/// The longest line a client may send, newline included; a longer one
/// disconnects it, so a client cannot make the server buffer without limit.
const MAX_LINE: u64 = 1024;

#[weft::main]
async fn main() -> io::Result<()> {
    let listener = TcpListener::bind(listen_addr()).await?;
    println!("chat: listening on {}", listener.local_addr()?);
    let room = Arc::new(Room::default());
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let room = Arc::clone(&room);
                weft::spawn(async move {
                    println!("{peer} joined");
                    match serve(&room, stream, peer).await {
                        Ok(()) => println!("{peer} left"),
                        Err(err) => println!("{peer} left: {err}"),
                    }
                });
            }
            // Out of file descriptors, say: back off instead of spinning.
            Err(err) => {
                eprintln!("chat: accept: {err}");
                weft::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A line on its way to clients, shared by all its recipients.
type Line = Arc<str>;

/// The clients connected now, by address (unique while a client is
/// connected).
#[derive(Default)]
struct Room {
    clients: Mutex<HashMap<SocketAddr, Client>>,
}

/// The room's handle on one client: its queue, and how many lines it missed.
struct Client {
    queue: Sender<Line>,
    dropped: Arc<AtomicUsize>,
}

impl Room {
    /// Adds `peer`; returns how many clients are connected now.
    fn join(&self, peer: SocketAddr, client: Client) -> usize {
        let mut clients = self.clients.lock().unwrap();
        clients.insert(peer, client);
        clients.len()
    }

    /// Forgets `peer`. Its queue's only sender goes with it, so its writer
    /// task ends once it has written what is queued.
    fn leave(&self, peer: SocketAddr) {
        self.clients.lock().unwrap().remove(&peer);
    }

    /// Queues `line` for everyone but `from`, without waiting: a full queue
    /// drops the line for that client.
    fn broadcast(&self, from: SocketAddr, line: String) {
        let line: Line = line.into();
        for (peer, client) in self.clients.lock().unwrap().iter() {
            if *peer == from {
                continue;
            }
            match client.queue.try_send(Arc::clone(&line)) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    // Relaxed: a counter read by the same client's writer,
                    // which orders nothing else by it.
                    client.dropped.fetch_add(1, Ordering::Relaxed);
                }
                // Its writer failed; its reader will remove it shortly.
                Err(TrySendError::Closed(_)) => {}
            }
        }
    }
}

/// One client, from join to leave: its lines go to the room, the room's
/// lines go to it through a writer task.
async fn serve(room: &Room, stream: TcpStream, peer: SocketAddr) -> io::Result<()> {
    let (reader, writer) = stream.into_split();
    let (queue, lines) = async_channel::bounded(QUEUE);
    let dropped = Arc::new(AtomicUsize::new(0));
    let welcome = format!("* welcome, {peer}\n");
    // The queue is empty: this cannot fail.
    let _ = queue.try_send(welcome.into());
    let present = room.join(
        peer,
        Client {
            queue,
            dropped: Arc::clone(&dropped),
        },
    );
    room.broadcast(peer, format!("* {peer} joined ({present} here now)\n"));

    // Detached: it ends when the queue closes (after leave) or the socket
    // fails, whichever comes first.
    weft::spawn(async move {
        if let Err(err) = write_lines(lines, writer, dropped).await {
            eprintln!("{peer}: writing: {err}");
        }
    });

    let result = read_lines(room, peer, reader).await;
    room.leave(peer);
    room.broadcast(peer, format!("* {peer} left\n"));
    result
}

/// Sends every line `reader` yields to the room until the client closes its
/// side.
async fn read_lines(
    room: &Room,
    peer: SocketAddr,
    reader: impl AsyncRead + Unpin,
) -> io::Result<()> {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        if n as u64 == MAX_LINE && !line.ends_with(b"\n") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("sent a line longer than {MAX_LINE} bytes"),
            ));
        }
        // telnet ends lines with \r\n; anything not UTF-8 is shown as U+FFFD.
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        room.broadcast(peer, format!("{peer}: {text}\n"));
    }
}

/// Writes the lines queued for one client to its socket, and tells it when
/// some were dropped because it read too slowly.
async fn write_lines(
    lines: Receiver<Line>,
    mut writer: impl AsyncWrite + Unpin,
    dropped: Arc<AtomicUsize>,
) -> io::Result<()> {
    let mut batch = Vec::new();
    while let Ok(line) = lines.recv().await {
        // Everything queued goes out in one write: under a burst that keeps
        // up with many lines per system call instead of one.
        batch.clear();
        batch.extend_from_slice(line.as_bytes());
        while let Ok(line) = lines.try_recv() {
            batch.extend_from_slice(line.as_bytes());
        }
        writer.write_all(&batch).await?;
        let missed = dropped.swap(0, Ordering::Relaxed);
        if missed > 0 {
            let notice = format!("* you missed {missed} lines: you read too slowly\n");
            writer.write_all(notice.as_bytes()).await?;
        }
    }
    // The client has left: shut down our side of the connection, unless the
    // client already has.
    match writer.close().await {
        Err(err) if err.kind() == io::ErrorKind::NotConnected => Ok(()),
        closed => closed,
    }
}

/// The first argument: a port (on 127.0.0.1) or an `IP:PORT`; 127.0.0.1:6000
/// without one.
fn listen_addr() -> String {
    match std::env::args().nth(1) {
        Some(port) if port.parse::<u16>().is_ok() => format!("127.0.0.1:{port}"),
        Some(addr) => addr,
        None => "127.0.0.1:6000".to_owned(),
    }
}

//! An echo server and its clients in one process, checking every byte: what
//! `ci/valgrind.sh` runs under valgrind to find leaks and invalid accesses
//! in the reactor, the scheduler and the socket types under real traffic.
//!
//! ```text
//! cargo run --release -p weft-examples --bin echo-stress              # 50 connections
//! cargo run --release -p weft-examples --bin echo-stress -- 200       # another count
//! ```
//!
//! A runtime with the default settings serves an echo server on
//! 127.0.0.1:0; the clients, tasks on the same runtime, each send 80 KiB in
//! messages of 1 to 16 KiB while reading the echo on the other half of the
//! stream, then shut their writing side. Each connection's echoed bytes
//! must have the same length and checksum as what it sent, and the server
//! must have seen the same. The runtime is then shut down (the server's
//! accept loop is still pending). It prints, and exits 0:
//!
//! ```text
//! echo-stress: 4096000 bytes verified over 50 connections in 0.21s
//! ```
//!
//! and on any mismatch, a line saying which connection and exits 1.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weft::io::{AsyncReadExt, AsyncWriteExt};
use weft::net::{TcpListener, TcpStream};
use weft::Runtime;

const CONNECTIONS: usize = 50;
/// Bytes each client sends: 50 × 80 KiB is about 4 MB in all.
const BYTES_PER_CONNECTION: usize = 80 * 1024;
const MAX_MESSAGE: usize = 16 * 1024;
/// How long the whole exchange may take before it counts as a hang (under
/// valgrind it takes a few seconds).
const LIMIT: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    let connections = match std::env::args().nth(1) {
        Some(arg) => match arg.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!(
                    "echo-stress: the argument is a connection count (1 or more), not {arg:?}"
                );
                return ExitCode::FAILURE;
            }
        },
        None => CONNECTIONS,
    };
    let started = Instant::now();
    let rt = Runtime::new().expect("building the runtime");
    // What the server saw, per connection: (bytes, checksum), summed over
    // connections with wrapping arithmetic, so order does not matter.
    let server_seen = Arc::new(Mutex::new((0u64, 0u64)));
    let closed = Arc::new(AtomicU64::new(0));
    let outcome = rt.block_on(weft::time::timeout(
        LIMIT,
        run(connections, server_seen.clone(), closed.clone()),
    ));
    // The accept loop is still pending: shutting down cancels it.
    rt.shutdown_timeout(Duration::from_secs(10));

    let (sent, sent_sum) = match outcome {
        Ok(Ok(totals)) => totals,
        Ok(Err(err)) => {
            eprintln!("echo-stress: FAILED: {err}");
            return ExitCode::FAILURE;
        }
        Err(_) => {
            eprintln!("echo-stress: FAILED: the exchange did not finish within {LIMIT:?}");
            return ExitCode::FAILURE;
        }
    };
    let server = *server_seen.lock().unwrap();
    if server != (sent, sent_sum) || closed.load(Ordering::SeqCst) != connections as u64 {
        eprintln!(
            "echo-stress: FAILED: the clients sent {sent} bytes (checksum {sent_sum:#x}), the \
             server saw {} bytes (checksum {:#x}) on {} of {connections} connections",
            server.0,
            server.1,
            closed.load(Ordering::SeqCst)
        );
        return ExitCode::FAILURE;
    }
    println!(
        "echo-stress: {sent} bytes verified over {connections} connections in {:.2?}",
        started.elapsed()
    );
    ExitCode::SUCCESS
}

/// Starts the server, runs every client and returns the bytes and summed
/// checksums they sent, once each one got back exactly what it sent and
/// the server has seen every connection close.
async fn run(
    connections: usize,
    server_seen: Arc<Mutex<(u64, u64)>>,
    closed: Arc<AtomicU64>,
) -> io::Result<(u64, u64)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    weft::spawn(serve(listener, server_seen, closed));
    let clients: Vec<_> = (0..connections)
        .map(|id| weft::spawn(client(addr, id as u64)))
        .collect();
    let (mut bytes, mut sum) = (0u64, 0u64);
    for (id, client) in clients.into_iter().enumerate() {
        let (sent, checksum) = client.await.expect("a client task panicked")?;
        if sent != BYTES_PER_CONNECTION as u64 {
            return Err(io::Error::other(format!(
                "connection {id}: sent {sent} bytes, not {BYTES_PER_CONNECTION}"
            )));
        }
        bytes += sent;
        sum = sum.wrapping_add(checksum);
    }
    // Each server task records its connection before it closes the
    // socket, and each client returned only after seeing that close: the
    // server has counted every connection by now.
    Ok((bytes, sum))
}

/// The echo server: one task per connection, each echoing until the client
/// shuts its side, then adding what it saw to `seen` and counting itself in
/// `closed`.
async fn serve(listener: TcpListener, seen: Arc<Mutex<(u64, u64)>>, closed: Arc<AtomicU64>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("echo-stress: accept: {err}");
                return;
            }
        };
        let (seen, closed) = (seen.clone(), closed.clone());
        weft::spawn(async move {
            let mut stream = stream;
            match echo(&mut stream).await {
                Ok((bytes, checksum)) => {
                    let mut seen = seen.lock().unwrap();
                    seen.0 += bytes;
                    seen.1 = seen.1.wrapping_add(checksum);
                }
                Err(err) => eprintln!("echo-stress: server side of {peer}: {err}"),
            }
            closed.fetch_add(1, Ordering::SeqCst);
            // Only now does the client see the close.
            drop(stream);
        });
    }
}

/// Writes back everything `stream` reads until the client shuts its side;
/// returns the byte count and the checksum of the stream.
async fn echo(stream: &mut TcpStream) -> io::Result<(u64, u64)> {
    let mut buf = vec![0; MAX_MESSAGE];
    let mut checksum = Checksum::new();
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok((checksum.bytes, checksum.value()));
        }
        checksum.add(&buf[..n]);
        stream.write_all(&buf[..n]).await?;
    }
}

/// One client: writes `BYTES_PER_CONNECTION` bytes of a pattern of its own
/// while reading the echo on the other half, then checks the echo's length
/// and checksum against what it sent. Returns (bytes, checksum).
async fn client(addr: SocketAddr, id: u64) -> io::Result<(u64, u64)> {
    let stream = TcpStream::connect(addr).await?;
    // Named in full: `AsyncReadExt::split` would take the stream by value.
    let (mut reader, mut writer) = TcpStream::split(&stream);
    let send = async {
        let mut sent = Checksum::new();
        let mut rng = id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut message = Vec::with_capacity(MAX_MESSAGE);
        let mut left = BYTES_PER_CONNECTION;
        while left > 0 {
            let len = (next(&mut rng) as usize % MAX_MESSAGE + 1).min(left);
            message.clear();
            message.extend((0..len).map(|_| next(&mut rng) as u8));
            writer.write_all(&message).await?;
            sent.add(&message);
            left -= len;
        }
        stream.shutdown(Shutdown::Write)?;
        Ok::<_, io::Error>(sent)
    };
    let receive = async {
        let mut received = Checksum::new();
        let mut buf = vec![0; MAX_MESSAGE];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, io::Error>(received);
            }
            received.add(&buf[..n]);
        }
    };
    let (sent, received) = weft::join!(send, receive);
    let (sent, received) = (sent?, received?);
    if (sent.bytes, sent.value()) != (received.bytes, received.value()) {
        return Err(io::Error::other(format!(
            "connection {id}: sent {} bytes (checksum {:#x}), the echo was {} bytes \
             (checksum {:#x})",
            sent.bytes,
            sent.value(),
            received.bytes,
            received.value()
        )));
    }
    Ok((sent.bytes, sent.value()))
}

/// xorshift64: the clients' message lengths and contents.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// FNV-1a over a byte stream, with its length: the same bytes in the same
/// order, in whatever chunks they arrive, give the same value.
struct Checksum {
    hash: u64,
    bytes: u64,
}

impl Checksum {
    fn new() -> Checksum {
        Checksum {
            hash: 0xcbf2_9ce4_8422_2325,
            bytes: 0,
        }
    }

    fn add(&mut self, data: &[u8]) {
        for &byte in data {
            self.hash = (self.hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.bytes += data.len() as u64;
    }

    fn value(&self) -> u64 {
        self.hash
    }
}

//! The load generator for the TCP echo row of BENCHMARKS.md: C connections
//! to an echo server, each sending one M-byte message, reading it back whole
//! and checking it, then sending the next. One thread and one mio event loop
//! drive them all, as wrk does, so the client takes as little of a 2-core
//! machine's CPU from the server as it can.
//!
//! ```text
//! WEFT_WORKER_THREADS=2 cargo run --release -p weft-examples --bin echo-server -- 7000 &
//! cargo run --release -p weft-benches --example echo-load -- --connections 64 --size 64 \
//!     --duration 5 --warmup 1 127.0.0.1:7000
//! ```
//!
//! It prints one JSON line on stdout:
//! `{"messages": 712000, "seconds": 5.000, "msgs_per_s": 142400.0,
//! "bytes_verified": 58000000, "p50_us": 420, "p99_us": 1100, "p999_us":
//! 2900, "max_us": 7000, "server_cpu_us": null}`. `messages` and the
//! latencies count the messages that came back within the measured window
//! (after the warm-up); `bytes_verified` counts every byte checked, warm-up
//! and the final drain included. With `--server-pid PID` it reads PID's CPU
//! time (utime + stime, /proc/PID/stat) when the window opens and when it
//! closes and reports the difference as `server_cpu_us`, so the warm-up is
//! not counted.
//!
//! Every message has its own bytes (a pattern from the connection's index
//! and the message's number), so a byte lost, duplicated or reordered by the
//! server fails the check. It exits with status 1 and says why when a check
//! fails, a connection fails, or a message gets no answer for 5 s; once the
//! window closes it lets the messages in flight come back and closes the
//! connections.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// A message unanswered this long means the server stopped answering.
const STALL: Duration = Duration::from_secs(5);

const USAGE: &str = "usage: echo-load [--connections C (64)] [--size M bytes (64)] \
                     [--duration SECS (5)] [--warmup SECS (1)] [--server-pid PID] [PORT | IP:PORT]";

fn main() -> ExitCode {
    let options = match Options::parse() {
        Ok(options) => options,
        Err(err) => {
            eprintln!("echo-load: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("echo-load: {err}");
            ExitCode::FAILURE
        }
    }
}

struct Options {
    connections: usize,
    size: usize,
    duration: Duration,
    warmup: Duration,
    server_pid: Option<u32>,
    addr: SocketAddr,
}

impl Options {
    fn parse() -> Result<Options, String> {
        let mut options = Options {
            connections: 64,
            size: 64,
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            server_pid: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 7000)),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--connections" => options.connections = positive(&arg, &value()?)?,
                "--size" => options.size = positive(&arg, &value()?)?,
                "--duration" => options.duration = seconds(&arg, &value()?)?,
                "--warmup" => options.warmup = seconds(&arg, &value()?)?,
                "--server-pid" => options.server_pid = Some(positive(&arg, &value()?)?),
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                _ if arg.starts_with('-') => return Err(format!("unknown option {arg}")),
                port if port.parse::<u16>().is_ok() => {
                    options.addr = SocketAddr::from(([127, 0, 0, 1], port.parse().unwrap()));
                }
                addr => {
                    options.addr = addr
                        .to_socket_addrs()
                        .ok()
                        .and_then(|mut addrs| addrs.next())
                        .ok_or_else(|| format!("{addr}: not an address; pass PORT or IP:PORT"))?;
                }
            }
        }
        if options.duration.is_zero() {
            return Err("--duration must be more than 0 s".to_owned());
        }
        Ok(options)
    }
}

fn positive<T: std::str::FromStr + Default + PartialEq>(
    name: &str,
    value: &str,
) -> Result<T, String> {
    match value.parse() {
        Ok(n) if n != T::default() => Ok(n),
        _ => Err(format!("{name} {value}: expected a positive integer")),
    }
}

fn seconds(name: &str, value: &str) -> Result<Duration, String> {
    value
        .parse()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("{name} {value}: expected seconds, e.g. 5 or 0.5"))
}

/// What the measured window saw.
struct Window {
    opens: Instant,
    closes: Instant,
    messages: u64,
    latency_us: Histogram<u64>,
    bytes_verified: u64,
}

impl Window {
    /// Counts a message checked at `now` and sent at `sent_at`.
    fn record(&mut self, sent_at: Instant, now: Instant, size: usize) {
        self.bytes_verified += size as u64;
        if self.opens <= now && now < self.closes {
            self.messages += 1;
            let us = now.duration_since(sent_at).as_micros();
            self.latency_us
                .saturating_record(u64::try_from(us).unwrap_or(u64::MAX));
        }
    }
}

fn run(options: &Options) -> Result<String, String> {
    let mut poll = Poll::new().map_err(|err| format!("epoll: {err}"))?;
    let mut connections = (0..options.connections)
        .map(|index| Connection::open(index, options, &poll))
        .collect::<Result<Vec<_>, _>>()?;

    let start = Instant::now();
    let mut window = Window {
        opens: start + options.warmup,
        closes: start + options.warmup + options.duration,
        messages: 0,
        latency_us: Histogram::new_with_bounds(1, 60_000_000, 3).expect("the bounds are valid"),
        bytes_verified: 0,
    };
    let mut server_cpu = (None, None);
    let mut closing = false;
    let mut in_flight = connections.len();
    let mut stall_checked = start;
    for connection in &mut connections {
        connection.send_next(start);
        connection.drive(&mut window, closing)?;
    }

    let mut events = Events::with_capacity(1024);
    while in_flight > 0 {
        let now = Instant::now();
        if server_cpu.0.is_none() && now >= window.opens {
            server_cpu.0 = options.server_pid.map(cpu_ticks).transpose()?;
        }
        if !closing && now >= window.closes {
            server_cpu.1 = options.server_pid.map(cpu_ticks).transpose()?;
            closing = true;
        }
        if now.duration_since(stall_checked) >= Duration::from_millis(500) {
            stall_checked = now;
            for connection in connections.iter().filter(|c| !c.finished) {
                connection.check_answering(now)?;
            }
        }
        // Wake up for the window's edges even when no event comes.
        let next_edge = [window.opens, window.closes]
            .into_iter()
            .filter(|&edge| edge > now)
            .min()
            .map_or(Duration::from_millis(100), |edge| edge - now);
        match poll.poll(&mut events, Some(next_edge.min(Duration::from_millis(100)))) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(format!("epoll_wait: {err}")),
        }
        for event in &events {
            let connection = &mut connections[event.token().0];
            if connection.finished {
                continue;
            }
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                connection.readable = true;
            }
            connection.drive(&mut window, closing)?;
            if connection.finished {
                in_flight -= 1;
            }
        }
    }
    // Dropping the connections closes them; the server sees end of file.
    drop(connections);

    if window.messages == 0 {
        return Err("no message came back within the measured window".to_owned());
    }
    let seconds = options.duration.as_secs_f64();
    let server_cpu_us = match server_cpu {
        (Some(before), Some(after)) => format!(
            "{:.0}",
            (after - before) as f64 * 1e6 / clock_ticks_per_second()
        ),
        _ => "null".to_owned(),
    };
    let latency = &window.latency_us;
    Ok(format!(
        "{{\"messages\": {}, \"seconds\": {seconds:.3}, \"msgs_per_s\": {:.1}, \"bytes_verified\": {}, \
         \"p50_us\": {}, \"p99_us\": {}, \"p999_us\": {}, \"max_us\": {}, \"server_cpu_us\": {server_cpu_us}}}",
        window.messages,
        window.messages as f64 / seconds,
        window.bytes_verified,
        latency.value_at_quantile(0.5),
        latency.value_at_quantile(0.99),
        latency.value_at_quantile(0.999),
        latency.max(),
    ))
}

/// One client connection and its message in flight.
struct Connection {
    index: usize,
    stream: TcpStream,
    /// The message in flight, and `sent[..written]` is on its way.
    sent: Box<[u8]>,
    written: usize,
    /// What came back of it so far: `received[..read]`.
    received: Box<[u8]>,
    read: usize,
    /// The message's number on this connection; it seeds its bytes.
    number: u64,
    sent_at: Instant,
    /// The socket may hold unread bytes: set by a readable event, cleared
    /// by a read, since a read that returns less than was asked for drained
    /// the socket and the server never owes more than was written.
    readable: bool,
    /// The window closed and its last message came back.
    finished: bool,
}

impl Connection {
    fn open(index: usize, options: &Options, poll: &Poll) -> Result<Connection, String> {
        let fail = |what: &str, err: io::Error| {
            format!("connection {index} to {}: {what}: {err}", options.addr)
        };
        let stream = std::net::TcpStream::connect_timeout(&options.addr, STALL)
            .map_err(|err| fail("connect", err))?;
        stream
            .set_nodelay(true)
            .map_err(|err| fail("TCP_NODELAY", err))?;
        stream
            .set_nonblocking(true)
            .map_err(|err| fail("O_NONBLOCK", err))?;
        let mut stream = TcpStream::from_std(stream);
        poll.registry()
            .register(
                &mut stream,
                Token(index),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|err| fail("epoll_ctl", err))?;
        Ok(Connection {
            index,
            stream,
            sent: vec![0; options.size].into_boxed_slice(),
            written: 0,
            received: vec![0; options.size].into_boxed_slice(),
            read: 0,
            number: 0,
            sent_at: Instant::now(),
            readable: false,
            finished: false,
        })
    }

    /// Starts the next message: new bytes, nothing written or read yet.
    fn send_next(&mut self, now: Instant) {
        // A period of 251 (a prime) shifts with the position, the message's
        // number and the connection's index, so no two neighbouring bytes,
        // messages or connections look alike.
        let seed = self
            .number
            .wrapping_mul(131)
            .wrapping_add(self.index as u64 * 17);
        for (i, byte) in self.sent.iter_mut().enumerate() {
            *byte = (seed.wrapping_add(i as u64) % 251) as u8;
        }
        self.written = 0;
        self.read = 0;
        self.sent_at = now;
    }

    /// Writes and reads until the socket would block; checks and counts
    /// each message that came back whole and sends the next, unless
    /// `closing`, which finishes the connection instead.
    fn drive(&mut self, window: &mut Window, closing: bool) -> Result<(), String> {
        let size = self.sent.len();
        loop {
            let mut progress = false;
            if self.written < size {
                match self.stream.write(&self.sent[self.written..]) {
                    Ok(0) => return Err(self.failed("write", ErrorKind::WriteZero.into())),
                    Ok(n) => {
                        self.written += n;
                        progress = true;
                    }
                    // The writable edge brings us back.
                    Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                    Err(err) if err.kind() == ErrorKind::Interrupted => progress = true,
                    Err(err) => return Err(self.failed("write", err)),
                }
            }
            // Never ask for more than was written: an echo server owes no
            // more, and extra bytes show up in the next message's check.
            if self.readable && self.read < self.written {
                match self.stream.read(&mut self.received[self.read..self.written]) {
                    Ok(0) => {
                        return Err(format!(
                            "connection {}: the server closed it with {} of {size} bytes of message {} \
                             not echoed",
                            self.index,
                            size - self.read,
                            self.number
                        ))
                    }
                    Ok(n) => {
                        self.read += n;
                        self.readable = false;
                        progress = true;
                    }
                    Err(err) if err.kind() == ErrorKind::WouldBlock => self.readable = false,
                    Err(err) if err.kind() == ErrorKind::Interrupted => progress = true,
                    Err(err) => return Err(self.failed("read", err)),
                }
            }
            if self.read == size {
                let now = Instant::now();
                self.check()?;
                window.record(self.sent_at, now, size);
                self.number += 1;
                if closing {
                    self.finished = true;
                    return Ok(());
                }
                self.send_next(now);
                progress = true;
            }
            if !progress {
                return Ok(());
            }
        }
    }

    /// The message came back as it was sent.
    fn check(&self) -> Result<(), String> {
        match self
            .sent
            .iter()
            .zip(&self.received[..])
            .position(|(a, b)| a != b)
        {
            None => Ok(()),
            Some(at) => Err(format!(
                "connection {}, message {}: byte {at} came back as {:#04x}, sent {:#04x}: \
                 the server lost, duplicated or reordered bytes",
                self.index, self.number, self.received[at], self.sent[at]
            )),
        }
    }

    /// Fails when the message in flight has waited longer than [`STALL`].
    fn check_answering(&self, now: Instant) -> Result<(), String> {
        if now.duration_since(self.sent_at) < STALL {
            return Ok(());
        }
        Err(format!(
            "connection {}: no answer to message {} for {} s ({} of {} bytes written, {} echoed): \
             the server stopped answering",
            self.index,
            self.number,
            STALL.as_secs(),
            self.written,
            self.sent.len(),
            self.read
        ))
    }

    fn failed(&self, what: &str, err: io::Error) -> String {
        format!("connection {}: {what}: {err}", self.index)
    }
}

/// utime + stime of process `pid`, in clock ticks, from /proc/PID/stat.
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|err| format!("{path}: {err}"))?;
    // The command name (field 2) may hold spaces; count fields after its ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    // Fields 14 and 15 of proc(5), counting the state (field 3) as 0.
    match (
        fields.get(11).map(|f| f.parse::<u64>()),
        fields.get(12).map(|f| f.parse::<u64>()),
    ) {
        (Some(Ok(utime)), Some(Ok(stime))) => Ok(utime + stime),
        _ => Err(format!("{path}: no utime and stime in {stat:?}")),
    }
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value; any name is allowed.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

//! A hello-world HTTP/1.1 server on weft, with keep-alive and pipelining:
//! the server behind the HTTP rows of BENCHMARKS.md.
//!
//! ```text
//! cargo run --release -p weft-examples --bin hello-http              # 127.0.0.1:8080
//! cargo run --release -p weft-examples --bin hello-http -- 8081      # another port, or IP:PORT
//! WEFT_WORKER_THREADS=2 cargo run --release -p weft-examples --bin hello-http
//! ```
//!
//! Then try it (the second command sends two pipelined requests, the
//! second asking to close):
//!
//! ```text
//! curl -i http://127.0.0.1:8080/
//! printf 'GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n' | nc 127.0.0.1 8080
//! wrk -t1 -c100 -d5s http://127.0.0.1:8080/
//! ci/http-bench.sh                  # against its tokio, smol and bare-mio twins
//! ```
//!
//! It prints `hello-http: listening on 127.0.0.1:8080 with 2 worker threads`
//! and then serves until killed. Every request gets `Hello, world!`; the
//! rules (bodies refused, header size limit, when the connection closes) are
//! in `http/mod.rs`, which the twins in `benches/servers/` share.
//!
//! Each connection is one task that reads into a buffer it keeps, answers
//! every complete request in what it read, and writes all the answers with
//! one `write_all`: one `read` and one `write` system call per request, or
//! fewer when requests come pipelined.

mod http;

use std::io;
use std::time::Duration;

use weft::io::{AsyncReadExt, AsyncWriteExt};
use weft::net::{TcpListener, TcpStream};

#[weft::main]
async fn main() -> io::Result<()> {
    let listener = TcpListener::bind(listen_addr()).await?;
    println!(
        "hello-http: listening on {} with {} worker threads",
        listener.local_addr()?,
        weft::Handle::current().metrics().num_workers()
    );
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                weft::spawn(async move {
                    match serve(stream).await {
                        // Clients (wrk among them) reset connections they are done with.
                        Err(err) if !is_reset(&err) => eprintln!("hello-http: connection: {err}"),
                        _ => {}
                    }
                });
            }
            // Out of file descriptors, say: back off instead of spinning.
            Err(err) => {
                eprintln!("hello-http: accept: {err}");
                weft::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Answers requests on one connection until the client closes it or a
/// request asks to close: one read, then one write for everything that read
/// completed.
async fn serve(mut stream: TcpStream) -> io::Result<()> {
    // Responses go out as soon as they are written, not after Nagle's delay.
    stream.set_nodelay(true)?;
    let mut buf = vec![0; http::READ_BUF];
    let mut filled = 0;
    let mut out = Vec::with_capacity(4096);
    loop {
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let progress = http::respond(&buf[..filled], &mut out);
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        if progress.close {
            return Ok(());
        }
        // Keep the start of an incomplete request for the next read.
        buf.copy_within(progress.consumed..filled, 0);
        filled -= progress.consumed;
    }
}

/// The first argument: a port (on 127.0.0.1) or an `IP:PORT`; 127.0.0.1:8080
/// without one.
fn listen_addr() -> String {
    match std::env::args().nth(1) {
        Some(port) if port.parse::<u16>().is_ok() => format!("127.0.0.1:{port}"),
        Some(addr) => addr,
        None => "127.0.0.1:8080".to_owned(),
    }
}

/// The client went away without closing cleanly: not worth a log line.
fn is_reset(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

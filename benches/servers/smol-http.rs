//! weft's `hello-http` example on smol: an async-executor `Executor` run by
//! N threads, sockets from async-io (`Async<TcpStream>`). The same
//! per-connection loop and the same HTTP core (`examples/http/mod.rs`), so
//! `ci/http-bench.sh` compares only the runtimes.
//!
//! ```text
//! WEFT_WORKER_THREADS=2 cargo run --release -p weft-benches --example smol-http -- 127.0.0.1:8080
//! curl -i http://127.0.0.1:8080/
//! wrk -t1 -c100 -d5s http://127.0.0.1:8080/
//! ```
//!
//! It prints `smol-http: listening on 127.0.0.1:8080 with 2 executor threads`
//! and then serves until killed.

#[path = "../../examples/http/mod.rs"]
mod http;

mod args;
mod smol_executor;

use std::io;
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::{Async, Timer};

fn main() -> io::Result<()> {
    let workers = args::worker_threads();
    let addr = args::addr()
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::other("the address resolved to nothing; pass IP:PORT"))?;
    let executor = smol_executor::start(workers)?;
    // The accept loop runs on the main thread, not on an executor thread.
    smol::block_on(async {
        let listener = Async::<TcpListener>::bind(addr)?;
        println!(
            "smol-http: listening on {} with {workers} executor threads",
            listener.get_ref().local_addr()?
        );
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    executor
                        .spawn(async move {
                            match serve(stream).await {
                                // Clients (wrk among them) reset connections they are done with.
                                Err(err) if !is_reset(&err) => {
                                    eprintln!("smol-http: connection: {err}")
                                }
                                _ => {}
                            }
                        })
                        .detach();
                }
                // Out of file descriptors, say: back off instead of spinning.
                Err(err) => {
                    eprintln!("smol-http: accept: {err}");
                    Timer::after(Duration::from_millis(100)).await;
                }
            }
        }
    })
}

/// Answers requests on one connection until the client closes it or a
/// request asks to close: one read, then one write for everything that read
/// completed.
async fn serve(mut stream: Async<TcpStream>) -> io::Result<()> {
    stream.get_ref().set_nodelay(true)?;
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
        buf.copy_within(progress.consumed..filled, 0);
        filled -= progress.consumed;
    }
}

/// The client went away without closing cleanly: not worth a log line.
fn is_reset(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

//! weft's `echo-server` example on smol: an async-executor `Executor` run by
//! N threads, sockets from async-io (`Async<TcpStream>`). The same
//! per-connection loop (a 16 KiB buffer, read, then `write_all` of what was
//! read), so `ci/echo-bench.sh` compares only the runtimes.
//!
//! ```text
//! WEFT_WORKER_THREADS=2 cargo run --release -p weft-benches --example smol-echo -- 127.0.0.1:7000
//! cargo run --release -p weft-benches --example echo-load -- 127.0.0.1:7000
//! ```
//!
//! It prints `smol-echo: listening on 127.0.0.1:7000 with 2 executor
//! threads`, a line for each client that leaves (`127.0.0.1:51234: closed
//! after 42 bytes`, as weft's does), and serves until killed.

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
            "smol-echo: listening on {} with {workers} executor threads",
            listener.get_ref().local_addr()?
        );
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    executor
                        .spawn(async move {
                            match echo(stream).await {
                                Ok(bytes) => println!("{peer}: closed after {bytes} bytes"),
                                Err(err) => eprintln!("{peer}: {err}"),
                            }
                        })
                        .detach();
                }
                // Out of file descriptors, say: back off instead of spinning.
                Err(err) => {
                    eprintln!("smol-echo: accept: {err}");
                    Timer::after(Duration::from_millis(100)).await;
                }
            }
        }
    })
}

/// Writes back everything `stream` reads until the client closes its side;
/// returns how many bytes that was.
async fn echo(mut stream: Async<TcpStream>) -> io::Result<u64> {
    let mut buf = vec![0; 16 * 1024];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

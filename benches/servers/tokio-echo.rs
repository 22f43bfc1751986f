//! weft's `echo-server` example on tokio's multi-thread runtime: the same
//! per-connection loop (a 16 KiB buffer, read, then `write_all` of what was
//! read), so `ci/echo-bench.sh` compares only the runtimes.
//!
//! ```text
//! WEFT_WORKER_THREADS=2 cargo run --release -p weft-benches --example tokio-echo -- 127.0.0.1:7000
//! cargo run --release -p weft-benches --example echo-load -- 127.0.0.1:7000
//! ```
//!
//! It prints `tokio-echo: listening on 127.0.0.1:7000 with 2 worker threads`,
//! a line for each client that leaves (`127.0.0.1:51234: closed after 42
//! bytes`, as weft's does), and serves until killed.

mod args;

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn main() -> io::Result<()> {
    let workers = args::worker_threads();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    // As in #[tokio::main], the accept loop runs on the main thread and the
    // connections on the workers.
    runtime.block_on(async {
        let listener = TcpListener::bind(args::addr()).await?;
        println!(
            "tokio-echo: listening on {} with {workers} worker threads",
            listener.local_addr()?
        );
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    tokio::spawn(async move {
                        match echo(stream).await {
                            Ok(bytes) => println!("{peer}: closed after {bytes} bytes"),
                            Err(err) => eprintln!("{peer}: {err}"),
                        }
                    });
                }
                // Out of file descriptors, say: back off instead of spinning.
                Err(err) => {
                    eprintln!("tokio-echo: accept: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    })
}

/// Writes back everything `stream` reads until the client closes its side;
/// returns how many bytes that was.
async fn echo(mut stream: TcpStream) -> io::Result<u64> {
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

//! weft's `hello-http` example on tokio's multi-thread runtime: the same
//! per-connection loop and the same HTTP core (`examples/http/mod.rs`), so
//! `ci/http-bench.sh` compares only the runtimes.
//!
//! ```text
//! WEFT_WORKER_THREADS=2 cargo run --release -p weft-benches --example tokio-http -- 127.0.0.1:8080
//! curl -i http://127.0.0.1:8080/
//! wrk -t1 -c100 -d5s http://127.0.0.1:8080/
//! ```
//!
//! It prints `tokio-http: listening on 127.0.0.1:8080 with 2 worker threads`
//! and then serves until killed.

#[path = "../../examples/http/mod.rs"]
mod http;

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
            "tokio-http: listening on {} with {workers} worker threads",
            listener.local_addr()?
        );
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(async move {
                        match serve(stream).await {
                            // Clients (wrk among them) reset connections they are done with.
                            Err(err) if !is_reset(&err) => {
                                eprintln!("tokio-http: connection: {err}")
                            }
                            _ => {}
                        }
                    });
                }
                // Out of file descriptors, say: back off instead of spinning.
                Err(err) => {
                    eprintln!("tokio-http: accept: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    })
}

/// Answers requests on one connection until the client closes it or a
/// request asks to close: one read, then one write for everything that read
/// completed.
async fn serve(mut stream: TcpStream) -> io::Result<()> {
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

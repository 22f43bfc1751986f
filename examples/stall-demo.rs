//! The stall detector and task dumps at work: a small line-based server in
//! which one request handler makes the classic mistake of calling
//! `std::thread::sleep` (any blocking call) inside async code.
//!
//! ```text
//! cargo run --release -p weft-examples --bin stall-demo
//! ```
//!
//! It starts the server on a free loopback port, sends it three requests
//! (`fast`, `slow`, `fast`) from a client task, and exits. While the `slow`
//! handler blocks its worker for 300 ms, the stall detector (threshold
//! 100 ms here, the default) reports the handler: its task id, its name,
//! the line that spawned it, how long it has run and on which worker. The
//! hook below also prints a dump of every live task at that moment, and the
//! program ends with a few runtime metrics. See README.md, "Debugging a
//! slow server", for the output and how to read it.

use std::io;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use weft::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use weft::net::{TcpListener, TcpStream};
use weft::runtime::StallInfo;

fn main() -> io::Result<()> {
    // The hook runs on the watchdog thread; it reaches the runtime through
    // this handle to take a dump.
    let handle = Arc::new(OnceLock::<weft::Handle>::new());
    let hook_handle = handle.clone();
    let rt = weft::Runtime::builder()
        .worker_threads(2)
        .stall_threshold(Some(Duration::from_millis(100)))
        .on_stall(move |info: &StallInfo| {
            eprintln!("stall-demo: STALL: {info}");
            if let Some(handle) = hook_handle.get() {
                eprintln!("stall-demo: live tasks at that moment:\n{}", handle.dump());
            }
        })
        .build()?;
    let _ = handle.set(rt.handle().clone());

    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        println!("stall-demo: listening on {addr}");
        let server = weft::task::Builder::new()
            .name("accept loop")
            .spawn(serve(listener));

        let client = weft::task::Builder::new().name("client").spawn(async move {
            let mut stream = BufReader::new(TcpStream::connect(addr).await?);
            for request in ["fast", "slow", "fast"] {
                stream
                    .get_mut()
                    .write_all(format!("{request}\n").as_bytes())
                    .await?;
                let mut reply = String::new();
                stream.read_line(&mut reply).await?;
                println!("stall-demo: {request} -> {}", reply.trim_end());
            }
            io::Result::Ok(())
        });
        client.await.expect("the client task panicked")?;
        server.abort();
        let _ = server.await;
        io::Result::Ok(())
    })?;

    let metrics = rt.metrics();
    println!(
        "stall-demo: {} tasks spawned; worker 0: {} polls, busy {:?}; worker 1: {} polls, busy {:?}",
        metrics.spawned_tasks_count(),
        metrics.worker_poll_count(0),
        metrics.worker_total_busy_duration(0),
        metrics.worker_poll_count(1),
        metrics.worker_total_busy_duration(1),
    );
    Ok(())
}

async fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        weft::task::Builder::new()
            .name(format!("conn {peer}"))
            .spawn(async move {
                if let Err(error) = handle_connection(stream).await {
                    eprintln!("stall-demo: {peer}: {error}");
                }
            });
    }
}

/// Answers each request line: `fast` at once; `slow` after blocking its
/// worker thread for 300 ms, the bug the detector catches.
async fn handle_connection(stream: TcpStream) -> io::Result<()> {
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    while stream.read_line(&mut line).await? > 0 {
        let reply = match line.trim_end() {
            "slow" => {
                // BUG: blocks the worker. Use `weft::time::sleep(..).await`,
                // or `weft::spawn_blocking` for blocking calls.
                std::thread::sleep(Duration::from_millis(300));
                "done, slowly\n"
            }
            _ => "done\n",
        };
        stream.get_mut().write_all(reply.as_bytes()).await?;
        line.clear();
    }
    Ok(())
}

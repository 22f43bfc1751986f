//! A line-based TCP client on weft: sends each line typed on stdin to a
//! server and prints whatever the server sends back.
//!
//! ```text
//! cargo run --release -p weft-examples --bin echo-server             # in one terminal
//! cargo run --release -p weft-examples --bin tcp-client              # in another; type lines
//! cargo run --release -p weft-examples --bin tcp-client -- 6000     # a chat client (a port or IP:PORT)
//! printf 'one\ntwo\n' | cargo run --release -p weft-examples --bin tcp-client
//! ```
//!
//! The last prints `one` and `two` (echoed) and exits: at the end of stdin
//! the client shuts down its sending side, waits for the server to finish
//! replying and close, and prints `connection closed after 8 bytes` on
//! stderr. When the server closes first, the client exits at once.

use std::io::{self, BufRead, Write};
use std::thread;

use async_channel::Receiver;
use weft::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use weft::net::TcpStream;

#[weft::main]
async fn main() -> io::Result<()> {
    let addr = server_addr();
    let stream = match TcpStream::connect(addr.as_str()).await {
        Ok(stream) => stream,
        Err(err) => {
            eprintln!("tcp-client: connecting to {addr}: {err} (is the server running?)");
            std::process::exit(1);
        }
    };
    stream.set_nodelay(true)?;
    eprintln!("connected to {}", stream.peer_addr()?);
    let (reader, mut writer) = stream.into_split();

    let mut printer = weft::spawn(print_replies(reader));
    let stdin = stdin_lines();
    loop {
        weft::select! {
            line = stdin.recv() => match line {
                Ok(line) => writer.write_all(line.as_bytes()).await?,
                // End of stdin: tell the server we are done sending.
                Err(_) => break,
            },
            printed = &mut printer => return report(printed.expect("the printer task panicked")),
        }
    }
    writer.close().await?;
    report(printer.await.expect("the printer task panicked"))
}

/// Copies what the server sends to stdout until it closes the connection;
/// returns how many bytes that was.
async fn print_replies(mut reader: impl AsyncRead + Unpin) -> io::Result<u64> {
    let mut buf = vec![0; 16 * 1024];
    let mut total = 0;
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        // Writing to stdout blocks this worker only as long as the terminal
        // or pipe takes; fine for a client with one connection.
        let mut stdout = io::stdout().lock();
        stdout.write_all(&buf[..n])?;
        stdout.flush()?;
        total += n as u64;
    }
}

fn report(printed: io::Result<u64>) -> io::Result<()> {
    let bytes = printed?;
    eprintln!("connection closed after {bytes} bytes");
    Ok(())
}

/// Lines of stdin, newline included, read on a thread of their own: a read
/// from stdin blocks, and must not block a worker. The thread is not joined:
/// when the connection closes first, the process exits while it still waits
/// for input.
fn stdin_lines() -> Receiver<String> {
    let (lines, receiver) = async_channel::bounded(1);
    thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(mut line) = line else { break };
            line.push('\n');
            if lines.send_blocking(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// The first argument: a port (on 127.0.0.1) or an `IP:PORT`; 127.0.0.1:7000,
/// where `echo-server` listens, without one.
fn server_addr() -> String {
    match std::env::args().nth(1) {
        Some(port) if port.parse::<u16>().is_ok() => format!("127.0.0.1:{port}"),
        Some(addr) => addr,
        None => "127.0.0.1:7000".to_owned(),
    }
}

//! A TCP echo server on weft: every byte a client sends comes back to it.
//!
//! ```text
//! cargo run --release -p weft-examples --bin echo-server             # 127.0.0.1:7000
//! cargo run --release -p weft-examples --bin echo-server -- 7001     # another port, or IP:PORT
//! ```
//!
//! Then, in another terminal, type lines and see each one come back:
//!
//! ```text
//! nc 127.0.0.1 7000
//! cargo run --release -p weft-examples --bin tcp-client              # the same, with weft
//! ```
//!
//! The server prints `echo-server: listening on 127.0.0.1:7000`, and a line
//! for each client that leaves: `127.0.0.1:51234: closed after 42 bytes`.

use std::io;
use std::time::Duration;

use weft::io::{AsyncReadExt, AsyncWriteExt};
use weft::net::{TcpListener, TcpStream};

#[weft::main]
async fn main() -> io::Result<()> {
    let listener = TcpListener::bind(listen_addr()).await?;
    println!("echo-server: listening on {}", listener.local_addr()?);
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                // One task per client: a slow client holds up only itself.
                weft::spawn(async move {
                    match echo(stream).await {
                        Ok(bytes) => println!("{peer}: closed after {bytes} bytes"),
                        Err(err) => eprintln!("{peer}: {err}"),
                    }
                });
            }
            // Out of file descriptors, say: back off instead of spinning.
            Err(err) => {
                eprintln!("echo-server: accept: {err}");
                weft::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
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

/// The first argument: a port (on 127.0.0.1) or an `IP:PORT`; 127.0.0.1:7000
/// without one.
fn listen_addr() -> String {
    match std::env::args().nth(1) {
        Some(port) if port.parse::<u16>().is_ok() => format!("127.0.0.1:{port}"),
        Some(addr) => addr,
        None => "127.0.0.1:7000".to_owned(),
    }
}

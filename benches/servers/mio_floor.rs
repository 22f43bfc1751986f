//! What the two floor servers (`mio-http`, `mio-echo`) share: one event
//! loop thread per worker, each with its own listening socket on the same
//! port (`SO_REUSEPORT`, so the kernel spreads new connections across them).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::thread;

use mio::net::TcpListener;
use socket2::{Domain, Protocol, Socket, Type};

use crate::args;

/// Binds `args::worker_threads()` listeners to `args::addr()`, prints
/// `NAME: listening on ADDR with N threads`, and runs `event_loop` on each
/// in its own thread until one fails.
pub fn serve(name: &str, event_loop: fn(TcpListener) -> io::Result<()>) -> io::Result<()> {
    let workers = args::worker_threads();
    let addr = args::addr()
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::other("the address resolved to nothing; pass IP:PORT"))?;
    // Bind the first listener to learn the port (port 0 picks a free one),
    // then the others to that same port.
    let first = reuse_port_listener(addr)?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..workers {
        listeners.push(reuse_port_listener(addr)?);
    }
    println!("{name}: listening on {addr} with {workers} threads");

    let threads = listeners
        .into_iter()
        .enumerate()
        .map(|(i, listener)| {
            thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || event_loop(listener))
        })
        .collect::<io::Result<Vec<_>>>()?;
    for thread in threads {
        thread.join().expect("an event loop thread panicked")?;
    }
    Ok(())
}

/// A non-blocking listener on `addr` that other sockets may bind too.
fn reuse_port_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(TcpListener::from_std(socket.into()))
}

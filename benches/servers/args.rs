//! Command line of the benchmark servers: `[ADDR]`, and the worker count from
//! the environment, the same way weft's `hello-http` takes them.

/// The address to listen on: the first argument, a port (on 127.0.0.1) or
/// an `IP:PORT`, or 127.0.0.1:8080 without one. Port 0 picks a free port;
/// the server prints the one it got.
pub fn addr() -> String {
    match std::env::args().nth(1) {
        Some(port) if port.parse::<u16>().is_ok() => format!("127.0.0.1:{port}"),
        Some(addr) => addr,
        None => "127.0.0.1:8080".to_owned(),
    }
}

/// Worker threads: `WEFT_WORKER_THREADS`, or 2, the count BENCHMARKS.md
/// compares runtimes at.
pub fn worker_threads() -> usize {
    match std::env::var("WEFT_WORKER_THREADS") {
        Ok(value) => match value.trim().parse() {
            Ok(n) if n > 0 => n,
            _ => panic!("WEFT_WORKER_THREADS={value:?}: set it to a positive integer"),
        },
        Err(_) => 2,
    }
}

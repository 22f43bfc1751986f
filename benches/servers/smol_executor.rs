//! What the two smol servers (`smol-http`, `smol-echo`) share: an executor
//! run by N threads of its own, so the accept loop on the main thread is not
//! one of them (as tokio's and weft's `block_on` are not).

use std::io;
use std::thread;

use smol::{future, Executor};

/// Starts `workers` threads running a leaked executor and returns it. The
/// executor lives as long as the process; leaking it lets the tasks and the
/// threads borrow it without an Arc.
pub fn start(workers: usize) -> io::Result<&'static Executor<'static>> {
    let executor: &'static Executor<'static> = Box::leak(Box::new(Executor::new()));
    for i in 0..workers {
        thread::Builder::new()
            .name(format!("smol-worker-{i}"))
            .spawn(move || smol::block_on(executor.run(future::pending::<()>())))?;
    }
    Ok(executor)
}

//! weft: a multi-threaded, work-stealing async runtime.
//!
//! ```
//! #[weft::main]
//! async fn main() {
//!     let task = weft::spawn(async { "hello from a task" });
//!     let blocking = weft::spawn_blocking(|| "hello from the blocking pool");
//!     let (a, b) = weft::join!(task, blocking);
//!     println!("{} / {}", a.unwrap(), b.unwrap());
//! }
//! ```
//!
//! # What is here
//!
//! - Entry points: [`#[weft::main]`](main), [`#[weft::test]`](test),
//!   [`block_on`], and a [`Runtime`] built with [`Builder`].
//! - Tasks: [`spawn`], [`spawn_blocking`], and in [`task`] the
//!   [`task::JoinHandle`], [`task::JoinError`], [`task::AbortHandle`],
//!   [`task::JoinSet`], [`task::yield_now`] and task ids.
//! - Waiting on several futures in one task: [`join!`], [`try_join!`],
//!   [`select!`].
//! - [`net`]: TCP, UDP and Unix-domain sockets on the runtime's reactor,
//!   implementing the futures-io traits.
//! - [`time`]: [`time::sleep`], [`time::timeout`], [`time::interval`] and
//!   friends, on a timer wheel that costs nothing while idle.
//! - [`io`]: the futures-io traits and their extension methods.
//!
//! Outside any runtime, `spawn`, `spawn_blocking` and `block_on` use a
//! global runtime started on first use, with one worker per CPU
//! (`WEFT_WORKER_THREADS` overrides, for every runtime built without an
//! explicit `worker_threads`).
//!
//! # Features
//!
//! - `criterion`: `Runtime` and `&Runtime` implement criterion's
//!   `AsyncExecutor`, so `b.to_async(&rt).iter(..)` benchmarks async code on
//!   weft.
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[macro_use]
mod macros;

pub mod io;
pub mod net;
pub mod runtime;
pub mod task;
pub mod time;

#[cfg(feature = "criterion")]
mod criterion;

#[doc(hidden)]
pub use macros::support as __macro_support;
pub use runtime::{Builder, Handle, Runtime};
pub use weft_macros::{main, test};

use std::future::Future;

use task::JoinHandle;

/// Runs `future` to completion on the calling thread and returns its output.
///
/// Inside a runtime's context (e.g. on one of its blocking threads) it uses
/// that runtime; elsewhere the global runtime serves the tasks the future
/// spawns.
///
/// # Panics
///
/// On a runtime worker thread, where blocking would stall the worker's other
/// tasks: use `.await` there instead.
///
/// # Examples
///
/// ```
/// let sum = weft::block_on(async {
///     let a = weft::spawn(async { 1 });
///     let b = weft::spawn(async { 2 });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(sum, 3);
/// ```
#[track_caller]
pub fn block_on<F: Future>(future: F) -> F::Output {
    match Handle::try_current() {
        Ok(handle) => handle.block_on(future),
        Err(_) => runtime::global().block_on(future),
    }
}

/// Spawns `future` as a new task on the current runtime (the global one
/// outside any runtime) and returns a handle to await its output.
///
/// The task starts running at once, on any worker; dropping the
/// `JoinHandle` detaches it. A panic inside it is caught and surfaces as a
/// [`JoinError`](task::JoinError). Spawning onto a runtime that has shut
/// down returns a handle that resolves to a cancelled `JoinError`.
///
/// # Examples
///
/// ```
/// weft::block_on(async {
///     let handles: Vec<_> = (0..10).map(|i| weft::spawn(async move { i * i })).collect();
///     let mut sum = 0;
///     for handle in handles {
///         sum += handle.await.unwrap();
///     }
///     assert_eq!(sum, 285);
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    task::spawn_at(future, None, std::panic::Location::caller())
}

/// Runs the blocking closure `f` on the current runtime's blocking pool
/// (the global runtime's outside any runtime), so it does not stall the
/// worker threads, and returns a handle to await its result.
///
/// # Examples
///
/// ```
/// weft::block_on(async {
///     let len = weft::spawn_blocking(|| std::fs::read_dir(".").map(|d| d.count()).unwrap_or(0));
///     assert!(len.await.unwrap() > 0);
/// });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match Handle::try_current() {
        Ok(handle) => handle.spawn_blocking(f),
        Err(_) => runtime::global().spawn_blocking(f),
    }
}

//! The runtime: worker threads that run tasks, a blocking pool, and the
//! handles that reach them.

mod block_on;
mod builder;
mod context;
mod global;
mod handle;
mod metrics;
mod park;

use std::fmt;
use std::future::Future;
use std::io;
use std::time::Duration;

use weft_scheduler::Scheduler;

pub use builder::Builder;
pub(crate) use context::{with_current, with_reactor};
pub(crate) use global::global;
pub use handle::{Handle, TryCurrentError};
pub use metrics::RuntimeMetrics;
pub use weft_scheduler::task::TaskState;
pub use weft_scheduler::{Dump, StallInfo, TaskDump};

use crate::task::JoinHandle;

/// A multi-threaded, work-stealing runtime: worker threads that run tasks,
/// and a pool of threads for blocking closures.
///
/// Dropping it stops the workers, cancels every task still alive (their
/// `JoinHandle`s resolve to a cancelled [`JoinError`](crate::task::JoinError))
/// and waits for the blocking pool's threads; see
/// [`shutdown_timeout`](Runtime::shutdown_timeout) to bound that wait.
///
/// # Examples
///
/// ```
/// let rt = weft::Runtime::new().unwrap();
/// let answer = rt.block_on(async {
///     let task = weft::spawn(async { 6 * 7 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct Runtime {
    handle: Handle,
    scheduler: Scheduler,
}

impl Runtime {
    /// A runtime with the default configuration; see [`Builder::new`].
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A builder to configure a runtime.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().worker_threads(1).build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Runs `future` to completion on the calling thread, inside this
    /// runtime: tasks it spawns run on the workers.
    ///
    /// # Panics
    ///
    /// On a worker thread of any weft runtime: that would stop the worker
    /// from running its other tasks. Use `.await` there.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawns `future` onto this runtime; see [`crate::spawn`].
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let task = rt.spawn(async { 1 });
    /// assert_eq!(rt.block_on(task).unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs `f` on this runtime's blocking pool; see
    /// [`crate::spawn_blocking`].
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let task = rt.spawn_blocking(|| 2 + 2);
    /// assert_eq!(rt.block_on(task).unwrap(), 4);
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// A cloneable handle to this runtime.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Live figures of this runtime.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().worker_threads(3).build().unwrap();
    /// assert_eq!(rt.metrics().num_workers(), 3);
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// Shuts down like dropping does, but waits at most `timeout` for
    /// blocking closures that are still running; their threads are left to
    /// finish on their own.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// rt.spawn_blocking(|| std::thread::sleep(Duration::from_secs(2)));
    /// rt.shutdown_timeout(Duration::from_millis(10)); // returns long before 2 s
    /// ```
    pub fn shutdown_timeout(self, timeout: Duration) {
        let _enter = context::enter(&self.handle);
        self.scheduler.shutdown(Some(timeout));
        self.handle.reactor().shutdown();
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Futures cancelled by the shutdown are dropped on this thread; inside
        // the runtime's context, what their destructors spawn is cancelled
        // with them instead of leaking onto the global runtime.
        let _enter = context::enter(&self.handle);
        self.scheduler.shutdown(None);
        // Fails the sockets and timers that outlive their tasks, and drops
        // the wakers they hold (which would otherwise keep the cancelled
        // tasks, and through them this runtime, alive).
        self.handle.reactor().shutdown();
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("scheduler", &self.scheduler)
            .finish()
    }
}

//! `Handle`: a cloneable reference to a running runtime.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::{Arc, OnceLock};

use super::{block_on, context};
use crate::task::JoinHandle;

use super::RuntimeMetrics;
use weft_scheduler::Dump;

/// A cloneable handle to a runtime: spawns tasks onto it and blocks on
/// futures in it, from any thread.
///
/// # Examples
///
/// ```
/// let rt = weft::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// std::thread::spawn(move || {
///     let task = handle.spawn(async { 1 + 1 });
///     assert_eq!(handle.block_on(task).unwrap(), 2);
/// })
/// .join()
/// .unwrap();
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) inner: Arc<HandleInner>,
}

pub(crate) struct HandleInner {
    /// Set once, before any runtime thread starts, so every user of a
    /// `Handle` (thread hooks included) finds it set.
    pub(crate) scheduler: OnceLock<weft_scheduler::Handle>,
    /// The runtime's I/O driver and timers.
    pub(crate) reactor: weft_reactor::Handle,
}

impl Handle {
    pub(crate) fn scheduler(&self) -> &weft_scheduler::Handle {
        self.inner
            .scheduler
            .get()
            .expect("weft: runtime handle used before its runtime started")
    }

    pub(crate) fn reactor(&self) -> &weft_reactor::Handle {
        &self.inner.reactor
    }

    /// The handle of the runtime the current thread is in: a worker or
    /// blocking thread of it, or a thread inside its `block_on`.
    ///
    /// # Panics
    ///
    /// If the thread is in no runtime. Use [`Handle::try_current`] to check,
    /// or enter one with `#[weft::main]`, [`Runtime::block_on`](crate::Runtime::block_on)
    /// or [`weft::block_on`](crate::block_on).
    ///
    /// # Examples
    ///
    /// ```
    /// weft::block_on(async {
    ///     let handle = weft::Handle::current();
    ///     assert!(handle.metrics().num_workers() >= 1);
    /// });
    /// ```
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(handle) => handle,
            Err(error) => panic!("{error}"),
        }
    }

    /// The handle of the runtime the current thread is in, or an error if
    /// it is in none.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft::Handle::try_current().is_err());
    /// weft::block_on(async {
    ///     assert!(weft::Handle::try_current().is_ok());
    /// });
    /// ```
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::current().ok_or(TryCurrentError(()))
    }

    /// Spawns `future` onto this runtime; see [`crate::spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let task = rt.handle().spawn(async { "done" });
    /// assert_eq!(rt.block_on(task).unwrap(), "done");
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_at(future, None, Location::caller())
    }

    /// Spawns with the spawn location (and a name) given, for the spawn
    /// functions that reach here through a closure.
    pub(crate) fn spawn_at<F>(
        &self,
        future: F,
        name: Option<Arc<str>>,
        location: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.scheduler().spawn_at(future, name, location)
    }

    /// Runs `f` on this runtime's blocking pool; see
    /// [`crate::spawn_blocking`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let task = rt.handle().spawn_blocking(|| std::fs::metadata(".").is_ok());
    /// assert!(rt.block_on(task).unwrap());
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.scheduler().spawn_blocking(f)
    }

    /// Runs `future` to completion on the calling thread, inside this
    /// runtime (so `spawn` and `Handle::current` in it use this runtime).
    ///
    /// # Panics
    ///
    /// On a worker thread of any weft runtime: that would stop the worker
    /// from running its other tasks. Use `.await` there.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// assert_eq!(handle.block_on(async { 7 }), 7);
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = context::enter(self);
        block_on::run(future)
    }

    /// Live figures of this runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft::Runtime::builder().worker_threads(2).build().unwrap();
    /// assert_eq!(rt.handle().metrics().num_workers(), 2);
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::new(self.scheduler().metrics(), self.reactor().clone())
    }

    /// Lists this runtime's live tasks: id, name, spawn location, state,
    /// age and poll count, sorted by id. `Display` prints a table.
    ///
    /// Safe to call at any time, from any thread, also while every worker
    /// is busy or blocked: it locks each shard of the task list in turn for
    /// as long as copying its entries takes, and costs nothing when not
    /// called. See [`Dump`](crate::runtime::Dump) for what it guarantees.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::runtime::TaskState;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let task = weft::task::Builder::new()
    ///     .name("waiter")
    ///     .spawn_on(std::future::pending::<()>(), rt.handle());
    /// let dump = rt.handle().dump();
    /// let waiter = &dump.tasks()[0];
    /// assert_eq!(waiter.name(), Some("waiter"));
    /// assert_eq!(waiter.spawn_location().file(), file!());
    /// assert!(matches!(waiter.state(), TaskState::Idle | TaskState::Scheduled));
    /// println!("{dump}");
    /// task.abort();
    /// ```
    pub fn dump(&self) -> Dump {
        self.scheduler().dump()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

/// The current thread is in no weft runtime.
#[derive(Debug)]
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "there is no weft runtime on this thread: call this from inside #[weft::main], \
             #[weft::test], Runtime::block_on or weft::block_on, or from a task spawned on a runtime",
        )
    }
}

impl std::error::Error for TryCurrentError {}

//! Tasks: spawned futures, the handles that await or abort them, and sets of
//! them.

mod join_set;

use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

pub use join_set::JoinSet;
pub use weft_scheduler::task::{id, try_id, yield_now, AbortHandle, Id, JoinError, JoinHandle};

/// Spawns on the current runtime (the global one outside any runtime),
/// recording `location` as the spawn site.
pub(crate) fn spawn_at<F>(
    future: F,
    name: Option<Arc<str>>,
    location: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // The context's handle is borrowed, not cloned: a clone and drop per
    // spawn would bounce the handle's reference count between workers.
    // The name stays outside the closure, so the common unnamed spawn
    // carries no drop glue for it.
    let mut name = name;
    crate::runtime::with_current(|current| match current {
        Some(handle) => Ok(handle.spawn_at(future, name.take(), location)),
        None => Err(future),
    })
    .unwrap_or_else(|future| {
        crate::runtime::global()
            .handle()
            .spawn_at(future, name, location)
    })
}

/// Spawns tasks with options: a name, which [task dumps](crate::Handle::dump)
/// and stall reports show.
///
/// # Examples
///
/// ```
/// weft::block_on(async {
///     let task = weft::task::Builder::new()
///         .name("greeter")
///         .spawn(async { "hello" });
///     assert_eq!(task.await.unwrap(), "hello");
/// });
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    name: Option<Arc<str>>,
}

impl Builder {
    /// A builder for an unnamed task.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task.
    ///
    /// ```
    /// let builder = weft::task::Builder::new().name("accept loop");
    /// # drop(builder);
    /// ```
    pub fn name(self, name: impl Into<Arc<str>>) -> Builder {
        Builder {
            name: Some(name.into()),
        }
    }

    /// Spawns `future` on the current runtime, as [`weft::spawn`](crate::spawn)
    /// does, with this builder's options.
    ///
    /// ```
    /// weft::block_on(async {
    ///     let task = weft::task::Builder::new().name("sum").spawn(async { 1 + 2 });
    ///     assert_eq!(task.await.unwrap(), 3);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_at(future, self.name, Location::caller())
    }

    /// Spawns `future` on the runtime behind `handle`, with this builder's
    /// options.
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let task = weft::task::Builder::new()
    ///     .name("answer")
    ///     .spawn_on(async { 42 }, rt.handle());
    /// assert_eq!(rt.block_on(task).unwrap(), 42);
    /// ```
    #[track_caller]
    pub fn spawn_on<F>(self, future: F, handle: &crate::Handle) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        handle.spawn_at(future, self.name, Location::caller())
    }
}

//! Tasks: one heap allocation each, with the state machine documented in
//! the `state` module.
//!
//! # Vocabulary
//!
//! - A **task** is a spawned future plus what the runtime needs to run it:
//!   the state word, a vtable, the scheduler hook, the future (later its
//!   output) and the waker of whoever awaits the output. See the `raw` module.
//! - A **reference** is one count in the state word. `Task` owns one (the
//!   scheduler's list of live tasks holds these), `Notified` owns one plus
//!   the right to run the task, a [`JoinHandle`] or [`AbortHandle`] owns one,
//!   and so does each waker.
//! - A **scheduler** is anything that implements `Schedule`: it receives
//!   `Notified` tasks to run and hears when a task completes.
//!
//! # Life of a task
//!
//! `spawn` allocates the task as *notified* with three references (list,
//! queue, join handle) and pushes the `Notified` into a queue. A worker pops
//! it and calls `Notified::run`: the task becomes *running*, the future is
//! polled, and the task becomes *idle* (Pending), or *complete* (Ready, a
//! panic, or a cancellation). A waker that fires while the task is idle makes
//! it notified again and submits it; one that fires while it is running only
//! sets the bit, and the runner resubmits the task when the poll returns.
//! Completion wakes the joiner, removes the task from the scheduler's list
//! and drops the run's reference; the last reference frees the allocation.
//!
//! The design follows the split of tokio's `runtime/task` (state, raw,
//! harness, waker, join) and the single-allocation layout of async-task.

mod error;
mod harness;
mod id;
mod join;
pub(crate) mod raw;
pub(crate) mod state;
mod waker;

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use error::JoinError;
pub use id::{try_id, Id};
pub use join::{AbortHandle, JoinHandle};
use raw::{Cell, Header, RawTask};

/// What a live task is doing, as a task dump shows it.
///
/// # Examples
///
/// ```
/// use weft_scheduler::task::TaskState;
///
/// assert_eq!(TaskState::WaitingOnJoin.to_string(), "waiting on join");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskState {
    /// Waiting to be woken (its last poll returned `Pending`).
    Idle,
    /// Woken and queued, waiting for a worker.
    Scheduled,
    /// Being polled by a worker right now (or finishing).
    Running,
    /// Idle, and its last poll was waiting for another task's
    /// `JoinHandle`.
    WaitingOnJoin,
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskState::Idle => "idle",
            TaskState::Scheduled => "scheduled",
            TaskState::Running => "running",
            TaskState::WaitingOnJoin => "waiting on join",
        })
    }
}

/// What a task needs from whoever runs it.
pub(crate) trait Schedule: Send + Sync + Sized + 'static {
    /// Queues a task that was woken.
    fn schedule(&self, task: Notified<Self>);

    /// Queues a task that was woken while it was being polled (it yielded);
    /// schedulers put these behind other work.
    fn yield_now(&self, task: Notified<Self>) {
        self.schedule(task);
    }

    /// The task completed: remove it from the list of live tasks, returning
    /// the list's reference if it was there.
    fn release(&self, task: &Task<Self>) -> Option<Task<Self>>;
}

/// One owned reference to a task.
pub(crate) struct Task<S: 'static> {
    raw: RawTask,
    _scheduler: PhantomData<S>,
}

// SAFETY: tasks are built only from `Send` futures and outputs, and every
// access to their cells is arbitrated by the atomic state word.
unsafe impl<S> Send for Task<S> {}
// SAFETY: as above; `&Task` only reads the header.
unsafe impl<S> Sync for Task<S> {}

impl<S: 'static> Task<S> {
    /// # Safety
    /// `ptr` is a live task scheduled by `S`, and the caller gives this value
    /// one of its references.
    pub(crate) unsafe fn from_raw(ptr: std::ptr::NonNull<Header>) -> Task<S> {
        // SAFETY: forwarded from the caller.
        let raw = unsafe { RawTask::from_raw(ptr) };
        Task {
            raw,
            _scheduler: PhantomData,
        }
    }

    pub(crate) fn header(&self) -> &Header {
        self.raw.header()
    }

    pub(crate) fn id(&self) -> Id {
        self.raw.id()
    }

    /// The task's state as a dump shows it, and its poll count.
    pub(crate) fn observe(&self) -> (TaskState, u64) {
        let header = self.header();
        let polls = header.polls.load(std::sync::atomic::Ordering::Relaxed);
        let snapshot = header.state.load();
        let state = if snapshot.is_running() || snapshot.is_complete() {
            TaskState::Running
        } else if snapshot.is_notified() {
            TaskState::Scheduled
        } else if polls & raw::WAITING_ON_JOIN != 0 {
            TaskState::WaitingOnJoin
        } else {
            TaskState::Idle
        };
        (state, u64::from(polls & !raw::WAITING_ON_JOIN))
    }

    /// Cancels the task for runtime shutdown (a no-op if it already
    /// completed), giving up this reference.
    pub(crate) fn shutdown(self) {
        let raw = self.raw;
        std::mem::forget(self);
        raw.shutdown();
    }
}

impl<S: 'static> Drop for Task<S> {
    fn drop(&mut self) {
        self.raw.drop_reference();
    }
}

impl<S: 'static> fmt::Debug for Task<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id())
            .field("state", self.raw.state())
            .finish()
    }
}

/// A task that was woken and waits in a queue; holding it is the right to
/// run it.
pub(crate) struct Notified<S: 'static>(pub(crate) Task<S>);

impl<S: 'static> Notified<S> {
    /// Polls the task once (or cancels it, if it was aborted).
    pub(crate) fn id(&self) -> Id {
        self.0.id()
    }

    pub(crate) fn run(self) {
        let raw = self.0.raw;
        std::mem::forget(self);
        raw.poll();
    }
}

impl<S: 'static> fmt::Debug for Notified<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Notified").field(&self.0).finish()
    }
}

/// Allocates a task. The caller must put the `Notified` in a queue (or run
/// it), and keep the `Task` in its list of live tasks (or shut it down).
pub(crate) fn new_task<F, S>(
    future: F,
    scheduler: S,
    id: Id,
) -> (Task<S>, Notified<S>, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let ptr = Cell::allocate(future, scheduler, id);
    // SAFETY: a new task has exactly these three references (see `state`),
    // and its output type is `F::Output`.
    unsafe {
        let raw = RawTask::from_raw(ptr);
        (
            Task::from_raw(ptr),
            Notified(Task::from_raw(ptr)),
            JoinHandle::new(raw),
        )
    }
}

/// The id of the task being polled on this thread.
///
/// # Panics
///
/// Outside a task (e.g. in `block_on`'s future or a plain thread); use
/// [`try_id`] there.
#[track_caller]
pub fn id() -> Id {
    try_id().expect("task::id() called outside a spawned task; use task::try_id() there")
}

/// Yields to the scheduler once: the task is requeued behind other ready
/// work, so one busy task cannot hog its worker.
///
/// # Examples
///
/// ```ignore
/// for _ in 0..1000 {
///     heavy_step();
///     weft::task::yield_now().await;
/// }
/// ```
pub async fn yield_now() {
    YieldNow { yielded: false }.await
}

struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // Waking while running marks the task notified; when this poll
        // returns, the worker requeues it through `Schedule::yield_now`.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

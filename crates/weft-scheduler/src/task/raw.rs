//! The task allocation and its type-erased handle.
//!
//! A task is one heap block, a `#[repr(C)]` [`Cell`] with the [`Header`]
//! first, so a pointer to the header is a pointer to the whole task. The
//! header's vtable holds plain functions monomorphised for the task's future
//! and scheduler types; everything that holds a task without knowing those
//! types (queues, wakers, `JoinHandle`) goes through it.

use std::future::Future;
use std::ptr::NonNull;
use std::task::Waker;

use super::harness;
use super::id::Id;
use super::state::State;
use super::{JoinError, Schedule};
use crate::sync::UnsafeCell;

/// The first field of every task.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    pub(crate) vtable: &'static Vtable,
    pub(crate) id: Id,
    /// Position in the owning scheduler's task list; `u32::MAX` when in
    /// none. Read and written only under that list's shard lock.
    pub(crate) owned_index: UnsafeCell<u32>,
    /// Polls so far (saturating at 2^31 - 1), and in the top bit whether the
    /// last poll returned `Pending` after awaiting a `JoinHandle` that was
    /// not ready. Written only by the thread holding `RUNNING` (a load and
    /// a store, no read-modify-write), read by task dumps on any thread.
    /// Statistics only: std's atomic even under loom.
    pub(crate) polls: std::sync::atomic::AtomicU32,
}

/// The top bit of [`Header::polls`].
pub(crate) const WAITING_ON_JOIN: u32 = 1 << 31;

impl Header {
    /// Counts a finished poll; `waiting_on_join` as for [`Header::polls`].
    /// Called by the thread holding `RUNNING` only.
    pub(crate) fn record_poll(&self, waiting_on_join: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        let polls = (self.polls.load(Relaxed) & !WAITING_ON_JOIN).saturating_add(1);
        let polls = polls.min(WAITING_ON_JOIN - 1);
        let flag = if waiting_on_join { WAITING_ON_JOIN } else { 0 };
        self.polls.store(polls | flag, Relaxed);
    }
}

/// Type-erased operations on a task.
pub(crate) struct Vtable {
    /// Runs the task: the caller gives up one `Notified` reference.
    pub(crate) poll: unsafe fn(NonNull<Header>),
    /// Submits the task to its scheduler: the caller gives up one reference,
    /// which becomes the `Notified`.
    pub(crate) schedule: unsafe fn(NonNull<Header>),
    /// Frees the allocation: the caller dropped the last reference.
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    /// Moves the output into `*dst` (a `Poll<Result<T, JoinError>>`) if the
    /// task is complete, else registers the waker.
    pub(crate) try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    /// The `JoinHandle` is dropped: the caller gives up its reference.
    pub(crate) drop_join_handle: unsafe fn(NonNull<Header>),
    /// Cancels the task for runtime shutdown: the caller gives up one
    /// reference.
    pub(crate) shutdown: unsafe fn(NonNull<Header>),
}

/// What the task holds where the future was.
pub(crate) enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

/// The whole task allocation.
#[repr(C)]
pub(crate) struct Cell<F: Future, S> {
    pub(crate) header: Header,
    pub(crate) scheduler: S,
    /// Accessed only by the thread that holds `RUNNING`, or, once `COMPLETE`
    /// is set, by the single party the state machine names (the
    /// `JoinHandle`, or the completing thread when nobody joins).
    pub(crate) stage: UnsafeCell<Stage<F>>,
    /// Written by the `JoinHandle` while `JOIN_WAKER` is clear; read by the
    /// task side while it is set; dropped with the allocation.
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
}

impl<F: Future, S: Schedule> Cell<F, S> {
    /// Allocates a task; returns the pointer to its header.
    pub(crate) fn allocate(future: F, scheduler: S, id: Id) -> NonNull<Header> {
        let cell = Box::new(Cell {
            header: Header {
                state: State::new(),
                vtable: harness::vtable::<F, S>(),
                id,
                owned_index: UnsafeCell::new(u32::MAX),
                polls: std::sync::atomic::AtomicU32::new(0),
            },
            scheduler,
            stage: UnsafeCell::new(Stage::Running(future)),
            join_waker: UnsafeCell::new(None),
        });
        // `Cell` is `repr(C)` with the header first, so the cast is exact.
        NonNull::from(Box::leak(cell)).cast()
    }
}

/// A type-erased pointer to a task. Copying it does not count a reference:
/// the typed owners (`Task`, `JoinHandle`, wakers) do the counting.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawTask {
    ptr: NonNull<Header>,
}

impl RawTask {
    /// # Safety
    /// `ptr` points to a live task header.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> RawTask {
        RawTask { ptr }
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: every `RawTask` is made from a live task, and its holder
        // owns a reference that keeps the allocation alive while borrowed.
        unsafe { self.ptr.as_ref() }
    }

    pub(crate) fn id(&self) -> Id {
        self.header().id
    }

    pub(crate) fn state(&self) -> &State {
        &self.header().state
    }

    /// Runs the task, consuming one `Notified` reference.
    pub(crate) fn poll(self) {
        // SAFETY: the vtable was built for this task's own types, and the
        // caller hands over the reference the function consumes.
        unsafe { (self.header().vtable.poll)(self.ptr) }
    }

    /// Submits the task, consuming one reference (which becomes the
    /// `Notified`).
    pub(crate) fn schedule(self) {
        // SAFETY: as in `poll`.
        unsafe { (self.header().vtable.schedule)(self.ptr) }
    }

    /// Frees the task; the caller dropped the last reference.
    pub(crate) fn dealloc(self) {
        // SAFETY: as in `poll`; no reference is left to observe the free.
        unsafe { (self.header().vtable.dealloc)(self.ptr) }
    }

    /// # Safety
    /// `dst` points to a `Poll<Result<T, JoinError>>` where `T` is the
    /// task's output type.
    pub(crate) unsafe fn try_read_output(self, dst: *mut (), waker: &Waker) {
        // SAFETY: the caller guarantees `dst`'s type; the vtable matches.
        unsafe { (self.header().vtable.try_read_output)(self.ptr, dst, waker) }
    }

    /// Drops the `JoinHandle`'s reference.
    pub(crate) fn drop_join_handle(self) {
        // SAFETY: as in `poll`.
        unsafe { (self.header().vtable.drop_join_handle)(self.ptr) }
    }

    /// Cancels the task for shutdown, consuming one reference.
    pub(crate) fn shutdown(self) {
        // SAFETY: as in `poll`.
        unsafe { (self.header().vtable.shutdown)(self.ptr) }
    }

    /// Drops one reference, freeing the task if it was the last.
    pub(crate) fn drop_reference(self) {
        if self.state().ref_dec() {
            self.dealloc();
        }
    }

    /// Aborts the task from a handle on any thread.
    pub(crate) fn remote_abort(self) {
        if self.state().transition_to_notified_and_cancel() {
            // The transition took a reference for the `Notified`.
            self.schedule();
        }
    }
}

#[cfg(all(test, not(weft_loom)))]
mod tests {
    use std::mem::size_of;

    use super::Cell;
    use crate::scheduler::Handle;
    use crate::task::JoinError;

    /// Every task reserves room for its output as a `Result<T, JoinError>`,
    /// so the error's size is paid by every idle task.
    #[test]
    fn join_error_is_two_words() {
        assert_eq!(size_of::<JoinError>(), 2 * size_of::<usize>());
        assert_eq!(size_of::<Result<(), JoinError>>(), 2 * size_of::<usize>());
    }

    /// The memory bench's idle task (an `async fn` holding an `Arc`, pending
    /// forever) fits in 88 bytes: with malloc's 8-byte header, one 96-byte
    /// chunk.
    #[test]
    fn small_task_fits_a_96_byte_chunk() {
        fn cell_size<F: std::future::Future>(_: &F) -> usize {
            size_of::<Cell<F, Handle>>()
        }
        async fn idle(counter: std::sync::Arc<u64>) {
            std::hint::black_box(&counter);
            std::future::pending::<()>().await;
        }
        let size = cell_size(&idle(Default::default()));
        assert!(size <= 88, "an idle task takes {size} bytes");
    }
}

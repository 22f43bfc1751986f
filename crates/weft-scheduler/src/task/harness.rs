//! What running, completing, cancelling and joining a task do, written once
//! for each (future, scheduler) pair and reached through the [`Vtable`].
//!
//! Every panic that user code can raise here (polling the future, dropping
//! the future or the output, a join waker's `wake`) is caught: a task that
//! panics while polling completes with [`JoinError::is_panic`], and the
//! worker thread that ran it goes on serving.

use std::future::Future;
use std::mem::{self, ManuallyDrop};
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use super::id::CurrentTaskGuard;
use super::raw::{Cell, Header, Stage, Vtable};
use super::state::{TransitionToIdle, TransitionToRunning};
use super::waker::borrowed_waker;
use super::{JoinError, Notified, Schedule, Task};

pub(crate) fn vtable<F: Future, S: Schedule>() -> &'static Vtable {
    &Vtable {
        poll: poll::<F, S>,
        schedule: schedule::<F, S>,
        dealloc: dealloc::<F, S>,
        try_read_output: try_read_output::<F, S>,
        drop_join_handle: drop_join_handle::<F, S>,
        shutdown: shutdown::<F, S>,
    }
}

/// # Safety
/// `ptr` is a live task of type `Cell<F, S>`.
unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: the caller guarantees the type; the header is the first field
    // of the `repr(C)` cell, and a reference keeps it alive.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

/// Runs the task once (or cancels it, if aborted).
///
/// # Safety
/// `ptr` is a live task of type `Cell<F, S>`, and the caller gives up one
/// `Notified` reference.
unsafe fn poll<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the vtable is only reached through tasks of this type.
    let cell = unsafe { cell::<F, S>(ptr) };
    match cell.header.state.transition_to_running() {
        TransitionToRunning::Success => {}
        TransitionToRunning::Cancelled => {
            cancel(cell);
            // SAFETY: we hold RUNNING and the run's reference.
            unsafe { complete::<F, S>(ptr) };
            return;
        }
        TransitionToRunning::Failed => return,
        TransitionToRunning::Dealloc => {
            // SAFETY: the transition dropped the last reference.
            unsafe { dealloc::<F, S>(ptr) };
            return;
        }
    }

    // SAFETY: `ptr` is live for the whole poll: the run holds a reference.
    let waker = unsafe { borrowed_waker(ptr) };
    let mut cx = Context::from_waker(&waker);
    let polled = {
        let current = CurrentTaskGuard::enter(cell.header.id);
        let polled = panic::catch_unwind(AssertUnwindSafe(|| {
            cell.stage.with_mut(|stage| {
                // SAFETY: we hold RUNNING, so we have exclusive access to the
                // stage.
                let Stage::Running(future) = (unsafe { &mut *stage }) else {
                    unreachable!("a task was polled after it completed");
                };
                // SAFETY: the future never moves: it lives in the heap cell
                // until it is dropped in place.
                let future = unsafe { Pin::new_unchecked(future) };
                future.poll(&mut cx)
            })
        }));
        // Only a poll that leaves the task alive is counted: a dump never
        // sees a completed task, and a short task skips the store.
        if matches!(polled, Ok(Poll::Pending)) {
            cell.header.record_poll(current.waited_on_join());
        }
        polled
    };

    let output = match polled {
        Ok(Poll::Pending) => {
            match cell.header.state.transition_to_idle() {
                TransitionToIdle::Ok => {}
                TransitionToIdle::OkNotified => {
                    // SAFETY: the run's reference became the `Notified`.
                    let task = unsafe { Task::<S>::from_raw(ptr) };
                    cell.scheduler.yield_now(Notified(task));
                }
                TransitionToIdle::OkDealloc => {
                    // SAFETY: the transition dropped the last reference.
                    unsafe { dealloc::<F, S>(ptr) };
                }
                TransitionToIdle::Cancelled => {
                    cancel(cell);
                    // SAFETY: we still hold RUNNING and the run's reference.
                    unsafe { complete::<F, S>(ptr) };
                }
            }
            return;
        }
        Ok(Poll::Ready(output)) => match drop_stage(cell) {
            Ok(()) => Ok(output),
            Err(payload) => Err(JoinError::panic(cell.header.id, payload)),
        },
        Err(payload) => {
            let _ = drop_stage(cell);
            Err(JoinError::panic(cell.header.id, payload))
        }
    };
    store(cell, Stage::Finished(output));
    // SAFETY: we hold RUNNING and the run's reference.
    unsafe { complete::<F, S>(ptr) };
}

/// Takes what the stage holds, leaving it `Consumed`. The caller has
/// exclusive access to the stage: it holds RUNNING, or it is the party the
/// state machine names once COMPLETE is set.
fn take_stage<F: Future, S>(cell: &Cell<F, S>) -> Stage<F> {
    cell.stage.with_mut(|stage| {
        // SAFETY: the caller has exclusive access, as documented above.
        unsafe { mem::replace(&mut *stage, Stage::Consumed) }
    })
}

/// Drops whatever the stage holds, catching a panic from its destructor.
/// The caller has exclusive access to the stage (see `take_stage`).
fn drop_stage<F: Future, S>(cell: &Cell<F, S>) -> std::thread::Result<()> {
    let old = take_stage(cell);
    panic::catch_unwind(AssertUnwindSafe(move || drop(old)))
}

fn store<F: Future, S>(cell: &Cell<F, S>, stage: Stage<F>) {
    // SAFETY: only called with RUNNING held; the old stage is `Consumed`,
    // so nothing is dropped here.
    cell.stage.with_mut(|slot| unsafe { *slot = stage });
}

/// Drops the future of a task whose RUNNING bit the caller holds and stores
/// the cancellation (or the panic its destructor raised) as the output.
fn cancel<F: Future, S>(cell: &Cell<F, S>) {
    let id = cell.header.id;
    let error = match drop_stage(cell) {
        Ok(()) => JoinError::cancelled(id),
        Err(payload) => JoinError::panic(id, payload),
    };
    store(cell, Stage::Finished(Err(error)));
}

/// Leaves the owned-task list, publishes the output, wakes the joiner and
/// drops the run's reference.
///
/// The task leaves the list first, so once a `JoinHandle` sees the output,
/// the runtime no longer counts the task as alive.
///
/// # Safety
/// The caller holds RUNNING and one reference, both given up here.
unsafe fn complete<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller holds a reference.
    let cell = unsafe { cell::<F, S>(ptr) };
    // SAFETY: we hold a reference; the `ManuallyDrop` keeps it ours.
    let me = ManuallyDrop::new(unsafe { Task::<S>::from_raw(ptr) });
    let released = cell.scheduler.release(&me);
    let count = if released.is_some() { 2 } else { 1 };
    mem::forget(released);

    let before = cell.header.state.transition_to_complete();
    if !before.is_join_interested() {
        // Nobody will read the output: ours to drop.
        let _ = drop_stage(cell);
    } else if before.is_join_waker_set() {
        let _ = panic::catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: JOIN_WAKER is set, so the handle will not write the
            // slot; reading it here is shared with the handle's reads only.
            cell.join_waker.with(|waker| match unsafe { &*waker } {
                Some(waker) => waker.wake_by_ref(),
                None => unreachable!("JOIN_WAKER set with an empty slot"),
            })
        }));
    }

    if cell.header.state.transition_to_terminal(count) {
        // SAFETY: those were the last references.
        unsafe { dealloc::<F, S>(ptr) };
    }
}

/// Submits the task to its scheduler.
///
/// # Safety
/// `ptr` is a live task of type `Cell<F, S>`, and the caller gives up one
/// reference, which becomes the `Notified`.
unsafe fn schedule<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the vtable is only reached through tasks of this type.
    let cell = unsafe { cell::<F, S>(ptr) };
    // SAFETY: the caller gives up one reference, which the `Notified` owns.
    let task = unsafe { Task::<S>::from_raw(ptr) };
    cell.scheduler.schedule(Notified(task));
}

/// Frees the task.
///
/// # Safety
/// `ptr` is a task of type `Cell<F, S>` whose last reference the caller
/// just dropped.
unsafe fn dealloc<F: Future, S>(ptr: NonNull<Header>) {
    // SAFETY: no reference is left, so we own the cell; it was made by
    // `Box::new` in `Cell::allocate` with this exact type.
    let cell = unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) };
    // An output nobody read, an unpolled future or a user's join waker may
    // panic on drop; keep that from unwinding into whoever dropped the last
    // reference (often a worker).
    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(cell)));
}

/// Moves the output into `*dst` if the task is complete, else registers
/// `waker` as the join waker.
///
/// # Safety
/// `ptr` is a live task of type `Cell<F, S>`, the caller holds its
/// `JoinHandle`, and `dst` points to a `Poll<Result<F::Output, JoinError>>`.
unsafe fn try_read_output<F: Future, S>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker) {
    // SAFETY: the vtable is only reached through tasks of this type.
    let cell = unsafe { cell::<F, S>(ptr) };
    if !can_read_output(cell, waker) {
        return;
    }
    // COMPLETE is set and the handle holds JOIN_INTEREST: the stage is the
    // handle's alone.
    let output = match take_stage(cell) {
        Stage::Finished(output) => output,
        _ => panic!("JoinHandle polled after it returned Ready"),
    };
    // SAFETY: the caller guarantees `dst` is a `Poll<Result<F::Output, _>>`.
    unsafe { *dst.cast::<Poll<Result<F::Output, JoinError>>>() = Poll::Ready(output) };
}

/// True if the task is complete; otherwise leaves `waker` where the task
/// will find it.
fn can_read_output<F: Future, S>(cell: &Cell<F, S>, waker: &Waker) -> bool {
    let state = &cell.header.state;
    let snapshot = state.load();
    if snapshot.is_complete() {
        return true;
    }
    if snapshot.is_join_waker_set() {
        // SAFETY: JOIN_WAKER is set: the slot is published and only read.
        let same = cell.join_waker.with(|slot| match unsafe { &*slot } {
            Some(stored) => stored.will_wake(waker),
            None => false,
        });
        if same {
            return false;
        }
        if state.unset_join_waker().is_err() {
            return true;
        }
    }
    // SAFETY: JOIN_WAKER is clear, so the slot is the handle's to write.
    cell.join_waker
        .with_mut(|slot| unsafe { *slot = Some(waker.clone()) });
    state.set_join_waker().is_err()
}

/// Drops the `JoinHandle`'s interest in the output.
///
/// # Safety
/// `ptr` is a live task of type `Cell<F, S>`, and the caller gives up the
/// `JoinHandle`'s reference.
unsafe fn drop_join_handle<F: Future, S>(ptr: NonNull<Header>) {
    // SAFETY: the vtable is only reached through tasks of this type.
    let cell = unsafe { cell::<F, S>(ptr) };
    match cell.header.state.unset_join_interested() {
        Ok(_) => {
            // SAFETY: the transition cleared JOIN_WAKER before COMPLETE was
            // set, so the slot is the handle's again, and the completing
            // task will not read it: it only does while JOIN_INTEREST holds.
            let waker = cell.join_waker.with_mut(|slot| unsafe { (*slot).take() });
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(waker)));
        }
        Err(_) => {
            // Complete with JOIN_INTEREST held: the output is ours to drop.
            let _ = drop_stage(cell);
        }
    }
    if cell.header.state.ref_dec() {
        // SAFETY: that was the last reference.
        unsafe { dealloc::<F, S>(ptr) };
    }
}

/// Cancels the task for runtime shutdown, unless it is running or done.
///
/// # Safety
/// `ptr` is a live task of type `Cell<F, S>`, and the caller gives up one
/// reference.
unsafe fn shutdown<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the vtable is only reached through tasks of this type.
    let cell = unsafe { cell::<F, S>(ptr) };
    if cell.header.state.transition_to_shutdown() {
        cancel(cell);
        // SAFETY: the transition gave us RUNNING; the caller's reference
        // stands in for the run's.
        unsafe { complete::<F, S>(ptr) };
    } else if cell.header.state.ref_dec() {
        // SAFETY: that was the last reference.
        unsafe { dealloc::<F, S>(ptr) };
    }
}

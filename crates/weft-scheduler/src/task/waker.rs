//! Wakers are raw wakers over the task allocation itself: cloning one counts
//! a reference in the state word, and nothing else is allocated.

use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::raw::{Header, RawTask};
use super::state::{TransitionToNotifiedByRef, TransitionToNotifiedByVal};

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_waker, wake_by_val, wake_by_ref, drop_waker);

/// The waker handed to the future while it is polled. It borrows the run's
/// reference, so it must not be dropped as an owned waker.
///
/// # Safety
/// `ptr` is a live task, kept alive for as long as the waker is used.
pub(crate) unsafe fn borrowed_waker(ptr: NonNull<Header>) -> ManuallyDrop<Waker> {
    let raw = RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE);
    // SAFETY: the vtable's functions uphold the `RawWaker` contract for a
    // task pointer, as argued on each of them.
    ManuallyDrop::new(unsafe { Waker::from_raw(raw) })
}

/// # Safety
/// `data` came from `borrowed_waker` or `clone_waker`, so it is a live task.
unsafe fn task(data: *const ()) -> RawTask {
    // SAFETY: see the function's contract; wakers are never built over null.
    unsafe { RawTask::from_raw(NonNull::new_unchecked(data as *mut Header)) }
}

/// # Safety
/// `data` is a live task pointer from a waker of [`WAKER_VTABLE`], which
/// holds (or, for the poll's borrowed waker, borrows) one reference.
unsafe fn clone_waker(data: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned holds (or borrows) a reference.
    let task = unsafe { task(data) };
    task.state().ref_inc();
    RawWaker::new(data, &WAKER_VTABLE)
}

/// # Safety
/// `data` is a live task pointer from a waker of [`WAKER_VTABLE`], which
/// holds (or, for the poll's borrowed waker, borrows) one reference.
unsafe fn wake_by_val(data: *const ()) {
    // SAFETY: an owned waker holds a reference, which this call consumes.
    let task = unsafe { task(data) };
    match task.state().transition_to_notified_by_val() {
        TransitionToNotifiedByVal::DoNothing => {}
        TransitionToNotifiedByVal::Submit => task.schedule(),
        TransitionToNotifiedByVal::Dealloc => task.dealloc(),
    }
}

/// # Safety
/// `data` is a live task pointer from a waker of [`WAKER_VTABLE`], which
/// holds (or, for the poll's borrowed waker, borrows) one reference.
unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: the waker holds (or borrows) a reference for this call.
    let task = unsafe { task(data) };
    match task.state().transition_to_notified_by_ref() {
        TransitionToNotifiedByRef::DoNothing => {}
        TransitionToNotifiedByRef::Submit => task.schedule(),
    }
}

/// # Safety
/// `data` is a live task pointer from a waker of [`WAKER_VTABLE`], which
/// holds (or, for the poll's borrowed waker, borrows) one reference.
unsafe fn drop_waker(data: *const ()) {
    // SAFETY: an owned waker holds a reference, which this call drops.
    let task = unsafe { task(data) };
    task.drop_reference();
}

//! Which runtime the current thread belongs to.
//!
//! Worker and blocking threads are in their runtime for their whole life;
//! a thread inside `block_on` is in that runtime until `block_on` returns.
//! `Handle::current`, `weft::spawn` and friends read it.

use std::cell::RefCell;

use super::Handle;

thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// The handle of the runtime this thread is in.
pub(crate) fn current() -> Option<Handle> {
    CURRENT.with(|current| current.borrow().clone())
}

/// Runs `f` with the handle of the runtime this thread is in, borrowed.
///
/// The context stays borrowed while `f` runs, so `f` must not enter or
/// leave a runtime. Spawning does neither; its only user code is the
/// destructor of a future spawned onto a runtime that has shut down.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Handle>) -> R) -> R {
    CURRENT.with(|current| f(current.borrow().as_ref()))
}

/// Puts this thread in `handle`'s runtime for its remaining life (worker and
/// blocking threads).
pub(crate) fn set_for_thread(handle: Handle) {
    CURRENT.with(|current| *current.borrow_mut() = Some(handle));
}

/// Puts this thread in `handle`'s runtime until the guard drops.
pub(crate) fn enter(handle: &Handle) -> EnterGuard {
    let previous = CURRENT.with(|current| current.borrow_mut().replace(handle.clone()));
    EnterGuard { previous }
}

pub(crate) struct EnterGuard {
    previous: Option<Handle>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
    }
}

/// Runs `f` with the reactor of the runtime this thread is in, or of the
/// global runtime outside any (as `weft::spawn` does).
///
/// The context stays borrowed while `f` runs, so `f` must not enter or
/// leave a runtime; registering a socket or creating a timer does neither.
pub(crate) fn with_reactor<R>(f: impl FnOnce(&weft_reactor::Handle) -> R) -> R {
    with_current(|current| match current {
        Some(handle) => Ok(f(handle.reactor())),
        None => Err(f),
    })
    // Outside any runtime: the global one, started outside the borrow.
    .unwrap_or_else(|f| f(super::global().handle().reactor()))
}

//! Cooperative budgeting: each poll of a task may complete at most
//! [`BUDGET`] resource operations (socket reads, timer firings, joins)
//! before those resources start answering `Pending`, which makes the task
//! yield. One always-ready socket therefore cannot starve the other tasks
//! of its worker.
//!
//! Resources call [`poll_proceed`] before doing work and
//! [`RestoreOnPending::made_progress`] when they return `Ready`. The worker
//! sets a fresh budget around every task poll, and `block_on` around every
//! poll of its future (see [`budgeted`]); elsewhere (on blocking threads, in
//! plain code) the budget is unconstrained.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Operations one task poll may complete before resources make it yield.
pub const BUDGET: u8 = 128;

/// What is left of the current poll's budget; `None` is unconstrained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Budget(Option<u8>);

impl Budget {
    pub(crate) const fn initial() -> Budget {
        Budget(Some(BUDGET))
    }

    pub(crate) const fn unconstrained() -> Budget {
        Budget(None)
    }
}

// Through `sync`: under loom every model thread runs on one OS thread, and
// std's locals would share one budget between a model's workers.
crate::sync::const_thread_local! {
    static CURRENT: Cell<Budget> = const { Cell::new(Budget::unconstrained()) };
    /// Set when a resource answered `Pending` because the budget was spent;
    /// the worker reads and clears it after each task run (a metric).
    static DENIED: Cell<bool> = const { Cell::new(false) };
}

/// Whether a resource refused work for lack of budget since the last call;
/// clears the flag.
pub(crate) fn take_denied() -> bool {
    DENIED.with(|denied| denied.replace(false))
}

/// Runs `f` with `budget`, restoring the previous budget afterwards (also
/// when `f` unwinds).
pub(crate) fn with_budget<R>(budget: Budget, f: impl FnOnce() -> R) -> R {
    struct Reset(Budget);
    impl Drop for Reset {
        fn drop(&mut self) {
            CURRENT.with(|current| current.set(self.0));
        }
    }
    let _reset = Reset(CURRENT.with(|current| current.replace(budget)));
    f()
}

/// Runs `f` (one poll of a future) with a fresh budget, as the workers do
/// around every task poll. For executors outside the scheduler, like
/// `block_on`, so that a future driven there also yields to its siblings in
/// `join!` or `select!` after [`BUDGET`] operations.
///
/// # Examples
///
/// ```
/// use weft_scheduler::coop;
///
/// let remaining = coop::budgeted(coop::has_budget_remaining);
/// assert!(remaining);
/// ```
pub fn budgeted<R>(f: impl FnOnce() -> R) -> R {
    with_budget(Budget::initial(), f)
}

/// True if the current task may still complete a resource operation.
pub fn has_budget_remaining() -> bool {
    CURRENT.with(|current| current.get().0 != Some(0))
}

/// Takes one unit of budget for a resource operation about to be tried.
///
/// Returns `Pending` (after waking the task, so it runs again soon) when the
/// budget is spent. The returned guard gives the unit back unless the
/// operation reports [`made_progress`](RestoreOnPending::made_progress).
///
/// # Examples
///
/// ```
/// use std::task::{Context, Poll};
/// use weft_scheduler::coop;
///
/// fn poll_read_ready(cx: &mut Context<'_>, ready: bool) -> Poll<()> {
///     let coop = std::task::ready!(coop::poll_proceed(cx));
///     if ready {
///         coop.made_progress();
///         Poll::Ready(())
///     } else {
///         Poll::Pending
///     }
/// }
/// # let _ = poll_read_ready;
/// ```
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<RestoreOnPending> {
    CURRENT.with(|current| {
        let before = current.get();
        match before.0 {
            Some(0) => {
                DENIED.with(|denied| denied.set(true));
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(left) => {
                current.set(Budget(Some(left - 1)));
                Poll::Ready(RestoreOnPending(Cell::new(before)))
            }
            None => Poll::Ready(RestoreOnPending(Cell::new(before))),
        }
    })
}

/// Gives a unit of budget back on drop unless the operation made progress.
#[derive(Debug)]
#[must_use = "call made_progress() when the operation completes"]
pub struct RestoreOnPending(Cell<Budget>);

impl RestoreOnPending {
    /// The operation completed: keep the unit spent.
    pub fn made_progress(&self) {
        self.0.set(Budget::unconstrained());
    }
}

impl Drop for RestoreOnPending {
    fn drop(&mut self) {
        let budget = self.0.get();
        if budget.0.is_some() {
            CURRENT.with(|current| current.set(budget));
        }
    }
}

/// Spends one unit of budget, yielding first if it is exhausted. For loops
/// that do CPU work between awaits on resources that never block.
///
/// # Examples
///
/// ```ignore
/// for item in items {
///     weft_scheduler::coop::consume_budget().await;
///     process(item);
/// }
/// ```
pub async fn consume_budget() {
    ConsumeBudget.await
}

struct ConsumeBudget;

impl Future for ConsumeBudget {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let coop = std::task::ready!(poll_proceed(cx));
        coop.made_progress();
        Poll::Ready(())
    }
}

#[cfg(all(test, not(weft_loom)))]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn budget_runs_out_and_restores_on_pending() {
        let mut cx = Context::from_waker(Waker::noop());
        with_budget(Budget(Some(2)), || {
            let a = poll_proceed(&mut cx);
            assert!(matches!(&a, Poll::Ready(_)));
            drop(a); // no progress: the unit comes back
            for _ in 0..2 {
                let Poll::Ready(coop) = poll_proceed(&mut cx) else {
                    panic!("budget left")
                };
                coop.made_progress();
            }
            assert!(!has_budget_remaining());
            assert!(poll_proceed(&mut cx).is_pending());
        });
        assert!(
            has_budget_remaining(),
            "the budget is unconstrained outside with_budget"
        );
    }
}

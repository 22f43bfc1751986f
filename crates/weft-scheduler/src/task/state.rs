//! The task's state word: lifecycle bits and the reference count in one
//! atomic `usize`.
//!
//! Every transition is one compare-and-swap loop (or one read-modify-write)
//! and returns a `#[must_use]` outcome, so a caller cannot forget what the
//! transition obliged it to do (submit the task, drop a reference, free it).
//!
//! # Bits
//!
//! | bit | set by | cleared by | meaning |
//! |---|---|---|---|
//! | `RUNNING` | the thread that won [`State::transition_to_running`] or [`State::transition_to_shutdown`] | the same thread, on idle or complete | that thread has exclusive access to the future |
//! | `COMPLETE` | the running thread, once | never | the stage holds the output (or it was dropped); the future is gone |
//! | `NOTIFIED` | a waker, an abort | the thread that starts running it | a [`Notified`](super::Notified) reference is in a queue, or the runner must submit one when it goes idle |
//! | `CANCELLED` | abort, runtime shutdown | never | the next runner drops the future instead of polling it |
//! | `JOIN_INTEREST` | creation | the `JoinHandle` on drop | someone will read the output; if clear, the completing thread drops it |
//! | `JOIN_WAKER` | the `JoinHandle` | the `JoinHandle` | the join waker slot is published: the task side may read it, the handle may not write it |
//!
//! The remaining high bits count references: one for the runtime's list of
//! owned tasks, one for each `Notified` in a queue (or the run in progress),
//! one for the `JoinHandle`, one for each `AbortHandle`, one for each waker.
//! The allocation is freed by whoever drops the count to zero.
//!
//! # The one rule everything rests on
//!
//! While `NOTIFIED` is set and `RUNNING` and `COMPLETE` are clear, exactly one
//! `Notified` reference exists, sitting in some queue. A waker that finds the
//! task idle sets `NOTIFIED` and creates that reference; a waker that finds it
//! already notified, running or complete creates nothing. That is why waking
//! a scheduled task is a single atomic load and never an allocation.

use crate::sync::{AtomicUsize, Ordering};

const RUNNING: usize = 0b00_0001;
const COMPLETE: usize = 0b00_0010;
const NOTIFIED: usize = 0b00_0100;
const CANCELLED: usize = 0b00_1000;
const JOIN_INTEREST: usize = 0b01_0000;
const JOIN_WAKER: usize = 0b10_0000;

const REF_SHIFT: u32 = 6;
const REF_ONE: usize = 1 << REF_SHIFT;
const FLAGS: usize = REF_ONE - 1;

/// A new task is notified (it is about to be queued) and joinable, and has
/// three references: the owned-task list, the queue, the `JoinHandle`.
const INITIAL: usize = NOTIFIED | JOIN_INTEREST | (3 * REF_ONE);

/// The state word.
pub(crate) struct State(AtomicUsize);

/// One observed value of the state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToRunning {
    /// The caller owns the future and must poll it.
    Success,
    /// The caller owns the future and must drop it: the task was aborted.
    Cancelled,
    /// The task is running elsewhere or complete; the caller's reference was
    /// dropped and others remain.
    Failed,
    /// As `Failed`, and that was the last reference: free the task.
    Dealloc,
}

#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToIdle {
    /// Idle; the runner's reference was dropped.
    Ok,
    /// Idle, and the runner's reference was the last: free the task. (Only
    /// a task outside the owned-task list can get here.)
    OkDealloc,
    /// Woken while running: the runner's reference becomes a `Notified`,
    /// which the caller must submit.
    OkNotified,
    /// Aborted while running: the caller still owns the future and must
    /// cancel it.
    Cancelled,
}

#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToNotifiedByVal {
    /// Nothing to submit; the waker's reference was dropped.
    DoNothing,
    /// The waker's reference became a `Notified`: submit it.
    Submit,
    /// Nothing to submit and that was the last reference: free the task.
    Dealloc,
}

#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToNotifiedByRef {
    /// Already notified, running (it will be resubmitted) or complete.
    DoNothing,
    /// A new reference was taken for a `Notified`: submit it.
    Submit,
}

impl State {
    pub(crate) fn new() -> State {
        State(AtomicUsize::new(INITIAL))
    }

    /// Acquire: pairs with the AcqRel of every transition, so the reader sees
    /// the stage and join waker as published by the last writer.
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Ordering::Acquire))
    }

    /// Runs `f` in a CAS loop until it returns `None` (no write) or the swap
    /// succeeds. AcqRel: each transition both publishes this thread's writes
    /// to the task's cells and takes over the previous owner's.
    fn fetch_update<R>(&self, mut f: impl FnMut(Snapshot) -> (R, Option<Snapshot>)) -> R {
        let mut current = self.load();
        loop {
            let (result, next) = f(current);
            let Some(next) = next else { return result };
            match self.0.compare_exchange_weak(
                current.0,
                next.0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return result,
                Err(actual) => current = Snapshot(actual),
            }
        }
    }

    /// A queue's `Notified` is about to run. On `Failed`/`Dealloc` its
    /// reference has been dropped.
    pub(crate) fn transition_to_running(&self) -> TransitionToRunning {
        self.fetch_update(|s| {
            if s.is_running() || s.is_complete() {
                let next = s.ref_dec();
                let outcome = if next.ref_count() == 0 {
                    TransitionToRunning::Dealloc
                } else {
                    TransitionToRunning::Failed
                };
                return (outcome, Some(next));
            }
            debug_assert!(s.is_notified(), "running a task that was never notified");
            let next = Snapshot((s.0 & !NOTIFIED) | RUNNING);
            if s.is_cancelled() {
                (TransitionToRunning::Cancelled, Some(next))
            } else {
                (TransitionToRunning::Success, Some(next))
            }
        })
    }

    /// The poll returned `Pending`.
    pub(crate) fn transition_to_idle(&self) -> TransitionToIdle {
        self.fetch_update(|s| {
            debug_assert!(s.is_running());
            if s.is_cancelled() {
                return (TransitionToIdle::Cancelled, None);
            }
            let next = Snapshot(s.0 & !RUNNING);
            if s.is_notified() {
                (TransitionToIdle::OkNotified, Some(next))
            } else {
                let next = next.ref_dec();
                if next.ref_count() == 0 {
                    (TransitionToIdle::OkDealloc, Some(next))
                } else {
                    (TransitionToIdle::Ok, Some(next))
                }
            }
        })
    }

    /// The output (or the cancellation error) is in the stage. Returns the
    /// state before the transition.
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        // AcqRel: publishes the stored output to the JoinHandle.
        let prev = Snapshot(self.0.fetch_xor(RUNNING | COMPLETE, Ordering::AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete());
        prev
    }

    /// Drops `count` references at once; true if they were the last.
    pub(crate) fn transition_to_terminal(&self, count: usize) -> bool {
        let prev = Snapshot(self.0.fetch_sub(count * REF_ONE, Ordering::AcqRel));
        assert!(prev.ref_count() >= count, "task reference count underflow");
        prev.ref_count() == count
    }

    /// `Waker::wake`: consumes the waker's reference.
    pub(crate) fn transition_to_notified_by_val(&self) -> TransitionToNotifiedByVal {
        self.fetch_update(|s| {
            if s.is_running() {
                // The runner submits it when it goes idle, and holds a
                // reference, so ours is not the last.
                let next = Snapshot(s.0 | NOTIFIED).ref_dec();
                debug_assert!(next.ref_count() > 0);
                (TransitionToNotifiedByVal::DoNothing, Some(next))
            } else if s.is_complete() || s.is_notified() {
                let next = s.ref_dec();
                if next.ref_count() == 0 {
                    (TransitionToNotifiedByVal::Dealloc, Some(next))
                } else {
                    (TransitionToNotifiedByVal::DoNothing, Some(next))
                }
            } else {
                (
                    TransitionToNotifiedByVal::Submit,
                    Some(Snapshot(s.0 | NOTIFIED)),
                )
            }
        })
    }

    /// `Waker::wake_by_ref`: takes a new reference if it must submit.
    pub(crate) fn transition_to_notified_by_ref(&self) -> TransitionToNotifiedByRef {
        self.fetch_update(|s| {
            if s.is_complete() || s.is_notified() {
                (TransitionToNotifiedByRef::DoNothing, None)
            } else if s.is_running() {
                (
                    TransitionToNotifiedByRef::DoNothing,
                    Some(Snapshot(s.0 | NOTIFIED)),
                )
            } else {
                let next = Snapshot(s.0 | NOTIFIED).ref_inc();
                (TransitionToNotifiedByRef::Submit, Some(next))
            }
        })
    }

    /// An abort from a handle. True if the caller took a new reference for
    /// a `Notified` and must submit it, so a worker drops the future.
    #[must_use]
    pub(crate) fn transition_to_notified_and_cancel(&self) -> bool {
        self.fetch_update(|s| {
            if s.is_cancelled() || s.is_complete() {
                (false, None)
            } else if s.is_running() {
                // The runner sees CANCELLED when it goes idle.
                (false, Some(Snapshot(s.0 | CANCELLED | NOTIFIED)))
            } else if s.is_notified() {
                // Whoever pops it from its queue cancels it.
                (false, Some(Snapshot(s.0 | CANCELLED)))
            } else {
                let next = Snapshot(s.0 | CANCELLED | NOTIFIED).ref_inc();
                (true, Some(next))
            }
        })
    }

    /// Runtime shutdown. True if the caller now owns the future (as a runner
    /// would) and must cancel and complete the task.
    #[must_use]
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.fetch_update(|s| {
            if s.is_running() || s.is_complete() {
                (false, Some(Snapshot(s.0 | CANCELLED)))
            } else {
                (true, Some(Snapshot(s.0 | CANCELLED | RUNNING)))
            }
        })
    }

    /// The `JoinHandle` is dropped. `Ok` means the task had not completed:
    /// JOIN_WAKER is cleared too, so the handle owns the waker slot again and
    /// must empty it (a stored waker would otherwise live, and keep its task
    /// alive, until this task is freed). `Err` means the task completed and
    /// the handle must drop the output itself.
    pub(crate) fn unset_join_interested(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update(|s| {
            debug_assert!(s.is_join_interested());
            if s.is_complete() {
                (Err(s), None)
            } else {
                let next = Snapshot(s.0 & !(JOIN_INTEREST | JOIN_WAKER));
                (Ok(next), Some(next))
            }
        })
    }

    /// Publishes the join waker the handle just wrote. `Err` means the task
    /// completed first: read the output instead.
    pub(crate) fn set_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update(|s| {
            debug_assert!(s.is_join_interested() && !s.is_join_waker_set());
            if s.is_complete() {
                (Err(s), None)
            } else {
                let next = Snapshot(s.0 | JOIN_WAKER);
                (Ok(next), Some(next))
            }
        })
    }

    /// Takes the join waker slot back so the handle may replace it. `Err`
    /// means the task completed first: read the output instead.
    pub(crate) fn unset_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update(|s| {
            debug_assert!(s.is_join_interested() && s.is_join_waker_set());
            if s.is_complete() {
                (Err(s), None)
            } else {
                let next = Snapshot(s.0 & !JOIN_WAKER);
                (Ok(next), Some(next))
            }
        })
    }

    pub(crate) fn ref_inc(&self) {
        // Relaxed: a new reference is made from an existing one, which keeps
        // the task alive meanwhile (as `Arc::clone` does).
        let prev = self.0.fetch_add(REF_ONE, Ordering::Relaxed);
        if prev > isize::MAX as usize {
            // Far beyond any sane number of wakers: a leak in the caller.
            std::process::abort();
        }
    }

    /// True if this was the last reference.
    pub(crate) fn ref_dec(&self) -> bool {
        // AcqRel: the last owner must see every other owner's writes before
        // it frees the task (as `Arc::drop` does).
        let prev = Snapshot(self.0.fetch_sub(REF_ONE, Ordering::AcqRel));
        debug_assert!(prev.ref_count() >= 1);
        prev.ref_count() == 1
    }
}

impl Snapshot {
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn is_join_waker_set(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }
    fn ref_inc(self) -> Snapshot {
        Snapshot(self.0 + REF_ONE)
    }
    fn ref_dec(self) -> Snapshot {
        debug_assert!(self.ref_count() > 0);
        Snapshot(self.0 - REF_ONE)
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("cancelled", &self.is_cancelled())
            .field("join_interest", &self.is_join_interested())
            .field("join_waker", &self.is_join_waker_set())
            .field("refs", &self.ref_count())
            .field("flags", &(self.0 & FLAGS))
            .finish()
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.load().fmt(f)
    }
}

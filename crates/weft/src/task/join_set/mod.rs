//! A collection of spawned tasks, awaited in the order they finish.
//!
//! # How the set finds finished tasks without polling all of them
//!
//! Every task in the set is an *entry* in a slab (`Vec<Slot<T>>` plus a free
//! list). Each entry owns its own waker, an [`EntryWaker`] that knows the
//! entry's index and generation. The set polls an entry's [`JoinHandle`] only
//! with that waker, so when the task finishes, the scheduler wakes the entry,
//! not the task that owns the set. Waking an entry pushes `(index,
//! generation)` onto the set's shared [`ReadyList`] and wakes the *parent*: the
//! waker of the last `poll_join_next` that returned `Pending`.
//!
//! `poll_join_next` then polls only the entries on the ready list, so one
//! call costs O(number of entries woken), not O(len) — a set of 100 000
//! pending tasks wakes and polls one handle when one task finishes.
//!
//! Invariants:
//!
//! - An entry is queued at most once at a time: its waker's `queued` flag is
//!   set by whoever queues it and cleared by `poll_join_next` right before it
//!   polls the handle, so a wake that lands during or after that poll queues
//!   the entry again and is never lost.
//! - A new entry starts queued (on the set's private `local` queue), so the
//!   set polls its handle once and the handle learns the entry's waker.
//! - A slot's generation is bumped every time its entry leaves, and a queued
//!   `(index, generation)` whose generation no longer matches is skipped, so
//!   a late wake from a removed entry never polls the slot's next owner.
//! - `detach_all` swaps in a fresh ready list, so wakers of detached tasks
//!   push into a list nobody reads and can never name a reused slot.
//!
//! Lock: the ready list sits behind a `std::sync::Mutex` (the facade does not
//! depend on `parking_lot`). It is held only to push one index, to take the
//! whole list, or to store the parent waker; wakers are called after it is
//! released.

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::panic;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::task::{AbortHandle, Id, JoinError, JoinHandle};

mod ready;

use ready::{EntryWaker, ReadyList};

/// How many queued entries one `poll_join_next` call polls before it yields
/// back to the scheduler (after waking itself), so a set with many queued
/// entries cannot hog its worker inside a single poll. (Each call returns at
/// the first finished task; the entries it polls before that are new ones
/// and spurious wakes.)
const POLL_BUDGET: usize = 64;

/// A queued entry: its slot index and the slot's generation when it was queued.
type Key = (usize, u64);

/// A collection of tasks spawned on a weft runtime, awaited in the order
/// they finish.
///
/// A `JoinSet` owns its tasks: [`join_next`](JoinSet::join_next) returns the
/// output of whichever task finishes next, and dropping the set aborts every
/// task still in it. All tasks in a set have the same output type `T`.
///
/// Tasks are spawned with [`spawn`](JoinSet::spawn) (on the current runtime,
/// or the global one outside any runtime), [`spawn_on`](JoinSet::spawn_on)
/// (on a given runtime) or [`spawn_blocking`](JoinSet::spawn_blocking) (on the
/// blocking pool).
///
/// `JoinSet` implements [`Stream`](futures_core::Stream) with
/// `Item = Result<T, JoinError>`, so the futures ecosystem's stream adapters
/// work on it.
///
/// Waiting costs O(1) per finished task, however many tasks are in the set:
/// each task wakes only its own entry, and the set polls only woken entries.
///
/// # Examples
///
/// ```
/// use weft::task::JoinSet;
///
/// weft::block_on(async {
///     let mut set = JoinSet::new();
///     for i in 0..10u64 {
///         set.spawn(async move { i * i });
///     }
///
///     let mut sum = 0;
///     while let Some(res) = set.join_next().await {
///         sum += res.unwrap();
///     }
///     assert_eq!(sum, 285);
/// });
/// ```
pub struct JoinSet<T> {
    /// The slab: a slot per entry, reused through `free`.
    slots: Vec<Slot<T>>,
    /// Indices of empty slots.
    free: Vec<usize>,
    /// Number of occupied slots.
    len: usize,
    /// Entries queued by the set itself (new entries, and ones taken from
    /// `ready` in a batch); only the set touches it, so no lock.
    local: VecDeque<Key>,
    /// Entries queued by their wakers, and the parent waker.
    ready: Arc<ReadyList>,
}

/// One slab slot. `generation` outlives the entry, so stale keys can be told
/// apart from the slot's current entry.
struct Slot<T> {
    generation: u64,
    entry: Option<Entry<T>>,
}

/// A task in the set.
struct Entry<T> {
    handle: JoinHandle<T>,
    /// The same allocation as `waker`; kept to clear its `queued` flag.
    notify: Arc<EntryWaker>,
    /// `notify` as a `Waker`, made once so each poll passes it for free.
    waker: Waker,
}

/// What `poll_entries` does once the queues run dry.
#[derive(Clone, Copy)]
enum WhenIdle<'a, 'b> {
    /// Register this context's waker as the parent and return `Pending`.
    Register(&'a Context<'b>),
    /// Return `Pending` without registering anything (`try_join_next`).
    GiveUp,
}

impl<T> JoinSet<T> {
    /// Creates an empty `JoinSet`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::task::JoinSet;
    ///
    /// let set: JoinSet<()> = JoinSet::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn new() -> Self {
        JoinSet {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            local: VecDeque::new(),
            ready: Arc::new(ReadyList::default()),
        }
    }

    /// Returns the number of tasks in the set.
    ///
    /// A task counts until its result is returned by one of the `join`
    /// methods, or until it is detached; a task that has finished but whose
    /// result has not been taken yet still counts.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::task::JoinSet;
    ///
    /// weft::block_on(async {
    ///     let mut set = JoinSet::new();
    ///     set.spawn(async { 1 });
    ///     set.spawn(async { 2 });
    ///     assert_eq!(set.len(), 2);
    ///
    ///     set.join_next().await;
    ///     assert_eq!(set.len(), 1);
    /// });
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Returns `true` if the set holds no tasks.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::task::JoinSet;
    ///
    /// weft::block_on(async {
    ///     let mut set = JoinSet::new();
    ///     assert!(set.is_empty());
    ///     set.spawn(async {});
    ///     assert!(!set.is_empty());
    /// });
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Spawns `future` as a new task and adds it to the set.
    ///
    /// The task runs on the runtime this is called from, or on weft's global
    /// runtime when called outside any runtime (the same rule as
    /// [`weft::spawn`](crate::spawn)). Returns an [`AbortHandle`] that can
    /// cancel the task without taking it out of the set: its result then
    /// comes back from [`join_next`](JoinSet::join_next) as a cancelled
    /// [`JoinError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::task::JoinSet;
    ///
    /// weft::block_on(async {
    ///     let mut set = JoinSet::new();
    ///     set.spawn(async { "done" });
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), "done");
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.insert(crate::spawn(future))
    }

    /// Spawns `future` on the runtime behind `handle` and adds it to the set.
    ///
    /// Returns an [`AbortHandle`] for the task, as [`spawn`](JoinSet::spawn)
    /// does.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::task::JoinSet;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let mut set = JoinSet::new();
    /// set.spawn_on(async { 7 }, rt.handle());
    ///
    /// let out = rt.block_on(async { set.join_next().await });
    /// assert_eq!(out.unwrap().unwrap(), 7);
    /// ```
    #[track_caller]
    pub fn spawn_on<F>(&mut self, future: F, handle: &crate::runtime::Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.insert(handle.spawn(future))
    }

    /// Runs the blocking closure `f` on the blocking thread pool and adds it
    /// to the set.
    ///
    /// Uses the current runtime's pool, or the global runtime's outside any
    /// runtime (the same rule as [`weft::spawn_blocking`](crate::spawn_blocking)).
    /// Aborting a blocking task that has already started does not stop it;
    /// it only cancels it if it has not started yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::task::JoinSet;
    ///
    /// weft::block_on(async {
    ///     let mut set = JoinSet::new();
    ///     set.spawn_blocking(|| std::thread::current().id());
    ///     let worker = set.join_next().await.unwrap().unwrap();
    ///     assert_ne!(worker, std::thread::current().id());
    /// });
    /// ```
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.insert(crate::spawn_blocking(f))
    }

    /// Runs the blocking closure `f` on the blocking pool of the runtime
    /// behind `handle` and adds it to the set.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::task::JoinSet;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let mut set = JoinSet::new();
    /// set.spawn_blocking_on(|| 2 + 2, rt.handle());
    ///
    /// let out = rt.block_on(async { set.join_next().await });
    /// assert_eq!(out.unwrap().unwrap(), 4);
    /// ```
    pub fn spawn_blocking_on<F>(&mut self, f: F, handle: &crate::runtime::Handle) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.insert(handle.spawn_blocking(f))
    }

    /// Puts `handle` in a free slot, queued so the next poll registers its
    /// waker.
    fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    entry: None,
                });
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[index];
        let key = (index, slot.generation);
        let notify = Arc::new(EntryWaker {
            key,
            queued: AtomicBool::new(true),
            ready: Arc::clone(&self.ready),
        });
        slot.entry = Some(Entry {
            handle,
            waker: Waker::from(Arc::clone(&notify)),
            notify,
        });
        self.local.push_back(key);
        self.len += 1;
        abort
    }

    /// Empties the slot at `index`, bumping its generation so keys that
    /// still name it go stale.
    fn remove(&mut self, index: usize) -> JoinHandle<T> {
        let slot = &mut self.slots[index];
        let entry = slot.entry.take().expect("JoinSet: removed an empty slot");
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
        self.len -= 1;
        entry.handle
    }

    /// Waits for the next task in the set to finish and returns its output.
    ///
    /// Returns `None` when the set is empty. Tasks are returned in the order
    /// they finish. A task that panicked or was aborted comes back as an
    /// `Err(JoinError)` (see [`JoinError::is_panic`] and
    /// [`JoinError::is_cancelled`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the returned future is dropped before it completes
    /// (in a `select!`, say), no task's output is lost; it stays in the set
    /// for the next call.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::task::JoinSet;
    ///
    /// weft::block_on(async {
    ///     let mut set = JoinSet::new();
    ///     set.spawn(async { 1 });
    ///     set.spawn(async { panic!("boom") });
    ///
    ///     let mut ok = 0;
    ///     let mut panicked = 0;
    ///     while let Some(res) = set.join_next().await {
    ///         match res {
    ///             Ok(_) => ok += 1,
    ///             Err(err) if err.is_panic() => panicked += 1,
    ///             Err(err) => panic!("unexpected cancellation of task {}", err.id()),
    ///         }
    ///     }
    ///     assert_eq!((ok, panicked), (1, 1));
    ///     assert!(set.join_next().await.is_none());
    /// });
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// Like [`join_next`](JoinSet::join_next), and also returns the [`Id`]
    /// of the task that finished.
    ///
    /// On error the id is in the [`JoinError`] ([`JoinError::id`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`join_next`](JoinSet::join_next).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::task::JoinSet;
    ///
    /// weft::block_on(async {
    ///     let mut set = JoinSet::new();
    ///     let abort = set.spawn(async { "hi" });
    ///
    ///     let (id, out) = set.join_next_with_id().await.unwrap().unwrap();
    ///     assert_eq!(id, abort.id());
    ///     assert_eq!(out, "hi");
    /// });
    /// ```
    pub async fn join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        poll_fn(|cx| self.poll_join_next_with_id(cx)).await
    }

    /// Takes the output of a task that has already finished, without waiting.
    ///
    /// Returns `None` if the set is empty or no task in it has finished yet
    /// (or its completion has not been noticed yet: a task is seen as
    /// finished once it has woken the set).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::task::JoinSet;
    ///
    /// weft::block_on(async {
    ///     let mut set: JoinSet<()> = JoinSet::new();
    ///     assert!(set.try_join_next().is_none());
    ///
    ///     set.spawn(std::future::pending());
    ///     assert!(set.try_join_next().is_none()); // still running
    /// });
    /// ```
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.try_join_next_with_id()
            .map(|res| res.map(|(_, out)| out))
    }

    /// Like [`try_join_next`](JoinSet::try_join_next), and also returns the
    /// [`Id`] of the task that finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::task::JoinSet;
    ///
    /// weft::block_on(async {
    ///     let mut set: JoinSet<u8> = JoinSet::new();
    ///     assert!(set.try_join_next_with_id().is_none());
    /// });
    /// ```
    pub fn try_join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        if self.is_empty() {
            return None;
        }
        self.take_ready();
        // Poll only what is queued now: a handle that keeps waking itself
        // while it is polled must not keep this loop going forever.
        let budget = self.local.len();
        match self.poll_entries(budget, WhenIdle::GiveUp) {
            Poll::Ready(res) => Some(res),
            Poll::Pending => None,
        }
    }

    /// Polls for the next task in the set to finish.
    ///
    /// Returns:
    ///
    /// - `Poll::Ready(Some(res))` with the output of a finished task,
    /// - `Poll::Ready(None)` when the set is empty,
    /// - `Poll::Pending` when no task has finished yet; `cx`'s waker is woken
    ///   when one does. Only the waker of the latest call is woken.
    ///
    /// This is the building block of [`join_next`](JoinSet::join_next), for
    /// hand-written futures. Each call polls only the tasks that woke the set
    /// since the last call, and at most a fixed number of them; when it stops
    /// early it wakes `cx` and returns `Pending`, so a long run of finished
    /// tasks does not starve the rest of the worker.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use weft::task::JoinSet;
    ///
    /// weft::block_on(async {
    ///     let mut set = JoinSet::new();
    ///     set.spawn(async { 3 });
    ///     let out = poll_fn(|cx| set.poll_join_next(cx)).await;
    ///     assert_eq!(out.unwrap().unwrap(), 3);
    /// });
    /// ```
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        self.poll_join_next_with_id(cx)
            .map(|res| res.map(|res| res.map(|(_, out)| out)))
    }

    /// Like [`poll_join_next`](JoinSet::poll_join_next), and also returns the
    /// [`Id`] of the task that finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use weft::task::JoinSet;
    ///
    /// weft::block_on(async {
    ///     let mut set = JoinSet::new();
    ///     let abort = set.spawn(async { 3 });
    ///     let (id, out) = poll_fn(|cx| set.poll_join_next_with_id(cx))
    ///         .await
    ///         .unwrap()
    ///         .unwrap();
    ///     assert_eq!((id, out), (abort.id(), 3));
    /// });
    /// ```
    pub fn poll_join_next_with_id(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<(Id, T), JoinError>>> {
        if self.is_empty() {
            return Poll::Ready(None);
        }
        match self.poll_entries(POLL_BUDGET, WhenIdle::Register(cx)) {
            Poll::Ready(res) => Poll::Ready(Some(res)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Moves everything on the shared ready list to the end of `local`.
    ///
    /// Returns `false` if the shared list was empty; then, for
    /// [`WhenIdle::Register`], the parent waker is stored under the same lock
    /// so a wake that comes after this check wakes it.
    fn take_ready_or_park(&mut self, when_idle: WhenIdle<'_, '_>) -> bool {
        let mut state = self.ready.lock();
        if state.ready.is_empty() {
            if let WhenIdle::Register(cx) = when_idle {
                let parked = state.parent.as_ref();
                if !parked.is_some_and(|w| w.will_wake(cx.waker())) {
                    state.parent = Some(cx.waker().clone());
                }
            }
            return false;
        }
        if self.local.is_empty() {
            // Swap buffers so neither side allocates in the steady state.
            std::mem::swap(&mut self.local, &mut state.ready);
        } else {
            self.local.append(&mut state.ready);
        }
        true
    }

    fn take_ready(&mut self) {
        self.take_ready_or_park(WhenIdle::GiveUp);
    }

    /// Polls up to `budget` queued entries, oldest first, and returns the
    /// first that is ready.
    fn poll_entries(
        &mut self,
        budget: usize,
        when_idle: WhenIdle<'_, '_>,
    ) -> Poll<Result<(Id, T), JoinError>> {
        for _ in 0..budget {
            let key = match self.local.pop_front() {
                Some(key) => key,
                None if self.take_ready_or_park(when_idle) => continue,
                None => return Poll::Pending,
            };
            let (index, generation) = key;
            let slot = &mut self.slots[index];
            let entry = match slot.entry.as_mut() {
                Some(entry) if slot.generation == generation => entry,
                // Stale key: the entry it named has left the set.
                _ => continue,
            };
            // Release: pairs with the AcqRel swap in `EntryWaker::wake_by_ref`;
            // clearing before the poll means a wake during or after it
            // queues the entry again.
            entry.notify.queued.store(false, Ordering::Release);
            let mut entry_cx = Context::from_waker(&entry.waker);
            if let Poll::Ready(res) = Pin::new(&mut entry.handle).poll(&mut entry_cx) {
                let id = entry.handle.id();
                self.remove(index);
                return Poll::Ready(res.map(|out| (id, out)));
            }
            // The handle woke its own entry while we polled it: the task's
            // coop budget is spent (or the task finished just now). Every
            // other handle would answer the same, so yield instead.
            // Relaxed: a hint; a stale answer costs one extra poll or yield.
            if entry.notify.queued.load(Ordering::Relaxed) {
                break;
            }
        }
        // Out of budget, or yielding: come back after the scheduler has run
        // other tasks.
        if let WhenIdle::Register(cx) = when_idle {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// Aborts every task in the set.
    ///
    /// The tasks stay in the set: each one's result (a cancelled
    /// [`JoinError`], or its output if it finished first) still comes back
    /// from [`join_next`](JoinSet::join_next). Use
    /// [`shutdown`](JoinSet::shutdown) to abort and wait in one call.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::task::JoinSet;
    ///
    /// weft::block_on(async {
    ///     let mut set: JoinSet<()> = JoinSet::new();
    ///     for _ in 0..3 {
    ///         set.spawn(std::future::pending());
    ///     }
    ///     set.abort_all();
    ///
    ///     while let Some(res) = set.join_next().await {
    ///         assert!(res.unwrap_err().is_cancelled());
    ///     }
    /// });
    /// ```
    pub fn abort_all(&mut self) {
        for entry in self.slots.iter().filter_map(|slot| slot.entry.as_ref()) {
            entry.handle.abort();
        }
    }

    /// Removes every task from the set without aborting it.
    ///
    /// The tasks keep running in the background, as if their
    /// [`JoinHandle`]s had been dropped; their outputs are discarded. The set
    /// is empty afterwards and can be reused.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use weft::task::JoinSet;
    ///
    /// // Outside any runtime, tasks run on weft's global runtime.
    /// let (tx, rx) = mpsc::channel();
    /// let mut set = JoinSet::new();
    /// set.spawn(async move { tx.send("still ran").unwrap() });
    /// set.detach_all();
    /// assert!(set.is_empty());
    /// drop(set); // would abort the task, had it not been detached
    ///
    /// assert_eq!(rx.recv().unwrap(), "still ran");
    /// ```
    pub fn detach_all(&mut self) {
        self.slots.clear();
        self.free.clear();
        self.local.clear();
        self.len = 0;
        // Wakers of the detached tasks keep the old list alive and push onto
        // it; nobody reads it again, so they can never name a reused slot.
        let old = std::mem::take(&mut self.ready);
        let mut state = old.lock();
        state.ready.clear();
        state.parent = None;
    }

    /// Aborts every task in the set and waits until all of them have
    /// finished.
    ///
    /// Afterwards the set is empty. Outputs of tasks that finished before
    /// they could be aborted are discarded.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped early, every task has still
    /// been aborted and the ones not yet joined stay in the set.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::task::JoinSet;
    ///
    /// weft::block_on(async {
    ///     let mut set: JoinSet<()> = JoinSet::new();
    ///     set.spawn(std::future::pending());
    ///     set.shutdown().await;
    ///     assert!(set.is_empty());
    /// });
    /// ```
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Waits for every task in the set and returns their outputs in the
    /// order the tasks finished.
    ///
    /// # Panics
    ///
    /// If a task panicked, this resumes that panic (the remaining tasks are
    /// aborted when the set is dropped). If a task was aborted, this panics
    /// with a message naming its id; use [`join_next`](JoinSet::join_next)
    /// to handle cancellation yourself.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::task::JoinSet;
    ///
    /// weft::block_on(async {
    ///     let mut set = JoinSet::new();
    ///     for i in 0..5 {
    ///         set.spawn(async move { i });
    ///     }
    ///     let mut outputs = set.join_all().await;
    ///     outputs.sort();
    ///     assert_eq!(outputs, [0, 1, 2, 3, 4]);
    /// });
    /// ```
    pub async fn join_all(mut self) -> Vec<T> {
        let mut outputs = Vec::with_capacity(self.len());
        while let Some(res) = self.join_next().await {
            match res {
                Ok(out) => outputs.push(out),
                Err(err) if err.is_panic() => panic::resume_unwind(err.into_panic()),
                Err(err) => panic!(
                    "JoinSet::join_all: task {} was aborted; \
                     use join_next to handle cancelled tasks",
                    err.id()
                ),
            }
        }
        outputs
    }
}

impl<T> Default for JoinSet<T> {
    /// Creates an empty `JoinSet`, as [`JoinSet::new`].
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T> Drop for JoinSet<T> {
    /// Aborts every task still in the set.
    fn drop(&mut self) {
        self.abort_all();
        // Tasks that outlive the set must not keep the parent task alive
        // through the waker parked here.
        self.ready.lock().parent = None;
    }
}

// The set never pins its fields in place: handles are `Unpin` and are polled
// through `Pin::new`.
impl<T> Unpin for JoinSet<T> {}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len).finish()
    }
}

impl<T> futures_core::Stream for JoinSet<T> {
    type Item = Result<T, JoinError>;

    /// Same as [`JoinSet::poll_join_next`]; the stream ends when the set is
    /// empty (and starts again if tasks are spawned into it later).
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_join_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len, Some(self.len))
    }
}

#[cfg(test)]
mod tests;

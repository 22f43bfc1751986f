//! The blocking pool: an elastic set of OS threads for closures that block
//! (file I/O, CPU-heavy work, blocking libraries), so they never stall a
//! worker.
//!
//! A closure becomes an ordinary task whose future runs it on first poll,
//! so [`spawn_blocking`](crate::Handle::spawn_blocking) returns the same
//! [`JoinHandle`] as `spawn`. Threads start on demand up to
//! `max_blocking_threads`; beyond that, closures queue. A thread idle for
//! `thread_keep_alive` exits.
//!
//! Wake-ups are counted (`num_notify`) under the pool's lock, so a thread
//! whose keep-alive expires at the moment a closure is queued for it still
//! takes the closure instead of exiting with it unclaimed.
//!
//! The loom models in `loom_tests::blocking` race a spawn against a thread's
//! keep-alive exit, and shutdown against a spawn; threads and the thread
//! handles come from `crate::sync` for that.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::coop::{self, Budget};
use crate::scheduler::{run_hook, Config};
use crate::sync::{self, thread, Arc, Condvar, Mutex};
use crate::task::{self, Id, JoinHandle, Notified, Schedule, Task};

pub(crate) struct BlockingPool {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<PoolState>,
    /// Idle threads wait here for work.
    work: Condvar,
    /// `shutdown` waits here for threads to exit.
    exited: Condvar,
    config: Config,
}

struct PoolState {
    queue: VecDeque<Notified<BlockingSchedule>>,
    num_threads: usize,
    num_idle: usize,
    /// Wake-ups sent to idle threads and not yet taken.
    num_notify: usize,
    shutdown: bool,
    next_thread_id: usize,
    threads: HashMap<usize, thread::JoinHandle<()>>,
}

/// The scheduler hook of blocking tasks. They run once and are never woken
/// again: an abort that finds one queued only sets CANCELLED, and the pool
/// thread that pops it then drops the closure instead of running it.
#[derive(Clone)]
struct BlockingSchedule(Arc<Inner>);

impl Schedule for BlockingSchedule {
    fn schedule(&self, task: Notified<Self>) {
        BlockingPool::push(&self.0, task);
    }

    fn release(&self, _task: &Task<Self>) -> Option<Task<Self>> {
        None
    }
}

/// A future that runs a closure once, with no coop budget limit.
struct BlockingTask<F>(Option<F>);

impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self
            .0
            .take()
            .expect("blocking task polled after it completed");
        Poll::Ready(coop::with_budget(Budget::unconstrained(), f))
    }
}

impl BlockingPool {
    pub(crate) fn new(config: &Config) -> BlockingPool {
        BlockingPool {
            inner: Arc::new(Inner {
                state: Mutex::new(PoolState {
                    queue: VecDeque::new(),
                    num_threads: 0,
                    num_idle: 0,
                    num_notify: 0,
                    shutdown: false,
                    next_thread_id: 0,
                    threads: HashMap::new(),
                }),
                work: Condvar::new(),
                exited: Condvar::new(),
                config: config.clone(),
            }),
        }
    }

    pub(crate) fn spawn<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let schedule = BlockingSchedule(self.inner.clone());
        let (task, notified, join) = task::new_task(BlockingTask(Some(f)), schedule, Id::next());
        // Blocking tasks are tracked by the pool's queue, not an owned list.
        drop(task);
        BlockingPool::push(&self.inner, notified);
        join
    }

    fn push(inner: &Arc<Inner>, task: Notified<BlockingSchedule>) {
        let mut state = inner.state.lock();
        if state.shutdown {
            drop(state);
            task.0.shutdown();
            return;
        }
        state.queue.push_back(task);
        if state.num_idle > 0 {
            state.num_idle -= 1;
            state.num_notify += 1;
            inner.work.notify_one();
        } else if state.num_threads < inner.config.max_blocking_threads.max(1) {
            let id = state.next_thread_id;
            state.next_thread_id += 1;
            state.num_threads += 1;
            match spawn_thread(inner, id) {
                Ok(thread) => {
                    state.threads.insert(id, thread);
                }
                Err(error) => {
                    state.num_threads -= 1;
                    if state.num_threads == 0 {
                        // Nobody can ever run it: fail loudly rather than hang.
                        let task = state.queue.pop_back();
                        drop(state);
                        drop(task);
                        panic!("weft: cannot start a blocking thread ({error}); lower max_blocking_threads or raise the OS thread limit");
                    }
                    // A running thread will take it when it finishes its work.
                }
            }
        }
        // Otherwise every thread is busy and the pool is at its cap: the task
        // waits in the queue for the next thread that finishes.
    }

    /// Cancels queued closures and waits for running ones for at most
    /// `timeout`; threads still running after that are detached.
    ///
    /// Called on one of this pool's own threads (a closure that drops the
    /// last handle to its runtime), it waits for the others only: waiting
    /// for itself would never end.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) {
        let inner = &*self.inner;
        let on_own_thread = CURRENT_POOL.with(|pool| pool.get() == Arc::as_ptr(&self.inner));
        let outlive = usize::from(on_own_thread);
        let mut state = inner.state.lock();
        if state.shutdown && state.threads.is_empty() {
            return;
        }
        state.shutdown = true;
        let queued: Vec<_> = state.queue.drain(..).collect();
        inner.work.notify_all();
        drop(state);
        for task in queued {
            task.0.shutdown();
        }

        // A timeout too large for an `Instant` is no deadline at all.
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        let mut state = inner.state.lock();
        while state.num_threads > outlive {
            match deadline {
                None => sync::wait(&inner.exited, &mut state),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    sync::wait_timeout(&inner.exited, &mut state, deadline - now);
                }
            }
        }
        let all_exited = state.num_threads == outlive;
        let threads: Vec<_> = state.threads.drain().map(|(_, thread)| thread).collect();
        drop(state);
        let me = thread::current().id();
        for thread in threads {
            if thread.thread().id() == me {
                // This thread exits once the closure that shut down returns.
                continue;
            }
            if all_exited || sync::is_finished(&thread) {
                let _ = thread.join();
            }
            // Else: still running a closure past the timeout; detached.
        }
    }

    pub(crate) fn num_threads(&self) -> usize {
        self.inner.state.lock().num_threads
    }

    pub(crate) fn num_idle_threads(&self) -> usize {
        self.inner.state.lock().num_idle
    }

    pub(crate) fn queue_depth(&self) -> usize {
        self.inner.state.lock().queue.len()
    }

    /// Checks the counts against each other in one lock hold (the accessors
    /// above each take the lock, so together they can disagree): threads
    /// within the cap, and every thread waiting for work counted once,
    /// either idle or holding a wake-up it has not taken yet.
    #[cfg(all(test, weft_loom))]
    pub(crate) fn assert_counts_consistent(&self) {
        let state = self.inner.state.lock();
        let cap = self.inner.config.max_blocking_threads.max(1);
        assert!(state.num_threads <= cap, "{} threads", state.num_threads);
        assert!(
            state.num_idle + state.num_notify <= state.num_threads,
            "{} idle + {} notified > {} threads",
            state.num_idle,
            state.num_notify,
            state.num_threads
        );
    }
}

sync::const_thread_local! {
    /// The pool this thread belongs to, if it is a blocking thread.
    static CURRENT_POOL: std::cell::Cell<*const Inner> = const { std::cell::Cell::new(std::ptr::null()) };
}

fn spawn_thread(inner: &Arc<Inner>, id: usize) -> std::io::Result<thread::JoinHandle<()>> {
    let config = &inner.config;
    let mut builder = thread::Builder::new().name((config.thread_name)());
    if let Some(size) = config.thread_stack_size {
        builder = builder.stack_size(size);
    }
    let inner = inner.clone();
    builder.spawn(move || {
        CURRENT_POOL.with(|pool| pool.set(Arc::as_ptr(&inner)));
        run_hook("on_thread_start", &inner.config.on_thread_start);
        run(&inner, id);
        run_hook("on_thread_stop", &inner.config.on_thread_stop);
    })
}

/// Runs queued closures until shutdown or until idle for `keep_alive`.
///
/// The thread stops counting itself in `num_threads` under the same lock
/// hold in which it decides to exit, so a `push` either sees it idle (and
/// hands it the closure) or sees it gone (and starts a new thread); it can
/// never count on a thread that is already leaving.
fn run(inner: &Inner, id: usize) {
    let keep_alive = inner.config.thread_keep_alive;
    let mut state = inner.state.lock();
    loop {
        while let Some(task) = state.queue.pop_front() {
            drop(state);
            task.run();
            state = inner.state.lock();
        }
        if state.shutdown {
            exit(inner, &mut state);
            return;
        }
        state.num_idle += 1;
        let idle_since = Instant::now();
        loop {
            sync::wait_timeout(
                &inner.work,
                &mut state,
                keep_alive.saturating_sub(idle_since.elapsed()),
            );
            if state.num_notify > 0 {
                state.num_notify -= 1;
                break;
            }
            if state.shutdown {
                state.num_idle -= 1;
                exit(inner, &mut state);
                return;
            }
            if idle_since.elapsed() >= keep_alive {
                state.num_idle -= 1;
                // Exiting on our own: nobody will join us, so detach.
                drop(state.threads.remove(&id));
                exit(inner, &mut state);
                return;
            }
            // Spurious wake-up.
        }
    }
}

/// A thread stops counting itself; called with the lock held.
fn exit(inner: &Inner, state: &mut PoolState) {
    state.num_threads -= 1;
    inner.exited.notify_all();
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingPool")
            .field("threads", &self.num_threads())
            .finish_non_exhaustive()
    }
}

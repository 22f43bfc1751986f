//! A worker thread: where tasks are found, run, stolen, and where an idle
//! worker goes to sleep.
//!
//! A worker takes one task at a time: from its LIFO slot, its local queue,
//! the injector, or, when all are empty, by stealing half of a random
//! victim's queue. Every `global_queue_interval` task polls (LIFO polls
//! included) it first moves a batch from the injector to its local queue,
//! so remotely spawned tasks cannot starve behind local ones; every
//! `event_interval` turns of its run loop it polls the driver without
//! blocking, so I/O is served even when no worker is idle.
//!
//! The LIFO slot holds the task most recently woken by the running task
//! (typically the receiver of a message just sent), so it runs next while
//! its data is hot in cache. It is capped: after [`MAX_LIFO_POLLS`] LIFO
//! polls in a row the slot's task goes to the back of the local queue, so
//! two tasks bouncing a message cannot starve the rest.

use std::cell::{Cell, RefCell};
use std::ptr;
use std::time::Instant;

use crossbeam_utils::CachePadded;

use crate::coop::{self, Budget};
use crate::idle::Idle;
use crate::metrics::{PollTimeHistogram, WorkerCounts, WorkerMetrics};
use crate::owned::OwnedTasks;
use crate::park::{Driver, Parker};
use crate::queue::{Injector, Local, Steal, Stealer};
use crate::scheduler::{run_hook, Config, Handle, Remote, Shared};
use crate::sync::{thread, Arc, AtomicBool};
use crate::task::Notified;

/// LIFO-slot polls in a row before the slot's task must queue like others.
const MAX_LIFO_POLLS: u32 = 3;

/// What one worker owns. It moves into the thread-local context while a task
/// runs, so the task's wakes and spawns can reach the local queue.
///
/// Aligned to 128 bytes (two cache lines, the unit the prefetcher pulls):
/// the workers' cores are allocated together at start-up, and one worker's
/// counters written on every poll must not share a line with the next
/// worker's core.
#[repr(align(128))]
pub(crate) struct Core {
    index: usize,
    /// Ticks (task polls) left until the next injector check.
    until_global: u32,
    /// Run-loop turns left until the next driver poll and metrics
    /// publication.
    until_event: u32,
    local: Local<Notified<Handle>>,
    lifo: Option<Notified<Handle>>,
    is_searching: bool,
    rand: FastRand,
    counts: WorkerCounts,
    parker: Parker,
    /// True while this worker polls the driver: the tasks the driver wakes
    /// queue here without notifying anyone; the worker decides after the
    /// poll whether it needs help.
    in_driver: bool,
    /// The stall detector is on: tell it when polls begin and end.
    stall_watch: bool,
}

/// The thread-local view of the worker running on this thread.
struct Context {
    handle: Handle,
    core: RefCell<Option<Box<Core>>>,
}

crate::sync::const_thread_local! {
    static CURRENT: Cell<*const Context> = const { Cell::new(ptr::null()) };
}

/// True on a worker thread of any scheduler.
pub fn is_worker_thread() -> bool {
    CURRENT.with(|current| !current.get().is_null())
}

/// Builds the shared state and one core per worker. Cores are boxed because
/// they move between the run loop and the thread-local context on every
/// task poll; a pointer moves cheaper than the whole core.
#[allow(clippy::vec_box)]
pub(crate) fn create(mut config: Config, driver: Driver) -> (Handle, Vec<Box<Core>>) {
    let num_workers = config.worker_threads;
    // The watchdog owns the hook, and drops it at shutdown; a copy left in
    // the config would keep whatever it captured alive with `Shared`.
    let on_stall = config.on_stall.take();
    let driver = std::sync::Arc::new(driver);
    // No watchdog under loom: it is a real thread reading real time.
    let watchdog = match config.stall_threshold {
        Some(threshold) if !cfg!(weft_loom) => {
            Some(crate::stall::Watchdog::new(threshold, on_stall))
        }
        _ => None,
    };
    let mut cores = Vec::with_capacity(num_workers);
    let mut remotes = Vec::with_capacity(num_workers);
    let mut worker_metrics = Vec::with_capacity(num_workers);
    for index in 0..num_workers {
        let parker = Parker::new(driver.clone());
        let local = Local::new_fifo();
        remotes.push(Remote {
            stealer: local.stealer(),
            unparker: parker.unparker(),
        });
        let histogram = config.poll_time_histogram.as_ref();
        worker_metrics.push(CachePadded::new(WorkerMetrics::new(histogram)));
        cores.push(Box::new(Core {
            index,
            until_global: config.global_queue_interval.max(1),
            until_event: config.event_interval.max(1),
            local,
            lifo: None,
            is_searching: false,
            rand: FastRand::new(index as u32),
            counts: WorkerCounts::new(histogram),
            parker,
            in_driver: false,
            stall_watch: watchdog.is_some(),
        }));
    }
    let shared = Shared {
        remotes: remotes.into_boxed_slice(),
        injector: Injector::new(),
        idle: CachePadded::new(Idle::new(num_workers)),
        owned: OwnedTasks::new(num_workers),
        driver,
        worker_metrics: worker_metrics.into_boxed_slice(),
        blocking: crate::blocking::BlockingPool::new(&config),
        config,
        is_shutdown: AtomicBool::new(false),
        clock: CachePadded::new(crate::site::Clock::new()),
        watchdog: CachePadded::new(watchdog),
    };
    (
        Handle {
            shared: Arc::new(shared),
        },
        cores,
    )
}

/// Starts the thread for one worker.
pub(crate) fn spawn_thread(
    handle: &Handle,
    core: Box<Core>,
) -> std::io::Result<thread::JoinHandle<()>> {
    let config = &handle.shared.config;
    let mut builder = thread::Builder::new().name((config.thread_name)());
    if let Some(size) = config.thread_stack_size {
        builder = builder.stack_size(size);
    }
    let handle = handle.clone();
    builder.spawn(move || run(handle, core))
}

fn run(handle: Handle, core: Box<Core>) {
    run_hook("on_thread_start", &handle.shared.config.on_thread_start);
    let cx = Context {
        handle: handle.clone(),
        core: RefCell::new(None),
    };
    CURRENT.with(|current| current.set(&cx));
    // Resets the pointer even if the worker unwinds, so it never dangles.
    struct ResetCurrent;
    impl Drop for ResetCurrent {
        fn drop(&mut self) {
            CURRENT.with(|current| current.set(ptr::null()));
        }
    }
    let reset = ResetCurrent;
    let mut core = core;
    let now = Instant::now();
    core.counts.start_busy(now);
    handle.shared.clock.worker_woke(now);
    let core = cx.run(core);
    cx.shutdown_core(core);
    drop(reset);
    run_hook("on_thread_stop", &handle.shared.config.on_thread_stop);
}

/// Puts a task woken on a worker of `handle`'s scheduler into that worker's
/// LIFO slot (or local queue, for a yield). Gives the task back if this
/// thread is not such a worker, or is not running a task right now.
pub(crate) fn schedule_local(
    handle: &Handle,
    task: Notified<Handle>,
    is_yield: bool,
) -> Result<(), Notified<Handle>> {
    CURRENT.with(|current| {
        // SAFETY: a non-null pointer is the `Context` on `run`'s stack,
        // which outlives every use on this thread (it is reset before `run`
        // returns).
        let Some(cx) = (unsafe { current.get().as_ref() }) else {
            return Err(task);
        };
        if !cx.handle.ptr_eq(handle) {
            return Err(task);
        }
        let Ok(mut slot) = cx.core.try_borrow_mut() else {
            return Err(task);
        };
        let Some(core) = slot.as_mut() else {
            return Err(task);
        };
        if is_yield {
            core.local.push(task);
        } else if let Some(previous) = core.lifo.replace(task) {
            core.local.push(previous);
        } else {
            // This worker runs it right after the current poll.
            return Ok(());
        }
        if core.in_driver {
            return Ok(());
        }
        drop(slot);
        // Not `handle`: it may live inside the task just queued, which a
        // thief may already have run and freed. The worker's own handle
        // lives as long as the worker.
        cx.handle.notify_parked();
        Ok(())
    })
}

impl Core {
    /// One task poll: one tick towards the injector check. The driver
    /// poll counts run-loop turns instead (a LIFO run of up to
    /// `MAX_LIFO_POLLS` is one turn): it costs a system call, and a task
    /// bouncing messages through the LIFO slot should not pay it 4 times
    /// as often.
    fn count_poll(&mut self) {
        self.counts.poll_count += 1;
        self.until_global = self.until_global.saturating_sub(1);
    }

    fn has_queued_work(&self) -> bool {
        self.lifo.is_some() || !self.local.is_empty()
    }
}

impl Context {
    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    fn run(&self, mut core: Box<Core>) -> Box<Core> {
        let config = &self.shared().config;
        let event_interval = config.event_interval.max(1);
        let global_interval = config.global_queue_interval.max(1);
        while !self.shared().is_shutdown() {
            core.until_event -= 1;
            if core.until_event == 0 {
                core.until_event = event_interval;
                core = self.maintenance(core);
            }
            if let Some(task) = self.next_task(&mut core, global_interval) {
                core = self.run_task(core, task);
                continue;
            }
            if let Some(task) = self.steal_work(&mut core) {
                core = self.run_task(core, task);
                continue;
            }
            core = self.park(core);
        }
        core
    }

    fn next_task(&self, core: &mut Core, global_interval: u32) -> Option<Notified<Handle>> {
        if core.until_global == 0 {
            core.until_global = global_interval;
            // A batch, not one task: with every worker busy on local work,
            // one remote task per interval lets the injector fall ever
            // further behind (the spawn_many_remote_busy bench row).
            if let Some(task) = self.take_from_injector(core) {
                return Some(task);
            }
        }
        if let Some(task) = core.lifo.take() {
            core.counts.lifo_hits += 1;
            return Some(task);
        }
        if let Some(task) = core.local.pop() {
            return Some(task);
        }
        let task = self.take_from_injector(core)?;
        if !core.local.is_empty() {
            // We took a batch: let a sleeper share it.
            self.handle.notify_parked();
        }
        Some(task)
    }

    fn steal_work(&self, core: &mut Core) -> Option<Notified<Handle>> {
        let shared = self.shared();
        if !core.is_searching {
            if !shared.idle.transition_worker_to_searching() {
                return None;
            }
            core.is_searching = true;
        }
        let num_workers = shared.remotes.len();
        let start = core.rand.next_below(num_workers as u32) as usize;
        for offset in 0..num_workers {
            let victim = (start + offset) % num_workers;
            if victim == core.index {
                continue;
            }
            if let Some(task) = steal_from(&shared.remotes[victim].stealer, &core.local) {
                core.counts.steal_operations += 1;
                core.counts.steal_count += 1 + core.local.len() as u64;
                return Some(task);
            }
        }
        self.take_from_injector(core)
    }

    /// Takes a batch from the injector into the local queue and pops one,
    /// counting them all.
    fn take_from_injector(&self, core: &mut Core) -> Option<Notified<Handle>> {
        let before = core.local.len();
        let task = steal_into(|| self.shared().injector.steal_batch_and_pop(&core.local))?;
        // Thieves may take from the local queue meanwhile: a lower bound.
        let moved = core.local.len().saturating_sub(before);
        core.counts.injector_pops += 1 + moved as u64;
        Some(task)
    }

    fn run_task(&self, mut core: Box<Core>, task: Notified<Handle>) -> Box<Core> {
        if core.is_searching {
            core.is_searching = false;
            if self.shared().idle.transition_worker_from_searching() {
                // The last searcher found work: let one more worker search.
                self.handle.notify_parked();
            }
        }
        core.count_poll();
        let shared = self.shared();
        let timing = shared.config.poll_time_histogram.as_ref();
        let watch = core
            .stall_watch
            .then(|| &shared.worker_metrics[core.index].watch);
        if let Some(watch) = watch {
            watch.poll_started(core.counts.poll_count, task.id());
        }
        *self.core.borrow_mut() = Some(core);
        let forced_yield = coop::with_budget(Budget::initial(), || {
            self.poll(task, timing);
            let mut lifo_polls = 0;
            loop {
                let next = {
                    let mut slot = self.core.borrow_mut();
                    let core = slot.as_mut().expect("worker core missing after a poll");
                    let Some(next) = core.lifo.take() else { break };
                    if lifo_polls >= MAX_LIFO_POLLS || !coop::has_budget_remaining() {
                        core.local.push(next);
                        drop(slot);
                        self.handle.notify_parked();
                        break;
                    }
                    core.count_poll();
                    core.counts.lifo_hits += 1;
                    if let Some(watch) = watch {
                        watch.poll_started(core.counts.poll_count, next.id());
                    }
                    next
                };
                lifo_polls += 1;
                self.poll(next, timing);
            }
            // Once the budget is spent the LIFO chain stops, so at most one
            // poll of this run was refused by its resources.
            coop::take_denied()
        });
        if let Some(watch) = watch {
            watch.idle();
        }
        let mut core = self
            .core
            .borrow_mut()
            .take()
            .expect("worker core missing after a poll");
        if forced_yield {
            core.counts.budget_forced_yields += 1;
        }
        core
    }

    /// Polls one task, timing the poll if the poll-time histogram is on.
    #[inline]
    fn poll(&self, task: Notified<Handle>, timing: Option<&PollTimeHistogram>) {
        match timing {
            None => task.run(),
            Some(histogram) => self.poll_timed(task, histogram),
        }
    }

    /// Out of line: off by default, and the run loop stays small without it.
    #[inline(never)]
    fn poll_timed(&self, task: Notified<Handle>, histogram: &PollTimeHistogram) {
        let start = Instant::now();
        task.run();
        let elapsed = start.elapsed();
        if let Some(core) = self.core.borrow_mut().as_mut() {
            core.counts.record_poll_time(histogram, elapsed);
        }
    }

    fn maintenance(&self, core: Box<Core>) -> Box<Core> {
        let now = Instant::now();
        self.shared().clock.refresh_at(now);
        self.publish_metrics(&core, now);
        let core = self.in_driver(core, |_| self.shared().driver.poll_now());
        if core.has_queued_work() {
            // What the driver woke is queued here: let a sleeper share it.
            self.handle.notify_parked();
        }
        core
    }

    /// Runs `f` (which may poll the driver) with the core in the thread's
    /// context, so the tasks the driver wakes queue on this worker instead
    /// of the injector. They run here next, without waking another thread.
    fn in_driver(&self, mut core: Box<Core>, f: impl FnOnce(&mut Parker)) -> Box<Core> {
        let mut parker = core.parker.clone();
        core.in_driver = true;
        *self.core.borrow_mut() = Some(core);
        f(&mut parker);
        let mut core = self
            .core
            .borrow_mut()
            .take()
            .expect("worker core missing after parking");
        core.in_driver = false;
        core
    }

    fn park(&self, mut core: Box<Core>) -> Box<Core> {
        let shared = self.shared();
        let index = core.index;
        core.counts.park_count += 1;
        let now = Instant::now();
        core.counts.stop_busy(now);
        self.publish_metrics(&core, now);
        let watch = &shared.worker_metrics[index].watch;
        if core.stall_watch {
            watch.parked();
        }
        if shared
            .idle
            .transition_worker_to_parked(index, core.is_searching, || shared.clock.all_asleep())
        {
            self.notify_if_work_pending();
        }
        core.is_searching = false;
        loop {
            core = self.in_driver(core, Parker::park);
            core.counts.unpark_count += 1;
            if shared.is_shutdown() {
                shared.idle.unpark_worker_by_id(index);
                break;
            }
            if !shared.idle.is_parked(index) {
                // Woken by `worker_to_notify`, which counted us searching.
                core.is_searching = true;
                break;
            }
            if core.has_queued_work() {
                // The driver woke tasks onto this worker: run them. If
                // `worker_to_notify` took us out of the sleepers meanwhile,
                // it counted us searching instead.
                if !shared.idle.unpark_worker_by_id(index) {
                    core.is_searching = true;
                }
                if !core.local.is_empty() {
                    // More than one task: let a sleeper share them.
                    self.handle.notify_parked();
                }
                break;
            }
            // Spurious, or an unpark meant for a sleeper that is already
            // awake: sleep again.
        }
        // Until this, spawns read the system clock: the coarse one is not
        // marked fresh (see `Clock`).
        let woke = Instant::now();
        shared.clock.worker_woke(woke);
        core.counts.start_busy(woke);
        if let Some(watchdog) = &*shared.watchdog {
            watch.unparked(watchdog);
        }
        core
    }

    /// The last searcher parked: make sure no queue holds work that a
    /// producer expected a searcher to find.
    fn notify_if_work_pending(&self) {
        let shared = self.shared();
        let pending = !shared.injector.is_empty()
            || shared
                .remotes
                .iter()
                .any(|remote| !remote.stealer.is_empty());
        if pending {
            self.handle.notify_parked();
        }
    }

    fn publish_metrics(&self, core: &Core, now: Instant) {
        self.shared().worker_metrics[core.index].publish(&core.counts, core.local.len(), now);
    }

    /// The scheduler is shutting down: drop this worker's queued references
    /// (the owner cancels the tasks themselves through the owned list).
    fn shutdown_core(&self, mut core: Box<Core>) {
        drop(core.lifo.take());
        while let Some(task) = core.local.pop() {
            drop(task);
        }
        let now = Instant::now();
        core.counts.stop_busy(now);
        self.publish_metrics(&core, now);
    }
}

fn steal_into(mut attempt: impl FnMut() -> Steal<Notified<Handle>>) -> Option<Notified<Handle>> {
    loop {
        match attempt() {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => {}
        }
    }
}

fn steal_from(
    stealer: &Stealer<Notified<Handle>>,
    local: &Local<Notified<Handle>>,
) -> Option<Notified<Handle>> {
    steal_into(|| stealer.steal_batch_and_pop(local))
}

/// A small xorshift generator for picking steal victims.
struct FastRand(u32);

impl FastRand {
    fn new(seed: u32) -> FastRand {
        // Any non-zero seed works; spread worker indexes apart.
        FastRand(seed.wrapping_mul(0x9E37_79B9) | 1)
    }

    fn next_below(&mut self, n: u32) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        ((u64::from(x) * u64::from(n)) >> 32) as u32
    }
}

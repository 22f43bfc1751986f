//! The stall watchdog's sleep/wake handshake, with the real `stall::run`
//! loop on its own thread and one worker's `PollWatch`. loom models its
//! periodic (timed) wait as one that may return at any point; the wait
//! when every worker is parked has no timeout, so a lost wake-up there is a
//! deadlock loom reports.

use super::*;
use crate::stall::{self, PollWatch, Watchdog};

struct Setup {
    watchdog: Watchdog,
    watch: PollWatch,
    /// The scheduler's `is_shutdown`.
    is_shutdown: AtomicBool,
    /// Set by the worker once it has left park.
    left_park: AtomicBool,
    /// Set by the watchdog on the first look that began after that.
    looked_after: Mutex<bool>,
    looked: Condvar,
}

/// A watchdog thread over one worker that starts parked (so the
/// watchdog heads for its untimed sleep).
fn start() -> (Arc<Setup>, thread::JoinHandle<()>) {
    let setup = Arc::new(Setup {
        watchdog: Watchdog::new(Duration::from_millis(100), None),
        watch: PollWatch::new(),
        is_shutdown: AtomicBool::new(false),
        left_park: AtomicBool::new(false),
        looked_after: Mutex::new(false),
        looked: Condvar::new(),
    });
    setup.watch.parked();
    let thread = {
        let setup = setup.clone();
        thread::spawn(move || {
            let s = &*setup;
            stall::run(
                &s.watchdog,
                &[&s.watch],
                // Acquire, as `Shared::is_shutdown`.
                &|| s.is_shutdown.load(Ordering::Acquire),
                &|| {
                    if s.left_park.load(Ordering::SeqCst) {
                        *s.looked_after.lock() = true;
                        s.looked.notify_all();
                    }
                },
                &|_| None,
            );
        })
    };
    (setup, thread)
}

/// What `Scheduler::shutdown` does to the watchdog: set the flag
/// (a SeqCst swap there), wake it, join it.
fn shut_down(setup: &Setup, thread: thread::JoinHandle<()>) {
    setup.is_shutdown.store(true, Ordering::SeqCst);
    setup.watchdog.wake();
    thread.join().unwrap();
}

/// The only worker leaves park while the watchdog decides to sleep
/// (sees it parked, sets `sleeping`, re-checks, waits): the watchdog
/// is left awake or woken, so it looks at the workers again after the
/// worker left park (else the wait for that look deadlocks). Shutdown
/// then ends the watchdog thread.
#[test]
fn loom_watchdog_wakes_when_a_worker_leaves_park() {
    model(|| {
        let (setup, watchdog) = start();
        let worker = {
            let setup = setup.clone();
            thread::spawn(move || {
                setup.watch.unparked(&setup.watchdog);
                setup.left_park.store(true, Ordering::SeqCst);
            })
        };
        {
            let mut looked_after = setup.looked_after.lock();
            while !*looked_after {
                sync::wait(&setup.looked, &mut looked_after);
            }
        }
        worker.join().unwrap();
        shut_down(&setup, watchdog);
    });
}

/// Shutdown while the watchdog is going to sleep, or asleep, with every
/// worker parked, and while a worker briefly leaves park and parks
/// again: the watchdog thread always ends (its join returns; a missed
/// wake-up is a deadlock loom reports).
#[test]
fn loom_watchdog_shutdown_ends_the_sleeping_watchdog() {
    model(|| {
        let (setup, watchdog) = start();
        let worker = {
            let setup = setup.clone();
            thread::spawn(move || {
                setup.watch.unparked(&setup.watchdog);
                setup.watch.parked();
            })
        };
        shut_down(&setup, watchdog);
        worker.join().unwrap();
    });
}

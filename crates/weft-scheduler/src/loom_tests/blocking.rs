//! The blocking pool's threads. Idle threads wait with a timeout (their
//! keep-alive), modelled as a wait that may time out at any point; with a
//! zero keep-alive every such return is a timeout, so a thread's exit on
//! keep-alive is explored at every point a spawn can reach.

use super::*;
use crate::blocking::BlockingPool;

use std::sync::atomic::AtomicUsize as StdAtomicUsize;

/// A pool capped at one thread, with a zero keep-alive; `on_thread`
/// runs (outside the model: plain std bookkeeping) whenever it starts a
/// thread.
fn pool(on_thread: impl Fn() + Send + Sync + 'static) -> BlockingPool {
    BlockingPool::new(&Config {
        max_blocking_threads: 1,
        thread_keep_alive: Duration::ZERO,
        thread_name: std::sync::Arc::new(move || {
            on_thread();
            "weft-blocking".to_owned()
        }),
        ..Config::default()
    })
}

/// A `spawn_blocking` while the pool's only thread (at the cap of one)
/// finishes its job, goes idle and times out. The pool either hands the
/// job to the idle thread (counted wake-up), or sees it gone and starts
/// a new one, or queues it for the busy thread: the job runs exactly
/// once and is never stranded in the queue with no thread (that would
/// deadlock its join). Thread counts stay consistent (within the cap;
/// idle plus notified threads never more than threads, checked in one
/// lock hold), and after shutdown both are zero. Also
/// asserts that loom explored both endings: one thread running both
/// jobs, and the first thread exiting on keep-alive before a second
/// one runs the second job (the timeout branch).
#[test]
fn loom_blocking_spawn_races_keep_alive_timeout() {
    static ONE_THREAD: StdAtomicUsize = StdAtomicUsize::new(0);
    static TWO_THREADS: StdAtomicUsize = StdAtomicUsize::new(0);
    model(|| {
        let started = std::sync::Arc::new(StdAtomicUsize::new(0));
        let pool = {
            let started = started.clone();
            pool(move || {
                started.fetch_add(1, Ordering::Relaxed);
            })
        };
        let runs = Arc::new(AtomicUsize::new(0));
        let first = {
            let runs = runs.clone();
            pool.spawn(move || runs.fetch_add(1, Ordering::SeqCst))
        };
        // Done once the job returns: the thread is still on its way to
        // idle, and races the next spawn from here on.
        assert_eq!(loom::future::block_on(first).unwrap(), 0);
        let second = {
            let runs = runs.clone();
            pool.spawn(move || runs.fetch_add(1, Ordering::SeqCst))
        };
        pool.assert_counts_consistent();
        assert_eq!(loom::future::block_on(second).unwrap(), 1);
        pool.assert_counts_consistent();
        assert_eq!(pool.queue_depth(), 0);
        pool.shutdown(None);
        assert_eq!(runs.load(Ordering::SeqCst), 2, "each job ran once");
        assert_eq!(pool.num_threads(), 0);
        assert_eq!(pool.num_idle_threads(), 0);
        match started.load(Ordering::Relaxed) {
            1 => ONE_THREAD.fetch_add(1, Ordering::Relaxed),
            2 => TWO_THREADS.fetch_add(1, Ordering::Relaxed),
            n => panic!("{n} threads started for two jobs"),
        };
    });
    assert!(ONE_THREAD.load(Ordering::Relaxed) > 0);
    assert!(
        TWO_THREADS.load(Ordering::Relaxed) > 0,
        "no execution timed out a thread"
    );
}

/// Counts drops of what a blocking closure captured.
struct Token(Arc<AtomicUsize>);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Shutdown on another thread racing a `spawn_blocking` (while the
/// pool's thread may be exiting on keep-alive): the job either runs
/// (its join returns its value) or is cancelled (its join says so),
/// never lost, and its closure is dropped exactly once either way.
/// Once shutdown has returned and the spawn is done, no thread is left
/// (a spawn after shutdown must not start one that nobody joins).
/// Asserts that loom explored both outcomes.
#[test]
fn loom_blocking_shutdown_races_spawn() {
    static RAN: StdAtomicUsize = StdAtomicUsize::new(0);
    static CANCELLED: StdAtomicUsize = StdAtomicUsize::new(0);
    model(|| {
        let pool = Arc::new(pool(|| {}));
        let runs = Arc::new(AtomicUsize::new(0));
        let drops = Arc::new(AtomicUsize::new(0));
        let shutdown = {
            let pool = pool.clone();
            thread::spawn(move || pool.shutdown(None))
        };
        let join = {
            let (runs, token) = (runs.clone(), Token(drops.clone()));
            pool.spawn(move || {
                let _token = token;
                runs.fetch_add(1, Ordering::SeqCst)
            })
        };
        shutdown.join().unwrap();
        assert_eq!(pool.num_threads(), 0, "a thread outlived shutdown");
        match loom::future::block_on(join) {
            Ok(ran_before) => {
                assert_eq!(ran_before, 0);
                assert_eq!(runs.load(Ordering::SeqCst), 1);
                RAN.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                assert!(error.is_cancelled());
                assert_eq!(runs.load(Ordering::SeqCst), 0);
                CANCELLED.fetch_add(1, Ordering::Relaxed);
            }
        }
        assert_eq!(drops.load(Ordering::SeqCst), 1, "closure dropped once");
    });
    assert!(RAN.load(Ordering::Relaxed) > 0, "never ran before shutdown");
    assert!(CANCELLED.load(Ordering::Relaxed) > 0, "never cancelled");
}

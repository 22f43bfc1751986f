//! Spawns 100,000 small tasks on weft's work-stealing scheduler while a few
//! blocking jobs run on the blocking pool, then prints what ran where and the
//! runtime's own metrics.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release -p weft-examples --bin spawn-demo
//! ```
//!
//! It prints something like this (times, thread ids and the per-worker split
//! vary from run to run; the worker count is the number of cores, or
//! `WEFT_WORKER_THREADS` when set):
//!
//! ```text
//! weft spawn-demo: 2 worker threads
//!
//! tasks:    100000 spawned into a JoinSet and joined in 43 ms
//!           each computed a Collatz length and yielded once; the longest is n = 77031 (350 steps)
//!           they ran on 2 distinct threads:
//!             weft-worker      ThreadId(2): 72743 tasks
//!             weft-worker      ThreadId(3): 27257 tasks
//! blocking: 4 jobs of 50 ms each ran on 4 distinct pool threads, done in 52 ms (in parallel, not one after another)
//! join!:    both halves together took 52 ms
//! abort:    a never-ending task was aborted; JoinError::is_cancelled() = true
//!
//! rt metrics: 2 workers, 0 alive tasks, 4 blocking threads, injection queue depth 0
//!   worker      polls   steals   parks   local queue
//!        0     145452       93     214             0
//!        1      54549       15      16             0
//! ```

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::thread::{self, Thread, ThreadId};
use std::time::{Duration, Instant};

use weft::task::{yield_now, JoinSet};

/// How many small tasks to spawn.
const TASKS: u64 = 100_000;
/// How many closures to hand to the blocking pool, and how long each blocks.
const BLOCKING_JOBS: u64 = 4;
const BLOCKING_JOB_TIME: Duration = Duration::from_millis(50);

#[weft::main]
async fn main() {
    let workers = weft::Handle::current().metrics().num_workers();
    println!("weft spawn-demo: {workers} worker threads");

    let start = Instant::now();
    // Both halves run at the same time: `join!` polls them side by side on
    // this task, while the work they spawn runs on the workers and the pool.
    // The blocking jobs come first so they are on the pool before the spawn
    // loop, which does not yield, starts.
    let (blocking, tasks) = weft::join!(run_blocking(), run_tasks());
    let elapsed = start.elapsed();

    println!();
    println!(
        "tasks:    {} spawned into a JoinSet and joined in {} ms",
        tasks.completed,
        tasks.elapsed.as_millis()
    );
    println!(
        "          each computed a Collatz length and yielded once; the longest is n = {} ({} steps)",
        tasks.longest.0, tasks.longest.1
    );
    println!(
        "          they ran on {} distinct threads:",
        tasks.per_thread.len()
    );
    for (name, id, count) in &tasks.per_thread {
        println!("            {name:<16} {id:?}: {count} tasks");
    }
    println!(
        "blocking: {} jobs of {} ms each ran on {} distinct pool threads, done in {} ms (in parallel, not one after another)",
        BLOCKING_JOBS,
        BLOCKING_JOB_TIME.as_millis(),
        blocking.threads,
        blocking.elapsed.as_millis()
    );
    println!(
        "join!:    both halves together took {} ms",
        elapsed.as_millis()
    );

    // A task that would never finish on its own; abort() cancels it and its
    // JoinHandle reports why it has no output.
    let stuck = weft::spawn(std::future::pending::<()>());
    stuck.abort();
    let err = stuck.await.expect_err("an aborted task has no output");
    println!(
        "abort:    a never-ending task was aborted; JoinError::is_cancelled() = {}",
        err.is_cancelled()
    );

    print_metrics();
}

/// What [`run_tasks`] saw.
struct TaskReport {
    completed: u64,
    /// `(n, steps)` for the longest Collatz sequence among the tasks.
    longest: (u64, u32),
    /// `(thread name, thread id, tasks it finished)`, busiest first.
    per_thread: Vec<(String, ThreadId, u64)>,
    elapsed: Duration,
}

/// Spawns [`TASKS`] small tasks into a [`JoinSet`] and collects their results.
async fn run_tasks() -> TaskReport {
    let start = Instant::now();
    let mut set = JoinSet::new();
    for n in 1..=TASKS {
        set.spawn(async move {
            let steps = collatz_steps(n);
            // Go back to the scheduler once, so the tasks interleave and idle
            // workers have something to steal.
            yield_now().await;
            (n, steps, thread::current())
        });
    }
    assert_eq!(set.len() as u64, TASKS);

    let mut completed = 0;
    let mut longest = (0, 0);
    let mut per_thread: HashMap<ThreadId, (Thread, u64)> = HashMap::new();
    while let Some(result) = set.join_next().await {
        let (n, steps, thread) = result.expect("a demo task panicked");
        completed += 1;
        // Tasks finish in any order; break ties by the smaller n so the
        // answer does not depend on scheduling.
        if steps > longest.1 || (steps == longest.1 && n < longest.0) {
            longest = (n, steps);
        }
        per_thread.entry(thread.id()).or_insert((thread, 0)).1 += 1;
    }

    let mut per_thread: Vec<_> = per_thread
        .into_values()
        .map(|(thread, count)| {
            let name = thread.name().unwrap_or("<unnamed>").to_owned();
            (name, thread.id(), count)
        })
        .collect();
    per_thread.sort_by_key(|&(_, _, count)| Reverse(count));

    TaskReport {
        completed,
        longest,
        per_thread,
        elapsed: start.elapsed(),
    }
}

/// Number of steps the Collatz sequence starting at `n` takes to reach 1.
fn collatz_steps(mut n: u64) -> u32 {
    let mut steps = 0;
    while n != 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        steps += 1;
    }
    steps
}

/// What [`run_blocking`] saw.
struct BlockingReport {
    /// Distinct pool threads the jobs ran on.
    threads: usize,
    elapsed: Duration,
}

/// Hands [`BLOCKING_JOBS`] blocking closures to the blocking pool and awaits
/// their `JoinHandle`s.
async fn run_blocking() -> BlockingReport {
    let start = Instant::now();
    let handles: Vec<_> = (0..BLOCKING_JOBS)
        .map(|_| {
            weft::spawn_blocking(|| {
                // Stands in for work that blocks its thread: a file read, a
                // DNS lookup, a call into a C library. On a worker it would
                // stall every task queued behind it.
                thread::sleep(BLOCKING_JOB_TIME);
                thread::current().id()
            })
        })
        .collect();

    let mut threads = HashSet::new();
    for handle in handles {
        threads.insert(handle.await.expect("a blocking job panicked"));
    }
    BlockingReport {
        threads: threads.len(),
        elapsed: start.elapsed(),
    }
}

/// Prints the runtime's counters: what each worker did, and what is left.
fn print_metrics() {
    let metrics = weft::Handle::current().metrics();
    println!();
    println!(
        "rt metrics: {} workers, {} alive tasks, {} blocking threads, injection queue depth {}",
        metrics.num_workers(),
        metrics.num_alive_tasks(),
        metrics.num_blocking_threads(),
        metrics.injection_queue_depth()
    );
    println!("  worker      polls   steals   parks   local queue");
    for worker in 0..metrics.num_workers() {
        println!(
            "  {:>6} {:>10} {:>8} {:>7} {:>13}",
            worker,
            metrics.worker_poll_count(worker),
            metrics.worker_steal_count(worker),
            metrics.worker_park_count(worker),
            metrics.worker_local_queue_depth(worker)
        );
    }
}

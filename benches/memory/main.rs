//! Memory per idle task and CPU while idle, for weft, tokio and smol: the
//! `memory per idle task` and `idle CPU` rows of BENCHMARKS.md.
//!
//! ```text
//! cargo run --release -p weft-benches --example memory            # all three, one process each
//! cargo run --release -p weft-benches --example memory -- weft    # one runtime, in this process
//! ```
//!
//! For each runtime, in a fresh process (so no allocator reuse between
//! runtimes): build it with `WEFT_BENCH_WORKERS` workers (default 2), let it
//! settle, read RSS from `/proc/self/statm`, spawn 100 000 tasks that wait
//! forever (`std::future::pending`), wait until every one has been polled
//! once, read RSS again: bytes per task = growth / 100 000. Then, with the
//! tasks still parked, measure the process's CPU time (`getrusage`) over
//! 2 s of idleness. Prints one markdown row per runtime.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TASKS: usize = 100_000;
const IDLE: Duration = Duration::from_secs(2);

fn workers() -> usize {
    std::env::var("WEFT_BENCH_WORKERS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(2)
}

/// Resident set size in bytes.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("parse /proc/self/statm");
    pages * 4096
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    let usage = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // Fields after the command name (which is in parentheses): utime and
    // stime are the 12th and 13th, in clock ticks (100 per second here).
    let after = &usage[usage.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// A task that counts its first poll, then waits forever.
async fn idle_task(polled: Arc<AtomicUsize>) {
    polled.fetch_add(1, Ordering::Relaxed);
    std::future::pending::<()>().await;
}

fn wait_polled(polled: &AtomicUsize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while polled.load(Ordering::Relaxed) < TASKS {
        assert!(
            Instant::now() < deadline,
            "tasks were not all polled in 60 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Spawns the tasks with `spawn`, then measures; returns (bytes per task,
/// idle CPU).
fn measure(mut spawn: impl FnMut(Arc<AtomicUsize>)) -> (f64, Duration) {
    std::thread::sleep(Duration::from_millis(200));
    let before = rss();
    let polled = Arc::new(AtomicUsize::new(0));
    for _ in 0..TASKS {
        spawn(polled.clone());
    }
    wait_polled(&polled);
    std::thread::sleep(Duration::from_millis(200));
    let after = rss();
    let cpu_before = cpu_time();
    std::thread::sleep(IDLE);
    let idle_cpu = cpu_time() - cpu_before;
    (
        (after.saturating_sub(before)) as f64 / TASKS as f64,
        idle_cpu,
    )
}

fn run(runtime: &str) {
    let n = workers();
    let (bytes, idle) = match runtime {
        "weft" => {
            let rt = weft::Runtime::builder().worker_threads(n).build().unwrap();
            let result = measure(|polled| drop(rt.spawn(idle_task(polled))));
            std::mem::forget(rt); // exiting is enough; no shutdown to time
            result
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(n)
                .enable_all()
                .build()
                .unwrap();
            let result = measure(|polled| drop(rt.spawn(idle_task(polled))));
            std::mem::forget(rt);
            result
        }
        "smol" => {
            let ex: &'static async_executor::Executor<'static> =
                Box::leak(Box::new(async_executor::Executor::new()));
            for _ in 0..n {
                std::thread::spawn(move || {
                    futures_lite::future::block_on(ex.run(std::future::pending::<()>()))
                });
            }
            measure(|polled| ex.spawn(idle_task(polled)).detach())
        }
        other => panic!("unknown runtime {other:?}: use weft, tokio or smol"),
    };
    println!("| {runtime} | {bytes:.0} | {} |", idle.as_millis());
}

fn main() {
    match std::env::args().nth(1) {
        Some(runtime) => run(&runtime),
        None => {
            println!(
                "{TASKS} tasks pending forever, {} workers; idle CPU over {} s with them parked\n",
                workers(),
                IDLE.as_secs()
            );
            println!("| runtime | bytes per idle task | idle CPU ms |");
            println!("|---|---:|---:|");
            let exe = std::env::current_exe().expect("current exe");
            for runtime in ["weft", "tokio", "smol"] {
                let status = Command::new(&exe).arg(runtime).status().expect("run child");
                assert!(status.success(), "{runtime} measurement failed");
            }
        }
    }
}

//! Memory per idle task and CPU while idle, for weft, tokio and smol: the
//! `memory per idle task` and `idle CPU` rows of BENCHMARKS.md.
//!
//! ```text
//! cargo run --release -p weft-benches --example memory            # all three, one process each
//! cargo run --release -p weft-benches --example memory -- --json target/memory/summary.json
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
//!
//! With `--json PATH` it also writes the figures to PATH (parent folders
//! created), for `ci/bench_report.py`:
//!
//! ```text
//! {"tasks": 100000, "workers": 2, "idle_s": 2,
//!  "weft": {"bytes_per_task": 118.2, "idle_cpu_ms": 0}, "tokio": {..}, "smol": {..}}
//! ```
//!
//! A runtime whose measurement failed is `null` there, and the exit status is
//! non-zero once the others have run.

use std::path::PathBuf;
use std::process::{Command, Stdio};
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

/// One runtime's figures.
struct Footprint {
    bytes_per_task: f64,
    idle_cpu: Duration,
}

impl Footprint {
    /// The markdown row a child process prints; [`Footprint::parse_row`]
    /// reads it back in the parent.
    fn row(&self, runtime: &str) -> String {
        format!(
            "| {runtime} | {:.0} | {} |",
            self.bytes_per_task,
            self.idle_cpu.as_millis()
        )
    }

    fn parse_row(line: &str) -> Option<(String, Footprint)> {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        match cells.as_slice() {
            ["", runtime, bytes, idle_ms, ""] => Some((
                runtime.to_string(),
                Footprint {
                    bytes_per_task: bytes.parse().ok()?,
                    idle_cpu: Duration::from_millis(idle_ms.parse().ok()?),
                },
            )),
            _ => None,
        }
    }

    fn json(&self) -> String {
        format!(
            "{{\"bytes_per_task\": {:.1}, \"idle_cpu_ms\": {}}}",
            self.bytes_per_task,
            self.idle_cpu.as_millis()
        )
    }
}

/// Spawns the tasks with `spawn`, then measures.
fn measure(mut spawn: impl FnMut(Arc<AtomicUsize>)) -> Footprint {
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
    Footprint {
        bytes_per_task: (after.saturating_sub(before)) as f64 / TASKS as f64,
        idle_cpu,
    }
}

fn run(runtime: &str) {
    let n = workers();
    let footprint = match runtime {
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
    println!("{}", footprint.row(runtime));
}

/// Measures `runtime` in a child process; prints its row and returns its
/// figures, or `None` (after saying why) if it failed.
fn run_child(runtime: &str) -> Option<Footprint> {
    let exe = std::env::current_exe().expect("current exe");
    let output = match Command::new(&exe)
        .arg(runtime)
        .stderr(Stdio::inherit())
        .output()
    {
        Ok(output) => output,
        Err(e) => {
            eprintln!("{runtime}: could not start {}: {e}", exe.display());
            return None;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    if !output.status.success() {
        eprintln!("{runtime} measurement failed: {}", output.status);
        return None;
    }
    let parsed = stdout
        .lines()
        .find_map(Footprint::parse_row)
        .filter(|(name, _)| name == runtime);
    if parsed.is_none() {
        eprintln!("{runtime}: no result row in the child's output");
    }
    parsed.map(|(_, footprint)| footprint)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut json_path = None;
    match args.next().as_deref() {
        Some("--json") => {
            let path = args
                .next()
                .expect("--json needs a path: --json target/memory/summary.json");
            json_path = Some(PathBuf::from(path));
        }
        Some(runtime) => return run(runtime),
        None => {}
    }
    println!(
        "{TASKS} tasks pending forever, {} workers; idle CPU over {} s with them parked\n",
        workers(),
        IDLE.as_secs()
    );
    println!("| runtime | bytes per idle task | idle CPU ms |");
    println!("|---|---:|---:|");
    let mut json = format!(
        "{{\"tasks\": {TASKS}, \"workers\": {}, \"idle_s\": {}",
        workers(),
        IDLE.as_secs()
    );
    let mut failed = false;
    for runtime in ["weft", "tokio", "smol"] {
        let footprint = run_child(runtime);
        failed |= footprint.is_none();
        let value = footprint.map_or_else(|| "null".to_string(), |f| f.json());
        json.push_str(&format!(", \"{runtime}\": {value}"));
    }
    json.push_str("}\n");
    if let Some(path) = json_path {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        }
        std::fs::write(&path, json).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        eprintln!("wrote {}", path.display());
    }
    if failed {
        std::process::exit(1);
    }
}

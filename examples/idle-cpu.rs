// Measures what an idle weft runtime costs: CPU time burnt while it has no
// work, after it has run some.
//
//     cargo run --release -p weft-examples --bin idle-cpu
//
// Prints the process's CPU time (user + system, from /proc/self/stat) over
// a 2-second idle window. Idle workers block in a condvar or the driver with
// no timeout and no periodic tick, so it prints 0 ms (the kernel counts in
// 10 ms ticks).

use std::time::Duration;

fn cpu_time() -> Duration {
    let stat =
        std::fs::read_to_string("/proc/self/stat").expect("this example reads Linux's /proc");
    // The command name (field 2) may hold spaces; count fields after its ')'.
    let after_name = &stat[stat.rfind(')').expect("a /proc stat line") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

fn main() {
    let rt = weft::Runtime::builder()
        .worker_threads(2)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let tasks: Vec<_> = (0..10_000u64)
            .map(|i| weft::spawn(async move { i * 2 }))
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        weft::spawn_blocking(|| ()).await.unwrap();
    });
    let before = cpu_time();
    std::thread::sleep(Duration::from_secs(2));
    let idle = cpu_time() - before;
    println!(
        "idle-cpu: {} workers, {} blocking thread(s) alive, {} ms of CPU over 2 s idle",
        rt.metrics().num_workers(),
        rt.metrics().num_blocking_threads(),
        idle.as_millis()
    );
}

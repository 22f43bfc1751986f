//! No lost wake-up between I/O readiness, timers and task wakes: a stress
//! workload that mixes all three on 1, 2 and 4 workers and must finish with
//! every message accounted for. A lost wake-up shows as a stall, which the
//! hang guard turns into a failure naming what was left.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{for_each_workers, LIMIT};
use weft::io::{AsyncReadExt, AsyncWriteExt};
use weft::net::UnixStream;
use weft::time::{sleep, timeout};

const PAIRS: usize = if cfg!(debug_assertions) { 32 } else { 128 };
const ROUNDS: usize = if cfg!(debug_assertions) { 100 } else { 400 };

/// One pinger, one ponger, one socket pair. Every round the pinger writes a
/// sequence number, the ponger reads it, checks it, has a spawned task (a
/// task wake through a JoinHandle) compute the reply and writes it back.
/// Every 8th round one side sleeps first (a timer wake), alternating sides.
async fn ping_pong(pair: usize, done: Arc<AtomicUsize>) -> std::io::Result<()> {
    let (mut ping, mut pong) = UnixStream::pair()?;
    let ponger = weft::spawn(async move {
        let mut buf = [0; 8];
        for round in 0..ROUNDS {
            pong.read_exact(&mut buf).await?;
            let seq = u64::from_le_bytes(buf);
            assert_eq!(
                seq,
                (pair * ROUNDS + round) as u64,
                "pair {pair}: wrong message"
            );
            if round % 16 == 8 {
                sleep(Duration::from_millis(1)).await;
            }
            let reply = weft::spawn(async move { seq + 1 }).await.unwrap();
            pong.write_all(&reply.to_le_bytes()).await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let mut buf = [0; 8];
    for round in 0..ROUNDS {
        if round % 16 == 0 {
            sleep(Duration::from_millis(1)).await;
        }
        let seq = (pair * ROUNDS + round) as u64;
        ping.write_all(&seq.to_le_bytes()).await?;
        ping.read_exact(&mut buf).await?;
        assert_eq!(u64::from_le_bytes(buf), seq + 1, "pair {pair}: wrong reply");
        done.fetch_add(1, Ordering::Relaxed);
    }
    ponger.await.unwrap()
}

#[test]
fn io_timer_and_task_wakes_are_never_lost() {
    for_each_workers(|rt| {
        let done = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..PAIRS)
            .map(|pair| rt.spawn(ping_pong(pair, done.clone())))
            .collect();
        let finished = rt.block_on(timeout(LIMIT, async {
            for task in tasks {
                task.await.unwrap().unwrap();
            }
        }));
        assert!(
            finished.is_ok(),
            "{} workers: stalled with {} of {} round trips done (a lost wake-up)",
            rt.workers,
            done.load(Ordering::Relaxed),
            PAIRS * ROUNDS
        );
        assert_eq!(done.load(Ordering::Relaxed), PAIRS * ROUNDS);
    });
}

/// Timers inserted from many tasks while workers park and unpark: every
/// one fires, none before its deadline.
#[test]
fn timers_inserted_while_workers_park_all_fire() {
    for_each_workers(|rt| {
        let fired = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..2000u64)
            .map(|i| {
                let fired = fired.clone();
                rt.spawn(async move {
                    for step in 0..3 {
                        let wait = Duration::from_micros((i * 37 + step * 101) % 3000);
                        let deadline = weft::time::Instant::now() + wait;
                        sleep(wait).await;
                        assert!(weft::time::Instant::now() >= deadline, "fired early");
                    }
                    fired.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        let finished = rt.block_on(timeout(LIMIT, async {
            for task in tasks {
                task.await.unwrap();
            }
        }));
        assert!(
            finished.is_ok(),
            "{} workers: {} of 2000 timer chains finished (a lost timer wake-up)",
            rt.workers,
            fired.load(Ordering::Relaxed)
        );
    });
}

/// A worker that never runs out of tasks (a task that yields in a loop)
/// never parks, so only its regular driver poll (every `event_interval`
/// ticks) delivers I/O events and fires timers. A one-worker runtime makes
/// that the only way: the reader and its sleep finish only if it happens.
/// (With `event_interval(u32::MAX)` this test fails.)
#[test]
fn a_busy_worker_still_polls_the_driver() {
    let rt = common::runtime(1);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinner = rt.spawn({
        let stop = stop.clone();
        async move {
            let mut yields = 0u64;
            while !stop.load(Ordering::Relaxed) {
                weft::task::yield_now().await;
                yields += 1;
            }
            yields
        }
    });
    let (mut ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let reader = rt.spawn(async move {
        let mut stream = UnixStream::from_std(theirs).unwrap();
        let mut buf = [0; 5];
        stream.read_exact(&mut buf).await.unwrap();
        sleep(Duration::from_millis(5)).await;
        buf
    });
    std::io::Write::write_all(&mut ours, b"hello").unwrap();
    // Waited for on another thread: if the driver is never polled, no
    // timer of this runtime fires either, so only an outside clock can
    // turn the hang into a failure.
    let (done, finished) = std::sync::mpsc::channel();
    let handle = rt.handle().clone();
    std::thread::spawn(move || {
        let _ = done.send(handle.block_on(reader));
    });
    let got = finished
        .recv_timeout(LIMIT)
        .expect("the busy worker never polled the driver");
    assert_eq!(&got.unwrap(), b"hello");
    stop.store(true, Ordering::Relaxed);
    let yields = rt.block_on(spinner).unwrap();
    assert!(yields > 0);
}

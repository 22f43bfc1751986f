//! Sockets when things go wrong: the process runs out of file descriptors
//! while connections wait, the runtime shuts down under blocked tasks and
//! under sockets that outlive it, and a socket is dropped while a waker is
//! registered.
//!
//! The tests that change or count the process's descriptors run their
//! scenario in a child process (this test binary again, running only that
//! test, with `WEFT_TEST_CHILD` set), so the other tests of this binary,
//! running in parallel threads, neither disturb the count nor suffer the
//! lowered limit.

mod common;

use std::fs;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::OwnedFd;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use common::*;
use weft::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use weft::net::{TcpListener, TcpStream, UnixStream};

const LOCALHOST: &str = "127.0.0.1:0";

/// Set in the child process; its value names the test to run there.
const CHILD_VAR: &str = "WEFT_TEST_CHILD";

/// The output of a child process that passed.
struct ChildOutput {
    stderr: String,
}

/// In the parent, runs the test named `test` (a test of this file) alone
/// in a child process and returns its output once it passed; in that child,
/// runs `scenario` and returns `None`.
#[track_caller]
fn in_child_process(test: &str, scenario: impl FnOnce()) -> Option<ChildOutput> {
    if std::env::var_os(CHILD_VAR).is_some() {
        scenario();
        return None;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, test)
        .output()
        .expect("starting the child process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // "1 passed": an exit status of 0 alone would also come from a filter
    // that matched no test.
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "the child process running {test} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    Some(ChildOutput {
        stderr: stderr.into_owned(),
    })
}

/// Calls `on_poll` after each poll of `future` with whether it finished.
struct OnPoll<F, C> {
    future: Pin<Box<F>>,
    on_poll: C,
}

fn on_poll<F: Future, C: FnMut(bool)>(future: F, on_poll: C) -> OnPoll<F, C> {
    OnPoll {
        future: Box::pin(future),
        on_poll,
    }
}

impl<F: Future, C: FnMut(bool) + Unpin> Future for OnPoll<F, C> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let poll = self.future.as_mut().poll(cx);
        (self.on_poll)(poll.is_ready());
        poll
    }
}

/// The descriptors this process has open, by number, with what each is.
fn open_fds() -> Vec<(i32, String)> {
    let mut fds: Vec<_> = fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd = entry.file_name().to_str()?.parse().ok()?;
            let target = fs::read_link(entry.path()).ok()?;
            Some((fd, target.display().to_string()))
        })
        .collect();
    // The directory handle that listed them is closed by now.
    fds.retain(|(_, target)| !target.starts_with("/proc/") || !target.ends_with("/fd"));
    fds.sort();
    fds
}

/// Sets the soft limit on descriptors just above the highest one open and
/// fills every free number below it with duplicates, until `EMFILE`.
/// Dropping the returned descriptors ends the shortage.
fn exhaust_descriptors() -> Vec<OwnedFd> {
    let null = fs::File::open("/dev/null").unwrap();
    let highest = open_fds().last().map_or(0, |(fd, _)| *fd) as libc::rlim_t;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for getrlimit to fill.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(got, 0, "getrlimit: {}", io::Error::last_os_error());
    limit.rlim_cur = highest + 16;
    // SAFETY: `limit` is a valid rlimit; lowering the soft limit below the
    // hard one needs no privilege.
    let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(set, 0, "setrlimit: {}", io::Error::last_os_error());
    let mut filler = Vec::new();
    loop {
        match std::os::fd::AsFd::as_fd(&null).try_clone_to_owned() {
            Ok(fd) => filler.push(fd),
            Err(error) => {
                assert_eq!(error.raw_os_error(), Some(libc::EMFILE), "{error}");
                break;
            }
        }
    }
    assert!(!filler.is_empty());
    // Closing the original would free a number again.
    filler.push(null.into());
    filler
}

/// Out of descriptors, `poll_accept` reports `EMFILE` as it is, while
/// `accept` waits with the connection in the backlog, sleeping between
/// tries (its worker parks between every two polls: a retry that woke
/// itself at once would spin without parking), and accepts it once a
/// descriptor frees. The listener keeps working afterwards, and the
/// shortage was reported once on stderr.
#[test]
fn accept_waits_out_a_descriptor_shortage_without_spinning() {
    const TEST: &str = "accept_waits_out_a_descriptor_shortage_without_spinning";
    let Some(output) = in_child_process(TEST, || {
        let rt = runtime(1);
        let (listener, addr) = rt.block_on(async {
            let listener = TcpListener::bind(LOCALHOST).await.unwrap();
            let addr = listener.local_addr().unwrap();
            (listener, addr)
        });
        // The kernel completes the connection; it waits in the backlog.
        let waiting = std::net::TcpStream::connect(addr).unwrap();
        let filler = exhaust_descriptors();

        let error = rt
            .block_on(poll_fn(|cx| listener.poll_accept(cx)))
            .unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EMFILE), "{error}");

        let (parks_tx, parks) = mpsc::channel();
        let metrics = rt.metrics();
        let accepting = rt.spawn(async move {
            let accepted = on_poll(listener.accept(), move |_| {
                let _ = parks_tx.send(metrics.worker_park_count(0));
            })
            .await;
            (listener, accepted)
        });
        let mut parks_seen = Vec::new();
        while parks_seen.len() < 4 {
            let parks = parks
                .recv_timeout(LIMIT)
                .expect("accept was polled fewer than 4 times");
            parks_seen.push(parks);
        }
        // Every poll seen so far came before the descriptors free.
        drop(filler);
        let (listener, accepted) = rt.block_on(accepting).unwrap();
        let (_stream, peer) = accepted.unwrap();
        assert_eq!(peer, waiting.local_addr().unwrap());
        assert!(
            parks_seen.windows(2).all(|pair| pair[1] > pair[0]),
            "the worker did not park between polls of the accept during the \
             shortage (its park counts at each poll: {parks_seen:?})"
        );

        let second = std::net::TcpStream::connect(addr).unwrap();
        let (_stream, peer) = rt.block_on(listener.accept()).unwrap();
        assert_eq!(peer, second.local_addr().unwrap());
    }) else {
        return;
    };
    let warnings = output
        .stderr
        .lines()
        .filter(|line| line.starts_with("weft: accept on"))
        .count();
    assert_eq!(warnings, 1, "stderr:\n{}", output.stderr);
}

/// Polls `future` once with a waker that does nothing.
fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
}

/// One runtime with tasks blocked in `accept`, a TCP read, a Unix read and
/// a sleep, dropped: each task is cancelled (its future dropped, its
/// handle resolving to cancelled) and nothing of it stays alive.
fn drop_runtime_under_blocked_tasks(workers: usize) {
    let (rt, marker) = tracked_runtime(workers);
    let peer_listener = std::net::TcpListener::bind(LOCALHOST).unwrap();
    let peer_addr = peer_listener.local_addr().unwrap();
    let (listener, tcp, (unix, unix_peer)) = rt.block_on(async {
        let listener = TcpListener::bind(LOCALHOST).await.unwrap();
        let tcp = TcpStream::connect(peer_addr).await.unwrap();
        (listener, tcp, UnixStream::pair().unwrap())
    });
    let (tcp_peer, _) = peer_listener.accept().unwrap();
    let dropped = Counter::new();
    let mut blocked = Vec::new();
    let mut spawn_blocked = |future: Pin<Box<dyn Future<Output = ()> + Send>>| {
        let guard = DropGuard(dropped.clone());
        let pending = Counter::new();
        blocked.push(pending.clone());
        rt.spawn(on_poll(
            async move {
                let _guard = guard;
                future.await;
            },
            move |ready| {
                assert!(!ready, "a blocked task finished");
                pending.incr();
            },
        ))
    };
    let mut tasks = vec![
        spawn_blocked(Box::pin(async move {
            let _ = listener.accept().await;
        })),
        spawn_blocked(Box::pin(async move {
            let mut buf = [0; 8];
            let _ = (&tcp).read(&mut buf).await;
        })),
        spawn_blocked(Box::pin(async move {
            let mut buf = [0; 8];
            let _ = (&unix).read(&mut buf).await;
        })),
        spawn_blocked(Box::pin(async move {
            weft::time::sleep(Duration::from_secs(3600)).await;
        })),
    ];
    for pending in &blocked {
        pending.wait_for(1);
    }

    drop(rt);
    assert_eq!(dropped.get(), tasks.len());
    for task in &mut tasks {
        assert!(task.is_finished());
        match poll_once(task) {
            Poll::Ready(Err(error)) => assert!(error.is_cancelled(), "{error:?}"),
            other => panic!("a blocked task's handle gave {other:?}"),
        }
    }
    drop(tasks);
    assert_freed(&marker);
    drop((tcp_peer, peer_listener, unix_peer));
}

/// Dropping runtimes with tasks blocked on sockets and timers closes
/// every descriptor they opened: the runtime's own (epoll, its waker) and
/// the sockets of the cancelled tasks.
#[test]
fn dropping_a_runtime_under_blocked_tasks_frees_every_descriptor() {
    const TEST: &str = "dropping_a_runtime_under_blocked_tasks_frees_every_descriptor";
    in_child_process(TEST, || {
        // Once first, so anything opened on first use only is open before
        // the count.
        drop_runtime_under_blocked_tasks(1);
        let before = open_fds();
        for workers in WORKERS {
            drop_runtime_under_blocked_tasks(workers);
        }
        assert_eq!(open_fds(), before, "descriptors before and after");
    });
}

/// `future`, failing the test instead of hanging if it takes longer than
/// [`LIMIT`] (its timer runs on the runtime that polls it).
async fn bounded<F: Future>(future: F) -> F::Output {
    weft::time::timeout(LIMIT, future)
        .await
        .expect("an operation on a socket of a shut-down runtime hung")
}

#[track_caller]
fn assert_shut_down(result: io::Result<impl std::fmt::Debug>) {
    let error = result.expect_err("I/O on a socket of a runtime that shut down succeeded");
    assert_eq!(error.kind(), io::ErrorKind::Other, "{error}");
    assert!(error.to_string().contains("shut down"), "{error}");
}

/// A socket that outlives its runtime fails every read and write with an
/// error saying the runtime shut down, whichever runtime (or none) polls
/// it, and no new socket registers through the dead runtime's handle.
#[test]
fn io_on_a_socket_whose_runtime_shut_down_is_an_error() {
    for workers in WORKERS {
        let rt = runtime(workers);
        let handle = rt.handle().clone();
        let (mut a, mut b) = rt.block_on(async { UnixStream::pair() }).unwrap();
        rt.block_on(async {
            a.write_all(b"works").await.unwrap();
            let mut got = [0; 5];
            b.read_exact(&mut got).await.unwrap();
        });
        drop(rt);

        let mut buf = [0; 8];
        assert_shut_down(weft::block_on(bounded(a.read(&mut buf))));
        assert_shut_down(weft::block_on(bounded(a.write(b"x"))));
        let other = runtime(workers);
        assert_shut_down(other.block_on(bounded(b.read(&mut buf))));
        assert_shut_down(other.block_on(bounded(b.write(b"x"))));
        let in_task = other.spawn(bounded(async move {
            let mut buf = [0; 8];
            b.read(&mut buf).await
        }));
        assert_shut_down(other.block_on(in_task).unwrap());
        // Registering with the dead runtime fails at once (no timer bound
        // here: a timer of that runtime could not run either).
        assert_shut_down(handle.block_on(async { UnixStream::pair() }));
        assert_shut_down(handle.block_on(TcpListener::bind(LOCALHOST)));
    }
}

/// A read waiting on a socket when its runtime shuts down (polled from a
/// thread outside that runtime, so the shutdown cannot cancel it) is woken
/// and fails instead of hanging.
#[test]
fn a_read_waiting_when_its_runtime_shuts_down_fails() {
    for workers in WORKERS {
        let rt = runtime(workers);
        let (a, _b) = rt.block_on(async { UnixStream::pair() }).unwrap();
        let (pending_tx, pending) = mpsc::channel();
        let (result_tx, result) = mpsc::channel();
        let reader = thread::spawn(move || {
            let mut buf = [0; 8];
            let mut a = &a;
            let read = on_poll(a.read(&mut buf), move |ready| {
                if !ready {
                    let _ = pending_tx.send(());
                }
            });
            let _ = result_tx.send(weft::block_on(read));
        });
        pending.recv_timeout(LIMIT).expect("the read never waited");
        drop(rt);
        let read = result
            .recv_timeout(LIMIT)
            .expect("the waiting read was not woken by the shutdown");
        assert_shut_down(read);
        reader.join().unwrap();
    }
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "<not a string>".to_owned())
}

/// A sleep whose runtime shut down panics when polled (a timer that would
/// never fire), with a message saying so: both one created and never
/// polled before the shutdown, and one that was waiting.
#[test]
fn a_sleep_polled_after_its_runtime_shut_down_panics() {
    for workers in WORKERS {
        let rt = runtime(workers);
        let (fresh, waiting) = rt.block_on(async {
            let fresh = weft::time::sleep(Duration::from_secs(3600));
            let mut waiting = Box::pin(weft::time::sleep(Duration::from_secs(3600)));
            let pending = poll_fn(|cx| Poll::Ready(waiting.as_mut().poll(cx).is_pending())).await;
            assert!(pending, "a sleep of an hour finished at once");
            (Box::pin(fresh), waiting)
        });
        drop(rt);
        for (which, sleep) in [("a fresh", fresh), ("a waiting", waiting)] {
            let payload = panic::catch_unwind(AssertUnwindSafe(|| weft::block_on(sleep)))
                .expect_err("a sleep of a shut-down runtime completed");
            let message = panic_message(&*payload);
            assert!(message.contains("shut down"), "{which} sleep: {message}");
        }
    }
}

/// Counts wakes.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Sends a byte through a new stream pair of `rt` and reads it back: the
/// read finishes only after the driver has turned (delivered the pair's
/// readiness) since the call began.
fn driver_round_trip(rt: &Rt) {
    rt.block_on(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        a.write_all(b"!").await.unwrap();
        let mut got = [0; 1];
        b.read_exact(&mut got).await.unwrap();
    });
}

/// A waker registered by a read on a socket is never woken once the
/// socket is dropped, even though its descriptor lives on (a duplicate
/// keeps it open, so only deregistration keeps its events away) and then
/// turns readable and hangs up.
#[test]
fn a_dropped_socket_wakes_nothing() {
    for_each_workers(|rt| {
        let (std_a, mut std_b) = std::os::unix::net::UnixStream::pair().unwrap();
        let duplicate = std_a.try_clone().unwrap();
        let a = rt.block_on(async { UnixStream::from_std(std_a) }).unwrap();
        let wakes = Arc::new(CountingWaker::default());
        let waker = Waker::from(wakes.clone());
        let mut buf = [0; 8];
        let poll = Pin::new(&mut &a).poll_read(&mut Context::from_waker(&waker), &mut buf);
        assert!(poll.is_pending(), "read on an empty socket gave {poll:?}");
        drop(a);

        io::Write::write_all(&mut std_b, b"data").unwrap();
        drop(std_b);
        // Two round trips: the first's event may be delivered by the same
        // driver turn as the dropped socket's would be, and woken before
        // it; the second needs a later turn, after every wake of that one.
        driver_round_trip(rt);
        driver_round_trip(rt);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
        // The duplicate is still open and readable: the data was there.
        let mut duplicate = duplicate;
        duplicate.set_nonblocking(false).unwrap();
        let mut got = Vec::new();
        io::Read::read_to_end(&mut duplicate, &mut got).unwrap();
        assert_eq!(got, b"data");
    });
}

/// A task handle kept after its runtime was dropped keeps the scheduler's
/// memory alive, but no longer the reactor: the driver (its `epoll`
/// instance) is released at shutdown and the scheduler's unparker holds the
/// reactor only weakly, so every descriptor is closed with the runtime.
#[test]
fn a_task_handle_kept_after_the_runtime_holds_no_descriptor() {
    const TEST: &str = "a_task_handle_kept_after_the_runtime_holds_no_descriptor";
    in_child_process(TEST, || {
        drop(runtime(1));
        let before = open_fds();
        for workers in WORKERS {
            let rt = runtime(workers);
            let handle = rt.spawn(std::future::pending::<()>());
            drop(rt);
            assert_eq!(open_fds(), before, "{workers} workers: descriptors kept");
            drop(handle);
        }
    });
}

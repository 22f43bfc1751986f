//! `weft::join!` and `weft::try_join!`: outputs come back in written order,
//! the futures are polled concurrently and fairly, finished futures are
//! dropped at once, and `try_join!` stops (dropping the rest) at the first
//! error.

mod common;

use common::{logged, yield_once};
use std::future::{poll_fn, ready, IntoFuture};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use weft::{block_on, join, try_join};

/// Waits, by polling, until `condition` holds. Panics after many polls:
/// if `join!` ran its futures one after the other, the peer that would make
/// the condition true would never run.
async fn wait_until(condition: impl Fn() -> bool) {
    let mut polls = 0;
    poll_fn(|cx| {
        if condition() {
            return Poll::Ready(());
        }
        polls += 1;
        assert!(polls < 1_000, "the peer future never made progress");
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// Counts its own drops.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn new_log() -> Arc<Mutex<Vec<usize>>> {
    Arc::new(Mutex::new(Vec::new()))
}

fn take_log(log: &Arc<Mutex<Vec<usize>>>) -> Vec<usize> {
    std::mem::take(&mut *log.lock().unwrap())
}

#[test]
fn join_returns_outputs_in_written_order() {
    let log = new_log();
    let out = block_on(async {
        join!(
            logged(0, 2, "slow", &log),
            logged(1, 1, 'm', &log),
            logged(2, 0, 3_u64, &log),
        )
    });
    assert_eq!(out, ("slow", 'm', 3));
}

#[test]
fn join_polls_concurrently_and_never_repolls_a_finished_future() {
    let log = new_log();
    block_on(async {
        join!(logged(0, 2, (), &log), logged(1, 0, (), &log));
    });
    let log = take_log(&log);
    assert_eq!(log.iter().filter(|&&id| id == 0).count(), 3, "{log:?}");
    assert_eq!(log.iter().filter(|&&id| id == 1).count(), 1, "{log:?}");
}

#[test]
fn join_lets_two_futures_wait_on_each_other() {
    // A sets odd steps, B sets even ones; each waits for the other before
    // its next step, so neither can finish unless both are polled.
    let step = AtomicUsize::new(0);
    let steps = block_on(async {
        join!(
            async {
                for round in 0..5 {
                    step.store(2 * round + 1, Ordering::SeqCst);
                    wait_until(|| step.load(Ordering::SeqCst) == 2 * round + 2).await;
                }
                "a"
            },
            async {
                for round in 0..5 {
                    wait_until(|| step.load(Ordering::SeqCst) == 2 * round + 1).await;
                    step.store(2 * round + 2, Ordering::SeqCst);
                }
                "b"
            },
        )
    });
    assert_eq!(steps, ("a", "b"));
    assert_eq!(step.load(Ordering::SeqCst), 10);
}

#[test]
fn join_rotates_the_first_future_polled() {
    let log = new_log();
    block_on(async {
        join!(
            logged(0, 2, (), &log),
            logged(1, 2, (), &log),
            logged(2, 2, (), &log),
        );
    });
    assert_eq!(take_log(&log), [0, 1, 2, 1, 2, 0, 2, 0, 1]);
}

#[test]
fn join_drops_a_future_as_soon_as_it_finishes() {
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(Arc::clone(&drops));
    let seen_by_peer = block_on(async {
        let (_, seen) = join!(
            async move {
                let _guard = guard;
            },
            async {
                yield_once().await;
                drops.load(Ordering::SeqCst)
            },
        );
        seen
    });
    assert_eq!(seen_by_peer, 1, "the finished future was still alive");
}

#[test]
fn join_accepts_one_future_a_trailing_comma_and_none() {
    block_on(async {
        assert_eq!(join!(ready(1)), (1,));
        assert_eq!(join!(ready(1),), (1,));
        assert_eq!(join!(ready(1), ready("two"),), (1, "two"));
        let () = join!();
    });
}

#[test]
fn join_takes_twelve_and_sixty_four_futures() {
    block_on(async {
        let twelve = join!(
            ready(0),
            ready(1),
            ready(2),
            ready(3),
            ready(4),
            ready(5),
            ready(6),
            ready(7),
            ready(8),
            ready(9),
            ready(10),
            async {
                yield_once().await;
                11
            },
        );
        assert_eq!(twelve, (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));

        macro_rules! join_ready {
            ($($i:literal)*) => { join!($(ready($i)),*) };
        }
        let many = join_ready!(
            0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
            32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60
            61 62 63
        );
        assert_eq!((many.0, many.17, many.63), (0, 17, 63));
    });
}

/// Something that is not a future but turns into one, as `.await` allows.
struct Answer;

impl IntoFuture for Answer {
    type Output = u32;
    type IntoFuture = std::future::Ready<u32>;

    fn into_future(self) -> Self::IntoFuture {
        ready(42)
    }
}

#[test]
fn join_accepts_into_future() {
    assert_eq!(block_on(async { join!(Answer, ready(1)) }), (42, 1));
}

#[test]
fn join_evaluates_its_operands_once_in_order() {
    let log = new_log();
    let push = |id| {
        log.lock().unwrap().push(id);
        ready(id)
    };
    let out = block_on(async { join!(push(0), push(1), push(2)) });
    assert_eq!(out, (0, 1, 2));
    assert_eq!(take_log(&log), [0, 1, 2]);
}

#[test]
fn try_join_returns_every_ok_value_in_written_order() {
    let log = new_log();
    let out = block_on(async {
        try_join!(
            logged(0, 2, Ok::<_, String>("slow"), &log),
            logged(1, 0, Ok::<_, String>(2_u8), &log),
        )
    });
    assert_eq!(out, Ok(("slow", 2)));
}

#[test]
fn try_join_stops_at_the_first_error_and_drops_the_rest() {
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(Arc::clone(&drops));
    let log = new_log();
    let never_polls = Arc::new(AtomicUsize::new(0));
    let polls = Arc::clone(&never_polls);
    let out = block_on(async {
        let out = try_join!(
            async move {
                let _guard = guard;
                poll_fn(|_| {
                    polls.fetch_add(1, Ordering::SeqCst);
                    Poll::<()>::Pending
                })
                .await;
                Ok::<u32, &str>(1)
            },
            logged(1, 1, Err::<u32, _>("boom"), &log),
            logged(2, 0, Ok::<_, &str>('c'), &log),
        );
        // The pending future is gone before try_join! returns.
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        out
    });
    assert_eq!(out, Err("boom"));
    // Round one polls 0, 1, 2 (2 finishes); round two starts at 1, which
    // fails, so nothing else is polled.
    assert_eq!(never_polls.load(Ordering::SeqCst), 1);
    assert_eq!(take_log(&log), [1, 2, 1]);
}

#[test]
fn try_join_error_wins_over_values_already_collected() {
    let log = new_log();
    let out = block_on(async {
        try_join!(
            logged(0, 0, Ok::<u8, u8>(1), &log),
            logged(1, 3, Err::<u8, u8>(7), &log),
        )
    });
    assert_eq!(out, Err(7));
    assert_eq!(take_log(&log), [0, 1, 1, 1, 1]);
}

#[test]
fn try_join_accepts_one_future_a_trailing_comma_and_none() {
    block_on(async {
        assert_eq!(try_join!(ready(Ok::<_, ()>(1))), Ok((1,)));
        assert_eq!(try_join!(ready(Ok::<_, ()>(1)),), Ok((1,)));
        let none: Result<(), ()> = try_join!();
        assert_eq!(none, Ok(()));
    });
}

#[test]
fn try_join_lets_two_futures_wait_on_each_other() {
    let step = AtomicUsize::new(0);
    let out = block_on(async {
        try_join!(
            async {
                step.store(1, Ordering::SeqCst);
                wait_until(|| step.load(Ordering::SeqCst) == 2).await;
                Ok::<_, ()>("a")
            },
            async {
                wait_until(|| step.load(Ordering::SeqCst) == 1).await;
                step.store(2, Ordering::SeqCst);
                Ok::<_, ()>("b")
            },
        )
    });
    assert_eq!(out, Ok(("a", "b")));
}

#[test]
fn joins_are_send_when_their_futures_are() {
    fn assert_send<T: Send>(value: T) -> T {
        value
    }
    let task = assert_send(async {
        let (a, b) = join!(ready(1), async {
            yield_once().await;
            2
        });
        let c = try_join!(ready(Ok::<_, ()>(3)), ready(Ok::<_, ()>(4)));
        (a, b, c)
    });
    assert_eq!(block_on(task), (1, 2, Ok((3, 4))));
}

//! `weft::select!`: the first matching branch wins, `biased;` polls in
//! written order and the default start is random, preconditions and
//! pattern mismatches disable branches, `else` runs when none is left (and
//! its absence panics), and handlers run outside the polling so they may
//! `break`, `continue`, `return`, `?` and `.await`.

mod common;

use common::{logged, yield_once};
use std::future::{pending, ready, Future};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use weft::{block_on, select};

/// Counts its own drops.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Never finishes; counts its drop, whether or not it was ever polled.
fn pending_guarded(drops: Arc<AtomicUsize>) -> impl Future<Output = u32> {
    let guard = DropCounter(drops);
    async move {
        let _guard = guard;
        pending().await
    }
}

fn new_log() -> Arc<Mutex<Vec<usize>>> {
    Arc::new(Mutex::new(Vec::new()))
}

fn take_log(log: &Arc<Mutex<Vec<usize>>>) -> Vec<usize> {
    std::mem::take(&mut *log.lock().unwrap())
}

#[test]
fn select_picks_the_ready_branch_and_drops_the_others_first() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (winner, drops_seen_by_handler) = block_on(async {
        select! {
            n = pending_guarded(Arc::clone(&drops)) => (n, usize::MAX),
            n = ready(7_u32) => (n, drops.load(Ordering::SeqCst)),
        }
    });
    assert_eq!(winner, 7);
    assert_eq!(
        drops_seen_by_handler, 1,
        "the losing future outlived the poll"
    );
}

#[test]
fn select_waits_for_the_first_future_to_finish() {
    let log = new_log();
    let winner = block_on(async {
        select! {
            biased;
            n = logged(0, 3, 0, &log) => n,
            n = logged(1, 1, 1, &log) => n,
        }
    });
    assert_eq!(winner, 1);
    assert_eq!(take_log(&log), [0, 1, 0, 1]);
}

#[test]
fn biased_select_polls_in_written_order() {
    let log = new_log();
    block_on(async {
        select! {
            biased;
            () = logged(0, 2, (), &log) => {}
            () = logged(1, 2, (), &log) => {}
            () = logged(2, 2, (), &log) => {}
        }
    });
    assert_eq!(take_log(&log), [0, 1, 2, 0, 1, 2, 0]);

    block_on(async {
        for _ in 0..1_000 {
            let chosen = select! {
                biased;
                () = ready(()) => 0,
                () = ready(()) => 1,
            };
            assert_eq!(chosen, 0);
        }
    });
}

#[test]
fn unbiased_select_starts_at_a_random_branch() {
    let mut chosen = [0_u32; 2];
    block_on(async {
        for _ in 0..1_000 {
            let branch = select! {
                () = ready(()) => 0,
                () = ready(()) => 1,
            };
            chosen[branch] += 1;
        }
    });
    assert!(chosen.iter().all(|&count| count > 0), "{chosen:?}");
}

#[test]
fn unbiased_select_still_polls_every_branch_each_round() {
    let log = new_log();
    block_on(async {
        select! {
            () = logged(0, 1, (), &log) => {}
            () = pending() => {}
            () = logged(2, 5, (), &log) => {}
        }
    });
    let log = take_log(&log);
    // The first round polls both logged futures; the second finishes one of
    // them, which may or may not come after polling the other.
    assert!(log.len() == 3 || log.len() == 4, "{log:?}");
    assert_eq!(log.iter().filter(|&&id| id == 0).count(), 2, "{log:?}");
}

#[test]
fn false_precondition_disables_a_branch_without_polling_it() {
    let log = new_log();
    let order = Mutex::new(Vec::new());
    let note = |step: &'static str| order.lock().unwrap().push(step);
    let winner = block_on(async {
        select! {
            biased;
            n = { note("future 0"); logged(0, 0, 0, &log) }, if { note("condition 0"); false } => n,
            n = { note("future 1"); logged(1, 1, 1, &log) }, if { note("condition 1"); true } => n,
        }
    });
    assert_eq!(winner, 1);
    assert_eq!(take_log(&log), [1, 1], "a disabled branch was polled");
    // Preconditions first, then every future, disabled or not.
    assert_eq!(
        *order.lock().unwrap(),
        ["condition 0", "condition 1", "future 0", "future 1"]
    );
}

#[test]
fn pattern_mismatch_disables_the_branch_and_others_go_on() {
    let log = new_log();
    let winner = block_on(async {
        select! {
            biased;
            Some(n) = logged(0, 0, None::<u32>, &log) => n,
            n = logged(1, 2, 9, &log) => n,
        }
    });
    assert_eq!(winner, 9);
    assert_eq!(
        take_log(&log),
        [0, 1, 1, 1],
        "a finished branch was polled again"
    );
}

#[test]
fn else_runs_when_every_branch_is_disabled() {
    block_on(async {
        let by_precondition = select! {
            n = ready(1), if false => n,
            n = ready(2), if 1 + 1 == 3 => n,
            else => -1,
        };
        assert_eq!(by_precondition, -1);

        let by_mismatch = select! {
            Some(n) = ready(None::<i32>) => n,
            Ok(n) = async { yield_once().await; Err::<i32, ()>(()) } => n,
            else => { -2 }
        };
        assert_eq!(by_mismatch, -2);

        let biased_mixed = select! {
            biased;
            n = ready(1), if false => n,
            Some(n) = ready(None) => n,
            else => -3,
        };
        assert_eq!(biased_mixed, -3);

        assert_eq!(select! { else => 4 }, 4);
        assert_eq!(select! { biased; else => 5, }, 5);
    });
}

#[test]
fn else_is_not_taken_while_a_branch_is_pending() {
    let winner = block_on(async {
        select! {
            Some(n) = ready(None::<i32>) => n,
            n = async { yield_once().await; yield_once().await; 3 } => n,
            else => -1,
        }
    });
    assert_eq!(winner, 3);
}

#[test]
#[should_panic(expected = "all branches are disabled and there is no else branch")]
fn all_branches_disabled_without_else_panics() {
    block_on(async {
        select! {
            Some(n) = ready(None::<u32>) => n,
            n = ready(1), if false => n,
        }
    });
}

#[test]
fn handler_can_break_and_continue_the_enclosing_loop() {
    let rounds = block_on(async {
        let mut rounds = 0;
        let mut skipped = 0;
        loop {
            rounds += 1;
            select! {
                biased;
                () = ready(()), if rounds == 5 => break,
                () = ready(()), if rounds % 2 == 0 => {
                    skipped += 1;
                    continue;
                }
                () = ready(()) => {}
            }
            assert_ne!(rounds % 2, 0, "continue did not skip the rest of the body");
        }
        assert_eq!(skipped, 2);
        rounds
    });
    assert_eq!(rounds, 5);
}

async fn first_even(values: &[u32]) -> Option<u32> {
    for &value in values {
        select! {
            n = ready(value), if value % 2 == 0 => return Some(n),
            else => continue,
        }
    }
    None
}

async fn parse_first(text: &str) -> Result<u32, std::num::ParseIntError> {
    let n = select! {
        parsed = ready(text.parse::<u32>()) => parsed?,
    };
    Ok(n + 1)
}

#[test]
fn handler_can_return_use_question_mark_and_await() {
    block_on(async {
        assert_eq!(first_even(&[1, 3, 4, 5]).await, Some(4));
        assert_eq!(first_even(&[1, 3]).await, None);
        assert_eq!(parse_first("41").await, Ok(42));
        assert!(parse_first("x").await.is_err());

        let after_await = select! {
            n = ready(1) => {
                yield_once().await;
                n + 1
            }
        };
        assert_eq!(after_await, 2);
    });
}

#[test]
fn handler_may_reuse_what_the_futures_borrowed() {
    let mut items = vec![1, 2];
    block_on(async {
        select! {
            // The future borrows `items`; the handler mutates it.
            n = async { items.len() } => items.push(n + 1),
        }
    });
    assert_eq!(items, [1, 2, 3]);
}

#[test]
fn patterns_may_bind_by_mut_ref_and_alternatives() {
    block_on(async {
        let grown = select! {
            Some(mut v) = ready(Some(vec![1])) => {
                v.push(2);
                v
            }
        };
        assert_eq!(grown, [1, 2]);

        let name = select! {
            (ref s, _) = ready((String::from("weft"), 1)) => s.clone(),
        };
        assert_eq!(name, "weft");

        let mut counted = select! {
            (ref mut count, _) = ready((0_u32, ())) => {
                *count += 1;
                *count
            }
        };
        counted += 1;
        assert_eq!(counted, 2);

        let either = select! {
            Ok(n) | Err(n) = ready(Err::<u8, u8>(3)) => n,
        };
        assert_eq!(either, 3);
    });
}

#[test]
fn select_evaluates_each_future_once_and_accepts_pinned_references() {
    let log = new_log();
    block_on(async {
        let mut slow = std::pin::pin!(logged(0, 3, "slow", &log));
        let mut ticks = 0;
        let out = loop {
            select! {
                biased;
                out = &mut slow => break out,
                () = yield_once() => ticks += 1,
            }
        };
        assert_eq!(out, "slow");
        assert!(ticks >= 1);
    });
    // The same future was polled across iterations, not re-created.
    assert_eq!(take_log(&log), [0, 0, 0, 0]);
}

#[test]
fn select_takes_sixty_four_branches() {
    macro_rules! select_last {
        ($($i:literal)*) => {
            select! { $( n = ready($i), if $i == 63 => n, )* }
        };
    }
    let winner = block_on(async {
        select_last!(
            0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
            32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60
            61 62 63
        )
    });
    assert_eq!(winner, 63);
}

#[test]
fn select_can_nest() {
    let out = block_on(async {
        select! {
            n = async {
                select! {
                    m = ready(2) => m * 10,
                }
            } => select! {
                k = ready(n + 1) => k,
            },
        }
    });
    assert_eq!(out, 21);
}

#[test]
fn select_is_send_when_its_futures_are() {
    fn assert_send<T: Send>(value: T) -> T {
        value
    }
    let task = assert_send(async {
        select! {
            n = ready(1) => n,
            n = async { yield_once().await; 2 } => n,
        }
    });
    assert!(block_on(task) > 0);
}

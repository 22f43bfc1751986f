//! `join!`, `try_join!` and `select!`: waiting on several futures from one
//! task.
//!
//! All three are `macro_rules!` macros, so they cost no proc-macro build.
//! Each expands to a block that pins its futures on the current task's stack
//! and drives them with one `poll_fn(..).await`; nothing is spawned and
//! nothing is allocated. They must therefore be used inside an async
//! function or block.
//!
//! All three walk their input once with a tt-muncher that pairs each
//! future with an index (and, for `select!`, a name for its variant of the
//! output enum) taken from a fixed supply of 64. That supply is the limit on
//! the number of futures: a bitmask of disabled `select!` branches fits in a
//! `u64`, and the recursion stays well below the default
//! `recursion_limit`. The runtime helpers the expansions call live in
//! [`support`].

pub mod support;

/// Waits on several futures at once, on the current task, and returns a
/// tuple of their outputs.
///
/// `join!(a, b, c)` evaluates `a`, `b` and `c` (anything that implements
/// [`IntoFuture`](core::future::IntoFuture)) in order, pins the futures on
/// the stack and polls them until every one has finished. The outputs come
/// back in the order the futures were written, whatever order they finished
/// in. A trailing comma is allowed; `join!()` evaluates to `()`.
///
/// The futures run *concurrently* but not in *parallel*: they share the
/// task that awaits the `join!`, so a future that blocks the thread blocks
/// them all. To run work in parallel, [`spawn`](crate::spawn) it and join
/// the handles.
///
/// # Fairness
///
/// Each time the joined future is polled it polls every unfinished future
/// once, starting one position further along each time (0, 1, 2, then 1,
/// 2, 0, then 2, 0, 1, …), as tokio does. No future is always polled last,
/// so one written early that is slow to poll, or that spends the task's
/// cooperative budget, cannot keep starving the ones written after it.
///
/// A future is dropped as soon as it finishes; its output waits in the
/// expansion until the others are done.
///
/// # Limits
///
/// Up to 64 futures. The macro must be used in an async context.
///
/// # Examples
///
/// ```
/// async fn double(x: u32) -> u32 {
///     x * 2
/// }
///
/// weft::block_on(async {
///     let (a, b, c) = weft::join!(double(1), double(2), async { "three" });
///     assert_eq!((a, b, c), (2, 4, "three"));
/// });
/// ```
#[macro_export]
macro_rules! join {
    // Every future is paired with its index: poll them all.
    (@final $( ($index:tt) $future:expr, )+ ) => {{
        let mut futures = ( $(
            $crate::__macro_support::pin!($crate::__macro_support::join_future($future)),
        )+ );
        let mut outputs = ( $(
            $crate::__macro_support::join_output(&futures.$index),
        )+ );
        let count: u32 = [$($index),+].len() as u32;
        let mut start: u32 = 0;
        $crate::__macro_support::poll_fn(|cx| {
            let mut finished = true;
            for offset in 0..count {
                match (start + offset) % count {
                    $(
                        $index => {
                            finished &= $crate::__macro_support::poll_join(
                                &mut futures.$index,
                                &mut outputs.$index,
                                cx,
                            );
                        }
                    )+
                    _ => ::core::unreachable!("weft::join!: branch index out of range"),
                }
            }
            start = (start + 1) % count;
            if finished {
                $crate::__macro_support::Poll::Ready(( $(
                    $crate::__macro_support::take_output(&mut outputs.$index),
                )+ ))
            } else {
                $crate::__macro_support::Poll::Pending
            }
        })
        .await
    }};

    // Pair the next future with the next index from the supply.
    (@munch [ ($index:tt) $($supply:tt)* ] [ $($done:tt)* ] $future:expr, $($rest:tt)* ) => {
        $crate::join!(@munch [ $($supply)* ] [ $($done)* ($index) $future, ] $($rest)*)
    };
    (@munch [ $($supply:tt)* ] [ $($done:tt)* ] ) => {
        $crate::join!(@final $($done)*)
    };
    (@munch [] [ $($done:tt)* ] $($rest:tt)+ ) => {
        ::core::compile_error!("weft::join! takes at most 64 futures")
    };

    () => {
        async {}.await
    };
    ( $($future:expr),+ $(,)? ) => {
        $crate::join!(@munch [
            (0) (1) (2) (3) (4) (5) (6) (7) (8) (9) (10) (11) (12) (13) (14) (15)
            (16) (17) (18) (19) (20) (21) (22) (23) (24) (25) (26) (27) (28) (29) (30) (31)
            (32) (33) (34) (35) (36) (37) (38) (39) (40) (41) (42) (43) (44) (45) (46) (47)
            (48) (49) (50) (51) (52) (53) (54) (55) (56) (57) (58) (59) (60) (61) (62) (63)
        ] [] $($future,)+)
    };
}

/// Waits on several fallible futures at once and returns all their `Ok`
/// values, or the first error.
///
/// Every future must output `Result<T, E>` with the same `E` (the `T`s may
/// differ). `try_join!(a, b)` evaluates to `Result<(Ta, Tb), E>`: `Ok` with
/// the values in the order the futures were written once all of them have
/// succeeded, or `Err` with the first error any of them returns. On that
/// error the other futures are dropped, unfinished, before `try_join!`
/// returns — that is how their work is cancelled.
///
/// Polling is concurrent and fair in the same way as [`join!`]: every poll
/// gives each unfinished future one turn, starting one position further
/// along each time. A trailing comma is allowed; `try_join!()` evaluates to
/// `Ok(())`.
///
/// # Limits
///
/// Up to 64 futures. The macro must be used in an async context.
///
/// # Examples
///
/// ```
/// async fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
///     s.parse()
/// }
///
/// weft::block_on(async {
///     let both = weft::try_join!(parse("1"), parse("2"));
///     assert_eq!(both, Ok((1, 2)));
///
///     let one_bad = weft::try_join!(parse("1"), parse("two"));
///     assert!(one_bad.is_err());
/// });
/// ```
#[macro_export]
macro_rules! try_join {
    (@final $( ($index:tt) $future:expr, )+ ) => {{
        let mut futures = ( $(
            $crate::__macro_support::pin!($crate::__macro_support::join_future($future)),
        )+ );
        let mut outputs = ( $(
            $crate::__macro_support::try_join_output(&futures.$index),
        )+ );
        let count: u32 = [$($index),+].len() as u32;
        let mut start: u32 = 0;
        $crate::__macro_support::poll_fn(|cx| {
            let mut finished = true;
            for offset in 0..count {
                match (start + offset) % count {
                    $(
                        $index => {
                            match $crate::__macro_support::poll_try_join(
                                &mut futures.$index,
                                &mut outputs.$index,
                                cx,
                            ) {
                                ::core::result::Result::Ok(done) => finished &= done,
                                ::core::result::Result::Err(error) => {
                                    return $crate::__macro_support::Poll::Ready(
                                        ::core::result::Result::Err(error),
                                    );
                                }
                            }
                        }
                    )+
                    _ => ::core::unreachable!("weft::try_join!: branch index out of range"),
                }
            }
            start = (start + 1) % count;
            if finished {
                $crate::__macro_support::Poll::Ready(::core::result::Result::Ok(( $(
                    $crate::__macro_support::take_output(&mut outputs.$index),
                )+ )))
            } else {
                $crate::__macro_support::Poll::Pending
            }
        })
        .await
    }};

    (@munch [ ($index:tt) $($supply:tt)* ] [ $($done:tt)* ] $future:expr, $($rest:tt)* ) => {
        $crate::try_join!(@munch [ $($supply)* ] [ $($done)* ($index) $future, ] $($rest)*)
    };
    (@munch [ $($supply:tt)* ] [ $($done:tt)* ] ) => {
        $crate::try_join!(@final $($done)*)
    };
    (@munch [] [ $($done:tt)* ] $($rest:tt)+ ) => {
        ::core::compile_error!("weft::try_join! takes at most 64 futures")
    };

    () => {
        async { ::core::result::Result::Ok(()) }.await
    };
    ( $($future:expr),+ $(,)? ) => {
        $crate::try_join!(@munch [
            (0) (1) (2) (3) (4) (5) (6) (7) (8) (9) (10) (11) (12) (13) (14) (15)
            (16) (17) (18) (19) (20) (21) (22) (23) (24) (25) (26) (27) (28) (29) (30) (31)
            (32) (33) (34) (35) (36) (37) (38) (39) (40) (41) (42) (43) (44) (45) (46) (47)
            (48) (49) (50) (51) (52) (53) (54) (55) (56) (57) (58) (59) (60) (61) (62) (63)
        ] [] $($future,)+)
    };
}

/// Waits on several futures at once and runs the handler of the first one
/// that finishes with a value matching its pattern; the others are
/// dropped.
///
/// ```text
/// weft::select! {
///     biased;                                       // optional, must come first
///     <pattern> = <async expression> (, if <precondition>)? => <handler>,
///     ...
///     else => <expression>                          // optional, must come last
/// }
/// ```
///
/// The syntax is tokio's. A handler is an expression followed by a comma,
/// or a block with the comma optional; the last branch's comma is optional
/// too. The whole `select!` evaluates to the value of the handler that
/// ran, so every handler (and `else`) must have the same type.
///
/// # How it runs
///
/// 1. Every `<precondition>` is evaluated, in written order. A branch whose
///    precondition is `false` is *disabled*.
/// 2. Every `<async expression>` is evaluated, in written order, including
///    those of disabled branches, and turned into a future with
///    [`IntoFuture`](core::future::IntoFuture). The futures are pinned on
///    the stack; disabled ones are never polled.
/// 3. The enabled futures are polled, on the current task, until one
///    finishes. If its output matches `<pattern>`, the polling stops; if it
///    does not, that branch is disabled, its output is dropped, and the
///    others are polled on.
/// 4. All the futures are dropped, and then the handler of the branch that
///    matched runs, with the pattern's bindings in scope.
/// 5. If every branch is disabled (by a precondition or by a mismatch)
///    before one matches, the `else` expression runs instead.
///
/// Because the handler runs after the polling, outside any closure, it may
/// `.await`, `break` or `continue` the enclosing loop, `return` from the
/// enclosing function and use `?`, and it may borrow whatever the futures
/// borrowed (they are gone by then). An `<async expression>` or
/// `<precondition>` is an ordinary expression evaluated before the
/// polling; `?` or `return` there leaves the enclosing function too.
///
/// # Fairness
///
/// Each time the `select!` is polled, it starts with a branch chosen at
/// random (from a small per-thread xorshift generator), so a branch that is
/// always ready cannot starve the others. Write `biased;` as the first
/// token to poll the branches in written order instead: cheaper, and
/// useful when one branch (a shutdown signal, say) must win whenever it is
/// ready — but then the first branches *can* starve the later ones.
///
/// # Panics
///
/// When every branch is disabled and there is no `else` branch, `select!`
/// panics with "all branches are disabled and there is no else branch". Add
/// an `else` branch if that can happen, for example when preconditions
/// turn branches off.
///
/// # Cancel safety
///
/// When one branch wins, the futures of all the others are dropped, and
/// whatever they had done is lost unless the operation is *cancel safe*:
/// dropping it before it finishes loses nothing (receiving from a channel,
/// accepting a connection, a `sleep`). Reading into a buffer or writing a
/// whole buffer usually is not: part of the data may already have moved.
/// When a `select!` runs in a loop, a future created anew each time round
/// is cancelled every time another branch wins; to keep one operation
/// alive across iterations, create it before the loop, pin it
/// (`let mut op = core::pin::pin!(op);`) and select on `&mut op` — with a
/// precondition that turns the branch off once `op` has finished, because
/// a finished future must not be polled again.
///
/// Two more ways a value can be lost: an output that does not match its
/// branch's pattern is dropped (a message received by `Some(msg) =
/// rx.recv()` that turned out to be something else is gone), and dropping
/// the future that is awaiting a `select!` drops every branch's future
/// with it. `select!` is cancel safe exactly when all its branches are.
///
/// # Limits
///
/// Up to 64 branches (plus `else`). `select!` must be used in an async
/// context and needs at least one branch.
///
/// # Examples
///
/// The first future to finish wins:
///
/// ```
/// use std::future::{pending, ready};
///
/// weft::block_on(async {
///     let winner = weft::select! {
///         value = ready(1) => value,
///         _ = pending::<()>() => unreachable!(),
///     };
///     assert_eq!(winner, 1);
/// });
/// ```
///
/// Preconditions, patterns and `else`. Here the first branch is disabled
/// by its precondition and the second by its pattern, so `else` runs:
///
/// ```
/// use std::future::ready;
///
/// weft::block_on(async {
///     let closed = true;
///     let got = weft::select! {
///         n = ready(1), if !closed => n,
///         Some(n) = ready(None::<i32>) => n,
///         else => -1,
///     };
///     assert_eq!(got, -1);
/// });
/// ```
///
/// In a loop, with `biased;` so that the first branch wins as soon as its
/// precondition lets it, and a handler that breaks out of the loop:
///
/// ```
/// use std::future::{pending, ready};
///
/// weft::block_on(async {
///     let mut ticks = 0;
///     loop {
///         weft::select! {
///             biased;
///             () = ready(()), if ticks == 3 => break,
///             () = ready(()) => ticks += 1,
///             () = pending() => {}
///         }
///     }
///     assert_eq!(ticks, 3);
/// });
/// ```
#[macro_export]
macro_rules! select {
    // ===== Expansion =====
    //
    // Each branch arrives as `[Variant index] pattern = future, if
    // precondition => handler,`: `Variant` names the branch's variant of the
    // output enum (and that variant's type parameter), `index` is its bit in
    // the `disabled` mask and its position in the `futures` tuple.
    (@final
        mode = $mode:ident;
        $(
            [$variant:ident $index:tt]
            $bind:pat = $future:expr, if $precondition:expr => $handler:expr,
        )+
        else = $else:expr;
    ) => {{
        // Which branch finished, with its output; or that none is left.
        enum __WeftSelectOutput<$($variant,)+> {
            $( $variant($variant), )+
            Disabled,
        }

        let branches: u32 = [$($index),+].len() as u32;
        let mut disabled: u64 = 0;
        $(
            if !$precondition {
                disabled |= 1u64 << $index;
            }
        )+

        // The futures live in this inner block, so they are dropped before
        // a handler runs and the handler may reuse what they borrowed.
        // `mut` (here and below) lets patterns bind with `ref mut`.
        #[allow(unused_mut)]
        let mut output = {
            let mut futures = ( $(
                $crate::__macro_support::pin!(
                    $crate::__macro_support::IntoFuture::into_future($future)
                ),
            )+ );
            $crate::__macro_support::poll_fn(|cx| {
                let mut any_pending = false;
                let start: u32 = $crate::select!(@start $mode branches);
                for offset in 0..branches {
                    match (start + offset) % branches {
                        $(
                            $index => {
                                let mask: u64 = 1u64 << $index;
                                if disabled & mask != 0 {
                                    continue;
                                }
                                #[allow(unused_mut)]
                                let mut output = match $crate::__macro_support::Future::poll(
                                    futures.$index.as_mut(),
                                    cx,
                                ) {
                                    $crate::__macro_support::Poll::Ready(output) => output,
                                    $crate::__macro_support::Poll::Pending => {
                                        any_pending = true;
                                        continue;
                                    }
                                };
                                // A finished future must not be polled again,
                                // whether or not its output matches.
                                disabled |= mask;
                                // Test the pattern without moving out of
                                // `output`: bindings are only moved when a
                                // guard succeeds, and this guard never does.
                                // Matching by value (not through a reference)
                                // keeps `mut`/`ref` bindings valid in every
                                // edition.
                                let mut matches = false;
                                #[allow(unused_variables, unused_mut, clippy::all)]
                                match output {
                                    $bind if {
                                        matches = true;
                                        false
                                    } => ::core::unreachable!(),
                                    _ => {}
                                }
                                if !matches {
                                    continue;
                                }
                                return $crate::__macro_support::Poll::Ready(
                                    __WeftSelectOutput::$variant(output),
                                );
                            }
                        )+
                        _ => ::core::unreachable!("weft::select!: branch index out of range"),
                    }
                }
                if any_pending {
                    $crate::__macro_support::Poll::Pending
                } else {
                    $crate::__macro_support::Poll::Ready(__WeftSelectOutput::Disabled)
                }
            })
            .await
        };

        match output {
            $( __WeftSelectOutput::$variant($bind) => $handler, )+
            __WeftSelectOutput::Disabled => $else,
            #[allow(unreachable_patterns)]
            _ => ::core::unreachable!("weft::select!: a matched output failed to match"),
        }
    }};

    (@start biased $branches:ident) => {
        0
    };
    (@start random $branches:ident) => {
        $crate::__macro_support::thread_rng_n($branches)
    };

    // ===== Normalisation =====
    //
    // One rule application per branch: take the next name and index from
    // the supply and rewrite the branch into the `@final` form.

    // The end, with or without `else`.
    (@munch { mode = $mode:ident; supply = [$($supply:tt)*]; $($done:tt)* } ) => {
        $crate::select!(@final
            mode = $mode;
            $($done)*
            else = ::core::panic!("all branches are disabled and there is no else branch");
        )
    };
    (@munch { mode = $mode:ident; supply = [$($supply:tt)*]; $($done:tt)* }
        else => $else:expr $(,)?
    ) => {
        $crate::select!(@final mode = $mode; $($done)* else = $else;)
    };
    (@munch { $($state:tt)* } else => $else:expr, $($rest:tt)+ ) => {
        ::core::compile_error!("weft::select!: the `else` branch must come last")
    };
    (@munch { mode = $mode:ident; supply = []; $($done:tt)* } $($rest:tt)+ ) => {
        ::core::compile_error!("weft::select! takes at most 64 branches")
    };

    // A block handler; the comma after it is optional.
    (@munch { mode = $mode:ident; supply = [($v:ident $i:tt) $($supply:tt)*]; $($done:tt)* }
        $p:pat = $f:expr, if $c:expr => $h:block, $($rest:tt)*
    ) => {
        $crate::select!(@munch { mode = $mode; supply = [$($supply)*];
            $($done)* [$v $i] $p = $f, if $c => $h, } $($rest)*)
    };
    (@munch { mode = $mode:ident; supply = [($v:ident $i:tt) $($supply:tt)*]; $($done:tt)* }
        $p:pat = $f:expr => $h:block, $($rest:tt)*
    ) => {
        $crate::select!(@munch { mode = $mode; supply = [$($supply)*];
            $($done)* [$v $i] $p = $f, if true => $h, } $($rest)*)
    };
    (@munch { mode = $mode:ident; supply = [($v:ident $i:tt) $($supply:tt)*]; $($done:tt)* }
        $p:pat = $f:expr, if $c:expr => $h:block $($rest:tt)*
    ) => {
        $crate::select!(@munch { mode = $mode; supply = [$($supply)*];
            $($done)* [$v $i] $p = $f, if $c => $h, } $($rest)*)
    };
    (@munch { mode = $mode:ident; supply = [($v:ident $i:tt) $($supply:tt)*]; $($done:tt)* }
        $p:pat = $f:expr => $h:block $($rest:tt)*
    ) => {
        $crate::select!(@munch { mode = $mode; supply = [$($supply)*];
            $($done)* [$v $i] $p = $f, if true => $h, } $($rest)*)
    };

    // An expression handler: a comma follows, or it is the last branch.
    (@munch { mode = $mode:ident; supply = [($v:ident $i:tt) $($supply:tt)*]; $($done:tt)* }
        $p:pat = $f:expr, if $c:expr => $h:expr, $($rest:tt)*
    ) => {
        $crate::select!(@munch { mode = $mode; supply = [$($supply)*];
            $($done)* [$v $i] $p = $f, if $c => $h, } $($rest)*)
    };
    (@munch { mode = $mode:ident; supply = [($v:ident $i:tt) $($supply:tt)*]; $($done:tt)* }
        $p:pat = $f:expr => $h:expr, $($rest:tt)*
    ) => {
        $crate::select!(@munch { mode = $mode; supply = [$($supply)*];
            $($done)* [$v $i] $p = $f, if true => $h, } $($rest)*)
    };
    (@munch { mode = $mode:ident; supply = [($v:ident $i:tt) $($supply:tt)*]; $($done:tt)* }
        $p:pat = $f:expr, if $c:expr => $h:expr
    ) => {
        $crate::select!(@munch { mode = $mode; supply = [$($supply)*];
            $($done)* [$v $i] $p = $f, if $c => $h, })
    };
    (@munch { mode = $mode:ident; supply = [($v:ident $i:tt) $($supply:tt)*]; $($done:tt)* }
        $p:pat = $f:expr => $h:expr
    ) => {
        $crate::select!(@munch { mode = $mode; supply = [$($supply)*];
            $($done)* [$v $i] $p = $f, if true => $h, })
    };

    // Anything else is a syntax error; say what a branch looks like.
    (@munch { $($state:tt)* } $($rest:tt)* ) => {
        ::core::compile_error!(::core::concat!(
            "weft::select!: expected `<pattern> = <future> (, if <condition>)? => <handler>,` ",
            "or a final `else => <expression>`, found `",
            ::core::stringify!($($rest)*),
            "`",
        ))
    };

    // ===== Entry =====
    (@supply $mode:ident; $($branches:tt)+) => {
        $crate::select!(@munch { mode = $mode; supply = [
            (B0 0) (B1 1) (B2 2) (B3 3) (B4 4) (B5 5) (B6 6) (B7 7)
            (B8 8) (B9 9) (B10 10) (B11 11) (B12 12) (B13 13) (B14 14) (B15 15)
            (B16 16) (B17 17) (B18 18) (B19 19) (B20 20) (B21 21) (B22 22) (B23 23)
            (B24 24) (B25 25) (B26 26) (B27 27) (B28 28) (B29 29) (B30 30) (B31 31)
            (B32 32) (B33 33) (B34 34) (B35 35) (B36 36) (B37 37) (B38 38) (B39 39)
            (B40 40) (B41 41) (B42 42) (B43 43) (B44 44) (B45 45) (B46 46) (B47 47)
            (B48 48) (B49 49) (B50 50) (B51 51) (B52 52) (B53 53) (B54 54) (B55 55)
            (B56 56) (B57 57) (B58 58) (B59 59) (B60 60) (B61 61) (B62 62) (B63 63)
        ]; } $($branches)+)
    };
    () => {
        ::core::compile_error!("weft::select! needs at least one branch")
    };
    (biased;) => {
        ::core::compile_error!("weft::select! needs at least one branch")
    };
    ($(biased;)? else => $else:expr $(,)?) => {{
        $else
    }};
    (biased; $($branches:tt)+) => {
        $crate::select!(@supply biased; $($branches)+)
    };
    ($($branches:tt)+) => {
        $crate::select!(@supply random; $($branches)+)
    };
}

//! `#[weft::main]` and `#[weft::test]`: what the generated functions do.
//!
//! Compile-time misuse lives in `macros_ui.rs`.

use std::io;

/// The worker count of the runtime the caller is running on.
fn num_workers() -> usize {
    weft::Handle::current().metrics().num_workers()
}

#[weft::test]
async fn a_test_runs_its_body_on_a_runtime() {
    assert!(num_workers() >= 1);
    let answer = weft::spawn(async { 6 * 7 }).await.expect("the task ran");
    assert_eq!(answer, 42);
}

#[weft::test]
async fn a_test_may_return_a_result_and_use_the_question_mark() -> Result<(), io::Error> {
    let parsed: u32 = "42".parse().map_err(io::Error::other)?;
    assert_eq!(parsed, 42);
    Ok(())
}

#[weft::test(worker_threads = 1)]
async fn worker_threads_1_gives_one_worker() {
    assert_eq!(num_workers(), 1);
}

#[weft::test(worker_threads = 4)]
async fn worker_threads_4_gives_four_workers() {
    assert_eq!(num_workers(), 4);
}

// The count can come from a `macro_rules!` fragment, as in a test suite that
// runs the same test on several worker counts.
macro_rules! on_workers {
    ($($name:ident: $workers:expr),* $(,)?) => {$(
        #[weft::test(worker_threads = $workers)]
        async fn $name() {
            assert_eq!(num_workers(), $workers);
        }
    )*};
}

on_workers! {
    worker_count_from_a_macro_1: 1,
    worker_count_from_a_macro_2: 2,
    worker_count_from_a_macro_4: 4,
}

#[weft::test(crate = weft, worker_threads = 2)]
async fn crate_takes_a_path() {
    assert_eq!(num_workers(), 2);
}

mod reexport {
    pub use weft as runtime;
}

#[weft::test(crate = "crate::reexport::runtime")]
async fn crate_takes_a_path_in_a_string() {
    assert!(num_workers() >= 1);
}

#[weft::test]
#[should_panic(expected = "the body's panic reaches the test harness")]
async fn other_attributes_are_kept() {
    panic!("the body's panic reaches the test harness");
}

#[weft::test]
async fn inner_attributes_apply_to_the_whole_function() {
    #![allow(clippy::let_unit_value)]
    let unit = ();
    assert_eq!(unit, ());
}

// `#[weft::main]` on a function not named `main` gives an ordinary function
// that blocks on its body: a stand-in for `main` that tests can call.
#[weft::main(worker_threads = 3)]
async fn workers_seen_by_main() -> usize {
    num_workers()
}

#[weft::main]
async fn main_that_fails() -> Result<(), io::Error> {
    Err(io::Error::other("the body's error"))
}

#[weft::main(worker_threads = 1)]
async fn main_with_parameters(left: u32, right: u32) -> u32 {
    weft::spawn(async move { left + right })
        .await
        .expect("the task ran")
}

#[test]
fn main_blocks_on_its_body_with_the_configured_workers() {
    assert_eq!(workers_seen_by_main(), 3);
    // Each call builds a fresh runtime.
    assert_eq!(workers_seen_by_main(), 3);
}

#[test]
fn main_returns_the_error_of_its_body() {
    let error = main_that_fails().expect_err("the body returned Err");
    assert_eq!(error.to_string(), "the body's error");
}

#[test]
fn main_on_another_function_keeps_its_parameters() {
    assert_eq!(main_with_parameters(40, 2), 42);
}

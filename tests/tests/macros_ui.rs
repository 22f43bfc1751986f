//! Compile-time misuse of `#[weft::main]` and `#[weft::test]`: each case in
//! `ui/` must fail with the message checked in next to it (`.stderr`), and
//! the cases in `ui/pass/` must build and run.
//!
//! After changing a message, regenerate the expectations with
//! `TRYBUILD=overwrite cargo test -p weft-tests --test macros_ui` and read
//! the diff.

#[test]
fn misuse_is_a_compile_error_that_points_at_the_problem() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}

#[test]
fn a_real_main_builds_and_runs() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
}

//! The `#[weft::main]` and `#[weft::test]` attributes.
//!
//! Use them through the `weft` crate, which re-exports both; this crate is an
//! implementation detail and its name may change.
//!
//! Both attributes turn an `async fn` into a plain function that builds a
//! [weft] runtime, runs the function's body on it to completion, and returns
//! the body's value. `#[weft::main]` does it for a program's `main`,
//! `#[weft::test]` for a test, with a fresh runtime for every test.
//!
//! # Arguments
//!
//! Both attributes take the same optional arguments, separated by commas:
//!
//! - `worker_threads = N`: the number of worker threads, a positive integer
//!   literal. Without it, the default of `weft::Runtime::builder()`.
//! - `crate = path` or `crate = "path"`: where to find weft, for code that
//!   reaches it through a re-export. Without it, `::weft`.
//!
//! Anything else (a function that is not `async`, arguments on `main` or on a
//! test, an unknown or repeated argument, a bad value) is a compile error
//! that points at the offending token.
//!
//! [weft]: https://docs.rs/weft

#![deny(missing_docs)]

use proc_macro::TokenStream;

mod config;
mod entry;

use entry::Entry;

/// Runs an `async fn main` on a weft runtime.
///
/// The function becomes a plain `fn main` that builds a runtime with
/// `weft::Runtime::builder()`, blocks on the body, and returns its value, so
/// `main` may return anything a plain `main` may, such as
/// `Result<(), std::io::Error>`. The runtime shuts down when `main` returns.
///
/// # Examples
///
/// ```ignore
/// #[weft::main]
/// async fn main() -> std::io::Result<()> {
///     let listener = weft::net::TcpListener::bind("127.0.0.1:8080").await?;
///     loop {
///         let (stream, _) = listener.accept().await?;
///         weft::spawn(async move { serve(stream).await });
///     }
/// }
/// ```
///
/// With arguments:
///
/// ```ignore
/// #[weft::main(worker_threads = 4)]
/// async fn main() {
///     assert_eq!(weft::Handle::current().metrics().num_workers(), 4);
/// }
/// ```
///
/// Through a re-export, for a crate that depends on weft under another name:
///
/// ```ignore
/// #[my_framework::main(crate = "my_framework::weft")]
/// async fn main() {}
/// ```
///
/// # Arguments
///
/// - `worker_threads = N`: the number of worker threads (at least 1).
/// - `crate = path`: the path to weft, `::weft` by default.
///
/// # Compile errors
///
/// The function must be `async`, and `main` takes no arguments (read them
/// with `std::env::args()`). On another function, `#[weft::main]` keeps its
/// parameters and the function blocks on its body wherever it is called.
///
/// # Panics
///
/// The generated `main` panics if the runtime cannot be built, for example
/// when the operating system refuses to start its threads.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(Entry::Main, args.into(), item.into()).into()
}

/// Runs an `async fn` test on a fresh weft runtime.
///
/// The function becomes a `#[test]` function that builds its own runtime,
/// blocks on the body, and returns its value, so a test may return
/// `Result<(), E>` and use `?`. Other attributes, such as `#[ignore]` or
/// `#[should_panic]`, are kept. Each test gets its own runtime, which shuts
/// down when the test returns, so tests cannot see each other's tasks.
///
/// # Examples
///
/// ```ignore
/// #[weft::test]
/// async fn spawned_tasks_run() {
///     let handle = weft::spawn(async { 1 + 1 });
///     assert_eq!(handle.await.unwrap(), 2);
/// }
///
/// #[weft::test(worker_threads = 1)]
/// async fn on_one_worker() -> std::io::Result<()> {
///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").await?;
///     let _address = listener.local_addr()?;
///     Ok(())
/// }
/// ```
///
/// # Arguments
///
/// The same as [`macro@main`]: `worker_threads = N` and `crate = path`.
///
/// # Compile errors
///
/// The function must be `async` and take no arguments, and it must not also
/// carry `#[test]`: `#[weft::test]` adds it.
///
/// # Panics
///
/// The test panics, and so fails, if its runtime cannot be built.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(Entry::Test, args.into(), item.into()).into()
}

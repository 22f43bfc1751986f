//! The runtime that serves `weft::spawn` and `weft::block_on` outside any
//! other runtime. Started on first use, it lives as long as the process.

use std::sync::OnceLock;

use super::{Builder, Runtime};

/// The global runtime, started on first call.
///
/// # Panics
///
/// If it cannot be started (e.g. `WEFT_WORKER_THREADS` is not a positive
/// integer, or the OS refuses threads).
pub(crate) fn global() -> &'static Runtime {
    static GLOBAL: OnceLock<Runtime> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        Builder::new()
            .thread_name("weft-global")
            .build()
            .unwrap_or_else(|error| panic!("weft: cannot start the global runtime: {error}"))
    })
}

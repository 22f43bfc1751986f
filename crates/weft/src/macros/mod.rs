//! `join!`, `try_join!` and `select!` (filled in by the macros work).

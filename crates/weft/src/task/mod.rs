//! Tasks: spawned futures, the handles that await or abort them, and sets of
//! them.

mod join_set;

pub use join_set::JoinSet;
pub use weft_scheduler::task::{id, try_id, yield_now, AbortHandle, Id, JoinError, JoinHandle};

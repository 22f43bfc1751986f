//! Running a future to completion on the calling thread.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// Wakes the thread blocked in `run`.
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread, sleeping between wake-ups.
///
/// # Panics
///
/// On a worker thread, where blocking would stop the worker from serving
/// its other tasks.
#[track_caller]
pub(crate) fn run<F: Future>(future: F) -> F::Output {
    if weft_scheduler::is_worker_thread() {
        panic!(
            "weft: block_on was called on a runtime worker thread, which would stop it from \
             running its other tasks; inside async code use `.await` instead (or move the \
             blocking code into weft::spawn_blocking)"
        );
    }
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        // Budgeted like a task poll, so `join!`/`select!` siblings in the
        // future get their turn even while one branch is always ready.
        if let Poll::Ready(output) =
            weft_scheduler::coop::budgeted(|| future.as_mut().poll(&mut cx))
        {
            return output;
        }
        // A wake that came before this park leaves a token: park returns at
        // once. Spurious returns only cost one extra poll.
        thread::park();
    }
}

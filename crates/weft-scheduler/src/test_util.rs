//! A hand-cranked scheduler shared by the unit tests and the loom models:
//! it only queues, and the test (or model thread) decides when tasks run.
//! Built on `crate::sync`, so under loom its queue is part of the model.

use std::collections::VecDeque;
use std::future::Future;

use crate::owned::OwnedTasks;
use crate::sync::{Arc, AtomicUsize, Mutex, Ordering};
use crate::task::{self, Id, JoinHandle, Notified, Schedule, Task};

#[derive(Clone)]
pub(crate) struct Manual(Arc<ManualInner>);

pub(crate) struct ManualInner {
    queue: Mutex<VecDeque<Notified<Manual>>>,
    yields: AtomicUsize,
    owned: OwnedTasks<Manual>,
}

impl Schedule for Manual {
    fn schedule(&self, task: Notified<Self>) {
        self.0.queue.lock().push_back(task);
    }

    fn yield_now(&self, task: Notified<Self>) {
        self.0.yields.fetch_add(1, Ordering::SeqCst);
        self.schedule(task);
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.0.owned.release(task)
    }
}

impl Manual {
    pub(crate) fn new() -> Manual {
        Manual(Arc::new(ManualInner {
            queue: Mutex::new(VecDeque::new()),
            yields: AtomicUsize::new(0),
            owned: OwnedTasks::new(1),
        }))
    }

    pub(crate) fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (task, notified, join) = task::new_task(future, self.clone(), Id::next());
        assert!(self
            .0
            .owned
            .bind(task, crate::site::SpawnInfo::test_info(), None)
            .is_ok());
        self.schedule(notified);
        join
    }

    /// Tasks waiting to run.
    #[cfg(not(weft_loom))]
    pub(crate) fn queued(&self) -> usize {
        self.0.queue.lock().len()
    }

    /// Times a task was requeued because it woke itself while running.
    #[cfg(not(weft_loom))]
    pub(crate) fn yields(&self) -> usize {
        self.0.yields.load(Ordering::SeqCst)
    }

    /// Live tasks in the owned list.
    #[cfg(not(weft_loom))]
    pub(crate) fn alive(&self) -> usize {
        self.0.owned.len()
    }

    /// The owned list, for tests of binding after close.
    #[cfg(not(weft_loom))]
    pub(crate) fn owned(&self) -> &OwnedTasks<Manual> {
        &self.0.owned
    }

    /// Runs queued tasks until the queue is empty; returns how many ran.
    pub(crate) fn run_all(&self) -> usize {
        let mut ran = 0;
        loop {
            let next = self.0.queue.lock().pop_front();
            let Some(task) = next else { return ran };
            task.run();
            ran += 1;
        }
    }

    /// Cancels every live task, as a runtime shutdown does, and drops the
    /// queued references.
    pub(crate) fn shutdown(&self) {
        for task in self.0.owned.close_and_take_all() {
            task.shutdown();
        }
        let queued: Vec<_> = self.0.queue.lock().drain(..).collect();
        drop(queued);
    }

    /// True once no task holds this scheduler any more: every task freed.
    pub(crate) fn all_tasks_freed(&self) -> bool {
        Arc::strong_count(&self.0) == 1
    }
}

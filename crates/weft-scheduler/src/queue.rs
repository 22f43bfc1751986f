//! The run queues: each worker's local deque and the shared injector.
//!
//! Built normally these are crossbeam-deque's `Worker`/`Stealer`/`Injector`
//! (Chase–Lev work-stealing deques, "Dynamic Circular Work-Stealing Deque",
//! Chase & Lev, SPAA 2005; and a lock-free MPMC injector). loom cannot see
//! inside crossbeam's atomics, so under `--cfg weft_loom` a mutex-protected
//! `VecDeque` with the same interface stands in, and the loom models check
//! the runtime's own protocol around the queues.

#[cfg(not(weft_loom))]
pub(crate) use crossbeam_deque::{Injector, Steal, Stealer, Worker as Local};

#[cfg(weft_loom)]
pub(crate) use stand_in::{Injector, Local, Steal, Stealer};

#[cfg(weft_loom)]
mod stand_in {
    use std::collections::VecDeque;

    use crate::sync::{Arc, Mutex};

    pub(crate) enum Steal<T> {
        Empty,
        Success(T),
        #[allow(dead_code)]
        Retry,
    }

    pub(crate) struct Local<T>(Arc<Mutex<VecDeque<T>>>);
    pub(crate) struct Stealer<T>(Arc<Mutex<VecDeque<T>>>);
    pub(crate) struct Injector<T>(Mutex<VecDeque<T>>);

    impl<T> Local<T> {
        pub(crate) fn new_fifo() -> Local<T> {
            Local(Arc::new(Mutex::new(VecDeque::new())))
        }
        pub(crate) fn push(&self, task: T) {
            self.0.lock().push_back(task);
        }
        pub(crate) fn pop(&self) -> Option<T> {
            self.0.lock().pop_front()
        }
        pub(crate) fn len(&self) -> usize {
            self.0.lock().len()
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
        pub(crate) fn stealer(&self) -> Stealer<T> {
            Stealer(self.0.clone())
        }
    }

    fn steal_half<T>(from: &mut VecDeque<T>, to: &Local<T>) -> Steal<T> {
        let Some(first) = from.pop_front() else {
            return Steal::Empty;
        };
        let more = from.len() / 2;
        let mut dest = to.0.lock();
        dest.extend(from.drain(..more));
        Steal::Success(first)
    }

    impl<T> Stealer<T> {
        pub(crate) fn steal_batch_and_pop(&self, dest: &Local<T>) -> Steal<T> {
            let mut src = self.0.lock();
            steal_half(&mut src, dest)
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
    }

    impl<T> Injector<T> {
        pub(crate) fn new() -> Injector<T> {
            Injector(Mutex::new(VecDeque::new()))
        }
        pub(crate) fn push(&self, task: T) {
            self.0.lock().push_back(task);
        }
        pub(crate) fn steal(&self) -> Steal<T> {
            match self.0.lock().pop_front() {
                Some(task) => Steal::Success(task),
                None => Steal::Empty,
            }
        }
        pub(crate) fn steal_batch_and_pop(&self, dest: &Local<T>) -> Steal<T> {
            let mut src = self.0.lock();
            steal_half(&mut src, dest)
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.0.lock().len()
        }
    }
}

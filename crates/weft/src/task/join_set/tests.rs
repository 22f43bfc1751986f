//! Unit tests of `JoinSet` that need its private parts.

use std::sync::atomic::AtomicUsize;

use futures_core::Stream;

use super::*;
use crate::task::yield_now;

fn on_each_runtime<F, Fut>(body: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    for workers in [1, 4] {
        let rt = crate::Runtime::builder()
            .worker_threads(workers)
            .build()
            .unwrap();
        rt.block_on(body());
    }
}

#[test]
fn stream_yields_every_output_then_ends() {
    on_each_runtime(|| async {
        let mut set = JoinSet::new();
        for i in 0..5 {
            set.spawn(async move { i });
        }
        assert_eq!(set.size_hint(), (5, Some(5)));

        let mut outputs = Vec::new();
        while let Some(res) = poll_fn(|cx| Pin::new(&mut set).poll_next(cx)).await {
            outputs.push(res.unwrap());
        }
        outputs.sort_unstable();
        assert_eq!(outputs, [0, 1, 2, 3, 4]);
        assert_eq!(set.size_hint(), (0, Some(0)));
    });
}

#[test]
fn a_finished_task_queues_only_its_own_entry() {
    on_each_runtime(|| async {
        let gate = Arc::new(AtomicUsize::new(0));
        let mut set = JoinSet::new();
        for _ in 0..1000 {
            set.spawn(std::future::pending::<usize>());
        }
        let g = Arc::clone(&gate);
        set.spawn(async move {
            while g.load(Ordering::SeqCst) == 0 {
                yield_now().await;
            }
            7
        });

        // Poll every new entry once so each task holds its entry's waker.
        while !(set.local.is_empty() && set.ready.lock().ready.is_empty()) {
            assert!(set.try_join_next().is_none());
            yield_now().await;
        }

        gate.store(1, Ordering::SeqCst);
        while set.ready.lock().ready.is_empty() {
            yield_now().await;
        }
        assert_eq!(
            set.ready.lock().ready.len(),
            1,
            "only the finished task is queued"
        );
        assert_eq!(set.try_join_next().unwrap().unwrap(), 7);
        set.abort_all();
    });
}

//! Benchmarking async code on weft with criterion:
//! `b.to_async(&rt).iter(|| async { ... })`.

use std::future::Future;

use criterion::async_executor::AsyncExecutor;

use crate::Runtime;

impl AsyncExecutor for Runtime {
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        Runtime::block_on(self, future)
    }
}

impl AsyncExecutor for &Runtime {
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        Runtime::block_on(self, future)
    }
}

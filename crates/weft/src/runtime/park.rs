//! The driver idle workers block in, until the reactor provides one: a
//! condvar with a stored wake-up.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use weft_scheduler::{Park, Unpark};

#[derive(Default)]
pub(crate) struct ThreadPark {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    woken: Mutex<bool>,
    condvar: Condvar,
}

impl Park for ThreadPark {
    fn park(&mut self) {
        let mut woken = self.inner.woken.lock().unwrap_or_else(|e| e.into_inner());
        while !*woken {
            woken = self
                .inner
                .condvar
                .wait(woken)
                .unwrap_or_else(|e| e.into_inner());
        }
        *woken = false;
    }

    fn park_timeout(&mut self, timeout: Duration) {
        let mut woken = self.inner.woken.lock().unwrap_or_else(|e| e.into_inner());
        if !*woken && !timeout.is_zero() {
            woken = self
                .inner
                .condvar
                .wait_timeout(woken, timeout)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *woken = false;
    }

    fn unparker(&self) -> Arc<dyn Unpark> {
        self.inner.clone()
    }
}

impl Unpark for Inner {
    fn unpark(&self) {
        *self.woken.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.condvar.notify_one();
    }
}

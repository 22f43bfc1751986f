//! How idle workers sleep: the reactor's driver behind the scheduler's
//! `Park` trait. The worker that holds it blocks in `epoll_wait`, which
//! returns for I/O events, the next timer deadline, or an unpark.

use std::sync::Arc;
use std::time::Duration;

use weft_scheduler::{Park, Unpark};

pub(crate) struct ReactorPark {
    driver: weft_reactor::Driver,
}

impl ReactorPark {
    pub(crate) fn new(driver: weft_reactor::Driver) -> ReactorPark {
        ReactorPark { driver }
    }

    fn turn(&mut self, timeout: Option<Duration>) {
        if let Err(error) = self.driver.park(timeout) {
            // epoll_wait fails only on a bad descriptor or argument: a bug,
            // not a condition a worker could recover from.
            panic!("weft: the I/O driver failed to poll: {error}");
        }
    }
}

impl Park for ReactorPark {
    fn park(&mut self) {
        self.turn(None);
    }

    fn park_timeout(&mut self, timeout: Duration) {
        self.turn(Some(timeout));
    }

    fn unparker(&self) -> Arc<dyn Unpark> {
        Arc::new(ReactorUnpark(self.driver.handle().unparker()))
    }
}

/// Weak: the scheduler keeps this for its whole life, which may outlast
/// the driver (a task handle kept after the runtime was dropped).
struct ReactorUnpark(weft_reactor::Unparker);

impl Unpark for ReactorUnpark {
    fn unpark(&self) {
        self.0.unpark();
    }
}

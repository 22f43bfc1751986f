//! A mio socket registered with the current runtime's reactor: the common
//! core of every `weft::net` type.

use std::fmt;
use std::io;
use std::task::{ready, Context, Poll};

use weft_reactor::mio::event::Source;
use weft_reactor::{Direction, Registration};
use weft_scheduler::coop;

/// A socket and its registration. Every operation spends one unit of the
/// task's cooperative budget once it completes, so a task that always finds
/// its socket ready still yields to its neighbours.
pub(crate) struct PollEvented<E: Source> {
    /// `None` only after `into_inner` took it.
    io: Option<E>,
    registration: Registration,
}

impl<E: Source> PollEvented<E> {
    /// Registers `io` with the reactor of the runtime this thread is in (or
    /// the global runtime's).
    pub(crate) fn new(mut io: E) -> io::Result<PollEvented<E>> {
        let registration =
            crate::runtime::with_reactor(|reactor| Registration::new(reactor, &mut io))?;
        Ok(PollEvented {
            io: Some(io),
            registration,
        })
    }

    pub(crate) fn get_ref(&self) -> &E {
        self.io
            .as_ref()
            .expect("weft: socket used after into_inner")
    }

    /// Deregisters and gives the socket back.
    pub(crate) fn into_inner(mut self) -> io::Result<E> {
        let mut io = self.io.take().expect("weft: socket used after into_inner");
        self.registration.deregister(&mut io)?;
        Ok(io)
    }

    /// Waits until `direction` is ready; spends one unit of budget when it
    /// is.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<()>> {
        let coop = ready!(coop::poll_proceed(cx));
        ready!(self.registration.poll_ready(cx, direction))?;
        coop.made_progress();
        Poll::Ready(Ok(()))
    }

    /// Runs `f` once `direction` is ready, waiting again while it returns
    /// `WouldBlock`.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut f: impl FnMut(&E) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let coop = ready!(coop::poll_proceed(cx));
        let io = self.get_ref();
        let result = ready!(self.registration.poll_io(cx, direction, || f(io)));
        coop.made_progress();
        Poll::Ready(result)
    }

    /// As `poll_io` for a byte-stream transfer of `len` bytes: a shorter
    /// transfer clears readiness, saving the `WouldBlock` system call.
    pub(crate) fn poll_transfer(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        len: usize,
        mut f: impl FnMut(&E) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let coop = ready!(coop::poll_proceed(cx));
        let io = self.get_ref();
        let result = ready!(self
            .registration
            .poll_transfer(cx, direction, len, || f(io)));
        coop.made_progress();
        Poll::Ready(result)
    }

    pub(crate) fn registration(&self) -> &Registration {
        &self.registration
    }
}

impl<E: Source> Drop for PollEvented<E> {
    fn drop(&mut self) {
        if let Some(mut io) = self.io.take() {
            // Closing the descriptor would remove it from epoll too, unless
            // it was duplicated; deregistering first is always right. An
            // error here (the driver is gone) leaves nothing to undo.
            let _ = self.registration.deregister(&mut io);
        }
    }
}

impl<E: Source + fmt::Debug> fmt::Debug for PollEvented<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.io {
            Some(io) => io.fmt(f),
            None => f.write_str("(closed)"),
        }
    }
}

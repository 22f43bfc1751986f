//! Readiness bits, and which of them each direction of I/O waits for.

use std::fmt;
use std::ops;

/// A set of readiness flags delivered by the operating system.
///
/// # Examples
///
/// ```
/// use weft_reactor::Ready;
///
/// let ready = Ready::READABLE | Ready::READ_CLOSED;
/// assert!(ready.is_readable());
/// assert!(!ready.is_writable());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Ready(u8);

impl Ready {
    /// Nothing is ready.
    pub const EMPTY: Ready = Ready(0);
    /// Bytes (or a connection, or a datagram) can be read.
    pub const READABLE: Ready = Ready(1);
    /// Bytes can be written.
    pub const WRITABLE: Ready = Ready(1 << 1);
    /// The peer closed its writing side: reads return end of stream.
    pub const READ_CLOSED: Ready = Ready(1 << 2);
    /// The writing side is closed: writes fail.
    pub const WRITE_CLOSED: Ready = Ready(1 << 3);
    /// The socket has a pending error; the next operation returns it (and
    /// clears it).
    pub const ERROR: Ready = Ready(1 << 4);

    const ALL: u8 = 0b1_1111;

    pub(crate) fn from_event(event: &mio::event::Event) -> Ready {
        let mut ready = Ready::EMPTY;
        if event.is_readable() {
            ready |= Ready::READABLE;
        }
        if event.is_writable() {
            ready |= Ready::WRITABLE;
        }
        if event.is_read_closed() {
            ready |= Ready::READ_CLOSED;
        }
        if event.is_write_closed() {
            ready |= Ready::WRITE_CLOSED;
        }
        if event.is_error() {
            ready |= Ready::ERROR;
        }
        ready
    }

    pub(crate) fn from_bits(bits: usize) -> Ready {
        Ready((bits as u8) & Ready::ALL)
    }

    pub(crate) fn bits(self) -> usize {
        usize::from(self.0)
    }

    /// True if no flag is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True if a read would make progress (data, end of stream or error).
    pub fn is_readable(self) -> bool {
        !(self & Direction::Read.mask()).is_empty()
    }

    /// True if a write would make progress (space, closed or error).
    pub fn is_writable(self) -> bool {
        !(self & Direction::Write.mask()).is_empty()
    }

    /// True if the peer closed its writing side.
    pub fn is_read_closed(self) -> bool {
        self.contains(Ready::READ_CLOSED)
    }

    /// True if every flag of `other` is set here.
    pub fn contains(self, other: Ready) -> bool {
        self.0 & other.0 == other.0
    }
}

impl ops::BitOr for Ready {
    type Output = Ready;
    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl ops::BitOrAssign for Ready {
    fn bitor_assign(&mut self, other: Ready) {
        self.0 |= other.0;
    }
}

impl ops::BitAnd for Ready {
    type Output = Ready;
    fn bitand(self, other: Ready) -> Ready {
        Ready(self.0 & other.0)
    }
}

impl ops::Sub for Ready {
    type Output = Ready;
    fn sub(self, other: Ready) -> Ready {
        Ready(self.0 & !other.0)
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Ready::READABLE, "READABLE"),
            (Ready::WRITABLE, "WRITABLE"),
            (Ready::READ_CLOSED, "READ_CLOSED"),
            (Ready::WRITE_CLOSED, "WRITE_CLOSED"),
            (Ready::ERROR, "ERROR"),
        ];
        let mut set = f.debug_set();
        for (flag, name) in names {
            if self.contains(flag) {
                set.entry(&format_args!("{name}"));
            }
        }
        set.finish()
    }
}

/// Which side of a registration an operation waits on. Each side has its own
/// waker, so one task can read while another writes.
///
/// # Examples
///
/// ```
/// use weft_reactor::{Direction, Ready};
///
/// assert!(Direction::Read.mask().contains(Ready::READ_CLOSED));
/// assert!(!Direction::Write.mask().contains(Ready::READABLE));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Reading, accepting, receiving.
    Read,
    /// Writing, connecting, sending.
    Write,
}

impl Direction {
    /// The flags that wake a waiter on this side.
    pub fn mask(self) -> Ready {
        match self {
            Direction::Read => Ready::READABLE | Ready::READ_CLOSED | Ready::ERROR,
            Direction::Write => Ready::WRITABLE | Ready::WRITE_CLOSED | Ready::ERROR,
        }
    }
}

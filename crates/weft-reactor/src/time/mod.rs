//! Timers: the wheel and the driver-side entry API.

pub(crate) mod wheel;

//! Time as a dependency, so decisions are testable and the demo can run on a compressed clock.

use chrono::{DateTime, Duration, Utc};
use std::sync::Mutex;

/// A source of "now".
pub trait Clock: Send + Sync {
    /// The current time in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock, to the millisecond (what the contracts' timestamps and ULIDs carry).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
    }
}

/// A clock that moves only when told to: tests and simulated time.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock standing at `t`.
    pub fn new(t: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(t))
    }
    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, d: Duration) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *g += d;
    }
    /// Sets the clock.
    pub fn set(&self, t: DateTime<Utc>) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *g = t;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

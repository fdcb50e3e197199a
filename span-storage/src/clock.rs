//! The clock the file storage reads to decide when a day is over, injectable for tests.

use chrono::{DateTime, Local, NaiveDate, Utc};
use std::fmt;
use std::sync::{Mutex, PoisonError};

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock stopped at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(now),
        }
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Where one day ends and the next begins, for the daily rollover of span files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DayBoundary {
    /// Local midnight, as DB-GPT does (the default).
    #[default]
    Local,
    /// Midnight UTC.
    Utc,
}

impl DayBoundary {
    /// The calendar day that `t` falls on.
    pub fn day_of(self, t: DateTime<Utc>) -> NaiveDate {
        match self {
            Self::Local => t.with_timezone(&Local).date_naive(),
            Self::Utc => t.date_naive(),
        }
    }
}

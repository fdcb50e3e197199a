//! "Now" and "now minus the timeout" as SQL expressions: the database's clock, or a bound
//! value from the caller's, as wall-clock time in the storage's [`WallClockZone`].
//!
//! The database's clock gives UTC; the zone's offset is added in SQL. That offset is the one
//! in force at this process's `now`, so the stamp is the database's instant in the zone unless
//! this process's clock and the database's fall on two sides of a summer-time change (only
//! within their skew of it).
//!
//! Both render different SQL per backend, so they cannot have a static query id; diesel then
//! caches their prepared statements by SQL text instead.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::expression::is_aggregate;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::QueryId;
use diesel::sql_types::{Nullable, Timestamp};

use crate::config::TimeSource;
use crate::zone::WallClockZone;

/// A time as the database stores it: UTC, whole microseconds (the finest PostgreSQL and MySQL
/// keep, so a value reads back exactly as it was written on every backend).
pub(crate) fn stored_time(time: DateTime<Utc>) -> NaiveDateTime {
    time.naive_utc().trunc_subsecs(6)
}

/// A time as the database stores it in `zone`: its wall-clock time there, whole microseconds.
pub(crate) fn stored_wall(zone: WallClockZone, time: DateTime<Utc>) -> NaiveDateTime {
    zone.to_wall(time).trunc_subsecs(6)
}

fn micros_of(duration: chrono::Duration) -> i64 {
    duration.num_microseconds().unwrap_or(i64::MAX)
}

/// The current time of a write.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Now {
    /// The database's clock, in UTC, shifted to the zone's wall clock (0 for UTC).
    Database {
        #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
        offset_micros: i64,
        #[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
        offset_seconds: f64,
    },
    /// A time the caller chose.
    At(NaiveDateTime),
}

impl Now {
    pub(crate) fn new(source: TimeSource, zone: WallClockZone, now: DateTime<Utc>) -> Self {
        match source {
            TimeSource::Database => Self::database(zone, now),
            TimeSource::Caller => Self::At(stored_wall(zone, now)),
        }
    }

    /// The database's clock in `zone`, at the offset `zone` has at this process's `now`.
    pub(crate) fn database(zone: WallClockZone, now: DateTime<Utc>) -> Self {
        let offset_micros = if zone.is_utc() {
            0
        } else {
            micros_of(zone.offset_at(now))
        };
        Self::Database {
            offset_micros,
            offset_seconds: offset_micros as f64 / 1_000_000.0,
        }
    }
}

/// The expiry cutoff: instances whose last heartbeat is older are stale.
#[derive(Debug, Clone)]
pub(crate) enum Cutoff {
    /// The database's clock minus the timeout, plus the zone's offset at the cutoff, given in
    /// the units each backend wants.
    Database {
        #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
        micros: i64,
        #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
        seconds: f64,
        #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
        sqlite_modifier: String,
    },
    /// A time the caller computed.
    At(NaiveDateTime),
}

impl Cutoff {
    /// The cutoff is the instant `now - timeout` read on the zone's wall clock (not the wall
    /// clock's now minus the timeout), so when summer time starts, heartbeats from just before
    /// the change are not all an hour stale at once.
    pub(crate) fn new(
        source: TimeSource,
        zone: WallClockZone,
        timeout: Duration,
        now: DateTime<Utc>,
    ) -> Self {
        let timeout = chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX);
        let instant = now
            .checked_sub_signed(timeout)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        match source {
            TimeSource::Database => {
                // The SQL subtracts `micros` from the database's UTC clock.
                let offset = if zone.is_utc() {
                    0
                } else {
                    micros_of(zone.offset_at(instant))
                };
                let micros = micros_of(timeout).saturating_sub(offset);
                let seconds = micros as f64 / 1_000_000.0;
                Self::Database {
                    micros,
                    seconds,
                    sqlite_modifier: format!("{:+.6} seconds", -seconds),
                }
            }
            TimeSource::Caller => Self::At(stored_wall(zone, instant)),
        }
    }
}

macro_rules! timestamp_expression {
    ($type:ty) => {
        impl Expression for $type {
            type SqlType = Nullable<Timestamp>;
        }

        impl<QS> AppearsOnTable<QS> for $type {}

        impl<QS> SelectableExpression<QS> for $type {}

        impl<GB> ValidGrouping<GB> for $type {
            type IsAggregate = is_aggregate::Never;
        }

        impl QueryId for $type {
            type QueryId = ();
            const HAS_STATIC_QUERY_ID: bool = false;
        }
    };
}

timestamp_expression!(Now);
timestamp_expression!(Cutoff);

mod sql;

#[cfg(test)]
mod tests;

//! "Now" and "now minus the timeout" as SQL expressions: the database's clock, or a bound
//! value from the caller's.
//!
//! Both render different SQL per backend, so they cannot have a static query id; diesel then
//! caches their prepared statements by SQL text instead.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::QueryResult;
use diesel::expression::is_aggregate;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Nullable, Timestamp};

use crate::config::TimeSource;

/// A time as the database stores it: UTC, whole microseconds (the finest PostgreSQL and MySQL
/// keep, so a value reads back exactly as it was written on every backend).
pub(crate) fn stored_time(time: DateTime<Utc>) -> NaiveDateTime {
    time.naive_utc().trunc_subsecs(6)
}

/// The current time of a write.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Now {
    /// The database's clock, in UTC.
    Database,
    /// A time the caller chose.
    At(NaiveDateTime),
}

impl Now {
    pub(crate) fn new(source: TimeSource, now: DateTime<Utc>) -> Self {
        match source {
            TimeSource::Database => Self::Database,
            TimeSource::Caller => Self::At(stored_time(now)),
        }
    }
}

/// The expiry cutoff: instances whose last heartbeat is older are stale.
#[derive(Debug, Clone)]
pub(crate) enum Cutoff {
    /// The database's clock minus the timeout, given in the units each backend wants.
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
    pub(crate) fn new(source: TimeSource, timeout: Duration, now: DateTime<Utc>) -> Self {
        match source {
            TimeSource::Database => {
                let micros = i64::try_from(timeout.as_micros()).unwrap_or(i64::MAX);
                let seconds = micros as f64 / 1_000_000.0;
                Self::Database {
                    micros,
                    seconds,
                    sqlite_modifier: format!("-{seconds:.6} seconds"),
                }
            }
            TimeSource::Caller => {
                let timeout = chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX);
                let cutoff = now
                    .checked_sub_signed(timeout)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC);
                Self::At(stored_time(cutoff))
            }
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

/// SQLite keeps times as text; `%f` gives seconds with milliseconds, the same layout diesel
/// writes, so stored times compare correctly as text.
#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use diesel::sqlite::Sqlite;

    const NOW: &str = "strftime('%Y-%m-%d %H:%M:%f', 'now')";

    impl QueryFragment<Sqlite> for Now {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
            match self {
                Self::Database => out.push_sql(NOW),
                Self::At(time) => out.push_bind_param::<Timestamp, _>(time)?,
            }
            Ok(())
        }
    }

    impl QueryFragment<Sqlite> for Cutoff {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
            match self {
                Self::Database {
                    sqlite_modifier, ..
                } => {
                    out.push_sql("strftime('%Y-%m-%d %H:%M:%f', 'now', ");
                    out.push_bind_param::<diesel::sql_types::Text, _>(sqlite_modifier)?;
                    out.push_sql(")");
                }
                Self::At(time) => out.push_bind_param::<Timestamp, _>(time)?,
            }
            Ok(())
        }
    }
}

/// PostgreSQL: `now()` is a `timestamptz`; at time zone UTC it is the UTC wall-clock time the
/// `timestamp` column holds, whatever the session's time zone.
#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use diesel::pg::Pg;

    const NOW: &str = "(now() AT TIME ZONE 'UTC')";

    impl QueryFragment<Pg> for Now {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
            match self {
                Self::Database => out.push_sql(NOW),
                Self::At(time) => out.push_bind_param::<Timestamp, _>(time)?,
            }
            Ok(())
        }
    }

    impl QueryFragment<Pg> for Cutoff {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
            match self {
                Self::Database { seconds, .. } => {
                    out.push_sql("(");
                    out.push_sql(NOW);
                    out.push_sql(" - make_interval(secs => ");
                    out.push_bind_param::<diesel::sql_types::Double, _>(seconds)?;
                    out.push_sql("))");
                }
                Self::At(time) => out.push_bind_param::<Timestamp, _>(time)?,
            }
            Ok(())
        }
    }
}

/// MySQL: `UTC_TIMESTAMP(6)` is UTC with microseconds, whatever the session's time zone.
#[cfg(feature = "mysql")]
mod mysql {
    use super::*;
    use diesel::mysql::Mysql;

    const NOW: &str = "UTC_TIMESTAMP(6)";

    impl QueryFragment<Mysql> for Now {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
            match self {
                Self::Database => out.push_sql(NOW),
                Self::At(time) => out.push_bind_param::<Timestamp, _>(time)?,
            }
            Ok(())
        }
    }

    impl QueryFragment<Mysql> for Cutoff {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
            match self {
                Self::Database { micros, .. } => {
                    out.push_sql("(");
                    out.push_sql(NOW);
                    out.push_sql(" - INTERVAL ");
                    out.push_bind_param::<diesel::sql_types::BigInt, _>(micros)?;
                    out.push_sql(" MICROSECOND)");
                }
                Self::At(time) => out.push_bind_param::<Timestamp, _>(time)?,
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_times_are_truncated_to_microseconds() {
        let now = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        let Now::At(stored) = Now::new(TimeSource::Caller, now) else {
            panic!("caller time expected");
        };
        assert_eq!(stored.and_utc().timestamp_subsec_nanos(), 123_456_000);
        let Cutoff::At(cutoff) = Cutoff::new(TimeSource::Caller, Duration::from_secs(60), now)
        else {
            panic!("caller cutoff expected");
        };
        assert_eq!((stored - cutoff).num_seconds(), 60);
    }

    #[test]
    fn database_cutoffs_carry_the_timeout_in_every_unit() {
        let Cutoff::Database {
            micros,
            seconds,
            sqlite_modifier,
        } = Cutoff::new(
            TimeSource::Database,
            Duration::from_millis(60_500),
            Utc::now(),
        )
        else {
            panic!("database cutoff expected");
        };
        assert_eq!(micros, 60_500_000);
        assert!((seconds - 60.5).abs() < 1e-9);
        assert_eq!(sqlite_modifier, "-60.500000 seconds");
    }
}

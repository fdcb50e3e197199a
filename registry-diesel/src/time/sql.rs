//! "Now" and the cutoff as each backend writes them.

use diesel::QueryResult;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::Timestamp;

use super::{Cutoff, Now};

/// SQLite keeps times as text; `%f` gives seconds with milliseconds, the same layout diesel
/// writes, so stored times compare correctly as text.
#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use diesel::sqlite::Sqlite;

    /// `YYYY-MM-DD HH:MM:SS.SSS`, as `strftime('%Y-%m-%d %H:%M:%f', 'now')` writes it ('now'
    /// is whole milliseconds), but formatted digit by digit instead of through SQLite's
    /// printf: a heartbeat writes it three times, and strftime's formatting was a tenth of
    /// its cost. `subsec` needs SQLite 3.42; the bundled one is newer.
    const NOW: &str = "datetime('now', 'subsec')";

    impl QueryFragment<Sqlite> for Now {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
            match self {
                Self::Database {
                    offset_micros: 0, ..
                } => out.push_sql(NOW),
                Self::Database { offset_seconds, .. } => {
                    out.push_sql("datetime('now', 'subsec', printf('%+.6f seconds', ");
                    out.push_bind_param::<diesel::sql_types::Double, _>(offset_seconds)?;
                    out.push_sql("))");
                }
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

/// PostgreSQL: `now()` is a `timestamptz`; at time zone UTC it is the UTC wall-clock time,
/// whatever the session's time zone, to which the zone's offset is added.
#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use diesel::pg::Pg;

    const NOW: &str = "(now() AT TIME ZONE 'UTC')";

    impl QueryFragment<Pg> for Now {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
            match self {
                Self::Database {
                    offset_micros: 0, ..
                } => out.push_sql(NOW),
                Self::Database { offset_seconds, .. } => {
                    out.push_sql("(");
                    out.push_sql(NOW);
                    out.push_sql(" + make_interval(secs => ");
                    out.push_bind_param::<diesel::sql_types::Double, _>(offset_seconds)?;
                    out.push_sql("))");
                }
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

/// MySQL: `UTC_TIMESTAMP(6)` is UTC with microseconds, whatever the session's time zone (and
/// needs no time zone tables, which `CONVERT_TZ` would), to which the zone's offset is added.
#[cfg(feature = "mysql")]
mod mysql {
    use super::*;
    use diesel::mysql::Mysql;

    const NOW: &str = "UTC_TIMESTAMP(6)";

    impl QueryFragment<Mysql> for Now {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
            match self {
                Self::Database {
                    offset_micros: 0, ..
                } => out.push_sql(NOW),
                Self::Database { offset_micros, .. } => {
                    out.push_sql("(");
                    out.push_sql(NOW);
                    out.push_sql(" + INTERVAL ");
                    out.push_bind_param::<diesel::sql_types::BigInt, _>(offset_micros)?;
                    out.push_sql(" MICROSECOND)");
                }
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

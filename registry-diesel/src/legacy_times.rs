//! Rows an earlier version of this crate stamped in UTC, moved once onto the zone's wall
//! clock.
//!
//! Before the `wall_clock_times` migration this crate wrote times in UTC (and DB-GPT's own
//! controller had to run with `TZ=UTC` to share the table). The migration marks the change; the
//! storage that applies it knows the zone and moves every row's times onto that zone's wall
//! clock right after. A table DB-GPT made, adopted in the same run (`unique_instance_key`
//! applied too), already holds DB-GPT's wall-clock times and is left as it is.
//!
//! Each row is moved by one conditional `UPDATE` (its `last_heartbeat` still the one read), so
//! a heartbeat another server writes meanwhile, already on the wall clock, is never moved. The
//! moves and the record of the wall-clock step commit in one transaction: a process that dies
//! halfway leaves every row in UTC and the step pending, and the next start moves them all.

use chrono::NaiveDateTime;

use crate::zone::WallClockZone;

/// The migration after which times are wall-clock times.
const WALL_CLOCK_TIMES: &str = "20261205000000";
/// The migration that adopts a table; applied in the same run, the rows are DB-GPT's.
const UNIQUE_INSTANCE_KEY: &str = "20250601000001";

pub(crate) type Times = (
    i64,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

/// Whether applying the `pending` migrations (versions) leaves rows stamped in UTC by an
/// earlier version: the wall-clock step is pending, and the table is not being adopted from
/// DB-GPT in the same run.
pub(crate) fn holds_utc_rows(pending: &[String], zone: WallClockZone) -> bool {
    let pending_now = |version: &str| pending.iter().any(|pending| pending == version);
    !zone.is_utc() && pending_now(WALL_CLOCK_TIMES) && !pending_now(UNIQUE_INSTANCE_KEY)
}

/// Whether `version` is the wall-clock step, which [`move_utc_rows!`] must share a
/// transaction with.
pub(crate) fn is_wall_clock_step(version: &str) -> bool {
    version == WALL_CLOCK_TIMES
}

/// Moves every row's times from UTC onto `$zone`'s wall clock on the backend connection `$c`;
/// evaluates to the rows moved. A macro, because it runs on each backend's own connection type
/// inside the transaction that also records the wall-clock step (see `crate::migrations`).
macro_rules! move_utc_rows {
    ($c:expr, $zone:expr) => {{
        use diesel::prelude::*;
        use $crate::schema::dbgpt_cluster_registry_instance as t;
        let zone: $crate::zone::WallClockZone = $zone;
        let rows: Vec<$crate::legacy_times::Times> = t::table
            .select((t::id, t::last_heartbeat, t::gmt_created, t::gmt_modified))
            .load($c)?;
        let on_wall = |time: Option<chrono::NaiveDateTime>| {
            time.map(|time| $crate::time::stored_wall(zone, time.and_utc()))
        };
        let mut moved = 0;
        for (id, last_heartbeat, created, modified) in rows {
            let times = (
                t::last_heartbeat.eq(on_wall(last_heartbeat)),
                t::gmt_created.eq(on_wall(created)),
                t::gmt_modified.eq(on_wall(modified)),
            );
            moved += match last_heartbeat {
                // `read` to the microsecond, as a range rather than `=`: SQLite compares the
                // stored text, and `…:21.000000` or `…:21.000` is not the `…:21` that the read
                // value binds as, though it is the same time.
                Some(read) => diesel::update(t::table)
                    .filter(t::id.eq(id))
                    .filter(t::last_heartbeat.ge(read))
                    .filter(t::last_heartbeat.lt(read + chrono::TimeDelta::microseconds(1)))
                    .set(times)
                    .execute($c)?,
                None => diesel::update(t::table)
                    .filter(t::id.eq(id))
                    .filter(t::last_heartbeat.is_null())
                    .set(times)
                    .execute($c)?,
            };
        }
        moved
    }};
}
pub(crate) use move_utc_rows;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_upgrade_of_this_crates_table_holds_utc_rows() {
        let shanghai = WallClockZone::Named(chrono_tz::Tz::Asia__Shanghai);
        let upgrade = [WALL_CLOCK_TIMES.to_owned()];
        assert!(holds_utc_rows(&upgrade, shanghai));
        assert!(!holds_utc_rows(&upgrade, WallClockZone::Utc));
        let adoption = [UNIQUE_INSTANCE_KEY.to_owned(), WALL_CLOCK_TIMES.to_owned()];
        assert!(!holds_utc_rows(&adoption, shanghai));
        assert!(!holds_utc_rows(&[], shanghai));
    }
}

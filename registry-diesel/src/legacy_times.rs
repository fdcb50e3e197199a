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
//! a heartbeat another server writes meanwhile, already on the wall clock, is never moved.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::pool::{DbConn, dispatch};
use crate::schema::dbgpt_cluster_registry_instance as t;
use crate::time::stored_wall;
use crate::zone::WallClockZone;

/// The migration after which times are wall-clock times.
const WALL_CLOCK_TIMES: &str = "20261205000000";
/// The migration that adopts a table; applied in the same run, the rows are DB-GPT's.
const UNIQUE_INSTANCE_KEY: &str = "20250601000001";

type Times = (
    i64,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

/// Whether the migrations just `applied` leave rows stamped in UTC by an earlier version.
pub(crate) fn holds_utc_rows(applied: &[String], zone: WallClockZone) -> bool {
    let applied_now = |version: &str| applied.iter().any(|applied| applied == version);
    !zone.is_utc() && applied_now(WALL_CLOCK_TIMES) && !applied_now(UNIQUE_INSTANCE_KEY)
}

/// Moves every row's times from UTC onto `zone`'s wall clock; returns the rows moved.
pub(crate) fn move_utc_rows(conn: &mut DbConn, zone: WallClockZone) -> QueryResult<usize> {
    let rows: Vec<Times> = dispatch!(conn, c => t::table
        .select((t::id, t::last_heartbeat, t::gmt_created, t::gmt_modified))
        .load(c))?;
    let on_wall = |time: Option<NaiveDateTime>| time.map(|time| stored_wall(zone, time.and_utc()));
    let mut moved = 0;
    for (id, last_heartbeat, created, modified) in rows {
        let times = (
            t::last_heartbeat.eq(on_wall(last_heartbeat)),
            t::gmt_created.eq(on_wall(created)),
            t::gmt_modified.eq(on_wall(modified)),
        );
        moved += match last_heartbeat {
            Some(read) => dispatch!(conn, c => diesel::update(t::table)
                .filter(t::id.eq(id))
                .filter(t::last_heartbeat.eq(read))
                .set(times)
                .execute(c))?,
            None => dispatch!(conn, c => diesel::update(t::table)
                .filter(t::id.eq(id))
                .filter(t::last_heartbeat.is_null())
                .set(times)
                .execute(c))?,
        };
    }
    Ok(moved)
}

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

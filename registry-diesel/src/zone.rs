//! The zone whose wall-clock time the table's times are in.
//!
//! DB-GPT's controller stamps `last_heartbeat` (and `gmt_created`, `gmt_modified`) with
//! Python's naive `datetime.now()`: the wall-clock time of the controller's own zone, with no
//! offset stored. To share a table with it, this crate writes and compares the same naive wall
//! time, in a configured zone; the registry itself keeps UTC instants, converted here.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset as _, TimeZone, Utc};
use chrono_tz::Tz;

/// The zone of the naive times the table holds.
///
/// ```
/// use registry_diesel::WallClockZone;
///
/// let zone: WallClockZone = "Asia/Shanghai".parse().unwrap();
/// let instant = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
/// assert_eq!(zone.to_wall(instant).to_string(), "2023-11-15 06:13:20");
/// assert_eq!(zone.from_wall(zone.to_wall(instant)), instant);
/// assert_eq!("local".parse::<WallClockZone>().unwrap(), WallClockZone::Local);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WallClockZone {
    /// The process's local zone (`TZ`, else `/etc/localtime`), as DB-GPT's controller uses.
    #[default]
    Local,
    /// UTC: what this crate stored before it kept DB-GPT's wall-clock time.
    Utc,
    /// A zone of the IANA database, such as `Asia/Shanghai`.
    Named(Tz),
}

/// A zone name that is neither `local`, `UTC` nor an IANA zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone `{0}`; write local, UTC or an IANA name such as Asia/Shanghai")]
pub struct UnknownZone(String);

impl FromStr for WallClockZone {
    type Err = UnknownZone;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("local") {
            Ok(Self::Local)
        } else if text.eq_ignore_ascii_case("utc") {
            Ok(Self::Utc)
        } else {
            text.parse::<Tz>()
                .map(Self::Named)
                .map_err(|_| UnknownZone(text.to_owned()))
        }
    }
}

impl fmt::Display for WallClockZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str("local"),
            Self::Utc => f.write_str("UTC"),
            Self::Named(zone) => f.write_str(zone.name()),
        }
    }
}

impl WallClockZone {
    /// The wall-clock time of `instant` in this zone.
    pub fn to_wall(&self, instant: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Self::Local => instant.with_timezone(&chrono::Local).naive_local(),
            Self::Utc => instant.naive_utc(),
            Self::Named(zone) => instant.with_timezone(zone).naive_local(),
        }
    }

    /// The instant a wall-clock time of this zone names. A time the zone's clocks showed twice
    /// (the hour repeated when summer time ends) is read as the earlier, as Python's `fold=0`
    /// does; a time they skipped (the hour lost when it starts) is read with the offset in
    /// force before the change, so it lands that far after the change, as Python does too.
    pub fn from_wall(&self, wall: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Self::Local => resolve(&chrono::Local, wall),
            Self::Utc => wall.and_utc(),
            Self::Named(zone) => resolve(zone, wall),
        }
    }

    /// How far this zone's wall clock is ahead of UTC at `instant`.
    pub fn offset_at(&self, instant: DateTime<Utc>) -> Duration {
        self.to_wall(instant) - instant.naive_utc()
    }

    /// Whether the zone's wall clock is UTC's at every instant.
    pub(crate) fn is_utc(&self) -> bool {
        matches!(self, Self::Utc)
    }
}

fn resolve<Z: TimeZone>(zone: &Z, wall: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&wall) {
        LocalResult::Single(time) => time.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        LocalResult::None => {
            // Offsets lie within ±14 h, so a day before `wall` read as UTC is before the
            // change: its offset is the one in force before the gap.
            let before = wall.and_utc() - Duration::days(1);
            let offset = zone.offset_from_utc_datetime(&before.naive_utc()).fix();
            let seconds = i64::from(offset.local_minus_utc());
            (wall - Duration::seconds(seconds)).and_utc()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        wall(text).and_utc()
    }

    #[test]
    fn names_parse_and_show() {
        assert_eq!("LOCAL".parse(), Ok(WallClockZone::Local));
        assert_eq!(" utc ".parse(), Ok(WallClockZone::Utc));
        let zone: WallClockZone = "America/New_York".parse().unwrap();
        assert_eq!(zone.to_string(), "America/New_York");
        assert!("Mars/Olympus".parse::<WallClockZone>().is_err());
    }

    #[test]
    fn wall_times_round_trip_in_a_fixed_zone() {
        let zone = WallClockZone::Named(Tz::Asia__Shanghai);
        let instant = utc("2026-12-05 11:59:21.123456");
        assert_eq!(zone.to_wall(instant), wall("2026-12-05 19:59:21.123456"));
        assert_eq!(zone.from_wall(zone.to_wall(instant)), instant);
        assert_eq!(zone.offset_at(instant), Duration::hours(8));
        assert_eq!(WallClockZone::Utc.to_wall(instant), instant.naive_utc());
    }

    #[test]
    fn a_repeated_hour_reads_as_its_first_pass() {
        // New York, 2026-11-01: 01:30 happens at 05:30 UTC (EDT) and again at 06:30 (EST).
        let zone = WallClockZone::Named(Tz::America__New_York);
        assert_eq!(
            zone.from_wall(wall("2026-11-01 01:30:00")),
            utc("2026-11-01 05:30:00")
        );
        assert_eq!(
            zone.to_wall(utc("2026-11-01 06:30:00")),
            wall("2026-11-01 01:30:00")
        );
    }

    #[test]
    fn a_skipped_hour_reads_with_the_offset_before_the_change() {
        // New York, 2026-03-08: 02:00 EST became 03:00 EDT at 07:00 UTC; 02:30 never showed.
        let zone = WallClockZone::Named(Tz::America__New_York);
        assert_eq!(
            zone.from_wall(wall("2026-03-08 02:30:00")),
            utc("2026-03-08 07:30:00")
        );
        // Shanghai has no summer time: every wall time is one instant.
        let shanghai = WallClockZone::Named(Tz::Asia__Shanghai);
        assert_eq!(
            shanghai.from_wall(wall("2026-03-08 02:30:00")),
            utc("2026-03-07 18:30:00")
        );
    }
}

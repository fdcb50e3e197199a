//! Times on the configured zone's wall clock, on every backend: what DB-GPT's controller, which
//! stamps rows with its process's naive `datetime.now()`, reads and writes in the same table.

mod common;

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use common::{TABLE, TestDb, valid};
use registry_core::{InstanceStorage, ModelInstance, Storage};
use registry_diesel::{
    Backend, PoolConfig, TimeSource, WallClockZone, revert_last_migration, run_migrations_in,
};

backend_tests!(
    the_database_clock_stamps_the_zones_wall_time,
    rows_stamped_on_the_zones_wall_clock_expire_by_it,
    caller_times_are_written_and_read_on_the_zones_wall_clock,
    rows_an_earlier_version_stamped_in_utc_move_onto_the_wall_clock_once,
    a_move_that_fails_halfway_moves_nothing_and_is_done_on_the_next_start,
    an_adopted_dbgpt_table_keeps_its_wall_clock_times,
);

fn zone(name: Tz) -> WallClockZone {
    WallClockZone::Named(name)
}

fn parse(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .unwrap_or_else(|error| panic!("`{text}`: {error}"))
}

/// A row as DB-GPT's controller writes it: healthy, stamped `last_heartbeat`.
fn insert_dbgpt_row(db: &TestDb, host: &str, last_heartbeat: NaiveDateTime) {
    let stamp = last_heartbeat.format("%Y-%m-%d %H:%M:%S%.6f");
    db.execute(&format!(
        "INSERT INTO {TABLE} (model_name, host, port, weight, check_healthy, healthy, enabled, \
         last_heartbeat) VALUES ('m@llm', '{host}', 1, 1.0, true, true, true, '{stamp}')"
    ));
}

fn the_database_clock_stamps_the_zones_wall_time(db: &TestDb) {
    for (name, hours) in [(Tz::Asia__Shanghai, 8), (Tz::Etc__GMTPlus5, -5)] {
        let storage = db.storage_with(PoolConfig::default().with_time_zone(zone(name)));
        let host = format!("h{}", hours + 12);
        let worker = ModelInstance::new("m@llm", host.as_str(), 1);
        let real_now = Utc::now();
        // The caller's clock is a day off; the database's clock decides the stamp.
        storage
            .heartbeat(&valid(&worker), real_now - chrono::Duration::days(1))
            .unwrap();
        let wall = parse(&db.stored_heartbeat(&host));
        let expected = real_now.naive_utc() + chrono::Duration::hours(hours);
        let off_by = (wall - expected).num_seconds().abs();
        assert!(
            off_by < 600,
            "{name}: stored {wall}, wall time near {expected}"
        );
        // Read back, it is the UTC instant again.
        let loaded = storage
            .load(&worker.identifier().unwrap())
            .unwrap()
            .unwrap();
        let stamp = loaded.last_heartbeat.expect("a heartbeat stamp");
        assert_eq!(stamp, wall.and_utc() - chrono::Duration::hours(hours));
    }
}

fn rows_stamped_on_the_zones_wall_clock_expire_by_it(db: &TestDb) {
    // Connecting creates the table.
    let utc = db.storage_with(PoolConfig::default().with_time_zone(WallClockZone::Utc));
    let shanghai = zone(Tz::Asia__Shanghai);
    let wall_now = shanghai.to_wall(Utc::now());
    insert_dbgpt_row(db, "fresh", wall_now - chrono::Duration::seconds(10));
    insert_dbgpt_row(db, "stale", wall_now - chrono::Duration::seconds(600));
    let timeout = Duration::from_secs(120);
    // On UTC's wall clock both rows lie eight hours ahead: nothing is stale yet.
    assert_eq!(utc.expire_stale(timeout, Utc::now()).unwrap(), 0);
    // On Shanghai's, by the database's clock and by the caller's, only the stale one is.
    let database = db.storage_with(PoolConfig::default().with_time_zone(shanghai));
    assert_eq!(database.expire_stale(timeout, Utc::now()).unwrap(), 1);
    insert_dbgpt_row(db, "stale-too", wall_now - chrono::Duration::seconds(600));
    let caller = db.storage_with(
        PoolConfig::default()
            .with_time_zone(shanghai)
            .with_time_source(TimeSource::Caller),
    );
    assert_eq!(caller.expire_stale(timeout, Utc::now()).unwrap(), 1);
    let healthy: Vec<String> = database
        .query(&registry_core::QuerySpec::new().eq("healthy", true))
        .unwrap()
        .into_iter()
        .map(|instance| instance.host)
        .collect();
    assert_eq!(healthy, ["fresh"]);
    assert_eq!(database.remove_stale(timeout, Utc::now()).unwrap(), 2);
}

fn caller_times_are_written_and_read_on_the_zones_wall_clock(db: &TestDb) {
    let new_york = zone(Tz::America__New_York);
    let storage = db.storage_with(
        PoolConfig::default()
            .with_time_zone(new_york)
            .with_time_source(TimeSource::Caller),
    );
    // 2026-11-01 05:30:00 UTC is 01:30 EDT, the first pass of New York's repeated hour.
    let first_pass = DateTime::from_timestamp(1_793_511_000, 250_000).unwrap();
    let worker = ModelInstance::new("m@llm", "ny", 1);
    storage.register(&valid(&worker), first_pass).unwrap();
    let stored = db.stored_heartbeat("ny");
    assert_eq!(parse(&stored).to_string(), "2026-11-01 01:30:00.000250");
    let id = worker.identifier().unwrap();
    assert_eq!(
        storage.load(&id).unwrap().unwrap().last_heartbeat,
        Some(first_pass)
    );
    // DB-GPT's generic query by `last_heartbeat` compares on the same wall clock.
    let spec = registry_core::QuerySpec::new().eq("last_heartbeat", first_pass);
    assert_eq!(storage.count(&spec).unwrap(), 1);
    // save_or_update writes the instance's own heartbeat on the wall clock too.
    let mut replaced = storage.load(&id).unwrap().unwrap();
    replaced.last_heartbeat = Some(first_pass + chrono::Duration::hours(1));
    storage.save_or_update(&replaced).unwrap();
    assert_eq!(
        parse(&db.stored_heartbeat("ny")).to_string(),
        "2026-11-01 01:30:00.000250"
    );
    // The second pass reads as the first: naive wall time cannot tell them apart.
    assert_eq!(
        storage.load(&id).unwrap().unwrap().last_heartbeat,
        Some(first_pass)
    );
}

fn rows_an_earlier_version_stamped_in_utc_move_onto_the_wall_clock_once(db: &TestDb) {
    // The table as the version before wall-clock times left it, with a row it stamped in UTC.
    assert_eq!(
        run_migrations_in(&db.url, WallClockZone::Utc)
            .unwrap()
            .len(),
        5
    );
    revert_to_before_wall_clock_times(db);
    insert_dbgpt_row(db, "old", parse("2026-12-05 11:59:21.123456"));
    insert_dbgpt_row(db, "none", parse("2026-12-05 11:59:21"));
    db.execute(&format!(
        "UPDATE {TABLE} SET last_heartbeat = NULL WHERE host = 'none'"
    ));
    let shanghai = zone(Tz::Asia__Shanghai);
    let storage = db.storage_with(PoolConfig::default().with_time_zone(shanghai));
    assert_eq!(
        parse(&db.stored_heartbeat("old")),
        parse("2026-12-05 19:59:21.123456")
    );
    let id = ModelInstance::new("m@llm", "old", 1).identifier().unwrap();
    let instant = DateTime::from_timestamp(1_796_471_961, 123_456_000);
    assert_eq!(storage.load(&id).unwrap().unwrap().last_heartbeat, instant);
    // Connecting again moves nothing: the migration is applied.
    drop(storage);
    let again = db.storage_with(PoolConfig::default().with_time_zone(shanghai));
    assert_eq!(again.load(&id).unwrap().unwrap().last_heartbeat, instant);
}

/// Reverts the migrations down to the version before wall-clock times: the trimmed key's
/// index, then the wall-clock step itself.
fn revert_to_before_wall_clock_times(db: &TestDb) {
    for expected in ["20261206000000", "20261205000000"] {
        assert_eq!(
            revert_last_migration(&db.url).unwrap().as_deref(),
            Some(expected)
        );
    }
}

/// A trigger that refuses any update of the row whose host is `second`.
fn refuse_updates_of_second(db: &TestDb) {
    match db.backend {
        Backend::Sqlite => db.execute(&format!(
            "CREATE TRIGGER refuse_move BEFORE UPDATE ON {TABLE} FOR EACH ROW \
             WHEN NEW.host = 'second' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )),
        Backend::Postgres => {
            db.execute(
                "CREATE FUNCTION refuse_move() RETURNS trigger AS $$ \
                 BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql",
            );
            db.execute(&format!(
                "CREATE TRIGGER refuse_move BEFORE UPDATE ON {TABLE} FOR EACH ROW \
                 WHEN (NEW.host = 'second') EXECUTE FUNCTION refuse_move()"
            ));
        }
        Backend::Mysql => db.execute(&format!(
            "CREATE TRIGGER refuse_move BEFORE UPDATE ON {TABLE} FOR EACH ROW BEGIN \
             IF NEW.host = 'second' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'; \
             END IF; END"
        )),
        other => panic!("no trigger for {other:?}"),
    }
}

fn a_move_that_fails_halfway_moves_nothing_and_is_done_on_the_next_start(db: &TestDb) {
    run_migrations_in(&db.url, WallClockZone::Utc).unwrap();
    revert_to_before_wall_clock_times(db);
    // Whole seconds: on SQLite the stored text `…:21.000000` is not the text `…:21` that the
    // read time binds as, and must be moved all the same.
    insert_dbgpt_row(db, "first", parse("2026-12-05 11:59:21"));
    insert_dbgpt_row(db, "second", parse("2026-12-05 11:59:22"));
    refuse_updates_of_second(db);
    let shanghai = zone(Tz::Asia__Shanghai);
    // The move fails on the second row, after the first was moved in the same transaction.
    assert!(run_migrations_in(&db.url, shanghai).is_err());
    assert_eq!(
        parse(&db.stored_heartbeat("first")),
        parse("2026-12-05 11:59:21"),
        "the first row's move was rolled back"
    );
    // The step is still pending, so the next start moves every row, once.
    db.execute(&match db.backend {
        Backend::Postgres => format!("DROP TRIGGER refuse_move ON {TABLE}"),
        _ => "DROP TRIGGER refuse_move".to_owned(),
    });
    // The wall-clock step, and the one after it.
    assert_eq!(run_migrations_in(&db.url, shanghai).unwrap().len(), 2);
    assert_eq!(
        parse(&db.stored_heartbeat("first")),
        parse("2026-12-05 19:59:21")
    );
    assert_eq!(
        parse(&db.stored_heartbeat("second")),
        parse("2026-12-05 19:59:22")
    );
    assert!(run_migrations_in(&db.url, shanghai).unwrap().is_empty());
}

fn an_adopted_dbgpt_table_keeps_its_wall_clock_times(db: &TestDb) {
    // Only the first migration: the table exactly as DB-GPT creates it, with a row its
    // controller stamped on its naive local clock.
    assert_eq!(
        run_migrations_in(&db.url, WallClockZone::Utc)
            .unwrap()
            .len(),
        5
    );
    for _ in 0..4 {
        assert!(revert_last_migration(&db.url).unwrap().is_some());
    }
    insert_dbgpt_row(db, "dbgpt", parse("2026-12-05 19:59:21"));
    // Adopted (the unique key and the wall-clock step in one run), the row stays as it is.
    let storage = db.storage_with(PoolConfig::default().with_time_zone(zone(Tz::Asia__Shanghai)));
    let stored = parse(&db.stored_heartbeat("dbgpt"));
    assert_eq!(stored, parse("2026-12-05 19:59:21"));
    let id = ModelInstance::new("m@llm", "dbgpt", 1)
        .identifier()
        .unwrap();
    let read = storage.load(&id).unwrap().unwrap().last_heartbeat;
    assert_eq!(read, DateTime::from_timestamp(1_796_471_961, 0));
}

//! The storage's one upsert statement: register, heartbeat, and the generic `save_or_update`.
//!
//! diesel marks every `UPDATE` and every `ON CONFLICT … DO UPDATE` as unsafe to keep prepared,
//! because a changeset may leave columns out and so change the SQL. These statements always
//! have the same shape, so they are written as query fragments that stay in diesel's
//! prepared-statement cache: a heartbeat is one execution of an already prepared statement,
//! one round trip to a server, and no SQL parsing on SQLite.

use chrono::NaiveDateTime;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Double, Integer, Nullable, Text, Timestamp};
use diesel::{QueryResult, RunQueryDsl};
use registry_core::ModelInstance;

use crate::time::{Now, stored_wall};
use crate::zone::WallClockZone;

/// What an upsert writes, and what it changes when the instance already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnExisting {
    /// Insert it healthy and beating now; an existing one is marked healthy and beating now.
    Heartbeat,
    /// As a heartbeat, and an existing one also takes the instance's `prompt_template` (a
    /// null one keeps the stored template, as DB-GPT's database registry skips null columns
    /// on update), and its `weight` unless an operator pinned one (`operator_weight` is set).
    Register,
    /// The generic `save_or_update`: write the instance as it is, its own `healthy` and
    /// `last_heartbeat` included. An existing row takes every column the instance has and a
    /// new `gmt_modified`; its `gmt_created`, `operator_weight`, `user_name` and `sys_code`
    /// stay.
    Replace,
}

/// One instance of an upsert, written at `now` (`gmt_created` and `gmt_modified`, and the
/// heartbeat of a register or heartbeat).
#[derive(Debug, Clone, Copy)]
pub(crate) struct UpsertRow<'a> {
    instance: &'a ModelInstance,
    port: i32,
    /// The instance's own last heartbeat as stored, which only [`OnExisting::Replace`]
    /// writes (a register or heartbeat writes `now`).
    last_heartbeat: Option<NaiveDateTime>,
    now: Now,
}

impl<'a> UpsertRow<'a> {
    /// A register's or heartbeat's row, beating `now`.
    pub(crate) fn new(instance: &'a ModelInstance, now: Now) -> Self {
        Self {
            instance,
            port: i32::from(instance.port),
            last_heartbeat: None,
            now,
        }
    }

    /// A replacement's row, which writes the instance's own heartbeat on `zone`'s wall clock.
    pub(crate) fn replacing(instance: &'a ModelInstance, now: Now, zone: WallClockZone) -> Self {
        Self {
            last_heartbeat: instance.last_heartbeat.map(|time| stored_wall(zone, time)),
            ..Self::new(instance, now)
        }
    }
}

impl UpsertRow<'_> {
    /// The row's instance key.
    pub(crate) fn key(&self) -> registry_core::InstanceKey<'_> {
        self.instance.key()
    }
}

/// `INSERT` new instances, or update the existing ones, as [`OnExisting`] says: one row for a
/// single call, several for a group commit (see [`crate::batch`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Upsert<'a> {
    rows: &'a [UpsertRow<'a>],
    on_existing: OnExisting,
}

impl<'a> Upsert<'a> {
    /// The rows must be non-empty and their keys distinct: PostgreSQL refuses to update one row
    /// twice in a statement.
    pub(crate) fn new(rows: &'a [UpsertRow<'a>], on_existing: OnExisting) -> Self {
        Self { rows, on_existing }
    }
}

impl QueryId for Upsert<'_> {
    type QueryId = ();
    // The SQL depends on the time source and the action, so the cache is keyed by its text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Conn> RunQueryDsl<Conn> for Upsert<'_> {}

const INSERT: &str = "INSERT INTO dbgpt_cluster_registry_instance \
     (model_name, host, port, weight, check_healthy, healthy, enabled, prompt_template, \
     last_heartbeat, gmt_created, gmt_modified) VALUES ";

/// One `QueryFragment` impl per backend: the same `INSERT … VALUES`, then that backend's
/// conflict clause: what a heartbeat sets on an existing row, what a registration adds, and
/// what a replacement sets instead.
macro_rules! upsert_fragment {
    ($backend:ty, $heartbeat:expr, $register:expr, $replace:expr) => {
        impl QueryFragment<$backend> for Upsert<'_> {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, $backend>) -> QueryResult<()> {
                let replace = self.on_existing == OnExisting::Replace;
                out.push_sql(INSERT);
                for (index, row) in self.rows.iter().enumerate() {
                    let instance = row.instance;
                    out.push_sql(if index == 0 { "(" } else { "), (" });
                    out.push_bind_param::<Text, _>(&instance.model_name)?;
                    out.push_sql(", ");
                    out.push_bind_param::<Text, _>(&instance.host)?;
                    out.push_sql(", ");
                    out.push_bind_param::<Integer, _>(&row.port)?;
                    out.push_sql(", ");
                    out.push_bind_param::<Double, _>(&instance.weight)?;
                    out.push_sql(", ");
                    out.push_bind_param::<Bool, _>(&instance.check_healthy)?;
                    out.push_sql(", ");
                    out.push_bind_param::<Bool, _>(if replace {
                        &instance.healthy
                    } else {
                        &true
                    })?;
                    out.push_sql(", ");
                    out.push_bind_param::<Bool, _>(&instance.enabled)?;
                    out.push_sql(", ");
                    out.push_bind_param::<Nullable<Text>, _>(&instance.prompt_template)?;
                    out.push_sql(", ");
                    if replace {
                        out.push_bind_param::<Nullable<Timestamp>, _>(&row.last_heartbeat)?;
                    } else {
                        row.now.walk_ast(out.reborrow())?;
                    }
                    for _ in 0..2 {
                        out.push_sql(", ");
                        row.now.walk_ast(out.reborrow())?;
                    }
                }
                out.push_sql(")");
                match self.on_existing {
                    OnExisting::Heartbeat => out.push_sql($heartbeat),
                    OnExisting::Register => {
                        out.push_sql($heartbeat);
                        out.push_sql($register);
                    }
                    OnExisting::Replace => out.push_sql($replace),
                }
                Ok(())
            }
        }
    };
}

/// SQLite and PostgreSQL: `excluded` is the row the `INSERT` proposed.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const ON_CONFLICT: &str = " ON CONFLICT (model_name, host, port) DO UPDATE SET \
     healthy = excluded.healthy, last_heartbeat = excluded.last_heartbeat, \
     gmt_modified = excluded.gmt_modified";
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const ON_CONFLICT_REGISTER: &str = ", weight = COALESCE(\
     dbgpt_cluster_registry_instance.operator_weight, excluded.weight), \
     prompt_template = COALESCE(excluded.prompt_template, \
     dbgpt_cluster_registry_instance.prompt_template)";
/// Every column the instance has, the key's included (as the row the `INSERT` proposed).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const ON_CONFLICT_REPLACE: &str = " ON CONFLICT (model_name, host, port) DO UPDATE SET \
     model_name = excluded.model_name, host = excluded.host, port = excluded.port, \
     weight = excluded.weight, check_healthy = excluded.check_healthy, \
     healthy = excluded.healthy, enabled = excluded.enabled, \
     prompt_template = excluded.prompt_template, last_heartbeat = excluded.last_heartbeat, \
     gmt_modified = excluded.gmt_modified";

#[cfg(feature = "sqlite")]
upsert_fragment!(
    diesel::sqlite::Sqlite,
    ON_CONFLICT,
    ON_CONFLICT_REGISTER,
    ON_CONFLICT_REPLACE
);

#[cfg(feature = "postgres")]
upsert_fragment!(
    diesel::pg::Pg,
    ON_CONFLICT,
    ON_CONFLICT_REGISTER,
    ON_CONFLICT_REPLACE
);

// MySQL: `VALUES(col)` is the value the `INSERT` proposed (MariaDB and MySQL 8 both accept
// it; MySQL 8.0.20 and later warn that it is deprecated).
#[cfg(feature = "mysql")]
upsert_fragment!(
    diesel::mysql::Mysql,
    " ON DUPLICATE KEY UPDATE healthy = VALUES(healthy), \
     last_heartbeat = VALUES(last_heartbeat), gmt_modified = VALUES(gmt_modified)",
    ", weight = COALESCE(operator_weight, VALUES(weight)), \
     prompt_template = COALESCE(VALUES(prompt_template), prompt_template)",
    " ON DUPLICATE KEY UPDATE model_name = VALUES(model_name), host = VALUES(host), \
     port = VALUES(port), weight = VALUES(weight), check_healthy = VALUES(check_healthy), \
     healthy = VALUES(healthy), enabled = VALUES(enabled), \
     prompt_template = VALUES(prompt_template), last_heartbeat = VALUES(last_heartbeat), \
     gmt_modified = VALUES(gmt_modified)"
);

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn heartbeats_update_only_liveness() {
        let instance = ModelInstance::new("m@llm", "h", 1);
        let rows = [UpsertRow::new(
            &instance,
            Now::database(WallClockZone::Utc, Utc::now()),
        )];
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&Upsert::new(
            &rows,
            OnExisting::Heartbeat,
        ))
        .to_string();
        assert!(sql.contains("ON CONFLICT (model_name, host, port) DO UPDATE SET healthy = excluded.healthy, last_heartbeat = excluded.last_heartbeat, gmt_modified = excluded.gmt_modified --"), "{sql}");
        let register = Upsert::new(&rows, OnExisting::Register);
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&register).to_string();
        assert!(
            sql.contains(
                "prompt_template = COALESCE(excluded.prompt_template, \
                 dbgpt_cluster_registry_instance.prompt_template) --"
            ),
            "{sql}"
        );
    }

    #[test]
    fn replacements_write_the_instance_as_it_is() {
        let mut instance = ModelInstance::new("m@llm", "h", 1);
        instance.last_heartbeat = chrono::DateTime::from_timestamp(1_700_000_000, 0);
        let now = Now::database(WallClockZone::Utc, Utc::now());
        let rows = [UpsertRow::replacing(&instance, now, WallClockZone::Utc)];
        let replace = Upsert::new(&rows, OnExisting::Replace);
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&replace).to_string();
        // healthy and last_heartbeat are the instance's own (bound), only the gmt times are now.
        assert_eq!(sql.matches("datetime('now', 'subsec')").count(), 2, "{sql}");
        assert!(sql.contains("binds: [\"m@llm\", \"h\", 1, 1.0, true, false, true, None, Some(2023-11-14T22:13:20)]"), "{sql}");
        assert!(
            sql.contains(
                "last_heartbeat = excluded.last_heartbeat, gmt_modified = excluded.gmt_modified --"
            ),
            "{sql}"
        );
        assert!(!sql.contains("gmt_created = "), "{sql}");
        assert!(!sql.contains("operator_weight"), "{sql}");
    }
}

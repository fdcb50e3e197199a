//! The register and heartbeat upserts as statements of their own.
//!
//! diesel marks every `UPDATE` and every `ON CONFLICT … DO UPDATE` as unsafe to keep prepared,
//! because a changeset may leave columns out and so change the SQL. These two statements
//! always have the same shape, so they are written as query fragments that stay in diesel's
//! prepared-statement cache: a heartbeat is one execution of an already prepared statement,
//! one round trip to a server, and no SQL parsing on SQLite.

use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Double, Integer, Nullable, Text};
use diesel::{QueryResult, RunQueryDsl};
use registry_core::ModelInstance;

use crate::time::Now;

/// What an upsert changes when the instance already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnExisting {
    /// Mark it healthy and beating now.
    Heartbeat,
    /// As a heartbeat, and also take the instance's `prompt_template`, and its `weight` unless
    /// an operator pinned one (`operator_weight` is set).
    Register,
}

/// One instance of an upsert, beating at `now`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UpsertRow<'a> {
    instance: &'a ModelInstance,
    port: i32,
    now: Now,
}

impl<'a> UpsertRow<'a> {
    pub(crate) fn new(instance: &'a ModelInstance, now: Now) -> Self {
        Self {
            instance,
            port: i32::from(instance.port),
            now,
        }
    }
}

impl UpsertRow<'_> {
    /// The row's instance key.
    pub(crate) fn key(&self) -> registry_core::InstanceKey<'_> {
        self.instance.key()
    }
}

/// `INSERT` new instances healthy and beating now, or update the existing ones: one row for a
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
/// conflict clause: what a heartbeat sets on an existing row, and what a registration adds.
macro_rules! upsert_fragment {
    ($backend:ty, $heartbeat:expr, $register:expr) => {
        impl QueryFragment<$backend> for Upsert<'_> {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, $backend>) -> QueryResult<()> {
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
                    out.push_bind_param::<Bool, _>(&true)?;
                    out.push_sql(", ");
                    out.push_bind_param::<Bool, _>(&instance.enabled)?;
                    out.push_sql(", ");
                    out.push_bind_param::<Nullable<Text>, _>(&instance.prompt_template)?;
                    for _ in 0..3 {
                        out.push_sql(", ");
                        row.now.walk_ast(out.reborrow())?;
                    }
                }
                out.push_sql(")");
                out.push_sql($heartbeat);
                if self.on_existing == OnExisting::Register {
                    out.push_sql($register);
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
     prompt_template = excluded.prompt_template";

#[cfg(feature = "sqlite")]
upsert_fragment!(diesel::sqlite::Sqlite, ON_CONFLICT, ON_CONFLICT_REGISTER);

#[cfg(feature = "postgres")]
upsert_fragment!(diesel::pg::Pg, ON_CONFLICT, ON_CONFLICT_REGISTER);

// MySQL: `VALUES(col)` is the value the `INSERT` proposed (MariaDB and MySQL 8 both accept
// it; MySQL 8.0.20 and later warn that it is deprecated).
#[cfg(feature = "mysql")]
upsert_fragment!(
    diesel::mysql::Mysql,
    " ON DUPLICATE KEY UPDATE healthy = VALUES(healthy), \
     last_heartbeat = VALUES(last_heartbeat), gmt_modified = VALUES(gmt_modified)",
    ", weight = COALESCE(operator_weight, VALUES(weight)), \
     prompt_template = VALUES(prompt_template)"
);

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_update_only_liveness() {
        let instance = ModelInstance::new("m@llm", "h", 1);
        let rows = [UpsertRow::new(&instance, Now::Database)];
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&Upsert::new(
            &rows,
            OnExisting::Heartbeat,
        ))
        .to_string();
        assert!(sql.contains("ON CONFLICT (model_name, host, port) DO UPDATE SET healthy = excluded.healthy, last_heartbeat = excluded.last_heartbeat, gmt_modified = excluded.gmt_modified --"), "{sql}");
        let register = Upsert::new(&rows, OnExisting::Register);
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&register).to_string();
        assert!(
            sql.contains("prompt_template = excluded.prompt_template --"),
            "{sql}"
        );
    }
}

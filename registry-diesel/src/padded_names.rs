//! Legacy rows whose names are padded with spaces. DB-GPT stores names as it gets them; this
//! registry trims them (registry-core's identifier), so a worker registering `glm@llm` after a
//! DB-GPT controller stored ` glm@llm ` would leave the padded row behind as a second
//! instance that never beats again. A register replaces such rows: it finds them with one
//! read, which takes no locks and finds nothing in a table without padded names, and deletes
//! what it found by primary key. Only spaces count as padding (SQL's `TRIM`).
//!
//! The read goes through the `ix_registry_trimmed_key` index the `trimmed_key_index`
//! migration adds: on the expressions `TRIM(model_name)` and `TRIM(host)` on SQLite and
//! PostgreSQL, and on MariaDB, which indexes no expression, on virtual columns holding them.
//! The filter names exactly what the index holds, or the database would scan the table.

use diesel::prelude::*;
use diesel::sql_types::Text;
use registry_core::{ModelInstance, StorageError};

#[cfg(feature = "mysql")]
use crate::pool::DbConn;
use crate::pool::dispatch;
use crate::schema::dbgpt_cluster_registry_instance as t;
use crate::storage::DieselStorage;

diesel::define_sql_function!(fn trim(text: Text) -> Text);
diesel::define_sql_function!(fn length(text: Text) -> Integer);

/// The columns the read needs on MySQL/MariaDB, with the two virtual ones the
/// `trimmed_key_index` migration adds there (the shared schema has no such columns on the
/// other backends). A table of typed columns keeps the read a cached prepared statement.
#[cfg(feature = "mysql")]
mod with_trimmed_names {
    diesel::table! {
        dbgpt_cluster_registry_instance (id) {
            id -> BigInt,
            model_name -> Varchar,
            host -> Varchar,
            port -> Integer,
            trimmed_model_name -> Varchar,
            trimmed_host -> Varchar,
        }
    }
}

impl DieselStorage {
    /// Deletes the rows whose names, trimmed, are `instance`'s (already trimmed) names at its
    /// port, and which are longer: the padded forms of its key. Returns how many it deleted.
    pub(crate) fn replace_padded_rows(
        &self,
        instance: &ModelInstance,
    ) -> Result<u64, StorageError> {
        let (name, host) = (instance.model_name.as_str(), instance.host.as_str());
        let port = i32::from(instance.port);
        // The ids of `$table`'s padded rows of the key, where `$trimmed_name` and
        // `$trimmed_host` are what the index holds on that backend.
        macro_rules! padded_ids {
            ($c:expr, $table:ident, $trimmed_name:expr, $trimmed_host:expr) => {
                $table::table
                    .filter($trimmed_name.eq(name))
                    .filter($trimmed_host.eq(host))
                    .filter($table::port.eq(port))
                    .filter(
                        length($table::model_name)
                            .gt(length(name))
                            .or(length($table::host).gt(length(host))),
                    )
                    .select($table::id)
                    .load::<i64>($c)
            };
        }
        let padded = self.run(|conn| match conn {
            #[cfg(feature = "mysql")]
            DbConn::Mysql(c) => {
                use with_trimmed_names::dbgpt_cluster_registry_instance as m;
                padded_ids!(c, m, m::trimmed_model_name, m::trimmed_host)
            }
            #[allow(unreachable_patterns)]
            other => dispatch!(other, c => padded_ids!(c, t, trim(t::model_name), trim(t::host))),
        })?;
        if padded.is_empty() {
            return Ok(0);
        }
        let deleted = self.run(|conn| {
            dispatch!(conn, c => diesel::delete(t::table.filter(t::id.eq_any(&padded))).execute(c))
        })?;
        tracing::info!(
            model_name = name,
            host,
            port,
            deleted,
            "replaced legacy rows whose names were padded with spaces"
        );
        Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
    }
}

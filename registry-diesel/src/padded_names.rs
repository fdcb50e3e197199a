//! Legacy rows whose names are padded with spaces. DB-GPT stores names as it gets them; this
//! registry trims them (registry-core's identifier), so a worker registering `glm@llm` after a
//! DB-GPT controller stored ` glm@llm ` would leave the padded row behind as a second
//! instance that never beats again. A register replaces such rows: it finds them with one
//! read, which takes no locks and finds nothing in a table without padded names, and deletes
//! what it found by primary key. Only spaces count as padding (SQL's `TRIM`).

use diesel::prelude::*;
use diesel::sql_types::Text;
use registry_core::{ModelInstance, StorageError};

use crate::pool::dispatch;
use crate::schema::dbgpt_cluster_registry_instance as t;
use crate::storage::DieselStorage;

diesel::define_sql_function!(fn trim(text: Text) -> Text);
diesel::define_sql_function!(fn length(text: Text) -> Integer);

impl DieselStorage {
    /// Deletes the rows whose names, trimmed, are `instance`'s (already trimmed) names at its
    /// port, and which are longer: the padded forms of its key. Returns how many it deleted.
    pub(crate) fn replace_padded_rows(
        &self,
        instance: &ModelInstance,
    ) -> Result<u64, StorageError> {
        let (name, host) = (instance.model_name.as_str(), instance.host.as_str());
        let port = i32::from(instance.port);
        let padded: Vec<i64> = self.run(|conn| {
            dispatch!(conn, c => t::table
                .filter(t::port.eq(port))
                .filter(trim(t::model_name).eq(name))
                .filter(trim(t::host).eq(host))
                .filter(length(t::model_name).gt(length(name)).or(length(t::host).gt(length(host))))
                .select(t::id)
                .load(c))
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

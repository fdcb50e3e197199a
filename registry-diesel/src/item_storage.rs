//! registry-core's generic [`Storage`] over the registry table: DB-GPT's save, update, load,
//! delete, query and count, one statement each. `save_or_update` is the same upsert statement
//! as register and heartbeat (see [`crate::upsert`]), writing the instance as it is.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as QueryError};
use registry_core::{ModelInstance, ModelInstanceIdentifier, QuerySpec, Storage, StorageError};

use crate::entity::{InstanceAdapter, InstanceEntity};
use crate::pool::dispatch;
use crate::query::{apply_conditions, conditions, window};
use crate::schema::dbgpt_cluster_registry_instance as t;
use crate::storage::DieselStorage;
use crate::upsert::{OnExisting, Upsert, UpsertRow};

impl Storage<ModelInstance> for DieselStorage {
    fn save(&self, item: &ModelInstance) -> Result<(), StorageError> {
        let id = item.identifier()?;
        let record = InstanceAdapter::to_storage_format_in(item, self.time_zone());
        let now = self.database_now();
        self.run_mapped(
            |conn| {
                dispatch!(conn, c => diesel::insert_into(t::table)
                    .values((&record, t::gmt_created.eq(now), t::gmt_modified.eq(now)))
                    .execute(c))
            },
            |error| {
                matches!(
                    error,
                    QueryError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
                )
                .then(|| StorageError::Duplicate(id.str_identifier()))
            },
        )
        .map(drop)
    }

    fn update(&self, item: &ModelInstance) -> Result<(), StorageError> {
        let id = item.identifier()?;
        let record = InstanceAdapter::to_storage_format_in(item, self.time_zone());
        let now = self.database_now();
        let updated = self.run(|conn| {
            dispatch!(conn, c => diesel::update(t::table)
                .filter(InstanceAdapter::query_for_identifier(&id))
                .set((&record, t::gmt_modified.eq(now)))
                .execute(c))
        })?;
        if updated == 0 {
            return Err(StorageError::NotFound(id.str_identifier()));
        }
        Ok(())
    }

    fn save_or_update(&self, item: &ModelInstance) -> Result<(), StorageError> {
        item.identifier()?;
        // The database's clock stamps gmt_created and gmt_modified, as `save` and `update` do.
        let rows = [UpsertRow::replacing(
            item,
            self.database_now(),
            self.time_zone(),
        )];
        let upsert = Upsert::new(&rows, OnExisting::Replace);
        self.run(|conn| dispatch!(conn, c => upsert.execute(c)))
            .map(drop)
    }

    fn load(&self, id: &ModelInstanceIdentifier) -> Result<Option<ModelInstance>, StorageError> {
        let row = self.run(|conn| {
            dispatch!(conn, c => t::table
                .filter(InstanceAdapter::query_for_identifier(id))
                .select(InstanceEntity::as_select())
                .first(c)
                .optional())
        })?;
        row.map(|row| InstanceAdapter::from_storage_format_in(row, self.time_zone()))
            .transpose()
            .map_err(StorageError::from)
    }

    fn delete(&self, id: &ModelInstanceIdentifier) -> Result<(), StorageError> {
        self.run(|conn| {
            dispatch!(conn, c => diesel::delete(t::table)
                .filter(InstanceAdapter::query_for_identifier(id))
                .execute(c))
        })
        .map(drop)
    }

    fn query(&self, spec: &QuerySpec) -> Result<Vec<ModelInstance>, StorageError> {
        let Some(conditions) = conditions(spec, self.time_zone()) else {
            return Ok(Vec::new());
        };
        let window = window(spec);
        let rows = self.run(|conn| {
            dispatch!(conn, c => {
                let query = t::table.select(InstanceEntity::as_select()).into_boxed();
                // In the order rows were first written, as DB-GPT's registry lists them (its
                // query has no ORDER BY; SQLite and InnoDB return rows by primary key).
                let mut query = apply_conditions!(query, &conditions).order(t::id.asc());
                if let Some((limit, offset)) = window {
                    query = query.limit(limit).offset(offset);
                }
                query.load(c)
            })
        })?;
        Ok(crate::skipped_rows::instances(rows, self.time_zone()))
    }

    fn count(&self, spec: &QuerySpec) -> Result<u64, StorageError> {
        let Some(conditions) = conditions(spec, self.time_zone()) else {
            return Ok(0);
        };
        let count: i64 = self.run(|conn| {
            dispatch!(conn, c => {
                let query = t::table.into_boxed();
                apply_conditions!(query, &conditions).count().get_result(c)
            })
        })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    fn is_blocking(&self) -> bool {
        true
    }
}

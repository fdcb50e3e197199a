//! The registry's hot paths, each one statement: register and heartbeat are upserts keyed on
//! `(model_name, host, port)` (see [`crate::upsert`]), the expiry sweep is one conditional `UPDATE`, removal one
//! conditional `DELETE`. None reads a row before writing it, so concurrent calls can neither
//! make duplicate rows nor overwrite each other's heartbeats. (A register also replaces legacy
//! rows of its key whose names are padded, found by a lock-free read: see `padded_names`.)

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use registry_core::{
    HealthCounts, InstanceSettings, InstanceStorage, ModelCountsPage, ModelInstanceIdentifier,
    QueuedWrite, StorageError, ValidInstance, queued_write,
};

use crate::entity::InstanceAdapter;
use crate::pool::dispatch;
use crate::schema::dbgpt_cluster_registry_instance as t;
use crate::storage::DieselStorage;
use crate::time::Cutoff;

/// An operator's change: `None` fields are left out of the `UPDATE`. A weight is written to
/// `operator_weight` too, which pins it against the worker's registrations.
#[derive(AsChangeset)]
#[diesel(table_name = t)]
struct SettingsChange {
    enabled: Option<bool>,
    weight: Option<f64>,
    /// `Some(None)` clears the pin (sets `NULL`); `None` leaves it.
    operator_weight: Option<Option<f64>>,
}

fn count(rows: usize) -> u64 {
    u64::try_from(rows).unwrap_or(u64::MAX)
}

impl InstanceStorage for DieselStorage {
    fn register(&self, instance: &ValidInstance, now: DateTime<Utc>) -> Result<(), StorageError> {
        self.replace_padded_rows(instance)?;
        self.registers.submit(instance, self.now(now))
    }

    fn heartbeat(&self, instance: &ValidInstance, now: DateTime<Utc>) -> Result<(), StorageError> {
        self.heartbeats.submit(instance, self.now(now))
    }

    fn queues_heartbeats(&self) -> bool {
        true
    }

    fn queue_heartbeat(&self, instance: ValidInstance, now: DateTime<Utc>) -> QueuedWrite {
        let (reply, write) = queued_write();
        self.heartbeats.queue(instance, self.now(now), reply);
        write
    }

    fn deregister(&self, id: &ModelInstanceIdentifier, remove: bool) -> Result<(), StorageError> {
        let key = InstanceAdapter::query_for_identifier(id);
        let now = self.database_now();
        self.run(|conn| {
            if remove {
                dispatch!(conn, c => diesel::delete(t::table).filter(key).execute(c))
            } else {
                dispatch!(conn, c => diesel::update(t::table)
                    .filter(key)
                    .set((t::healthy.eq(false), t::gmt_modified.eq(now)))
                    .execute(c))
            }
        })
        .map(drop)
    }

    fn expire_stale(&self, timeout: Duration, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let cutoff = Cutoff::new(self.time_source(), self.time_zone(), timeout, now);
        let now = self.now(now);
        self.run(|conn| {
            dispatch!(conn, c => diesel::update(t::table)
                .filter(t::check_healthy.eq(true))
                .filter(t::healthy.eq(true))
                .filter(t::last_heartbeat.is_null().or(t::last_heartbeat.lt(cutoff.clone())))
                .set((t::healthy.eq(false), t::gmt_modified.eq(now)))
                .execute(c))
        })
        .map(count)
    }

    fn remove_stale(&self, timeout: Duration, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let cutoff = Cutoff::new(self.time_source(), self.time_zone(), timeout, now);
        self.run(|conn| {
            dispatch!(conn, c => diesel::delete(t::table)
                .filter(t::check_healthy.eq(true))
                .filter(t::last_heartbeat.is_null().or(t::last_heartbeat.lt(cutoff.clone())))
                .execute(c))
        })
        .map(count)
    }

    fn check_ready(&self) -> Result<(), StorageError> {
        // A write that matches no row: it fails as a real write would on a read-only database
        // (SQLite's read-only file, a PostgreSQL read-only transaction or standby, MySQL's
        // read_only), and changes nothing. `run` also checks a SQLite file's identity first.
        self.run(|conn| {
            dispatch!(conn, c => diesel::update(t::table)
                .filter(t::id.eq(-1))
                .set(t::healthy.eq(t::healthy))
                .execute(c))
        })
        .map(drop)
    }

    fn count_by_health(&self) -> Result<HealthCounts, StorageError> {
        // One grouped count, not a listing; a NULL flag (DB-GPT's default) counts as unhealthy.
        let groups: Vec<(Option<bool>, i64)> = self.run(|conn| {
            dispatch!(conn, c => t::table
                .group_by(t::healthy)
                .select((t::healthy, diesel::dsl::count_star()))
                .load(c))
        })?;
        let mut counts = HealthCounts::default();
        for (healthy, rows) in groups {
            let rows = u64::try_from(rows).unwrap_or(0);
            if healthy == Some(true) {
                counts.healthy += rows;
            } else {
                counts.unhealthy += rows;
            }
        }
        Ok(counts)
    }

    fn count_by_model(&self, max_models: usize) -> Result<ModelCountsPage, StorageError> {
        // One grouped count. A model has at most nine groups (each flag true, false or NULL),
        // so this many rows hold the first `max_models` models whole, and show whether one
        // more exists. NULL flags count as false, as listings read them.
        let rows =
            i64::try_from(max_models.saturating_add(1).saturating_mul(9)).unwrap_or(i64::MAX);
        let groups: Vec<(String, Option<bool>, Option<bool>, i64)> = self.run(|conn| {
            dispatch!(conn, c => t::table
                .group_by((t::model_name, t::healthy, t::enabled))
                .select((t::model_name, t::healthy, t::enabled, diesel::dsl::count_star()))
                .order_by(t::model_name)
                .limit(rows)
                .load(c))
        })?;
        let mut page = ModelCountsPage::default();
        for (model_name, healthy, enabled, count) in groups {
            let count = u64::try_from(count).unwrap_or(0);
            page.add(
                &model_name,
                healthy == Some(true),
                enabled == Some(true),
                count,
            );
        }
        page.finish(max_models);
        Ok(page)
    }

    fn apply_settings(
        &self,
        id: &ModelInstanceIdentifier,
        settings: &InstanceSettings,
    ) -> Result<bool, StorageError> {
        settings.validate()?;
        let change = SettingsChange {
            enabled: settings.enabled,
            weight: settings.weight,
            operator_weight: if settings.release_weight {
                Some(None)
            } else {
                settings.weight.map(Some)
            },
        };
        let key = InstanceAdapter::query_for_identifier(id);
        let now = self.database_now();
        // One UPDATE of only the changed columns: a heartbeat landing at the same moment keeps
        // its stamp. gmt_modified is always set, so the statement is never empty.
        let matched = self.run(|conn| {
            dispatch!(conn, c => diesel::update(t::table)
                .filter(key)
                .set((&change, t::gmt_modified.eq(now)))
                .execute(c))
        })?;
        Ok(matched > 0)
    }
}

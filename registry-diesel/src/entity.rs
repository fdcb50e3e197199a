//! The entity (a row of the registry table) and the adapter between it and
//! [`ModelInstance`], as DB-GPT's `ModelInstanceEntity` and `ModelInstanceItemAdapter`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use registry_core::{ModelInstance, ModelInstanceIdentifier};

use crate::error::DieselError;
use crate::schema::dbgpt_cluster_registry_instance as table;
use crate::time::{stored_time, stored_wall};
use crate::zone::WallClockZone;

/// One row of `dbgpt_cluster_registry_instance`, every column DB-GPT defines.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = table)]
pub struct InstanceEntity {
    /// Auto-increment key.
    pub id: i64,
    /// The worker key.
    pub model_name: String,
    /// The worker's address.
    pub host: String,
    /// The worker's port.
    pub port: i32,
    /// Share of traffic; `NULL` reads as 1.0, the column's default in DB-GPT's model.
    pub weight: Option<f64>,
    /// `NULL` reads as false: DB-GPT passes it on as `None`, which its checker takes as false
    /// (the instance never expires), as this crate's `check_healthy = true` filters do.
    pub check_healthy: Option<bool>,
    /// `NULL` reads as false (DB-GPT's `None`, never healthy).
    pub healthy: Option<bool>,
    /// `NULL` reads as false: DB-GPT's `None`, which its selection skips as not enabled.
    pub enabled: Option<bool>,
    /// The prompt template.
    pub prompt_template: Option<String>,
    /// The last heartbeat: naive wall-clock time in the storage's zone (see
    /// [`WallClockZone`]).
    pub last_heartbeat: Option<NaiveDateTime>,
    /// DB-GPT's user column; this crate leaves it alone.
    pub user_name: Option<String>,
    /// DB-GPT's system code column; this crate leaves it alone.
    pub sys_code: Option<String>,
    /// When the row was created.
    pub gmt_created: Option<NaiveDateTime>,
    /// When the row was last written.
    pub gmt_modified: Option<NaiveDateTime>,
}

/// The columns an instance writes: the storage format of a [`ModelInstance`].
///
/// `id`, `user_name` and `sys_code` are not among them; `gmt_created` and `gmt_modified` are
/// set by the statement that writes the record.
#[derive(Debug, Clone, PartialEq, Insertable, AsChangeset)]
#[diesel(table_name = table, treat_none_as_null = true)]
pub struct InstanceRecord<'a> {
    /// The worker key.
    pub model_name: &'a str,
    /// The worker's address.
    pub host: &'a str,
    /// The worker's port.
    pub port: i32,
    /// Share of traffic.
    pub weight: Option<f64>,
    /// Whether the checker may mark the instance unhealthy.
    pub check_healthy: Option<bool>,
    /// Whether the instance is healthy.
    pub healthy: Option<bool>,
    /// Whether the instance may be selected.
    pub enabled: Option<bool>,
    /// The prompt template.
    pub prompt_template: Option<&'a str>,
    /// The last heartbeat, naive wall-clock time, whole microseconds.
    pub last_heartbeat: Option<NaiveDateTime>,
}

/// The filter that selects the row of one identifier (see
/// [`InstanceAdapter::query_for_identifier`]).
pub type IdentifierQuery<'a> = diesel::dsl::And<
    diesel::dsl::And<
        diesel::dsl::Eq<table::model_name, &'a str>,
        diesel::dsl::Eq<table::host, &'a str>,
    >,
    diesel::dsl::Eq<table::port, i32>,
>;

/// Converts between [`ModelInstance`] and the table's rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct InstanceAdapter;

impl InstanceAdapter {
    /// The record an instance is stored as. Times are kept to whole microseconds, the finest
    /// every backend stores.
    ///
    /// ```
    /// use registry_core::ModelInstance;
    /// use registry_diesel::InstanceAdapter;
    ///
    /// let instance = ModelInstance::new("glm-4@llm", "10.0.0.1", 8001);
    /// let record = InstanceAdapter::to_storage_format(&instance);
    /// assert_eq!((record.model_name, record.port, record.weight), ("glm-4@llm", 8001, Some(1.0)));
    /// ```
    pub fn to_storage_format(item: &ModelInstance) -> InstanceRecord<'_> {
        InstanceRecord {
            model_name: &item.model_name,
            host: &item.host,
            port: i32::from(item.port),
            weight: Some(item.weight),
            check_healthy: Some(item.check_healthy),
            healthy: Some(item.healthy),
            enabled: Some(item.enabled),
            prompt_template: item.prompt_template.as_deref(),
            last_heartbeat: item.last_heartbeat.map(stored_time),
        }
    }

    /// The instance a row holds, as DB-GPT reads it: names as stored (untrimmed), a `NULL`
    /// weight 1.0, a `NULL` flag false (DB-GPT's `None`, which every DB-GPT reader takes as
    /// false). Fails only for a row no instance can have: a port outside `0..=65535`, or a
    /// weight that is not a number (`NaN`) or infinite, which DB-GPT cannot answer as JSON.
    pub fn from_storage_format(entity: InstanceEntity) -> Result<ModelInstance, DieselError> {
        let invalid = |what: String| DieselError::InvalidRow(format!("row {} {what}", entity.id));
        let port = u16::try_from(entity.port)
            .map_err(|_| invalid(format!("has port {}, outside 0..=65535", entity.port)))?;
        let weight = entity.weight.unwrap_or(1.0);
        if !weight.is_finite() {
            return Err(invalid(format!("has weight {weight}, not a finite number")));
        }
        Ok(ModelInstance {
            model_name: entity.model_name,
            host: entity.host,
            port,
            weight,
            check_healthy: entity.check_healthy.unwrap_or(false),
            healthy: entity.healthy.unwrap_or(false),
            enabled: entity.enabled.unwrap_or(false),
            prompt_template: entity.prompt_template,
            last_heartbeat: entity.last_heartbeat.map(|time| time.and_utc()),
            remove_from_registry: false,
        })
    }

    /// As [`to_storage_format`](Self::to_storage_format), with the heartbeat on `zone`'s wall
    /// clock (`to_storage_format` writes it in UTC).
    pub fn to_storage_format_in(item: &ModelInstance, zone: WallClockZone) -> InstanceRecord<'_> {
        InstanceRecord {
            last_heartbeat: item.last_heartbeat.map(|time| stored_wall(zone, time)),
            ..Self::to_storage_format(item)
        }
    }

    /// As [`from_storage_format`](Self::from_storage_format), reading the heartbeat on
    /// `zone`'s wall clock (`from_storage_format` reads it as UTC).
    pub fn from_storage_format_in(
        mut entity: InstanceEntity,
        zone: WallClockZone,
    ) -> Result<ModelInstance, DieselError> {
        entity.last_heartbeat = entity
            .last_heartbeat
            .map(|wall| zone.from_wall(wall).naive_utc());
        Self::from_storage_format(entity)
    }

    /// The filter selecting the row with this identifier.
    pub fn query_for_identifier(id: &ModelInstanceIdentifier) -> IdentifierQuery<'_> {
        table::model_name
            .eq(id.model_name())
            .and(table::host.eq(id.host()))
            .and(table::port.eq(i32::from(id.port())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity() -> InstanceEntity {
        InstanceEntity {
            id: 7,
            model_name: "glm-4@llm".to_owned(),
            host: "10.0.0.1".to_owned(),
            port: 8001,
            weight: None,
            check_healthy: None,
            healthy: None,
            enabled: None,
            prompt_template: None,
            last_heartbeat: None,
            user_name: Some("dbgpt".to_owned()),
            sys_code: None,
            gmt_created: None,
            gmt_modified: None,
        }
    }

    #[test]
    fn nulls_read_as_dbgpt_reads_them() {
        let instance = InstanceAdapter::from_storage_format(entity()).unwrap();
        let mut expected = ModelInstance::new("glm-4@llm", "10.0.0.1", 8001);
        (expected.check_healthy, expected.enabled) = (false, false);
        assert_eq!(instance, expected);
    }

    #[test]
    fn padded_names_are_listed_as_stored() {
        let mut row = entity();
        row.model_name = " glm-4@llm ".to_owned();
        row.host = "10.0.0.1 ".to_owned();
        let instance = InstanceAdapter::from_storage_format(row).unwrap();
        assert_eq!(
            (instance.model_name.as_str(), instance.host.as_str()),
            (" glm-4@llm ", "10.0.0.1 ")
        );
    }

    #[test]
    fn weights_that_are_not_finite_are_invalid_rows() {
        for weight in [f64::NAN, f64::INFINITY] {
            let mut row = entity();
            row.weight = Some(weight);
            let error = InstanceAdapter::from_storage_format(row).unwrap_err();
            assert!(error.to_string().contains("weight"), "{error}");
        }
    }

    #[test]
    fn records_round_trip() {
        let mut instance = ModelInstance::new("glm-4@llm", "10.0.0.1", 8001);
        instance.weight = 0.3;
        instance.healthy = true;
        instance.prompt_template = Some("vicuna".to_owned());
        instance.last_heartbeat = chrono::DateTime::from_timestamp(1_700_000_000, 5_000);
        let record = InstanceAdapter::to_storage_format(&instance);
        let mut row = entity();
        row.weight = record.weight;
        row.check_healthy = record.check_healthy;
        row.healthy = record.healthy;
        row.enabled = record.enabled;
        row.prompt_template = record.prompt_template.map(str::to_owned);
        row.last_heartbeat = record.last_heartbeat;
        assert_eq!(InstanceAdapter::from_storage_format(row).unwrap(), instance);
    }

    #[test]
    fn impossible_ports_are_invalid_rows() {
        let mut row = entity();
        row.port = 70_000;
        let error = InstanceAdapter::from_storage_format(row).unwrap_err();
        assert!(error.to_string().contains("70000"), "{error}");
    }

    #[test]
    fn heartbeats_are_stored_on_the_zones_wall_clock() {
        let zone = WallClockZone::Named(chrono_tz::Tz::Asia__Shanghai);
        let mut instance = ModelInstance::new("glm-4@llm", "10.0.0.1", 8001);
        instance.last_heartbeat = chrono::DateTime::from_timestamp(1_700_000_000, 5_000);
        let record = InstanceAdapter::to_storage_format_in(&instance, zone);
        assert_eq!(
            record.last_heartbeat.unwrap().to_string(),
            "2023-11-15 06:13:20.000005"
        );
        let mut row = entity();
        row.weight = record.weight;
        row.healthy = record.healthy;
        row.last_heartbeat = record.last_heartbeat;
        let read = InstanceAdapter::from_storage_format_in(row, zone).unwrap();
        assert_eq!(read.last_heartbeat, instance.last_heartbeat);
    }
}

//! Rows a listing leaves out because no instance can hold them (a port outside `0..=65535`, a
//! weight that is `NaN`): each is logged and counted, and the listing answers with the rest,
//! so one bad legacy row never takes discovery down.

use std::sync::atomic::{AtomicU64, Ordering};

use registry_core::ModelInstance;

use crate::entity::{InstanceAdapter, InstanceEntity};
use crate::zone::WallClockZone;

static ROWS_SKIPPED: AtomicU64 = AtomicU64::new(0);

/// Rows left out of listings since the process started, by every storage in it (a server
/// exposes it as `registry_rows_skipped_total`).
pub fn rows_skipped_total() -> u64 {
    ROWS_SKIPPED.load(Ordering::Relaxed)
}

/// The instances `rows` hold; a row that cannot be one is logged, counted and left out.
pub(crate) fn instances(rows: Vec<InstanceEntity>, zone: WallClockZone) -> Vec<ModelInstance> {
    rows.into_iter()
        .filter_map(
            |row| match InstanceAdapter::from_storage_format_in(row, zone) {
                Ok(instance) => Some(instance),
                Err(error) => {
                    ROWS_SKIPPED.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "registry row left out of the listing");
                    None
                }
            },
        )
        .collect()
}

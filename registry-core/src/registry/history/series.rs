//! Each model's healthy count, one bucket per minute: the lowest count seen in that minute, so
//! a short dip to zero still shows.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};

use super::HistoryConfig;
use crate::instance::ModelInstance;

/// One model's buckets, oldest first.
#[derive(Debug, Default)]
pub(super) struct ModelSeries {
    /// `(minute since the epoch, lowest healthy count in it)`.
    buckets: VecDeque<(i64, u32)>,
    /// The last minute the model had any instance.
    last_present: i64,
}

fn minute(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}

fn retention_minutes(config: &HistoryConfig) -> i64 {
    config.retention.num_minutes().max(1)
}

/// Adds one reading (sorted by model) to every series: models with instances get their healthy
/// count, models without any get 0 until they have been absent for the whole retention.
pub(super) fn sample(
    series: &mut BTreeMap<String, ModelSeries>,
    reading: &[ModelInstance],
    at: DateTime<Utc>,
    config: &HistoryConfig,
) {
    let now = minute(at);
    let first_kept = now - retention_minutes(config) + 1;
    let mut counts: Vec<(&str, u32)> = Vec::new();
    for instance in reading {
        let healthy = u32::from(instance.healthy && instance.enabled);
        match counts.last_mut() {
            Some((model, count)) if *model == instance.model_name => *count += healthy,
            _ => counts.push((&instance.model_name, healthy)),
        }
    }
    for (model, count) in &counts {
        if !series.contains_key(*model) && series.len() >= config.max_models {
            continue;
        }
        let entry = series.entry((*model).to_owned()).or_default();
        entry.last_present = now;
        record(entry, now, *count);
    }
    series.retain(|model, entry| {
        let present = counts
            .binary_search_by(|(m, _)| m.cmp(&model.as_str()))
            .is_ok();
        if !present {
            record(entry, now, 0);
        }
        while entry.buckets.front().is_some_and(|(m, _)| *m < first_kept) {
            entry.buckets.pop_front();
        }
        present || entry.last_present >= first_kept
    });
}

fn record(entry: &mut ModelSeries, now: i64, count: u32) {
    match entry.buckets.back_mut() {
        Some((m, lowest)) if *m == now => *lowest = (*lowest).min(count),
        _ => entry.buckets.push_back((now, count)),
    }
}

/// The series as one value per minute of the retention, ending with the minute of `at`.
pub(super) fn minutes(
    entry: Option<&ModelSeries>,
    at: DateTime<Utc>,
    config: &HistoryConfig,
) -> Vec<Option<u32>> {
    let now = minute(at);
    let span = retention_minutes(config);
    let first = now - span + 1;
    let mut out = vec![None; usize::try_from(span).unwrap_or(0)];
    for (m, lowest) in entry.map(|e| e.buckets.iter()).into_iter().flatten() {
        if let Some(slot) = usize::try_from(m - first).ok().and_then(|i| out.get_mut(i)) {
            *slot = Some(*lowest);
        }
    }
    out
}

//! [`trace_summaries`]: one line per trace, newest first, for a "recent traces" view.

use super::load::merge_records;
use super::tree::millis_between;
use crate::{Span, format_span_time};
use chrono::NaiveDateTime;
use serde::{Serialize, Serializer};
use std::collections::HashMap;

/// One trace at a glance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceSummary {
    /// The trace id.
    pub trace_id: String,
    /// The operation name of the trace's root: its earliest span without a parent, or, if
    /// every span has one (the root was not read), its earliest span.
    pub root_operation: String,
    /// The earliest start time in the trace; serialised as a span time
    /// (`2024-01-01 12:00:00.123`).
    #[serde(serialize_with = "serialize_time")]
    pub start_time: NaiveDateTime,
    /// Milliseconds from [`start_time`](Self::start_time) to the latest end time in the trace,
    /// once the root has ended; `None` while the root is open.
    pub duration_ms: Option<f64>,
    /// How many spans the trace holds (start and end records of a span count once).
    pub span_count: usize,
}

fn serialize_time<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_span_time(t))
}

/// Summarises every trace in `spans` (start and end records may be unmerged: they are merged
/// first), newest first by start time; traces starting at the same time are ordered by
/// trace id.
pub fn trace_summaries(spans: &[Span]) -> Vec<TraceSummary> {
    let merged = merge_records(spans.iter().cloned());
    let mut by_trace: HashMap<&str, Vec<&Span>> = HashMap::new();
    for span in &merged {
        by_trace.entry(&span.trace_id).or_default().push(span);
    }
    let mut summaries: Vec<TraceSummary> = by_trace
        .into_iter()
        .filter_map(|(trace_id, spans)| summarise(trace_id, &spans))
        .collect();
    summaries.sort_by(|a, b| {
        b.start_time
            .cmp(&a.start_time)
            .then_with(|| a.trace_id.cmp(&b.trace_id))
    });
    summaries
}

fn summarise(trace_id: &str, spans: &[&Span]) -> Option<TraceSummary> {
    let start_time = spans.iter().map(|s| s.start_time).min()?;
    // Earliest first, then file order: `min_by_key` keeps the first of equal keys.
    let root = spans
        .iter()
        .filter(|s| s.parent_span_id.is_none())
        .min_by_key(|s| s.start_time)
        .or_else(|| spans.iter().min_by_key(|s| s.start_time))?;
    let duration_ms = match root.end_time {
        Some(_) => spans
            .iter()
            .filter_map(|s| s.end_time)
            .max()
            .map(|end| millis_between(start_time, end)),
        None => None,
    };
    Some(TraceSummary {
        trace_id: trace_id.to_owned(),
        root_operation: root.operation_name.clone(),
        start_time,
        duration_ms,
        span_count: spans.len(),
    })
}

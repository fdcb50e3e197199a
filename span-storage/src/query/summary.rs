//! [`trace_summaries`]: one line per trace, newest first, for a "recent traces" view.

use super::tree::millis_between;
use crate::{Span, format_span_time};
use chrono::NaiveDateTime;
use serde::{Serialize, Serializer};
use std::borrow::Borrow;
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
/// trace id. `spans` may be `Span`s or shared ones (`Arc<Span>`, as [`SharedSpanTail`] gives).
///
/// [`SharedSpanTail`]: super::SharedSpanTail
pub fn trace_summaries<S: Borrow<Span>>(spans: &[S]) -> Vec<TraceSummary> {
    let merged = merge_fields(spans);
    let mut by_trace: HashMap<&str, Vec<&Fields<'_>>> = HashMap::new();
    for span in &merged {
        by_trace.entry(span.trace_id).or_default().push(span);
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

/// The fields of a merged span that a summary reads, borrowed from its records: merging
/// these instead of whole spans ([`merge_records`]) copies no metadata, which matters when a
/// traces view summarises a large window on every call.
///
/// [`merge_records`]: super::merge_records
struct Fields<'a> {
    trace_id: &'a str,
    parent_span_id: Option<&'a str>,
    operation_name: &'a str,
    start_time: NaiveDateTime,
    end_time: Option<NaiveDateTime>,
    has_start: bool,
}

impl<'a> Fields<'a> {
    fn of(record: &'a Span) -> Self {
        Self {
            trace_id: &record.trace_id,
            parent_span_id: record.parent_span_id.as_deref(),
            operation_name: &record.operation_name,
            start_time: record.start_time,
            end_time: record.end_time,
            has_start: record.is_start_record(),
        }
    }
}

/// [`merge_records`](super::merge_records)'s rules, on the fields a summary reads.
fn merge_fields<S: Borrow<Span>>(records: &[S]) -> Vec<Fields<'_>> {
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    let mut merged: Vec<Fields<'_>> = Vec::new();
    for record in records {
        let record: &Span = record.borrow();
        let key = (record.trace_id.as_str(), record.span_id.as_str());
        let Some(&at) = index.get(&key) else {
            index.insert(key, merged.len());
            merged.push(Fields::of(record));
            continue;
        };
        let span = &mut merged[at];
        if record.is_start_record() {
            if !span.has_start {
                // The end record came first: the start record's fields win, the end stays.
                let end_time = span.end_time;
                *span = Fields::of(record);
                span.end_time = end_time;
            }
        } else {
            span.end_time = record.end_time.or(span.end_time);
        }
    }
    merged
}

fn summarise(trace_id: &str, spans: &[&Fields<'_>]) -> Option<TraceSummary> {
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
        root_operation: root.operation_name.to_owned(),
        start_time,
        duration_ms,
        span_count: spans.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::trace_summaries;
    use crate::query::merge_records;
    use crate::{Span, SpanType};
    use chrono::Duration;

    #[test]
    fn summaries_of_records_are_those_of_the_merged_spans() {
        let root = Span::new_root(SpanType::Chat, "root");
        let child = Span::child_of(&root, SpanType::Run, "child")
            .with_start_time(root.start_time + Duration::milliseconds(5));
        let mut child_end = child.end_record();
        child_end.end_time = Some(child.start_time + Duration::milliseconds(40));
        let mut root_end = root.end_record();
        root_end.end_time = Some(root.start_time + Duration::milliseconds(30));
        // An end record before its start, a start record twice, an open span, another trace.
        let open = Span::new_root(SpanType::Base, "open");
        let orphan_end = Span::new_root(SpanType::Base, "orphan").end_record();
        let records = vec![
            child_end.clone(),
            root.clone(),
            child.clone(),
            child.clone(),
            open,
            root_end,
            orphan_end,
        ];
        let summaries = trace_summaries(&records);
        assert_eq!(summaries, trace_summaries(&merge_records(records)));
        let traced = summaries
            .iter()
            .find(|s| s.trace_id == root.trace_id)
            .expect("the trace");
        assert_eq!(traced.root_operation, "root");
        assert_eq!(traced.span_count, 2);
        assert_eq!(traced.duration_ms, Some(45.0));
    }
}

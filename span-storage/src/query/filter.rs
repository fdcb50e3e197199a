//! [`SpanFilter`]: the filters, order and limit of `dbgpt trace list`.

use crate::{Span, SpanType};
use chrono::NaiveDateTime;
use serde_json::Value;

/// Which spans to keep, in which order and how many: the options of `dbgpt trace list`.
///
/// [`SpanFilter::default`] keeps every span, oldest first, with no limit;
/// [`SpanFilter::for_list`] adds DB-GPT's default limit of [`DEFAULT_LIST_LIMIT`] spans.
///
/// As in DB-GPT, the id and type filters are exact matches, [`search`](Self::search) is a
/// case-sensitive substring match, the time window is inclusive at both ends and applies to a
/// span's *start* time, and the limit keeps the first spans *after* sorting (so with the
/// default ascending order it keeps the oldest ones; use [`descending`](Self::descending)
/// for the most recent). An empty string given to an id filter or to the search means "no
/// filter", as DB-GPT treats an empty option.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanFilter {
    /// Keep only spans of this trace.
    pub trace_id: Option<String>,
    /// Keep only the span with this id.
    pub span_id: Option<String>,
    /// Keep only spans of this type.
    pub span_type: Option<SpanType>,
    /// Keep only direct children of this span.
    pub parent_span_id: Option<String>,
    /// Keep only spans where this text occurs in the trace id, span id, parent span id,
    /// operation name, or a metadata key or value.
    pub search: Option<String>,
    /// Keep only spans that started at or after this time.
    pub start_time: Option<NaiveDateTime>,
    /// Keep only spans that started at or before this time.
    pub end_time: Option<NaiveDateTime>,
    /// Keep at most this many spans (after sorting); `None` keeps all.
    pub limit: Option<usize>,
    /// Sort newest first instead of oldest first.
    pub descending: bool,
}

/// DB-GPT's default `--limit` for `dbgpt trace list`.
pub const DEFAULT_LIST_LIMIT: usize = 20;

fn non_empty(value: impl Into<String>) -> Option<String> {
    Some(value.into()).filter(|v| !v.is_empty())
}

impl SpanFilter {
    /// Everything, oldest first, limited to [`DEFAULT_LIST_LIMIT`] spans: `dbgpt trace list`
    /// without options.
    pub fn for_list() -> Self {
        Self::default().limit(Some(DEFAULT_LIST_LIMIT))
    }

    /// Keeps only spans of this trace.
    pub fn trace_id(mut self, trace_id: impl Into<String>) -> Self {
        self.trace_id = non_empty(trace_id);
        self
    }

    /// Keeps only the span with this id.
    pub fn span_id(mut self, span_id: impl Into<String>) -> Self {
        self.span_id = non_empty(span_id);
        self
    }

    /// Keeps only spans of this type.
    pub fn span_type(mut self, span_type: SpanType) -> Self {
        self.span_type = Some(span_type);
        self
    }

    /// Keeps only direct children of this span.
    pub fn parent_span_id(mut self, parent_span_id: impl Into<String>) -> Self {
        self.parent_span_id = non_empty(parent_span_id);
        self
    }

    /// Keeps only spans containing this text (see [`SpanFilter::search`](Self#structfield.search)).
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.search = non_empty(text);
        self
    }

    /// Keeps only spans that started at or after `start`.
    pub fn start_time(mut self, start: NaiveDateTime) -> Self {
        self.start_time = Some(start);
        self
    }

    /// Keeps only spans that started at or before `end`.
    pub fn end_time(mut self, end: NaiveDateTime) -> Self {
        self.end_time = Some(end);
        self
    }

    /// Keeps at most `limit` spans after sorting; `None` removes the limit.
    pub fn limit(mut self, limit: Option<usize>) -> Self {
        self.limit = limit;
        self
    }

    /// Sorts newest first (`true`, DB-GPT's `--desc`) or oldest first (`false`).
    pub fn descending(mut self, descending: bool) -> Self {
        self.descending = descending;
        self
    }

    /// Whether `span` passes every filter (the order and limit play no part here).
    pub fn matches(&self, span: &Span) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        eq(&self.trace_id, &span.trace_id)
            && eq(&self.span_id, &span.span_id)
            && self.span_type.is_none_or(|t| t == span.span_type)
            && self
                .parent_span_id
                .as_deref()
                .is_none_or(|p| span.parent_span_id.as_deref() == Some(p))
            && self.start_time.is_none_or(|t| span.start_time >= t)
            && self.end_time.is_none_or(|t| span.start_time <= t)
            && self
                .search
                .as_deref()
                .is_none_or(|s| contains_text(span, s))
    }

    /// Filters `spans`, sorts them by start time (stable: spans starting at the same time keep
    /// their order) and keeps the first [`limit`](Self::limit) of them.
    pub fn apply(&self, spans: Vec<Span>) -> Vec<Span> {
        let mut kept: Vec<Span> = spans.into_iter().filter(|s| self.matches(s)).collect();
        if self.descending {
            kept.sort_by_key(|s| std::cmp::Reverse(s.start_time));
        } else {
            kept.sort_by_key(|s| s.start_time);
        }
        if let Some(limit) = self.limit {
            kept.truncate(limit);
        }
        kept
    }
}

/// DB-GPT's search: the text occurs in an id, the operation name, a metadata key, or a
/// metadata value (a string as it is, anything else as its JSON text in the file's format).
fn contains_text(span: &Span, text: &str) -> bool {
    if span.trace_id.contains(text)
        || span.span_id.contains(text)
        || span
            .parent_span_id
            .as_deref()
            .is_some_and(|p| p.contains(text))
        || span.operation_name.contains(text)
    {
        return true;
    }
    let Some(metadata) = &span.metadata else {
        return false;
    };
    metadata.iter().any(|(key, value)| {
        key.contains(text)
            || match value {
                Value::String(s) => s.contains(text),
                other => crate::format::python_json_text(other).contains(text),
            }
    })
}

//! Carrying the parent span id across an HTTP hop, as DB-GPT does.

use crate::span::is_valid_span_id;

/// The HTTP request header in which DB-GPT passes the caller's span id to the callee.
pub const TRACE_HEADER: &str = "DB-GPT-Trace-Span-Id";

/// Validates the value of a [`TRACE_HEADER`] and returns the parent span id it names.
///
/// Surrounding white space is ignored. A value that is not a span id (see
/// [`is_valid_span_id`](crate::is_valid_span_id)) gives `None`: the callee then starts a new
/// trace instead of attaching its spans to garbage.
pub fn parse_trace_header(value: &str) -> Option<&str> {
    let value = value.trim();
    is_valid_span_id(value).then_some(value)
}

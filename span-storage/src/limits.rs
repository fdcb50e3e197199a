//! Bounds on what one span may cost: its metadata is cut to a known size before it is queued,
//! so a caller that puts a request body into a span cannot make the queue, the file or a
//! reader's memory grow without bound.

use crate::{Metadata, Span};
use serde_json::Value;

/// What is appended to a string value that was cut: `"<first bytes>…[truncated N bytes]"`.
pub const TRUNCATION_MARKER: &str = "…[truncated";
/// The metadata key that replaces entries dropped because the whole metadata was too big; its
/// value is the number of entries dropped.
pub const METADATA_TRUNCATED_KEY: &str = "metadata_truncated";
/// Nesting deeper than this is replaced by a marker string (also keeps the walk's recursion
/// bounded for values built in code, which no parser has limited).
const MAX_DEPTH: usize = 16;
/// The size counted for a span's fixed parts: keys, punctuation, times and the span type.
const SPAN_OVERHEAD: usize = 200;

/// Bounds on a span's metadata, applied by [`SpanStorageContainer::append`] to every span
/// before it is queued.
///
/// [`SpanStorageContainer::append`]: crate::SpanStorageContainer::append
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetadataLimits {
    /// The most bytes of one string value, at any depth (default 1 KiB). A longer string keeps
    /// its first bytes (cut at a character boundary) followed by `…[truncated N bytes]`.
    pub max_value_bytes: usize,
    /// The most bytes of the whole metadata as JSON, roughly (default 16 KiB). Entries are kept
    /// in the order they were set while they fit; the rest are dropped and counted under the key
    /// [`METADATA_TRUNCATED_KEY`].
    pub max_total_bytes: usize,
}

impl Default for MetadataLimits {
    fn default() -> Self {
        Self {
            max_value_bytes: 1024,
            max_total_bytes: 16 * 1024,
        }
    }
}

impl MetadataLimits {
    /// No bounds at all.
    pub fn unbounded() -> Self {
        Self {
            max_value_bytes: usize::MAX,
            max_total_bytes: usize::MAX,
        }
    }

    /// Sets `max_value_bytes`.
    pub fn with_max_value_bytes(mut self, bytes: usize) -> Self {
        self.max_value_bytes = bytes;
        self
    }

    /// Sets `max_total_bytes`.
    pub fn with_max_total_bytes(mut self, bytes: usize) -> Self {
        self.max_total_bytes = bytes;
        self
    }

    /// Cuts `span`'s metadata to these bounds and returns the span's size in bytes, about what
    /// its JSON line takes (what the container's byte budget counts).
    pub fn apply(&self, span: &mut Span) -> usize {
        let metadata = match span.metadata.as_mut() {
            Some(metadata) => self.bound(metadata),
            None => 0,
        };
        SPAN_OVERHEAD
            + span.trace_id.len()
            + span.span_id.len()
            + span.parent_span_id.as_ref().map_or(0, String::len)
            + span.operation_name.len()
            + metadata
    }

    /// Cuts `metadata` to these bounds and returns its size in bytes as JSON, roughly.
    pub fn bound(&self, metadata: &mut Metadata) -> usize {
        let mut total: usize = 2;
        let mut dropped = 0u64;
        metadata.retain(|key, value| {
            let size = key.len() + 4 + self.bound_value(value, 0);
            if dropped == 0 && total.saturating_add(size) <= self.max_total_bytes {
                total += size;
                true
            } else {
                dropped += 1;
                false
            }
        });
        if dropped > 0 {
            metadata.insert(METADATA_TRUNCATED_KEY.to_owned(), dropped.into());
            total += METADATA_TRUNCATED_KEY.len() + 24;
        }
        total
    }

    /// Cuts the strings in `value` and returns its size as JSON, roughly.
    fn bound_value(&self, value: &mut Value, depth: usize) -> usize {
        if depth >= MAX_DEPTH && matches!(value, Value::Array(_) | Value::Object(_)) {
            *value = Value::String(format!("{TRUNCATION_MARKER}: nested too deep]"));
        }
        match value {
            Value::Null => 4,
            Value::Bool(_) => 5,
            Value::Number(_) => 24,
            Value::String(s) => {
                truncate_string(s, self.max_value_bytes);
                s.len() + 2
            }
            Value::Array(items) => {
                2 + items
                    .iter_mut()
                    .map(|item| 2 + self.bound_value(item, depth + 1))
                    .sum::<usize>()
            }
            Value::Object(map) => {
                2 + map
                    .iter_mut()
                    .map(|(key, item)| key.len() + 4 + self.bound_value(item, depth + 1))
                    .sum::<usize>()
            }
        }
    }
}

/// Keeps the first `max` bytes of `s` (at a character boundary) and marks the cut.
fn truncate_string(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let removed = s.len() - cut;
    s.truncate(cut);
    s.push_str(&format!("{TRUNCATION_MARKER} {removed} bytes]"));
}

#[cfg(test)]
mod tests {
    use super::{METADATA_TRUNCATED_KEY, MetadataLimits, TRUNCATION_MARKER};
    use crate::{Span, SpanType};
    use serde_json::{Value, json};

    #[test]
    fn a_long_string_is_cut_at_a_character_boundary_and_marked() {
        let limits = MetadataLimits::default().with_max_value_bytes(5);
        let mut span = Span::new_root(SpanType::Base, "op")
            .with_metadata(json!({"body": "abcdéfgh", "short": "ok", "n": [1, "xxxxxxxx"]}));
        limits.apply(&mut span);
        let metadata = span.metadata.expect("metadata");
        // "é" spans bytes 4..6: the cut falls back to 4, removing 5 of the 9 bytes.
        assert_eq!(
            metadata["body"],
            format!("abcd{TRUNCATION_MARKER} 5 bytes]")
        );
        assert_eq!(metadata["short"], "ok");
        assert_eq!(
            metadata["n"][1],
            format!("xxxxx{TRUNCATION_MARKER} 3 bytes]")
        );
    }

    #[test]
    fn metadata_over_the_total_keeps_the_first_keys_and_counts_the_rest() {
        let limits = MetadataLimits::default()
            .with_max_value_bytes(100)
            .with_max_total_bytes(250);
        let mut span = Span::new_root(SpanType::Base, "op");
        for key in ["a", "b", "c", "d", "e"] {
            span.insert_metadata(key, "x".repeat(100));
        }
        let size = limits.apply(&mut span);
        let metadata = span.metadata.expect("metadata");
        assert!(metadata.contains_key("a") && metadata.contains_key("b"));
        assert!(!metadata.contains_key("c"));
        assert_eq!(metadata[METADATA_TRUNCATED_KEY], 3);
        assert!(size < 250 + 400, "{size}");
        assert!(span_line_len(&metadata) < 300);
    }

    fn span_line_len(metadata: &crate::Metadata) -> usize {
        serde_json::to_string(metadata).expect("json").len()
    }

    #[test]
    fn deep_nesting_is_cut_and_the_size_estimate_follows_the_json() {
        let mut deep = json!("leaf");
        for _ in 0..100 {
            deep = json!([deep]);
        }
        let mut span = Span::new_root(SpanType::Base, "op").with_metadata(json!({"deep": deep}));
        MetadataLimits::default().apply(&mut span);
        let text = span.to_json_line();
        assert!(text.contains("nested too deep"), "{text}");
        let unbounded = MetadataLimits::unbounded();
        let mut big = Span::new_root(SpanType::Base, "op").with_metadata(
            json!({"body": "y".repeat(10_000), "n": 5, "t": true, "z": Value::Null}),
        );
        let estimate = unbounded.apply(&mut big);
        let actual = big.to_json_line().len();
        assert!(
            estimate >= actual && estimate < actual + 300,
            "{estimate} vs {actual}"
        );
    }
}

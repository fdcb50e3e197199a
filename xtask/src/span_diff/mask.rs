//! Span lines with what differs between any two runs masked: generated trace and span ids
//! become `T1`, `S1`, … in the order they first appear (so parent links are still compared),
//! times become `<time>` once their format is checked. Ids that came from a request header
//! (not 32 or 16 hex digits) are kept as they are.

use std::collections::HashMap;

use anyhow::{Context, Result, bail};

/// The span line's fields before its metadata, which are the ones masked.
const METADATA_KEY: &str = ", \"metadata\": ";

#[derive(Default)]
pub(super) struct Masker {
    traces: HashMap<String, String>,
    spans: HashMap<String, String>,
}

impl Masker {
    /// `line` with its ids and times masked.
    pub(super) fn mask(&mut self, line: &str) -> Result<String> {
        let split = line
            .find(METADATA_KEY)
            .with_context(|| format!("no metadata in {line:?}"))?;
        let (skeleton, metadata) = line.split_at(split);
        let mut out = skeleton.to_owned();
        for key in [
            "trace_id",
            "span_id",
            "parent_span_id",
            "start_time",
            "end_time",
        ] {
            out = self.mask_field(&out, key)?;
        }
        out.push_str(metadata);
        Ok(out)
    }

    fn mask_field(&mut self, skeleton: &str, key: &str) -> Result<String> {
        let prefix = format!("\"{key}\": \"");
        let Some(start) = skeleton.find(&prefix).map(|at| at + prefix.len()) else {
            // `null`, or a missing key, is compared as it is.
            return Ok(skeleton.to_owned());
        };
        let end = skeleton[start..]
            .find('"')
            .map(|at| start + at)
            .with_context(|| format!("unterminated {key} in {skeleton:?}"))?;
        let value = &skeleton[start..end];
        let masked = match key {
            "trace_id" => self.trace(value),
            "start_time" | "end_time" => time(value)?,
            _ => self.span(value),
        };
        Ok(format!(
            "{}{masked}{}",
            &skeleton[..start],
            &skeleton[end..]
        ))
    }

    fn trace(&mut self, id: &str) -> String {
        if !is_hex(id, 32) {
            return id.to_owned();
        }
        let next = self.traces.len() + 1;
        self.traces
            .entry(id.to_owned())
            .or_insert_with(|| format!("T{next}"))
            .clone()
    }

    fn span(&mut self, id: &str) -> String {
        let Some((trace, span)) = id.rsplit_once(':') else {
            return id.to_owned();
        };
        let trace = self.trace(trace);
        if !is_hex(span, 16) {
            return format!("{trace}:{span}");
        }
        let next = self.spans.len() + 1;
        let span = self
            .spans
            .entry(span.to_owned())
            .or_insert_with(|| format!("S{next}"));
        format!("{trace}:{span}")
    }
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `<time>` for a time in DB-GPT's format, `YYYY-MM-DD HH:MM:SS.mmm`.
fn time(value: &str) -> Result<String> {
    let shape_ok = value.len() == 23
        && value.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b' ',
            13 | 16 => b == b':',
            19 => b == b'.',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        bail!("time {value:?} is not in DB-GPT's format");
    }
    Ok("<time>".to_owned())
}

#[cfg(test)]
mod tests {
    use super::Masker;

    #[test]
    fn generated_ids_and_times_are_masked_and_header_ids_kept() {
        let mut masker = Masker::default();
        let t = "4bf92f3577b34da6a3ce929d0e0e4736";
        let root = format!(
            r#"{{"span_type": "base", "trace_id": "{t}", "span_id": "{t}:00f067aa0ba902b7", "parent_span_id": null, "operation_name": "op", "start_time": "2024-01-01 12:00:00.123", "end_time": null, "metadata": {{"path": "/api"}}}}"#
        );
        assert_eq!(
            masker.mask(&root).unwrap(),
            r#"{"span_type": "base", "trace_id": "T1", "span_id": "T1:S1", "parent_span_id": null, "operation_name": "op", "start_time": "<time>", "end_time": null, "metadata": {"path": "/api"}}"#
        );
        let child = r#"{"span_type": "base", "trace_id": "abc", "span_id": "abc:1111111111111111", "parent_span_id": "abc:def", "operation_name": "op", "start_time": "2024-01-01 12:00:00.123", "end_time": "2024-01-01 12:00:00.124", "metadata": null}"#;
        assert_eq!(
            masker.mask(child).unwrap(),
            r#"{"span_type": "base", "trace_id": "abc", "span_id": "abc:S2", "parent_span_id": "abc:def", "operation_name": "op", "start_time": "<time>", "end_time": "<time>", "metadata": null}"#
        );
        assert!(masker.mask(&child.replace(".124", "")).is_err());
    }
}

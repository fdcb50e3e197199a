//! The span record, its ids and its JSON-lines form.

use crate::clean::ObjectWithoutNulls;
use crate::format::{PythonFormatter, TIME_LEN, format_span_time, format_time, parse_span_time};
use chrono::NaiveDateTime;
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// The metadata of a span: a JSON object.
pub type Metadata = Map<String, Value>;

/// The kind of a span, as DB-GPT names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpanType {
    /// A generic span (`"base"`).
    #[default]
    Base,
    /// A span around running a model or a job (`"run"`).
    Run,
    /// A span around a chat request (`"chat"`).
    Chat,
    /// A span around an agent's work (`"agent"`).
    Agent,
}

impl SpanType {
    /// The name used in span files: `base`, `run`, `chat` or `agent`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Base => "base",
            Self::Run => "run",
            Self::Chat => "chat",
            Self::Agent => "agent",
        }
    }

    /// Parses a name written by [`SpanType::as_str`] (case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "base" => Some(Self::Base),
            "run" => Some(Self::Run),
            "chat" => Some(Self::Chat),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }
}

impl fmt::Display for SpanType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One span record, in DB-GPT's shape.
///
/// A span is usually stored twice: a *start record* (`end_time` is `None`) when it opens and
/// an *end record* ([`Span::end_record`]) when it closes.
///
/// Times are local wall-clock times, as DB-GPT writes them.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// The kind of span.
    pub span_type: SpanType,
    /// 32 lowercase hex characters for spans created here; any string when read from a file.
    pub trace_id: String,
    /// `"<trace_id>:<16 hex>"` for spans created here.
    pub span_id: String,
    /// The parent's span id; `None` for a root span.
    pub parent_span_id: Option<String>,
    /// What the span covers, e.g. `dbgpt.model.controller.register_instance`.
    pub operation_name: String,
    /// When the span started (local wall-clock).
    pub start_time: NaiveDateTime,
    /// When the span ended; `None` in a start record.
    pub end_time: Option<NaiveDateTime>,
    /// Free-form metadata, its keys in the order they were set; `None` and an empty object are
    /// both written as `null`, and nulls inside are left out of the written form, as DB-GPT
    /// writes them.
    pub metadata: Option<Metadata>,
}

/// A new random trace id: 32 lowercase hex characters, never all zeros.
pub fn new_trace_id() -> String {
    let mut v = fastrand::u128(..);
    while v == 0 {
        v = fastrand::u128(..);
    }
    format!("{v:032x}")
}

/// A new span id in the given trace: `"<trace_id>:<16 hex>"`, the hex part never all zeros.
pub fn new_span_id(trace_id: &str) -> String {
    let mut v = fastrand::u64(..);
    while v == 0 {
        v = fastrand::u64(..);
    }
    format!("{trace_id}:{v:016x}")
}

/// Now, in local wall-clock time, at the millisecond precision of the file format, so a span
/// read back from a file equals the span written.
fn now_local() -> NaiveDateTime {
    use chrono::SubsecRound;
    chrono::Local::now().naive_local().trunc_subsecs(3)
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A UUID in its hyphenated form, which older DB-GPT versions used for both ids.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Checks the shape of a span id: `<trace>:<span>` where the trace part is 32 hex characters
/// (or a hyphenated UUID, as older DB-GPT versions wrote) and the span part is 16 or 32 hex
/// characters (or a hyphenated UUID).
pub fn is_valid_span_id(span_id: &str) -> bool {
    match span_id.split_once(':') {
        Some((trace, span)) => {
            (is_hex(trace, 32) || is_uuid(trace))
                && (is_hex(span, 16) || is_hex(span, 32) || is_uuid(span))
        }
        None => false,
    }
}

impl Span {
    /// A new root span (new trace) of the given type, started now.
    pub fn new_root(span_type: SpanType, operation_name: impl Into<String>) -> Self {
        let trace_id = new_trace_id();
        let span_id = new_span_id(&trace_id);
        Self {
            span_type,
            trace_id,
            span_id,
            parent_span_id: None,
            operation_name: operation_name.into(),
            start_time: now_local(),
            end_time: None,
            metadata: None,
        }
    }

    /// A new child of the span whose id is `parent_span_id`, started now. The trace id is the
    /// parent id's prefix (before `:`), as in DB-GPT. An invalid parent id (see
    /// [`is_valid_span_id`]) gives a new root span instead, so a bad id cannot corrupt a trace.
    pub fn new_child(
        parent_span_id: &str,
        span_type: SpanType,
        operation_name: impl Into<String>,
    ) -> Self {
        let parent = parent_span_id.trim();
        if !is_valid_span_id(parent) {
            return Self::new_root(span_type, operation_name);
        }
        let trace_id = parent.split_once(':').map_or(parent, |(t, _)| t).to_owned();
        let span_id = new_span_id(&trace_id);
        Self {
            span_type,
            trace_id,
            span_id,
            parent_span_id: Some(parent.to_owned()),
            operation_name: operation_name.into(),
            start_time: now_local(),
            end_time: None,
            metadata: None,
        }
    }

    /// A child of `parent` (same trace), started now.
    pub fn child_of(parent: &Span, span_type: SpanType, operation_name: impl Into<String>) -> Self {
        Self {
            span_type,
            trace_id: parent.trace_id.clone(),
            span_id: new_span_id(&parent.trace_id),
            parent_span_id: Some(parent.span_id.clone()),
            operation_name: operation_name.into(),
            start_time: now_local(),
            end_time: None,
            metadata: None,
        }
    }

    /// A child of the span named by an incoming [`TRACE_HEADER`](crate::TRACE_HEADER) value,
    /// or a new root when the header is absent or DB-GPT would not accept it (see
    /// [`parse_trace_header`](crate::parse_trace_header)). As in DB-GPT, the parent id is the
    /// value as it came and the trace id is what precedes its `:`.
    pub fn from_header(
        header: Option<&str>,
        span_type: SpanType,
        operation_name: impl Into<String>,
    ) -> Self {
        let Some(parent) = header.and_then(crate::parse_trace_header) else {
            return Self::new_root(span_type, operation_name);
        };
        let trace_id = parent.split_once(':').map_or(parent, |(t, _)| t).to_owned();
        Self {
            span_type,
            span_id: new_span_id(&trace_id),
            trace_id,
            parent_span_id: Some(parent.to_owned()),
            operation_name: operation_name.into(),
            start_time: now_local(),
            end_time: None,
            metadata: None,
        }
    }

    /// Replaces the metadata. An object is stored as it is; `null` or an empty object clears
    /// it; any other value is stored as `{"value": <it>}`.
    pub fn with_metadata(mut self, metadata: impl Into<Value>) -> Self {
        self.metadata = match metadata.into() {
            Value::Null => None,
            Value::Object(map) if map.is_empty() => None,
            Value::Object(map) => Some(map),
            other => {
                let mut map = Map::new();
                map.insert("value".to_owned(), other);
                Some(map)
            }
        };
        self
    }

    /// Sets one metadata entry.
    pub fn insert_metadata(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.metadata
            .get_or_insert_with(Map::new)
            .insert(key.into(), value.into());
    }

    /// Sets the start time (useful for tests and for importing spans).
    pub fn with_start_time(mut self, start_time: NaiveDateTime) -> Self {
        self.start_time = start_time;
        self
    }

    /// Marks the span ended now.
    pub fn end(&mut self) {
        self.end_time = Some(now_local());
    }

    /// A copy of this span with `end_time` set to now: the end record to store when the span
    /// closes.
    pub fn end_record(&self) -> Span {
        let mut end = self.clone();
        end.end();
        end
    }

    /// Whether this is a start record (no end time yet).
    pub fn is_start_record(&self) -> bool {
        self.end_time.is_none()
    }

    /// Appends this span as one JSON line (with its trailing `\n`) in DB-GPT's format.
    ///
    /// This is the flush thread's hot path, so it writes the fixed skeleton of the line
    /// directly and leaves only strings that need escaping and the metadata to `serde_json`;
    /// the bytes are the same as those of the `Serialize` implementation.
    pub fn write_json_line(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        out.extend_from_slice(b"{\"span_type\": \"");
        out.extend_from_slice(self.span_type.as_str().as_bytes());
        out.extend_from_slice(b"\", \"trace_id\": ");
        write_json_str(out, &self.trace_id)?;
        out.extend_from_slice(b", \"span_id\": ");
        write_json_str(out, &self.span_id)?;
        out.extend_from_slice(b", \"parent_span_id\": ");
        match &self.parent_span_id {
            Some(parent) => write_json_str(out, parent)?,
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b", \"operation_name\": ");
        write_json_str(out, &self.operation_name)?;
        out.extend_from_slice(b", \"start_time\": ");
        write_json_time(out, &self.start_time);
        out.extend_from_slice(b", \"end_time\": ");
        match &self.end_time {
            Some(end) => write_json_time(out, end),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b", \"metadata\": ");
        match self.metadata.as_ref().filter(|m| !m.is_empty()) {
            Some(metadata) => {
                let mut ser = serde_json::Serializer::with_formatter(&mut *out, PythonFormatter);
                ObjectWithoutNulls(metadata).serialize(&mut ser)?;
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b"}\n");
        Ok(())
    }

    /// This span as one JSON line in DB-GPT's format, without the trailing newline.
    pub fn to_json_line(&self) -> String {
        let mut out = Vec::with_capacity(256);
        // Serialising a span cannot fail: every map key is a string and the writer is a Vec.
        if self.write_json_line(&mut out).is_ok() {
            out.pop();
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// Parses one JSON line as written by DB-GPT or by this crate.
    pub fn from_json_line(line: &str) -> Result<Span, serde_json::Error> {
        serde_json::from_str(line)
    }
}

/// Writes a JSON string; ids and names rarely need escaping, so check before paying for it.
fn write_json_str(out: &mut Vec<u8>, s: &str) -> Result<(), serde_json::Error> {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(&mut *out, s)
    }
}

fn write_json_time(out: &mut Vec<u8>, t: &NaiveDateTime) {
    let mut buf = [0u8; TIME_LEN];
    out.push(b'"');
    match format_time(t, &mut buf) {
        Some(()) => out.extend_from_slice(&buf),
        None => out.extend_from_slice(format_span_time(t).as_bytes()),
    }
    out.push(b'"');
}

/// Serialises a time through a stack buffer.
struct Time<'a>(&'a NaiveDateTime);

impl Serialize for Time<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; TIME_LEN];
        match format_time(self.0, &mut buf) {
            Some(()) => s.serialize_str(std::str::from_utf8(&buf).unwrap_or_default()),
            None => s.serialize_str(&format_span_time(self.0)),
        }
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The key order is DB-GPT's `Span.to_dict()`; `dbgpt trace` does not need it, but
        // people comparing files do.
        let mut st = s.serialize_struct("Span", 8)?;
        st.serialize_field("span_type", &self.span_type)?;
        st.serialize_field("trace_id", &self.trace_id)?;
        st.serialize_field("span_id", &self.span_id)?;
        st.serialize_field("parent_span_id", &self.parent_span_id)?;
        st.serialize_field("operation_name", &self.operation_name)?;
        st.serialize_field("start_time", &Time(&self.start_time))?;
        st.serialize_field("end_time", &self.end_time.as_ref().map(Time))?;
        let metadata = self.metadata.as_ref().filter(|m| !m.is_empty());
        st.serialize_field("metadata", &metadata.map(ObjectWithoutNulls))?;
        st.end()
    }
}

/// The wire shape accepted when reading: tolerant of what DB-GPT may leave null.
#[derive(Deserialize)]
struct RawSpan {
    #[serde(default)]
    span_type: Option<SpanType>,
    trace_id: String,
    span_id: String,
    #[serde(default)]
    parent_span_id: Option<String>,
    #[serde(default)]
    operation_name: Option<String>,
    start_time: String,
    #[serde(default)]
    end_time: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let raw = RawSpan::deserialize(d)?;
        let start_time = parse_span_time(&raw.start_time)
            .ok_or_else(|| D::Error::custom(format!("bad start_time {:?}", raw.start_time)))?;
        let end_time = match raw.end_time {
            None => None,
            Some(t) => Some(
                parse_span_time(&t)
                    .ok_or_else(|| D::Error::custom(format!("bad end_time {t:?}")))?,
            ),
        };
        Ok(Span {
            span_type: raw.span_type.unwrap_or_default(),
            trace_id: raw.trace_id,
            span_id: raw.span_id,
            parent_span_id: raw.parent_span_id,
            operation_name: raw.operation_name.unwrap_or_default(),
            start_time,
            end_time,
            metadata: raw.metadata.filter(|m| !m.is_empty()),
        })
    }
}

//! Sending spans to an OpenTelemetry collector over OTLP/HTTP with JSON encoding.

use crate::{DetachedConfig, DetachedSpanStorage, Span, SpanStorage, SpanStorageError};
use chrono::{Local, NaiveDateTime, TimeZone};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The configuration of an [`OtlpSpanStorage`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OtlpConfig {
    /// The traces endpoint, e.g. `http://localhost:4318/v1/traces`. A base URL without the
    /// `/v1/traces` path gets it appended, as OpenTelemetry's `OTEL_EXPORTER_OTLP_ENDPOINT` does.
    pub endpoint: String,
    /// The `service.name` resource attribute (default `unknown_service`).
    pub service_name: String,
    /// The time limit of one export request (default 10 s).
    pub timeout: Duration,
    /// Extra request headers, e.g. an authorisation token.
    pub headers: Vec<(String, String)>,
    /// How many spans may wait for the collector in [`OtlpSpanStorage::detached`]'s queue
    /// (default 8,192); more are dropped and counted.
    pub queue_capacity: usize,
}

impl OtlpConfig {
    /// Defaults for a collector at `endpoint`.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            service_name: "unknown_service".to_owned(),
            timeout: Duration::from_secs(10),
            headers: Vec::new(),
            queue_capacity: 8192,
        }
    }

    /// Sets the time limit of one export request.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the capacity of [`OtlpSpanStorage::detached`]'s queue.
    pub fn queue_capacity(mut self, spans: usize) -> Self {
        self.queue_capacity = spans;
        self
    }

    /// Sets the service name.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    fn url(&self) -> String {
        let base = self.endpoint.trim_end_matches('/');
        if base.ends_with("/v1/traces") {
            base.to_owned()
        } else {
            format!("{base}/v1/traces")
        }
    }
}

/// Sends finished spans (end records) to an OpenTelemetry collector (Jaeger, Tempo, the
/// OpenTelemetry Collector) with `POST /v1/traces`, JSON-encoded. Start records are skipped:
/// OTLP carries complete spans only. Metadata becomes span attributes; the span type is the
/// attribute `dbgpt.span_type`.
///
/// An export waits for the collector (up to `timeout`), so put it behind its own queue and
/// thread with [`OtlpSpanStorage::detached`] rather than directly in a container: a slow
/// collector then never holds up the container's other storages.
#[derive(Debug)]
pub struct OtlpSpanStorage {
    config: OtlpConfig,
    url: String,
    agent: ureq::Agent,
}

impl OtlpSpanStorage {
    /// A storage sending to the collector named in `config`. No connection is made yet.
    pub fn new(config: OtlpConfig) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            url: config.url(),
            config,
            agent,
        }
    }

    /// The way to attach OTLP export to a container: a storage sending to the collector from
    /// its own thread (`span-storage-otlp`) and bounded queue (`queue_capacity` spans; when
    /// the collector is slower than the spans arrive, batches are dropped and counted).
    pub fn detached(config: OtlpConfig) -> Result<DetachedSpanStorage, SpanStorageError> {
        let detached = DetachedConfig::default()
            .with_thread_name("span-storage-otlp")
            .with_capacity(config.queue_capacity)
            .with_drop_timeout(config.timeout);
        DetachedSpanStorage::new(Arc::new(Self::new(config)), detached)
    }

    fn export(&self, spans: &[Span]) -> Result<(), SpanStorageError> {
        let Some(body) = to_otlp_json(spans, &self.config.service_name) else {
            return Ok(());
        };
        let body = serde_json::to_vec(&body)?;
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json");
        for (name, value) in &self.config.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response = request
            .send(&body[..])
            .map_err(|e| SpanStorageError::Export(format!("POST {}: {e}", self.url)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Err(SpanStorageError::Export(format!(
            "POST {}: HTTP {status}: {text}",
            self.url
        )))
    }
}

impl SpanStorage for OtlpSpanStorage {
    fn append_span(&self, span: &Span) -> Result<(), SpanStorageError> {
        self.export(std::slice::from_ref(span))
    }

    fn append_spans(&self, spans: &[Span]) -> Result<(), SpanStorageError> {
        self.export(spans)
    }
}

/// The OTLP/JSON `ExportTraceServiceRequest` for the finished spans among `spans`, or `None`
/// if there are none. Spans whose ids cannot be turned into OTLP ids are left out.
pub fn to_otlp_json(spans: &[Span], service_name: &str) -> Option<Value> {
    let otlp: Vec<Value> = spans.iter().filter_map(otlp_span).collect();
    if otlp.is_empty() {
        return None;
    }
    Some(json!({
        "resourceSpans": [{
            "resource": {"attributes": [attribute("service.name", &Value::from(service_name))]},
            "scopeSpans": [{
                "scope": {"name": env!("CARGO_PKG_NAME"), "version": env!("CARGO_PKG_VERSION")},
                "spans": otlp,
            }],
        }],
    }))
}

fn otlp_span(span: &Span) -> Option<Value> {
    let end = span.end_time?;
    let trace_id = hex_id(&span.trace_id, 32)?;
    let span_id = hex_id(span_part(&span.span_id), 16)?;
    let mut out = Map::new();
    out.insert("traceId".into(), trace_id.into());
    out.insert("spanId".into(), span_id.into());
    if let Some(parent) = span
        .parent_span_id
        .as_deref()
        .and_then(|p| hex_id(span_part(p), 16))
    {
        out.insert("parentSpanId".into(), parent.into());
    }
    out.insert("name".into(), span.operation_name.clone().into());
    // SPAN_KIND_INTERNAL
    out.insert("kind".into(), 1.into());
    out.insert(
        "startTimeUnixNano".into(),
        unix_nanos(&span.start_time).to_string().into(),
    );
    out.insert(
        "endTimeUnixNano".into(),
        unix_nanos(&end).to_string().into(),
    );
    let mut attributes = vec![attribute(
        "dbgpt.span_type",
        &Value::from(span.span_type.as_str()),
    )];
    if let Some(metadata) = &span.metadata {
        attributes.extend(metadata.iter().map(|(k, v)| attribute(k, v)));
    }
    out.insert("attributes".into(), attributes.into());
    Some(Value::Object(out))
}

/// The part of a span id after the trace id.
fn span_part(span_id: &str) -> &str {
    span_id.rsplit_once(':').map_or(span_id, |(_, s)| s)
}

/// The first `len` hex digits of an id (ignoring UUID hyphens), lowercased; `None` if there
/// are fewer or they are all zeros (invalid in OTLP).
fn hex_id(id: &str, len: usize) -> Option<String> {
    let hex: String = id
        .chars()
        .filter(|c| *c != '-')
        .take(len)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (hex.len() == len
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && hex.bytes().any(|b| b != b'0'))
    .then_some(hex)
}

/// Span times are local wall-clock times; an ambiguous or skipped local time falls back to UTC.
fn unix_nanos(t: &NaiveDateTime) -> u64 {
    let utc = match Local.from_local_datetime(t).earliest() {
        Some(local) => local.to_utc(),
        None => t.and_utc(),
    };
    utc.timestamp_nanos_opt()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0)
}

fn attribute(key: &str, value: &Value) -> Value {
    json!({"key": key, "value": any_value(value)})
}

/// OTLP's `AnyValue` in its JSON mapping (64-bit integers as decimal strings).
fn any_value(value: &Value) -> Value {
    match value {
        Value::Null => json!({}),
        Value::Bool(b) => json!({"boolValue": b}),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => json!({"intValue": i.to_string()}),
            (None, Some(f)) if n.is_f64() => json!({"doubleValue": f}),
            _ => json!({"stringValue": n.to_string()}),
        },
        Value::String(s) => json!({"stringValue": s}),
        Value::Array(items) => {
            json!({"arrayValue": {"values": items.iter().map(any_value).collect::<Vec<_>>()}})
        }
        Value::Object(map) => {
            json!({"kvlistValue": {"values": map.iter().map(|(k, v)| attribute(k, v)).collect::<Vec<_>>()}})
        }
    }
}

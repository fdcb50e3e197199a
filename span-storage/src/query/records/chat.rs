//! `dbgpt trace chat`: the run parameters of DB-GPT's services and the details of one chat,
//! as DB-GPT 0.8.2 prints them.

use serde_json::{Map, Value};

use super::{SpanRecord, empty_message, field, start_time, tree_text, truthy, walk_trace};
use crate::format::python_json_text;
use crate::query::{PrettyTable, TableFormat};

/// The services whose `run` spans carry their parameters (DB-GPT's `SpanTypeRunName`).
const WEBSERVER: &str = "Webserver";
const WORKER_MANAGER: &str = "WorkerManager";
const MODEL_WORKER: &str = "ModelWorker";
const EMBEDDING_MODEL: &str = "EmbeddingModel";
const SERVICES: [&str; 4] = [WEBSERVER, WORKER_MANAGER, MODEL_WORKER, EMBEDDING_MODEL];

/// The options of `dbgpt trace chat`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChatQuery {
    /// `--trace_id`: this chat; `None` for the latest.
    pub trace_id: Option<String>,
    /// `--tree`: print the chat's spans as a tree too.
    pub tree: bool,
    /// `--hide_conv`: leave out the chat's details.
    pub hide_conv: bool,
    /// `--hide_run_params`: leave out the services' parameters.
    pub hide_run_params: bool,
    /// `--output`.
    pub format: TableFormat,
    /// Long texts are cut into lines this long in the text format: DB-GPT uses 80% of the
    /// terminal's width, or 100 when the output is not a terminal.
    pub wrap: usize,
}

impl Default for ChatQuery {
    fn default() -> Self {
        Self {
            trace_id: None,
            tree: false,
            hide_conv: false,
            hide_run_params: false,
            format: TableFormat::Text,
            wrap: 100,
        }
    }
}

/// What `dbgpt trace chat` prints for `records` (`files` names them in the message DB-GPT
/// prints when there are none).
pub fn render_chat(records: &[SpanRecord], query: &ChatQuery, files: &[String]) -> String {
    // Newest first; Python's sort is stable, and so is this one.
    let mut spans: Vec<&SpanRecord> = records.iter().collect();
    spans.sort_by_key(|record| std::cmp::Reverse(start_time(record)));
    if spans.is_empty() {
        return empty_message(files);
    }
    let (services, found) = scan(&spans, query.trace_id.as_deref());
    let mut out = String::new();
    if !query.hide_run_params {
        run_params(&services, query.format, &mut out);
    }
    let Some(trace_id) = found else {
        let wanted = query.trace_id.as_deref().unwrap_or("None");
        out.push_str(&format!(
            "Can't found conversation with trace_id: {wanted}\n"
        ));
        return out;
    };
    let mut trace: Vec<&SpanRecord> = spans
        .iter()
        .copied()
        .filter(|record| field(record, "trace_id").as_str() == Some(trace_id.as_str()))
        .collect();
    trace.reverse();
    let walked = walk_trace(&trace);
    if query.tree {
        out.push_str(&format!("\nInvoke Trace Tree(trace_id: {trace_id}):\n\n"));
        out.push_str(&tree_text(&walked));
    }
    if !query.hide_conv {
        let records: Vec<&SpanRecord> = walked.into_iter().map(|(_, record)| record).collect();
        out.push_str(&details(&trace_id, &records, query));
    }
    out
}

/// For each service, in order of first sight, the last of its `run` spans seen before the
/// scan stops (the scan runs newest first and DB-GPT keeps overwriting, so the oldest one
/// seen), and the chat's trace id.
fn scan<'a>(
    spans: &[&'a SpanRecord],
    wanted: Option<&str>,
) -> (Vec<(String, &'a SpanRecord)>, Option<String>) {
    let mut services: Vec<(String, &SpanRecord)> = Vec::new();
    let mut found: Option<String> = None;
    for &span in spans {
        let metadata = span.get("metadata").filter(|m| truthy(m));
        let service = metadata
            .and_then(|m| m.get("run_service"))
            .filter(|_| field(span, "span_type") == "run");
        if let Some(service) = service {
            let name = super::python_str(service);
            match services.iter_mut().find(|(known, _)| *known == name) {
                Some(slot) => slot.1 = span,
                None => services.push((name, span)),
            }
            let all = SERVICES
                .iter()
                .all(|s| services.iter().any(|(n, _)| n == s))
                && services.len() == SERVICES.len();
            if all && found.is_some() {
                break;
            }
        } else if field(span, "span_type") == "chat" && found.is_none() {
            let id = field(span, "trace_id");
            match wanted {
                None => found = Some(super::python_str(id)),
                Some(wanted) if id.as_str() == Some(wanted) => found = Some(wanted.to_owned()),
                Some(_) => {}
            }
        }
    }
    (services, found)
}

fn titled_table(
    fields: [&str; 2],
    title: String,
    rows: &Map<String, Value>,
) -> Option<PrettyTable> {
    let mut table = PrettyTable::new(fields.map(String::from).to_vec(), Some(title)).ok()?;
    for (key, value) in rows {
        table
            .add_row(vec![Value::String(key.clone()), value.clone()])
            .ok()?;
    }
    Some(table)
}

/// The services' parameter tables, two by two side by side in the text format, and the first
/// service's system information.
fn run_params(services: &[(String, &SpanRecord)], format: TableFormat, out: &mut String) {
    let empty = Map::new();
    let metadata_of = |span: &SpanRecord| match span.get("metadata") {
        Some(Value::Object(metadata)) => metadata.clone(),
        _ => empty.clone(),
    };
    let mut tables: Vec<(&str, PrettyTable)> = Vec::new();
    let mut system: Option<PrettyTable> = None;
    for (name, span) in services {
        let metadata = metadata_of(span);
        let params = match metadata.get("params") {
            Some(Value::Object(params)) => params.clone(),
            _ => Map::new(),
        };
        if let Some(table) = titled_table(["Config Key", "Config Value"], name.clone(), &params) {
            tables.push((name, table));
        }
        if let Some(Value::Object(infos)) = metadata.get("sys_infos") {
            let title = format!("{name} System information");
            let fields = ["System Config Key", "System Config Value"];
            if system.is_none() && !infos.is_empty() {
                system = titled_table(fields, title, infos);
            }
        }
    }
    let table_of = |name: &str| tables.iter().find(|(n, _)| *n == name).map(|(_, t)| t);
    if format == TableFormat::Text {
        for pair in [[WEBSERVER, EMBEDDING_MODEL], [MODEL_WORKER, WORKER_MANAGER]] {
            let present: Vec<&PrettyTable> = pair.iter().filter_map(|n| table_of(n)).collect();
            match PrettyTable::merge_horizontally(&present) {
                Ok(Some(merged)) => out.push_str(&merged.render(TableFormat::Text)),
                _ => out.push_str("None"),
            }
            out.push('\n');
        }
    } else {
        for (_, table) in &tables {
            out.push_str(&table.render(format));
            out.push('\n');
        }
    }
    if let Some(system) = system {
        out.push_str(&system.render(format));
        out.push('\n');
    }
}

/// A text cut into lines of `wrap` characters, as DB-GPT's `split_string_by_terminal_width`.
fn wrapped(value: Option<&Value>, wrap: usize, split: bool) -> Value {
    match value {
        Some(Value::String(text)) if split && wrap > 0 => {
            let chars: Vec<char> = text.chars().collect();
            let lines: Vec<String> = chars.chunks(wrap).map(|c| c.iter().collect()).collect();
            Value::String(lines.join("\n"))
        }
        Some(other) => other.clone(),
        None => Value::Null,
    }
}

/// The "Chat Trace Details" table.
fn details(trace_id: &str, spans: &[&SpanRecord], query: &ChatQuery) -> String {
    let split = query.format == TableFormat::Text;
    let mut rows: Vec<(String, Value)> = Vec::new();
    let mut row = |key: &str, value: Value| rows.push((key.to_owned(), value));
    let empty = Map::new();
    for span in spans {
        let op = field(span, "operation_name").as_str().unwrap_or("");
        let metadata = match span.get("metadata") {
            Some(Value::Object(metadata)) => metadata,
            _ => &empty,
        };
        let get = |key: &str| metadata.get(key).cloned().unwrap_or(Value::Null);
        let open = !truthy(field(span, "end_time"));
        if op == "get_chat_instance" && open {
            row("trace_id", Value::String(trace_id.to_owned()));
            row("span_id", field(span, "span_id").clone());
            for key in [
                "conv_uid",
                "user_input",
                "chat_mode",
                "select_param",
                "model_name",
            ] {
                row(key, get(key));
            }
        }
        if op == "BaseChat.stream_call" || op == "BaseChat.nostream_call" {
            if open {
                for key in ["temperature", "max_new_tokens", "echo"] {
                    row(key, get(key));
                }
            } else if metadata.contains_key("error") {
                row("BaseChat Error", get("error"));
            }
        }
        if op == "BaseChat.do_action" && open {
            if let Some(output) = metadata.get("model_output") {
                let text = output.get("text");
                row("BaseChat model_output", wrapped(text, query.wrap, split));
            }
            if metadata.contains_key("ai_response_text") {
                let text = metadata.get("ai_response_text");
                row(
                    "BaseChat ai_response_text",
                    wrapped(text, query.wrap, split),
                );
            }
            if let Some(response) = metadata.get("prompt_define_response") {
                // `value or ""` first, so an empty object is "" as in DB-GPT, not "{}".
                let response = match response {
                    falsy if !truthy(falsy) => Value::String(String::new()),
                    Value::Object(_) | Value::Array(_) => Value::String(python_json_text(response)),
                    other => other.clone(),
                };
                let key = "BaseChat prompt_define_response";
                row(key, wrapped(Some(&response), query.wrap, split));
            }
        }
        if op == "DefaultModelWorker_call.generate_stream_func" {
            if open {
                row("llm_adapter", get("llm_adapter"));
                row(
                    "User prompt",
                    wrapped(metadata.get("prompt"), query.wrap, split),
                );
            } else {
                // DB-GPT cuts the model's output in every format.
                row(
                    "Model output",
                    wrapped(metadata.get("output"), query.wrap, true),
                );
            }
        }
        let generate = [
            "DefaultModelWorker.async_generate_stream",
            "DefaultModelWorker.generate_stream",
        ];
        if generate.contains(&op) && metadata.contains_key("error") {
            row("Model Error", get("error"));
        }
    }
    let fields = ["Key", "Value Value"].map(String::from).to_vec();
    let Ok(mut table) = PrettyTable::new(fields, Some("Chat Trace Details".to_owned())) else {
        return String::new();
    };
    for (key, value) in rows {
        if table.add_row(vec![Value::String(key), value]).is_err() {
            return String::new();
        }
    }
    table.render(query.format) + "\n"
}

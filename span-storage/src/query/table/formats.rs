//! The other formats of prettytable's `get_formatted_string`: HTML, CSV, LaTeX and JSON, with
//! prettytable's defaults.

use super::pystr::write_number;
use serde_json::Value;
use std::fmt::Write as _;

/// `get_html_string()`: a `<table>` with the title as `<caption>`, the field names in
/// `<thead>`, the cells in `<tbody>`; four spaces of indent per level, `\n` between lines and
/// none after the last. Text is escaped as Python's `html.escape` does (`&`, `<`, `>`, `"`,
/// `'`), then each line break becomes `<br>`.
pub(super) fn html(field_names: &[String], title: Option<&str>, cells: &[Vec<String>]) -> String {
    let mut lines = vec!["<table>".to_owned()];
    if let Some(title) = title {
        lines.push(format!("    <caption>{}</caption>", html_text(title)));
    }
    lines.push("    <thead>".to_owned());
    lines.push("        <tr>".to_owned());
    for name in field_names {
        lines.push(format!("            <th>{}</th>", html_text(name)));
    }
    lines.push("        </tr>".to_owned());
    lines.push("    </thead>".to_owned());
    lines.push("    <tbody>".to_owned());
    for row in cells {
        lines.push("        <tr>".to_owned());
        for cell in row {
            lines.push(format!("            <td>{}</td>", html_text(cell)));
        }
        lines.push("        </tr>".to_owned());
    }
    lines.push("    </tbody>".to_owned());
    lines.push("</table>".to_owned());
    lines.join("\n")
}

/// `html.escape(text)` with line breaks as `<br>`.
fn html_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
    out
}

/// `get_csv_string()`: Python's `csv.writer` with its defaults (the `excel` dialect): the
/// field names, then the cells; fields joined with `,`, each record ended by `\r\n`; a field
/// holding `,`, `"`, `\r` or `\n` is quoted, its quotes doubled. The title is not written.
pub(super) fn csv(field_names: &[String], cells: &[Vec<String>]) -> String {
    let mut out = String::new();
    csv_record(&mut out, field_names);
    for row in cells {
        csv_record(&mut out, row);
    }
    out
}

fn csv_record(out: &mut String, fields: &[String]) {
    // Python's csv writes a record of one empty field as `""`, so that it is not read
    // back as a record of no fields.
    if let [only] = fields {
        if only.is_empty() {
            out.push_str("\"\"\r\n");
            return;
        }
    }
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push_str("\r\n");
}

/// `get_latex_string()`: a `tabular` with a centred (`c`) column per field, the field names
/// and then each row as cells joined by ` & ` and ended by ` \\`; lines joined by `\r\n`
/// with none after the last. Nothing is escaped and the title is not written, as in
/// prettytable.
pub(super) fn latex(field_names: &[String], cells: &[Vec<String>]) -> String {
    let mut lines = vec![format!(
        "\\begin{{tabular}}{{{}}}",
        "c".repeat(field_names.len())
    )];
    lines.push(format!("{} \\\\", field_names.join(" & ")));
    for row in cells {
        lines.push(format!("{} \\\\", row.join(" & ")));
    }
    lines.push("\\end{tabular}".to_owned());
    lines.join("\r\n")
}

/// `get_json_string(ensure_ascii=False)`: a JSON array of the field names and then, for each
/// row, an object from field name to the cell's value as it is (not its text), written as
/// Python's `json.dumps(..., indent=4, separators=(",", ": "), sort_keys=True)` writes it:
/// four spaces of indent per level, keys sorted at every level, non-ASCII text as it is,
/// floats as Python's `repr`. The title is not written.
pub(super) fn json(field_names: &[String], rows: &[Vec<Value>]) -> String {
    let mut out = String::from("[");
    let names: Vec<Value> = field_names.iter().cloned().map(Value::String).collect();
    out.push_str("\n    ");
    write_array(&mut out, &names, 1);
    for row in rows {
        out.push_str(",\n    ");
        let mut entries: Vec<(&str, &Value)> = field_names
            .iter()
            .map(String::as_str)
            .zip(row.iter())
            .collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        write_object(&mut out, &entries, 1);
    }
    out.push_str("\n]");
    out
}

fn write_json(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_json_str(out, s),
        Value::Array(items) => write_array(out, items, level),
        Value::Object(map) => {
            let mut entries: Vec<(&str, &Value)> =
                map.iter().map(|(k, v)| (k.as_str(), v)).collect();
            // Python sorts by code point; byte order of UTF-8 is the same order.
            entries.sort_by(|a, b| a.0.cmp(b.0));
            write_object(out, &entries, level);
        }
    }
}

fn newline(out: &mut String, level: usize) {
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', 4 * level));
}

fn write_array(out: &mut String, items: &[Value], level: usize) {
    if items.is_empty() {
        out.push_str("[]");
        return;
    }
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, level + 1);
        write_json(out, item, level + 1);
    }
    newline(out, level);
    out.push(']');
}

fn write_object(out: &mut String, entries: &[(&str, &Value)], level: usize) {
    if entries.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push('{');
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, level + 1);
        write_json_str(out, key);
        out.push_str(": ");
        write_json(out, value, level + 1);
    }
    newline(out, level);
    out.push('}');
}

/// A JSON string as Python's `json` writes it with `ensure_ascii=False`: only `"`, `\` and
/// characters below U+0020 are escaped, the latter as `\n`, `\r`, `\t`, `\b`, `\f` or
/// `\u00XX` (lower-case hex).
fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

//! `PrettyTable` against the real prettytable 3.19.0 (and wcwidth 0.9.5, and Python 3.11's
//! `str()`): the expected texts are its output, written by
//! `tests/fixtures/prettytable/generate.py` from the same inputs.

use serde::Deserialize;
use serde_json::Value;
use span_storage::query::{PrettyTable, TableFormat, display_width, python_str};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/prettytable")
}

fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> T {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad fixture {}: {e}", path.display()))
}

/// One table as `generate.py` builds it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TableSpec {
    title: Option<String>,
    /// `None` is `PrettyTable()`, without field names.
    field_names: Option<Vec<String>>,
    set_field_names_later: bool,
    rows: Vec<Vec<Value>>,
}

/// A fixture: a table, or tables merged as DB-GPT merges them, and prettytable's outputs.
#[derive(Debug, Deserialize)]
struct Fixture {
    /// Unused (all defaults) for a merge.
    #[serde(flatten)]
    table: TableSpec,
    merge: Option<Vec<TableSpec>>,
    outputs: BTreeMap<String, String>,
}

fn build(spec: &TableSpec) -> PrettyTable {
    let mut table = match (&spec.field_names, spec.set_field_names_later) {
        (Some(names), false) => {
            PrettyTable::new(names.clone(), spec.title.clone()).expect("valid field names")
        }
        (names, _) => {
            let mut table = PrettyTable::default();
            table.set_title(spec.title.clone());
            if let Some(names) = names {
                table
                    .set_field_names(names.clone())
                    .expect("valid field names");
            }
            table
        }
    };
    for row in &spec.rows {
        table
            .add_row(row.clone())
            .expect("a row as long as the field names");
    }
    table
}

fn build_fixture(fixture: &Fixture) -> PrettyTable {
    match &fixture.merge {
        Some(specs) => {
            let tables: Vec<PrettyTable> = specs.iter().map(build).collect();
            let refs: Vec<&PrettyTable> = tables.iter().collect();
            PrettyTable::merge_horizontally(&refs)
                .expect("distinct merged field names")
                .expect("some tables")
        }
        None => build(&fixture.table),
    }
}

#[test]
fn every_format_of_every_table_matches_prettytable() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures().join("tables"))
        .expect("the fixtures folder")
        .map(|entry| entry.expect("a fixture file").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 12, "fixtures missing: {paths:?}");
    let mut failures = Vec::new();
    for path in &paths {
        let fixture: Fixture = read(path);
        let table = build_fixture(&fixture);
        assert_eq!(fixture.outputs.len(), 5, "{}", path.display());
        for (name, want) in &fixture.outputs {
            let format: TableFormat = name.parse().expect("a known format");
            let got = table.render(format);
            if &got != want {
                failures.push(format!(
                    "{} ({name}):\n--- prettytable\n{want}\n--- ours\n{got}\n",
                    path.file_name().unwrap_or_default().to_string_lossy()
                ));
            }
        }
        // `print(table)` is the text format.
        assert_eq!(table.to_string(), fixture.outputs["text"]);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[derive(Debug, Deserialize)]
struct StrCase {
    json: String,
    str: String,
}

#[test]
fn python_str_matches_python() {
    let cases: Vec<StrCase> = read(&fixtures().join("python_str.json"));
    assert!(!cases.is_empty());
    for case in cases {
        let value: Value = serde_json::from_str(&case.json).expect("valid JSON");
        assert_eq!(python_str(&value), case.str, "str({})", case.json);
    }
}

#[derive(Debug, Deserialize)]
struct Widths {
    /// `[first, last, width]`: every code point from `first` to `last` has that width alone;
    /// every other one has width 1.
    not_one: Vec<(u32, u32, usize)>,
    /// `[text, width]`.
    strings: Vec<(String, usize)>,
}

#[test]
fn display_width_matches_wcwidth() {
    let widths: Widths = read(&fixtures().join("wcwidth.json"));
    let mut ranges = widths.not_one.iter().peekable();
    let mut wrong = Vec::new();
    let mut buf = [0u8; 4];
    for c in (0..=0x10_FFFF).filter_map(char::from_u32) {
        let cp = u32::from(c);
        while ranges.next_if(|&&(_, last, _)| last < cp).is_some() {}
        let want = match ranges.peek() {
            Some(&&(first, _, width)) if first <= cp => width,
            _ => 1,
        };
        let got = display_width(c.encode_utf8(&mut buf));
        if got != want {
            wrong.push(format!("U+{cp:04X}: wcwidth {want}, ours {got}"));
        }
    }
    for (text, want) in &widths.strings {
        let got = display_width(text);
        if got != *want {
            wrong.push(format!("{text:?}: wcwidth {want}, ours {got}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} differences:\n{}",
        wrong.len(),
        wrong
            .iter()
            .take(50)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

//! [`PrettyTable`]: the tables DB-GPT's `dbgpt trace` commands print, byte for byte.
//!
//! DB-GPT prints them with the Python library prettytable (3.19.0 with DB-GPT 0.8.2, which
//! measures text with wcwidth 0.9.5): `PrettyTable(field_names, title=...)`, `add_row([...])`,
//! then `table.get_formatted_string(out_format=...)` in one of five formats, or
//! `print(table)` for the text one. This module does the same with prettytable's default
//! settings, which are the only ones DB-GPT uses:
//!
//! - [`PrettyTable`] holds field names, an optional title and rows of cells; a cell is a
//!   [`serde_json::Value`] because DB-GPT's cells are whatever Python objects it read from
//!   span JSON (str, None, bool, int, float, dict, list);
//! - [`PrettyTable::render`] writes it as [`TableFormat::Text`], `Html`, `Csv`, `Latex` or
//!   `Json`, exactly as `get_formatted_string` returns it (without the newline `print` adds);
//! - [`PrettyTable::merge_horizontally`] is DB-GPT's `merge_tables_horizontally`;
//! - [`python_str`] is the text a cell shows (Python's `str()`), [`display_width`] the width
//!   prettytable measures it with.
//!
//! ```
//! use serde_json::json;
//! use span_storage::query::{PrettyTable, TableFormat};
//!
//! let mut table = PrettyTable::new(vec!["Key".into(), "Value".into()], Some("Details".into()))?;
//! table.add_row(vec![json!("conv_uid"), json!(null)])?;
//! table.add_row(vec![json!("temperature"), json!(0.5)])?;
//! assert_eq!(
//!     table.render(TableFormat::Text),
//!     "\
//! +---------------------+
//! |       Details       |
//! +-------------+-------+
//! |     Key     | Value |
//! +-------------+-------+
//! |   conv_uid  |  None |
//! | temperature |  0.5  |
//! +-------------+-------+"
//! );
//! assert_eq!(
//!     table.render(TableFormat::Csv),
//!     "Key,Value\r\nconv_uid,None\r\ntemperature,0.5\r\n"
//! );
//! # Ok::<(), span_storage::query::TableError>(())
//! ```

mod escapes;
mod formats;
pub(crate) mod pystr;
mod text;
mod unicode_tables;
mod width;

pub use pystr::python_str;
pub use width::display_width;

use serde_json::Value;
use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

/// The formats of prettytable's `get_formatted_string(out_format=...)`, which are the
/// `--output` choices of `dbgpt trace list` and `dbgpt trace chat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TableFormat {
    /// `text`: the framed table `print(table)` shows.
    #[default]
    Text,
    /// `html`: a `<table>` element.
    Html,
    /// `csv`: comma-separated, `\r\n` line ends.
    Csv,
    /// `latex`: a `tabular` environment.
    Latex,
    /// `json`: an array of the field names and one object per row.
    Json,
}

/// A table format name that is not `text`, `html`, `csv`, `latex` or `json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown table format {0:?}: expected text, html, csv, latex or json")]
pub struct UnknownTableFormat(pub String);

impl FromStr for TableFormat {
    type Err = UnknownTableFormat;

    /// Parses `text`, `html`, `csv`, `latex` or `json` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "html" => Ok(Self::Html),
            "csv" => Ok(Self::Csv),
            "latex" => Ok(Self::Latex),
            "json" => Ok(Self::Json),
            _ => Err(UnknownTableFormat(s.to_owned())),
        }
    }
}

impl fmt::Display for TableFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Text => "text",
            Self::Html => "html",
            Self::Csv => "csv",
            Self::Latex => "latex",
            Self::Json => "json",
        })
    }
}

/// What prettytable refuses with a `ValueError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// Two field names are the same.
    #[error("field names must be unique: {0:?} appears twice")]
    DuplicateFieldName(String),
    /// New field names are not as many as the columns the table already has.
    #[error(
        "field name list has incorrect number of values, (actual) {actual}!={expected} (expected)"
    )]
    FieldCount {
        /// The number of columns.
        expected: usize,
        /// The number of names given.
        actual: usize,
    },
    /// A row does not have a cell for each field.
    #[error("row has incorrect number of values, (actual) {actual}!={expected} (expected)")]
    RowLength {
        /// The number of fields.
        expected: usize,
        /// The number of cells given.
        actual: usize,
    },
}

/// A table as prettytable's `PrettyTable` holds it, with its default settings.
///
/// Built with [`PrettyTable::new`] (`PrettyTable(field_names, title=...)`) or
/// [`PrettyTable::default`] (`PrettyTable()`, no field names yet), filled with
/// [`add_row`](Self::add_row), printed with [`render`](Self::render) or `Display` (the text
/// format, as `print(table)`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrettyTable {
    field_names: Vec<String>,
    title: Option<String>,
    rows: Vec<Vec<Value>>,
}

impl PrettyTable {
    /// `PrettyTable(field_names, title=title)`. An empty title is no title, as in Python.
    ///
    /// # Errors
    ///
    /// [`TableError::DuplicateFieldName`] if two field names are the same.
    pub fn new(field_names: Vec<String>, title: Option<String>) -> Result<Self, TableError> {
        let mut table = Self::default();
        table.set_title(title);
        table.set_field_names(field_names)?;
        Ok(table)
    }

    /// The field names, one per column.
    pub fn field_names(&self) -> &[String] {
        &self.field_names
    }

    /// `table.field_names = names`: names the columns, or renames them.
    ///
    /// # Errors
    ///
    /// As prettytable: [`TableError::FieldCount`] if the table has field names or rows and
    /// `names` are not as many; [`TableError::DuplicateFieldName`] if two names are the same.
    pub fn set_field_names(&mut self, names: Vec<String>) -> Result<(), TableError> {
        let columns = if self.field_names.is_empty() {
            self.rows.first().map(Vec::len)
        } else {
            Some(self.field_names.len())
        };
        if let Some(expected) = columns.filter(|&n| n != names.len()) {
            return Err(TableError::FieldCount {
                expected,
                actual: names.len(),
            });
        }
        let mut seen = HashSet::with_capacity(names.len());
        if let Some(twice) = names.iter().find(|name| !seen.insert(name.as_str())) {
            return Err(TableError::DuplicateFieldName(twice.clone()));
        }
        self.field_names = names;
        Ok(())
    }

    /// The title, if any (never empty).
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// `table.title = title`; an empty title is no title.
    pub fn set_title(&mut self, title: Option<String>) {
        self.title = title.filter(|t| !t.is_empty());
    }

    /// The rows, as added.
    pub fn rows(&self) -> &[Vec<Value>] {
        &self.rows
    }

    /// `table.add_row(row)`. A table without field names gets `Field 1`, `Field 2`, ...
    ///
    /// # Errors
    ///
    /// [`TableError::RowLength`] if the table has field names and `row` is not as long; the
    /// row is not added.
    pub fn add_row(&mut self, row: Vec<Value>) -> Result<(), TableError> {
        if self.field_names.is_empty() {
            let names = (1..=row.len()).map(|n| format!("Field {n}")).collect();
            self.set_field_names(names)?;
        } else if row.len() != self.field_names.len() {
            return Err(TableError::RowLength {
                expected: self.field_names.len(),
                actual: row.len(),
            });
        }
        self.rows.push(row);
        Ok(())
    }

    /// DB-GPT's `merge_tables_horizontally`: the tables side by side in one table without a
    /// title. Each field name gets its table's title in parentheses (`Config Key (webserver)`)
    /// if it has one; row `i` is row `i` of every table, empty strings standing in for a
    /// table with fewer rows. `None` for no tables, as in DB-GPT.
    ///
    /// # Errors
    ///
    /// [`TableError::DuplicateFieldName`] if two of the new field names are the same (two
    /// untitled tables with a field of the same name), as prettytable refuses them.
    pub fn merge_horizontally(tables: &[&PrettyTable]) -> Result<Option<Self>, TableError> {
        if tables.is_empty() {
            return Ok(None);
        }
        let names = tables
            .iter()
            .flat_map(|table| {
                table
                    .field_names
                    .iter()
                    .map(move |name| match &table.title {
                        Some(title) => format!("{name} ({title})"),
                        None => name.clone(),
                    })
            })
            .collect();
        let mut merged = Self::default();
        merged.set_field_names(names)?;
        let height = tables.iter().map(|t| t.rows.len()).max().unwrap_or(0);
        for i in 0..height {
            let mut row = Vec::with_capacity(merged.field_names.len());
            for table in tables {
                match table.rows.get(i) {
                    Some(cells) => row.extend(cells.iter().cloned()),
                    None => row.extend(std::iter::repeat_n(
                        Value::String(String::new()),
                        table.field_names.len(),
                    )),
                }
            }
            merged.add_row(row)?;
        }
        Ok(Some(merged))
    }

    /// What `table.get_formatted_string(out_format=format)` returns for this table (with
    /// `ensure_ascii=False` for JSON, as DB-GPT passes it); `print` adds a newline after it.
    ///
    /// A cell shows as [`python_str`] of its value with tabs expanded to 8 columns in every
    /// format but JSON, which writes the values themselves.
    ///
    /// - `Text`: a frame of `+`, `-` and `|`; the title, if any, centred in a frame over the
    ///   table; field names and cells centred with a space of padding each side; a column as
    ///   wide as its widest line (see [`display_width`]), all of them widened in proportion
    ///   if the title is wider; a cell with line breaks takes several lines. No newline at
    ///   the end.
    /// - `Html`: `<table>`, the title as `<caption>`, `<thead>` and `<tbody>`, text escaped,
    ///   line breaks as `<br>`; no newline at the end.
    /// - `Csv`: the field names and the cells, minimally quoted, each record ended by `\r\n`;
    ///   no title.
    /// - `Latex`: a `tabular` of centred columns, lines joined by `\r\n`, nothing escaped; no
    ///   title, no newline at the end.
    /// - `Json`: `[field names, {field: value, ...} per row]`, indented by 4, keys sorted;
    ///   no title, no newline at the end.
    pub fn render(&self, format: TableFormat) -> String {
        let title = self.title.as_deref();
        match format {
            TableFormat::Text => text::render(&self.field_names, title, &self.cell_texts()),
            TableFormat::Html => formats::html(&self.field_names, title, &self.cell_texts()),
            TableFormat::Csv => formats::csv(&self.field_names, &self.cell_texts()),
            TableFormat::Latex => formats::latex(&self.field_names, &self.cell_texts()),
            TableFormat::Json => formats::json(&self.field_names, &self.rows),
        }
    }

    /// The text of every cell, as prettytable formats it for all formats but JSON:
    /// `str(value).expandtabs()`.
    fn cell_texts(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|value| pystr::expand_tabs(&python_str(value)).into_owned())
                    .collect()
            })
            .collect()
    }
}

impl fmt::Display for PrettyTable {
    /// The text format, as `print(table)` shows it (without the final newline).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(TableFormat::Text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn refuses_what_prettytable_refuses() {
        assert_eq!(
            PrettyTable::new(names(&["a", "a"]), None),
            Err(TableError::DuplicateFieldName("a".into()))
        );
        let mut table = PrettyTable::new(names(&["a", "b"]), None).unwrap_or_default();
        assert_eq!(
            table.add_row(vec![json!(1)]),
            Err(TableError::RowLength {
                expected: 2,
                actual: 1
            })
        );
        assert_eq!(
            table.set_field_names(names(&["x"])),
            Err(TableError::FieldCount {
                expected: 2,
                actual: 1
            })
        );
        assert!(table.rows().is_empty());
        assert_eq!(table.field_names(), names(&["a", "b"]));
    }

    #[test]
    fn rows_without_field_names_name_them() {
        let mut table = PrettyTable::default();
        assert_eq!(table.add_row(vec![json!(1), json!(2)]), Ok(()));
        assert_eq!(table.field_names(), names(&["Field 1", "Field 2"]));
    }

    #[test]
    fn an_empty_title_is_no_title() {
        let table = PrettyTable::new(names(&["a"]), Some(String::new())).unwrap_or_default();
        assert_eq!(table.title(), None);
        assert_eq!(table.to_string(), "+---+\n| a |\n+---+\n+---+");
    }

    #[test]
    fn merging_no_tables_is_none() {
        assert_eq!(PrettyTable::merge_horizontally(&[]), Ok(None));
        let a = PrettyTable::new(names(&["k"]), None).unwrap_or_default();
        assert_eq!(
            PrettyTable::merge_horizontally(&[&a, &a]),
            Err(TableError::DuplicateFieldName("k".into()))
        );
    }

    #[test]
    fn formats_parse_and_print() {
        for format in [
            TableFormat::Text,
            TableFormat::Html,
            TableFormat::Csv,
            TableFormat::Latex,
            TableFormat::Json,
        ] {
            assert_eq!(format.to_string().parse(), Ok(format));
        }
        assert_eq!(" JSON ".parse(), Ok(TableFormat::Json));
        assert_eq!(
            "xml".parse::<TableFormat>(),
            Err(UnknownTableFormat("xml".into()))
        );
    }
}

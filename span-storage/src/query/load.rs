//! Loading span files (files, folders, `*` patterns) and merging start and end records.

use crate::{BadLine, Span, SpanStorageError, read_span_file};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Everything [`load_spans`] read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadedSpans {
    /// One span per span id, start and end records merged (see [`merge_records`]), in the
    /// order their first record was read.
    pub spans: Vec<Span>,
    /// The lines that are not spans, with file and line number.
    pub bad_lines: Vec<BadLine>,
    /// The files read, in the order read.
    pub files: Vec<PathBuf>,
    /// The files that ended in a partial line (skipped, as a writer cut off mid-line leaves).
    pub torn_files: Vec<PathBuf>,
    /// How many span records were read, before merging.
    pub records: usize,
}

/// Reads span files and merges their records into spans.
///
/// Each path may be:
/// - a file, read whatever its name;
/// - a folder: every `*.jsonl` file directly in it (not in subfolders), by name, which
///   includes the rolled `<stem>_<YYYY-MM-DD>.jsonl` files;
/// - a pattern with `*` or `?` in its last component, as DB-GPT's default
///   `logs/dbgpt*.jsonl`: the matching files of that folder, by name (no match, or no such
///   folder, is no file, as with DB-GPT's `glob`).
///
/// A file named twice is read once. Bad lines are collected, not errors; a path that does not
/// exist or cannot be read is an error.
pub fn load_spans(paths: &[PathBuf]) -> Result<LoadedSpans, SpanStorageError> {
    let mut files = Vec::new();
    for path in paths {
        expand(path, &mut files)?;
    }
    let mut seen = HashSet::new();
    let mut loaded = LoadedSpans::default();
    let mut records = Vec::new();
    for file in files {
        let key = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        if !seen.insert(key) {
            continue;
        }
        let contents = read_span_file(&file)?;
        loaded.records += contents.spans.len();
        records.extend(contents.spans);
        loaded.bad_lines.extend(contents.bad_lines);
        if contents.torn_last_line {
            loaded.torn_files.push(file.clone());
        }
        loaded.files.push(file);
    }
    loaded.spans = merge_records(records);
    Ok(loaded)
}

pub(crate) fn expand(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), SpanStorageError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.contains(['*', '?']) && !path.exists() {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if dir.is_dir() {
            out.extend(list_dir(dir, |n| wildcard_match(name, n))?);
        }
        return Ok(());
    }
    let meta = std::fs::metadata(path).map_err(|e| SpanStorageError::io("reading", path, e))?;
    if meta.is_dir() {
        out.extend(list_dir(path, |n| n.ends_with(".jsonl"))?);
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// The files directly in `dir` whose names pass `keep`, sorted by name.
fn list_dir(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, SpanStorageError> {
    let entries = std::fs::read_dir(dir).map_err(|e| SpanStorageError::io("listing", dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| SpanStorageError::io("listing", dir, e))?;
        let path = entry.path();
        let name_ok = entry.file_name().to_str().is_some_and(&keep);
        if name_ok && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Shell-style matching of a file name: `*` is any run of characters, `?` one character.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Merges the records of each span (same trace id and span id) into one span, in the order of
/// each span's first record.
///
/// The start record (the one without `end_time`) gives the type, names, parent and
/// `start_time`; the end record gives `end_time`, and its metadata is laid over the start
/// record's (DB-GPT may replace the metadata when a span ends: both sets of keys are kept, the
/// end record's value wins). A span with only an end record is that record; one with only a
/// start record stays open. Merging merged spans changes nothing.
pub fn merge_records(records: impl IntoIterator<Item = Span>) -> Vec<Span> {
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    let mut merged: Vec<(Span, bool)> = Vec::new();
    for record in records {
        let key = (record.trace_id.clone(), record.span_id.clone());
        let Some(&at) = index.get(&key) else {
            index.insert(key, merged.len());
            let is_start = record.is_start_record();
            merged.push((record, is_start));
            continue;
        };
        let (span, has_start) = &mut merged[at];
        merge_record(span, has_start, record);
    }
    merged.into_iter().map(|(span, _)| span).collect()
}

/// Merges one more record of `span` into it, as [`merge_records`] does; `has_start` says
/// whether the start record is in already.
pub(crate) fn merge_record(span: &mut Span, has_start: &mut bool, record: Span) {
    if record.is_start_record() {
        if !*has_start {
            // The end record came first: the start record's fields win, the end stays.
            let end = std::mem::replace(span, record);
            lay_end_over(span, end);
            *has_start = true;
        }
    } else {
        lay_end_over(span, record);
    }
}

fn lay_end_over(span: &mut Span, end: Span) {
    span.end_time = end.end_time.or(span.end_time);
    if let Some(end_metadata) = end.metadata {
        let metadata = span.metadata.get_or_insert_with(Default::default);
        metadata.extend(end_metadata);
    }
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards() {
        assert!(wildcard_match(
            "dbgpt*.jsonl",
            "dbgpt_webserver_tracer.jsonl"
        ));
        assert!(wildcard_match("dbgpt*.jsonl", "dbgpt.jsonl"));
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(wildcard_match("*a*b", "xxaxxb"));
        assert!(!wildcard_match("dbgpt*.jsonl", "dbgpt_x.jsonl.bak"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(!wildcard_match("other*.jsonl", "dbgpt.jsonl"));
    }
}

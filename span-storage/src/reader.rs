//! Reading span files, ours and DB-GPT's.

use crate::{Span, SpanStorageError};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// A line of a span file that is not a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// The file it is in.
    pub path: PathBuf,
    /// Its line number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

/// Everything read from one span file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanFileContents {
    /// The spans, in file order.
    pub spans: Vec<Span>,
    /// The lines that are not spans (a torn last line is not counted here).
    pub bad_lines: Vec<BadLine>,
    /// Whether the file ends in a partial line, as left by a writer that was cut off; it is
    /// skipped.
    pub torn_last_line: bool,
}

/// Reads a whole span file. Fails only if the file cannot be opened; bad lines are reported in
/// the result, not as an error.
pub fn read_span_file(path: impl AsRef<Path>) -> Result<SpanFileContents, SpanStorageError> {
    let mut reader = SpanFileReader::open(path)?;
    let mut contents = SpanFileContents::default();
    for item in &mut reader {
        match item {
            Ok(span) => contents.spans.push(span),
            Err(bad) => contents.bad_lines.push(bad),
        }
    }
    contents.torn_last_line = reader.torn_last_line();
    Ok(contents)
}

/// An iterator over the spans of a JSON-lines source, yielding a [`BadLine`] for each line
/// that is not a span and skipping blank lines and a torn last line.
#[derive(Debug)]
pub struct SpanFileReader<R> {
    reader: R,
    path: PathBuf,
    line: usize,
    buf: Vec<u8>,
    torn: bool,
    done: bool,
}

impl SpanFileReader<BufReader<File>> {
    /// Opens a file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SpanStorageError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| SpanStorageError::io("opening", path, e))?;
        Ok(Self::new(BufReader::with_capacity(256 * 1024, file), path))
    }
}

impl<R: BufRead> SpanFileReader<R> {
    /// Reads from `reader`; `path` is only used to name the source in [`BadLine`]s.
    pub fn new(reader: R, path: impl Into<PathBuf>) -> Self {
        Self {
            reader,
            path: path.into(),
            line: 0,
            buf: Vec::with_capacity(1024),
            torn: false,
            done: false,
        }
    }

    /// Whether the source ended in a partial line that was skipped (known once the iterator
    /// is exhausted).
    pub fn torn_last_line(&self) -> bool {
        self.torn
    }

    fn bad(&self, message: impl Into<String>) -> BadLine {
        BadLine {
            path: self.path.clone(),
            line: self.line,
            message: message.into(),
        }
    }
}

impl<R: BufRead> Iterator for SpanFileReader<R> {
    type Item = Result<Span, BadLine>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            self.line += 1;
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => self.done = true,
                Ok(_) => {
                    let complete = self.buf.last() == Some(&b'\n');
                    let text = match std::str::from_utf8(&self.buf) {
                        Ok(text) => text.trim(),
                        Err(_) if !complete => {
                            self.torn = true;
                            self.done = true;
                            continue;
                        }
                        Err(e) => return Some(Err(self.bad(format!("not UTF-8: {e}")))),
                    };
                    if text.is_empty() {
                        continue;
                    }
                    match Span::from_json_line(text) {
                        Ok(span) => return Some(Ok(span)),
                        // A last line without its newline that does not parse was cut off
                        // mid-write: expected after a crash, not an error.
                        Err(_) if !complete => {
                            self.torn = true;
                            self.done = true;
                        }
                        Err(e) => return Some(Err(self.bad(e.to_string()))),
                    }
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(self.bad(format!("read error: {e}"))));
                }
            }
        }
        None
    }
}

//! Reading span files incrementally: each file is read from where the last refresh stopped,
//! into a bounded window of recent spans, so a traces view costs the bytes appended since its
//! last call rather than every file every time.

use super::load::expand;
use super::window::{SpanWindow, WindowLimits};
use crate::{Span, SpanStorageError};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What one [`SpanTail::refresh`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TailRefresh {
    /// The span files found.
    pub files: usize,
    /// The bytes read (whole lines only).
    pub bytes_read: u64,
    /// The span records read.
    pub records: u64,
    /// The lines that were not spans.
    pub bad_lines: u64,
}

/// Where reading a file stopped.
#[derive(Debug, Clone)]
struct Cursor {
    /// Just after the last whole line read.
    offset: u64,
}

/// A file's identity across renames: the daily rollover renames the current file, which must
/// not make it look new (and be read again).
#[cfg(unix)]
type FileId = (u64, u64);
#[cfg(not(unix))]
type FileId = PathBuf;

#[cfg(unix)]
fn file_id(_path: &Path, meta: &std::fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn file_id(path: &Path, _meta: &std::fs::Metadata) -> FileId {
    path.to_path_buf()
}

/// Tails the span files of a folder, a `*` pattern or one file (as [`load_spans`] names
/// them), keeping a bounded window of the most recent spans.
///
/// [`refresh`](Self::refresh) lists the files again and reads only what was appended to each
/// since the previous refresh:
/// - a file is known by its identity (device and inode), so the rollover's rename continues
///   where reading stopped instead of reading the day again;
/// - a file shorter than where reading stopped, or whose line before that point is no longer
///   a line end, was truncated or rewritten: it is read again from its start (records already
///   in the window merge into their spans, not twice);
/// - files seen for the first time are read from near their end, `max_bytes` in all, given to
///   the newest files (by modification time) first (older spans would not fit in the window
///   anyway); then they are read oldest first, so that the window keeps the newest spans;
/// - a partial last line is left for the next refresh, when its writer has finished it;
/// - a file that is gone is forgotten; its spans stay in the window until evicted.
///
/// The window merges start and end records as [`merge_records`] does and keeps spans in the
/// order their first record was read, evicting the oldest beyond [`WindowLimits`]. For the
/// spans in the window, queries answer as they would over [`load_spans`]'s result.
///
/// [`load_spans`]: super::load_spans
/// [`merge_records`]: super::merge_records
pub struct SpanTail {
    source: PathBuf,
    cursors: HashMap<FileId, Cursor>,
    window: SpanWindow,
    buf: Vec<u8>,
}

impl std::fmt::Debug for SpanTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanTail")
            .field("source", &self.source)
            .field("files", &self.cursors.len())
            .field("spans", &self.window.len())
            .finish_non_exhaustive()
    }
}

impl SpanTail {
    /// A tail of `source` (a folder, a pattern or a file); nothing is read until
    /// [`refresh`](Self::refresh).
    pub fn new(source: impl Into<PathBuf>, limits: WindowLimits) -> Self {
        Self {
            source: source.into(),
            cursors: HashMap::new(),
            window: SpanWindow::new(limits),
            buf: Vec::with_capacity(4096),
        }
    }

    /// Reads what was appended to the files since the last refresh. A source that does not
    /// exist (yet) has no files; a file that cannot be read is an error.
    pub fn refresh(&mut self) -> Result<TailRefresh, SpanStorageError> {
        let mut stats = TailRefresh::default();
        let mut paths = Vec::new();
        if self.source.exists() || has_wildcard(&self.source) {
            expand(&self.source, &mut paths)?;
        }
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            match std::fs::metadata(&path) {
                Ok(meta) => files.push((file_id(&path, &meta), meta, path)),
                // Removed between listing and now (retention, rollover): no file.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(SpanStorageError::io("reading metadata of", &path, e)),
            }
        }
        // Oldest first, so that the window evicts the oldest spans.
        files.sort_by(|a, b| {
            let age = |m: &std::fs::Metadata| m.modified().ok();
            age(&a.1).cmp(&age(&b.1)).then_with(|| a.2.cmp(&b.2))
        });
        // Files seen for the first time are read from near their end, the newest first, for
        // `max_bytes` in all: older spans would be evicted from the window anyway.
        let mut budget = self.window.limits().max_bytes as u64;
        let mut first_offsets = vec![0; files.len()];
        for (at, (id, meta, _)) in files.iter().enumerate().rev() {
            if !self.cursors.contains_key(id) {
                let read = meta.len().min(budget);
                budget -= read;
                first_offsets[at] = meta.len() - read;
            }
        }
        let mut seen = HashMap::with_capacity(files.len());
        for ((id, meta, path), first_offset) in files.into_iter().zip(first_offsets) {
            if seen.contains_key(&id) {
                continue; // the same file named twice
            }
            let len = meta.len();
            let (mut cursor, known) = match self.cursors.remove(&id) {
                Some(cursor) if cursor.offset <= len => (cursor, true),
                Some(_) => (Cursor { offset: 0 }, true),
                None => (
                    Cursor {
                        offset: first_offset.min(len),
                    },
                    false,
                ),
            };
            let mut result = self.read_file(&path, &mut cursor, len, known, &mut stats);
            if let Ok(false) = result {
                // The line before the cursor is gone: the file was rewritten. Start over.
                cursor.offset = 0;
                result = self.read_file(&path, &mut cursor, len, true, &mut stats);
            }
            match result {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(SpanStorageError::io("reading", &path, e)),
            }
            stats.files += 1;
            seen.insert(id, cursor);
        }
        // Files not seen now are gone: forget them.
        self.cursors = seen;
        Ok(stats)
    }

    /// Reads the whole lines of `path` between the cursor and `len`. `Ok(false)` when the
    /// cursor of a `known` file no longer follows a newline: the file was rewritten since.
    fn read_file(
        &mut self,
        path: &Path,
        cursor: &mut Cursor,
        len: u64,
        known: bool,
        stats: &mut TailRefresh,
    ) -> io::Result<bool> {
        if cursor.offset >= len {
            return Ok(true);
        }
        let mut file = File::open(path)?;
        // Starting mid-file (a new file read from near its end): skip to the next line.
        let mut skip_partial = false;
        if cursor.offset > 0 {
            file.seek(SeekFrom::Start(cursor.offset - 1))?;
            skip_partial = true;
        }
        let start = if skip_partial {
            cursor.offset - 1
        } else {
            cursor.offset
        };
        let mut reader = BufReader::with_capacity(256 * 1024, file.take(len - start));
        let mut at = start;
        if skip_partial {
            // The byte before the cursor: a newline when the cursor is at a line start.
            self.buf.clear();
            let n = reader.read_until(b'\n', &mut self.buf)?;
            if known && n != 1 {
                return Ok(false);
            }
            if self.buf.last() != Some(&b'\n') {
                return Ok(true); // no whole line after the cursor yet
            }
            at += n as u64;
            cursor.offset = at;
        }
        loop {
            self.buf.clear();
            let n = reader.read_until(b'\n', &mut self.buf)?;
            if n == 0 || self.buf.last() != Some(&b'\n') {
                break; // the end, or a partial line its writer has not finished
            }
            at += n as u64;
            cursor.offset = at;
            stats.bytes_read += n as u64;
            let Ok(text) = std::str::from_utf8(&self.buf) else {
                stats.bad_lines += 1;
                continue;
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            match Span::from_json_line(text) {
                Ok(record) => {
                    stats.records += 1;
                    self.window.insert(record);
                }
                Err(_) => stats.bad_lines += 1,
            }
        }
        Ok(true)
    }

    /// A copy of the spans in the window, in the order their first record was read.
    pub fn spans(&self) -> Vec<Span> {
        self.window
            .shared()
            .into_iter()
            .map(Arc::unwrap_or_clone)
            .collect()
    }

    /// The spans in the window, in the order their first record was read, shared with it: a
    /// snapshot that costs a pointer a span, and that later refreshes leave as it is.
    pub fn shared_spans(&self) -> Vec<Arc<Span>> {
        self.window.shared()
    }

    /// How many spans the window holds.
    pub fn len(&self) -> usize {
        self.window.len()
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.window.len() == 0
    }

    /// The bytes the window's spans are counted at (see [`WindowLimits::max_bytes`]).
    pub fn window_bytes(&self) -> usize {
        self.window.bytes()
    }

    /// How many spans were evicted to keep the window within its bounds.
    pub fn evicted(&self) -> u64 {
        self.window.evicted()
    }
}

fn has_wildcard(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains(['*', '?']))
}

//! JSON-lines span files with a daily rollover, as DB-GPT writes them.

mod repair;

use crate::clock::{Clock, DayBoundary, SystemClock};
use crate::{Span, SpanStorage, SpanStorageError};
use chrono::{DateTime, NaiveDate, Utc};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// The configuration of a [`FileSpanStorage`].
#[derive(Clone)]
#[non_exhaustive]
pub struct FileStorageConfig {
    /// The file spans are appended to. Missing folders are created.
    pub path: PathBuf,
    /// Which midnight starts a new file. Default: [`DayBoundary::Local`], like DB-GPT.
    pub day_boundary: DayBoundary,
    /// Keep only this many rolled files (the newest); `None` (the default) keeps them all.
    pub retention: Option<usize>,
    /// The clock that says which day it is. Default: [`SystemClock`].
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for FileStorageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStorageConfig")
            .field("path", &self.path)
            .field("day_boundary", &self.day_boundary)
            .field("retention", &self.retention)
            .field("clock", &self.clock)
            .finish()
    }
}

impl FileStorageConfig {
    /// Defaults for a file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            day_boundary: DayBoundary::default(),
            retention: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Sets the day boundary.
    pub fn day_boundary(mut self, day_boundary: DayBoundary) -> Self {
        self.day_boundary = day_boundary;
        self
    }

    /// Keeps only the `newest` rolled files.
    pub fn retention(mut self, newest: usize) -> Self {
        self.retention = Some(newest);
        self
    }

    /// Sets the clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

/// Appends spans to a JSON-lines file, one line per span, in DB-GPT's format.
///
/// On the first write of a new day the current file is renamed to
/// `<stem>_<YYYY-MM-DD><ext>` (the day it was written on; `<ext>` is `.log` when the path has
/// none) and a new file is started, exactly as DB-GPT names them. Beyond DB-GPT:
/// - a file left over from an earlier day (the process was down at midnight) is rolled on the
///   first write too, going by its modification time;
/// - if the dated file exists already, the lines are appended to it rather than replacing it;
/// - a batch is one `write` call on a file kept open, not one open per batch (a file moved
///   away by another program keeps receiving lines until the next rollover or write error
///   reopens the path);
/// - a failed rollover is logged and the lines go on to the current file;
/// - a batch whose write fails (a full disk) is taken back out of the file, so the file only
///   ever holds whole lines and the next batch starts on a fresh line (see `repair`).
pub struct FileSpanStorage {
    config: FileStorageConfig,
    inner: Mutex<Inner>,
}

struct Inner {
    file: Option<File>,
    /// The day the lines in the current file belong to.
    day: NaiveDate,
    buf: Vec<u8>,
    /// The last failed write left a partial line that could not be cut away.
    mid_line: bool,
}

impl fmt::Debug for FileSpanStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSpanStorage")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl FileSpanStorage {
    /// A storage writing to `path` with the default configuration.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, SpanStorageError> {
        Self::new(FileStorageConfig::new(path))
    }

    /// A storage with the given configuration. Creates missing folders and the file.
    pub fn new(config: FileStorageConfig) -> Result<Self, SpanStorageError> {
        let today = config.day_boundary.day_of(config.clock.now());
        let file = open_append(&config.path)?;
        // A non-empty file last written on an earlier day belongs to that day.
        let meta = file
            .metadata()
            .map_err(|e| SpanStorageError::io("reading metadata of", &config.path, e))?;
        let day = match meta.modified() {
            Ok(modified) if meta.len() > 0 => {
                let day = config.day_boundary.day_of(DateTime::<Utc>::from(modified));
                day.min(today)
            }
            _ => today,
        };
        Ok(Self {
            config,
            inner: Mutex::new(Inner {
                file: Some(file),
                day,
                buf: Vec::with_capacity(64 * 1024),
                mid_line: false,
            }),
        })
    }

    /// The path of the current file.
    pub fn path(&self) -> &Path {
        &self.config.path
    }

    /// The name a file of `day` is rolled to: `<stem>_<YYYY-MM-DD><ext>`.
    pub fn dated_path(&self, day: NaiveDate) -> PathBuf {
        let (stem, ext) = stem_and_ext(&self.config.path);
        self.config
            .path
            .with_file_name(format!("{stem}_{}{ext}", day.format("%Y-%m-%d")))
    }

    fn write_batch(&self, spans: &[Span]) -> Result<(), SpanStorageError> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let today = self.config.day_boundary.day_of(self.config.clock.now());
        if today != inner.day {
            inner.file = None;
            if let Err(e) = self.roll_over(inner.day) {
                // Keep writing to the current file: a missed rollover loses no span, a failed
                // batch would. One warning a day, not one a batch.
                tracing::warn!(error = %e, "span file rollover failed; writing on to the current file");
            }
            inner.day = today;
        }
        let Inner {
            file,
            buf,
            mid_line,
            ..
        } = &mut *inner;
        buf.clear();
        for span in spans {
            span.write_json_line(buf)?;
        }
        let path = &self.config.path;
        let f = match file {
            Some(f) => f,
            None => file.insert(open_append(path)?),
        };
        if let Err(e) = repair::append_whole_lines(f, buf, mid_line) {
            // Reopen on the next batch: the file may have been removed or the disk remounted.
            *file = None;
            return Err(SpanStorageError::io("writing", path, e));
        }
        if buf.capacity() > 4 << 20 {
            // Do not keep a huge buffer around after one huge batch.
            *buf = Vec::with_capacity(64 * 1024);
        }
        Ok(())
    }

    /// Moves the current file to the dated name of `day`.
    fn roll_over(&self, day: NaiveDate) -> Result<(), SpanStorageError> {
        let path = &self.config.path;
        let len = match fs::metadata(path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(SpanStorageError::io("reading metadata of", path, e)),
        };
        if len == 0 {
            return Ok(());
        }
        let dated = self.dated_path(day);
        if dated.exists() {
            // Never replace lines already rolled (DB-GPT's rename would): append to them.
            let mut from =
                File::open(path).map_err(|e| SpanStorageError::io("opening", path, e))?;
            let mut to = open_append(&dated)?;
            io::copy(&mut from, &mut to)
                .map_err(|e| SpanStorageError::io("appending to", &dated, e))?;
            fs::remove_file(path).map_err(|e| SpanStorageError::io("removing", path, e))?;
        } else {
            fs::rename(path, &dated).map_err(|e| SpanStorageError::io("renaming", path, e))?;
        }
        if let Some(keep) = self.config.retention {
            self.apply_retention(keep);
        }
        Ok(())
    }

    /// Every rolled file of this storage, oldest first.
    pub fn rolled_files(&self) -> Vec<(NaiveDate, PathBuf)> {
        let (stem, ext) = stem_and_ext(&self.config.path);
        let dir = match self.config.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let prefix = format!("{stem}_");
        let mut found = Vec::new();
        let Ok(entries) = fs::read_dir(&dir) else {
            return found;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(rest) = name
                .strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix(&ext))
            else {
                continue;
            };
            if let Ok(day) = NaiveDate::parse_from_str(rest, "%Y-%m-%d") {
                if rest.len() == 10 {
                    found.push((day, entry.path()));
                }
            }
        }
        found.sort();
        found
    }

    fn apply_retention(&self, keep: usize) {
        let rolled = self.rolled_files();
        let excess = rolled.len().saturating_sub(keep);
        for (_, path) in rolled.into_iter().take(excess) {
            if let Err(e) = fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "removing an old span file failed");
            }
        }
    }
}

impl SpanStorage for FileSpanStorage {
    fn append_span(&self, span: &Span) -> Result<(), SpanStorageError> {
        self.write_batch(std::slice::from_ref(span))
    }

    fn append_spans(&self, spans: &[Span]) -> Result<(), SpanStorageError> {
        if spans.is_empty() {
            return Ok(());
        }
        self.write_batch(spans)
    }
}

/// DB-GPT's `os.path.splitext`, with `.log` when there is no extension.
fn stem_and_ext(path: &Path) -> (String, String) {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = match path.extension() {
        Some(ext) => format!(".{}", ext.to_string_lossy()),
        None => ".log".to_owned(),
    };
    (stem, ext)
}

fn open_append(path: &Path) -> Result<File, SpanStorageError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| SpanStorageError::io("creating folder", dir, e))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| SpanStorageError::io("opening", path, e))
}

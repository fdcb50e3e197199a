//! The one error type of this crate.
//!
//! Error policy: every fallible public function returns [`SpanStorageError`]. Errors carry the
//! path or the operation that failed so that a log line is enough to act on. Nothing in this
//! crate panics on bad input; a bad line in a span file is data (see [`crate::BadLine`]), not
//! an error.

use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong while storing, exporting or reading spans.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpanStorageError {
    /// An I/O operation on a file or folder failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("opening", "writing", "renaming", ...).
        op: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A span could not be turned into JSON.
    #[error("serialising a span: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The container has been shut down (or its flush thread has gone) and accepts no more work.
    #[error("the span container is shut down")]
    Closed,
    /// A flush or shutdown did not complete within its time limit.
    #[error("the flush thread did not finish within {0:?}")]
    Timeout(Duration),
    /// An exporter (such as the OTLP one) could not deliver spans.
    #[error("exporting spans: {0}")]
    Export(String),
    /// A storage failed to store spans queued before a flush or shutdown (since the previous
    /// one): the caller learns that not everything it traced was kept.
    #[error("{spans} span(s) were not stored by every storage; last error: {last_error}")]
    NotStored {
        /// How many spans at least one storage failed to store.
        spans: u64,
        /// The last storage error seen, as text.
        last_error: String,
    },
    /// A storage panicked while being handed a batch.
    #[error("a span storage panicked: {0}")]
    Panicked(String),
}

impl SpanStorageError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

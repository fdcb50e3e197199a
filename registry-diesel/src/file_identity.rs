//! Which file a SQLite storage opened, so that a database file deleted or replaced under a
//! running server is noticed instead of written to.
//!
//! An open SQLite connection keeps writing to the file it opened even after that file is
//! unlinked or renamed over: every write is acknowledged and then lost at the next start. The
//! storage remembers the device and inode the path named when it connected and compares them
//! before each statement (one `stat`); a mismatch is `StorageError::Unavailable`.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use registry_core::StorageError;

/// A database file's path and the device and inode it named when the storage connected.
#[derive(Debug)]
pub(crate) struct FileIdentity {
    path: PathBuf,
    device: u64,
    inode: u64,
}

impl FileIdentity {
    /// The identity of the file a SQLite URL names now; `None` for an in-memory database or a
    /// `file:` URI (whose path and options this crate does not parse).
    pub(crate) fn of_url(url: &str) -> Option<Self> {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        if path.starts_with("file:") || path.is_empty() || path == ":memory:" {
            return None;
        }
        let metadata = std::fs::metadata(path).ok()?;
        Some(Self {
            path: PathBuf::from(path),
            device: metadata.dev(),
            inode: metadata.ino(),
        })
    }

    /// `Ok` while the path still names the file the storage opened.
    pub(crate) fn check(&self) -> Result<(), StorageError> {
        match std::fs::metadata(&self.path) {
            Ok(now) if now.dev() == self.device && now.ino() == self.inode => Ok(()),
            Ok(_) => Err(StorageError::Unavailable(format!(
                "the database file {} was replaced since it was opened; restart to use the new file",
                self.path.display()
            ))),
            Err(error) => Err(StorageError::Unavailable(format!(
                "the database file {} is gone since it was opened: {error}",
                self.path.display()
            ))),
        }
    }
}

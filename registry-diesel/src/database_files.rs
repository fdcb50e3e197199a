//! The files of a SQLite database a storage opened, watched so that a fault of the file system
//! becomes an "unavailable" answer instead of lost writes or a dead process.
//!
//! Two faults are caught before each statement:
//!
//! * The database file was deleted or replaced. An open SQLite connection keeps writing to the
//!   file it opened even after that file is unlinked or renamed over: every write is
//!   acknowledged and then lost at the next start. The storage remembers the device and inode
//!   the path named when it connected and compares them (one `stat`).
//! * The WAL index (`-shm`) can no longer be written (made immutable). SQLite keeps that file
//!   memory-mapped and writes it on every transaction, reads included; writing to a mapped
//!   page of an immutable file raises SIGBUS, which kills the process. Its attributes are read
//!   (one `ioctl`) and an immutable index stops every statement, and the checkpoint thread,
//!   before SQLite touches it. A change between that check and SQLite's write can still fault:
//!   only a WAL index in heap memory would close that window, and SQLite keeps it there only
//!   in exclusive locking mode, which shuts out the pool's other connections, the checkpoint
//!   connection and every other process (a DB-GPT controller sharing the file).

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use registry_core::StorageError;

use crate::backend::sqlite_file;

/// A database file's path, the device and inode it named when the storage connected, and its
/// WAL index.
#[derive(Debug)]
pub(crate) struct DatabaseFiles {
    path: PathBuf,
    device: u64,
    inode: u64,
    /// The `-shm` file SQLite maps, opened read-only to read its attributes.
    wal_index: Option<File>,
}

impl DatabaseFiles {
    /// The files a SQLite URL names now, once a connection has put the database in WAL mode;
    /// `None` for an in-memory database or a `file:` URI (whose path and options this crate
    /// does not parse).
    pub(crate) fn of_url(url: &str) -> Option<Self> {
        let path = sqlite_file(url)?;
        let metadata = std::fs::metadata(path).ok()?;
        let mut wal_index = path.as_os_str().to_owned();
        wal_index.push("-shm");
        Some(Self {
            path: path.to_path_buf(),
            device: metadata.dev(),
            inode: metadata.ino(),
            wal_index: File::open(wal_index).ok(),
        })
    }

    /// `Ok` while the path still names the file the storage opened and the WAL index can be
    /// written; else [`StorageError::Unavailable`].
    pub(crate) fn check(&self) -> Result<(), StorageError> {
        if !self.wal_index_writable() {
            return Err(StorageError::Unavailable(format!(
                "the database file {}-shm is immutable; no statement runs until it is writable",
                self.path.display()
            )));
        }
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

    /// Whether SQLite may write its mapped WAL index without faulting. A file system without
    /// attributes (tmpfs) cannot make it immutable.
    pub(crate) fn wal_index_writable(&self) -> bool {
        use rustix::fs::{IFlags, ioctl_getflags};
        self.wal_index.as_ref().is_none_or(|file| {
            ioctl_getflags(file).map_or(true, |flags| !flags.contains(IFlags::IMMUTABLE))
        })
    }
}

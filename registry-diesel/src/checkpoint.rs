//! SQLite's write-ahead log, checkpointed off the request path.
//!
//! In WAL mode every commit appends pages to the log, and a checkpoint copies them back into
//! the database file, with a disk flush of the log before and of the database after. SQLite
//! runs that checkpoint inside the commit that fills the log past a threshold, so one
//! heartbeat in a thousand stalls every writer for two disk flushes: that stall was the tail
//! of a heartbeat's latency. Here a thread of its own, on a connection of its own, runs
//! passive checkpoints (which never block writers) every few milliseconds, so the flushes
//! happen beside the writers. A writer still checkpoints once the log reaches
//! [`WRITER_CHECKPOINT_PAGES`], which keeps the log near that size if this thread falls
//! behind; it then finds little left to copy, and a writer's checkpoint is what lets the next
//! commit start the log again from its beginning.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};

use crate::database_files::DatabaseFiles;

/// The log size, in pages, at which a committing writer checkpoints (SQLite's default is
/// 1,000). A full checkpoint is what lets the log start again from its beginning, so this
/// also sets the log file's size: about 16 MiB at SQLite's 4 KiB pages.
pub(crate) const WRITER_CHECKPOINT_PAGES: u32 = 4_000;

/// Pause between two passive checkpoints. One with nothing to copy costs a few reads.
const PERIOD: Duration = Duration::from_millis(5);

/// A thread that checkpoints one SQLite database until it is dropped.
pub(crate) struct Checkpointer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer").finish_non_exhaustive()
    }
}

impl Checkpointer {
    /// Opens a connection to the database file at `url` and starts checkpointing it, each time
    /// `files` (when known) say the database can be written.
    pub(crate) fn start(
        url: &str,
        files: Option<Arc<DatabaseFiles>>,
    ) -> Result<Self, diesel::ConnectionError> {
        let mut conn = SqliteConnection::establish(url)?;
        // A checkpoint that finds the database locked gives up at once and is tried again
        // next period; this thread never waits on a writer.
        conn.batch_execute("PRAGMA busy_timeout = 0; PRAGMA synchronous = NORMAL;")
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sqlite-ckpt".to_owned())
            .spawn(move || {
                let writable = || files.as_ref().is_none_or(|files| files.check().is_ok());
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(PERIOD) {
                    if !writable() {
                        continue;
                    }
                    if let Err(error) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                        tracing::debug!(%error, "background checkpoint failed; a writer will checkpoint");
                    }
                }
                // Closing writes the mapped WAL index, which faults if it is immutable.
                if files.is_some_and(|files| !files.wal_index_writable()) {
                    std::mem::forget(conn);
                }
            })
            .map_err(|error| diesel::ConnectionError::BadConnection(error.to_string()))?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // The thread only ever runs a checkpoint; it ends within one.
            let _ = thread.join();
        }
    }
}

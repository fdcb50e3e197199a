//! What the fault suites share, over the workspace's test kit (`registry-testkit`): real
//! registry-server processes, real databases, keep-alive HTTP connections, a closed-loop load,
//! and the file-descriptor limit that thousands of sockets need.

pub(crate) mod database;
pub(crate) mod http;
pub(crate) mod load;
pub(crate) mod server;
pub(crate) mod tempdir {
    //! Temporary directories, removed on drop.
    pub(crate) use registry_testkit::tempfile::TempDir;
}

use anyhow::{Context, Result};

/// Raises this process's soft limit on open files to its hard limit, for suites that open
/// thousands of sockets; returns the new soft limit.
pub(crate) fn raise_open_files_limit() -> Result<u64> {
    let (_, hard) = rlimit::Resource::NOFILE
        .get()
        .context("reading RLIMIT_NOFILE")?;
    rlimit::Resource::NOFILE
        .set(hard, hard)
        .context("raising RLIMIT_NOFILE")?;
    Ok(hard)
}

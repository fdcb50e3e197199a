//! Real registry-server processes on one real database, started and cleaned up by the harness,
//! including after a failure (every handle kills or drops what it owns in `Drop`).

use std::path::Path;

use anyhow::Result;

pub(crate) use crate::harness::database::{Backend, Database};
pub(crate) use crate::harness::server::{Server, build_server};
use crate::harness::server::{free_address, serve_command};
use crate::harness::tempdir::TempDir;

/// How each server of a cluster is configured.
#[derive(Clone)]
pub(crate) struct ServerOptions {
    pub(crate) heartbeat_interval: &'static str,
    pub(crate) heartbeat_timeout: &'static str,
    pub(crate) extra: Vec<String>,
}

/// One server of a cluster on `url`, tracing into a directory of its own.
pub(crate) fn start_server(
    binary: &Path,
    url: &str,
    options: &ServerOptions,
    extra: &[String],
) -> Result<Server> {
    let address = free_address()?;
    let spans = TempDir::new()?;
    let mut command = serve_command(binary, &[], address);
    command
        .args(["--storage-url", url])
        .args(["--heartbeat-interval", options.heartbeat_interval])
        .args(["--heartbeat-timeout", options.heartbeat_timeout])
        .arg("--span-file")
        .arg(spans.path().join("spans.jsonl"))
        .args(&options.extra)
        .args(extra);
    Server::spawn(command, address, Some(spans))
}

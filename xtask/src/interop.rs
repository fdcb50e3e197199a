//! `cargo xtask interop`: DB-GPT's own `ModelRegistryClient` against a real registry-server,
//! then an unmodified `dbgpt start worker` and `dbgpt model list` against one that requires a
//! token, given as credentials in the controller's URL; then one corpus of requests sent to
//! DB-GPT's own controller and to registry-server, their answers compared; then the span files
//! of both for the same requests, compared line by line; then a mixed fleet: DB-GPT's own
//! `dbgpt start controller` and registry-server on one table (SQLite, and MariaDB when one is
//! reachable) under two time zones (see `registry-server/interop/mixed_fleet_time.py`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::backends::{self, Requirement};
use crate::{cmd, peer, span_diff};

pub(crate) fn run() -> Result<()> {
    let (python, binary) = prepare()?;
    let mut client = Command::new(&python);
    client
        .arg("registry-server/interop/run_interop.py")
        .arg(&binary);
    cmd::run(client)?;
    let mut worker = Command::new(&python);
    worker
        .arg("registry-server/interop/dbgpt_worker_token.py")
        .arg(&binary);
    cmd::run(worker)?;
    let mut answers = Command::new(&python);
    answers
        .arg("registry-server/interop/answers_differential.py")
        .arg(&binary);
    cmd::run(answers)?;
    span_diff::run(&python, &binary)?;
    mixed_fleet(&python, &binary)
}

/// Only the span file comparison.
pub(crate) fn run_spans() -> Result<()> {
    let (python, binary) = prepare()?;
    span_diff::run(&python, &binary)
}

/// The peer venv's Python and a freshly built debug registry-server.
fn prepare() -> Result<(PathBuf, PathBuf)> {
    let python = peer::python()?;
    cmd::cargo(&["build", "--package", "registry-server"])?;
    Ok((
        python,
        cmd::workspace_root().join("target/debug/registry-server"),
    ))
}

/// DB-GPT's own controller and registry-server on one SQLite file, and on MariaDB when one is
/// reachable (the server rebuilt with the `mysql` feature for it).
fn mixed_fleet(python: &Path, binary: &Path) -> Result<()> {
    let plan = backends::plan(Requirement::Reachable)?;
    let mysql = plan
        .env()
        .into_iter()
        .find(|(name, _)| name == "REGISTRY_TEST_MYSQL_URL")
        .map(|(_, url)| url);
    let mut fleet = Command::new(python);
    fleet
        .arg("registry-server/interop/mixed_fleet_time.py")
        .arg(binary);
    match &mysql {
        Some(url) => {
            cmd::cargo(&[
                "build",
                "--package",
                "registry-server",
                "--features",
                "mysql",
            ])?;
            fleet.arg(url);
        }
        None => println!("mixed fleet on MariaDB NOT run: no MariaDB server reachable"),
    }
    cmd::run(fleet)
}

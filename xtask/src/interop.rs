//! `cargo xtask interop`: real DB-GPT 0.8.2 code against a real registry-server, each script
//! in `registry-server/interop/` in turn:
//!
//! - `run_interop.py`: DB-GPT's own `ModelRegistryClient`, every call;
//! - `dbgpt_worker_token.py`: an unmodified `dbgpt start worker` and `dbgpt model list`
//!   against a server that requires a token, given as credentials in the controller's URL;
//! - `dbgpt_cluster.py`: a whole cluster, without and with a token: two LLM workers of one
//!   model, an embedding worker and `dbgpt start apiserver`, chats and embeddings through it,
//!   one worker killed and one stopped;
//! - `answers_differential.py`: one corpus of requests sent to DB-GPT's own controller and to
//!   registry-server, their answers compared, and both `/openapi.json` descriptions;
//! - `trace_cli_differential.py`: `dbgpt trace` and `registry-server trace` over the same span
//!   files, their output compared byte for byte;
//!
//! then the span files of both controllers for the same requests, compared line by line, and a
//! mixed fleet: DB-GPT's own `dbgpt start controller` and registry-server on one table (SQLite,
//! and MariaDB and PostgreSQL when reachable) under two time zones, and the in-place move
//! (`mixed_fleet_time.py`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::backends::{self, Requirement};
use crate::{cmd, peer, span_diff};

/// The scripts run against the debug binary, in this order.
const SCRIPTS: [&str; 5] = [
    "run_interop.py",
    "dbgpt_worker_token.py",
    "dbgpt_cluster.py",
    "answers_differential.py",
    "trace_cli_differential.py",
];

pub(crate) fn run() -> Result<()> {
    let (python, binary) = prepare()?;
    for script in SCRIPTS {
        let mut command = Command::new(&python);
        command
            .arg(Path::new("registry-server/interop").join(script))
            .arg(&binary);
        cmd::run(command)?;
    }
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

/// DB-GPT's own controller and registry-server on one SQLite file, and on MariaDB and
/// PostgreSQL when they are reachable (the server rebuilt with those backends' features).
fn mixed_fleet(python: &Path, binary: &Path) -> Result<()> {
    let plan = backends::plan(Requirement::Reachable)?;
    let env = plan.env();
    let url_of = |name: &str| {
        env.iter()
            .find(|(variable, _)| variable == name)
            .map(|(_, url)| url.clone())
    };
    let mut fleet = Command::new(python);
    fleet
        .arg("registry-server/interop/mixed_fleet_time.py")
        .arg(binary);
    let mut features = Vec::new();
    for (variable, feature, name) in [
        ("REGISTRY_TEST_MYSQL_URL", "mysql", "MariaDB"),
        ("REGISTRY_TEST_POSTGRES_URL", "postgres", "PostgreSQL"),
    ] {
        match url_of(variable) {
            Some(url) => {
                features.push(feature);
                fleet.arg(url);
            }
            None => println!("mixed fleet on {name} NOT run: no {name} server reachable"),
        }
    }
    if !features.is_empty() {
        cmd::cargo(&[
            "build",
            "--package",
            "registry-server",
            "--features",
            &features.join(","),
        ])?;
    }
    cmd::run(fleet)
}

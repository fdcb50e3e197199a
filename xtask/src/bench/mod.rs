//! `cargo xtask bench`: every crate's figures, each beside DB-GPT's figure for the same work,
//! measured in the same run.

mod interference;

use std::process::Command;

use anyhow::Result;

use crate::backends::{self, Requirement};
use crate::{cmd, peer};

pub(crate) fn run(with_peer: bool, only: Option<&str>) -> Result<()> {
    let wanted = |part: &str| only.is_none_or(|only| part.contains(only));
    let python = if with_peer {
        Some(peer::python()?)
    } else {
        None
    };
    let reference = |script: &str, args: &[&str]| -> Result<()> {
        if let Some(python) = &python {
            let mut command = Command::new(python);
            command.arg(format!("xtask/peer/{script}")).args(args);
            println!("reference (DB-GPT 0.8.2, same machine, same run):");
            cmd::run(command)?;
        }
        Ok(())
    };

    let plan = backends::plan(Requirement::Reachable)?;
    let features = plan.cargo_features();
    if wanted("core") {
        section("registry-core: registry API, in-memory storage");
        cmd::cargo(&["bench", "--package", "registry-core", "--bench", "registry"])?;
        reference("embedded_registry_bench.py", &[])?;
    }
    if wanted("sql") {
        section("registry-diesel: registry API over SQL");
        let mut args = vec!["bench", "--package", "registry-diesel", "--bench", "sql"];
        if !features.is_empty() {
            args.extend(["--features", features.as_str()]);
        }
        cmd::cargo_with_env(&args, &plan.env())?;
        reference("storage_registry_bench.py", &["100", "5"])?;
        reference("storage_registry_bench.py", &["1000", "1"])?;
    }
    if wanted("spans") {
        section("span-storage: container into a JSONL file, beside raw serde_json");
        cmd::cargo(&["bench", "--package", "span-storage", "--bench", "container"])?;
        reference("span_container_bench.py", &["100000"])?;
    }
    if wanted("http") {
        section("registry-server: heartbeats over HTTP, beside a bare axum server and DB-GPT");
        let mut args = vec!["bench", "--package", "registry-server", "--bench", "http"];
        if !features.is_empty() {
            args.extend(["--features", features.as_str()]);
        }
        // The bench measures DB-GPT's controller with the same Python, or not at all.
        let mut env = Vec::new();
        match &python {
            Some(python) => env.push((
                "REGISTRY_BENCH_PEER_PYTHON".to_owned(),
                python.display().to_string(),
            )),
            None => env.push(("REGISTRY_BENCH_PEER".to_owned(), "off".to_owned())),
        }
        cmd::cargo_with_env(&args, &env)?;
    }
    if wanted("interference") {
        section("registry-server: heartbeats beside operators' reads");
        interference::run()?;
    }
    Ok(())
}

fn section(title: &str) {
    println!("\n=== {title} ===");
}

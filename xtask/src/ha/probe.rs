//! Reading the cluster's state: row counts straight from the database, the instance list and
//! the metrics from the servers.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::cluster::{Backend, Database};
use super::http::Connection;

/// `(rows, healthy rows)` in the registry table, counted by the database itself.
pub(crate) fn row_counts(database: &Database) -> Result<(u64, u64)> {
    let sql = "SELECT COUNT(*), COALESCE(SUM(CASE WHEN healthy THEN 1 ELSE 0 END), 0) FROM dbgpt_cluster_registry_instance";
    let mut command = database.backend().sql_command(database.name(), sql);
    match database.backend() {
        Backend::Postgres => command.args(["-At", "-F", " "]),
        Backend::Mysql => command.args(["-N", "-B"]),
    };
    let output = command.output().context("counting rows")?;
    if !output.status.success() {
        bail!(
            "counting rows failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut numbers = text.split_whitespace().map(str::parse::<u64>);
    match (numbers.next(), numbers.next()) {
        (Some(Ok(rows)), Some(Ok(healthy))) => Ok((rows, healthy)),
        _ => bail!("unexpected row count output {text:?}"),
    }
}

/// The instances a server lists, as `(port-derived index, healthy)`.
pub(crate) fn instances(server: SocketAddr) -> Result<Vec<(String, bool)>> {
    let mut connection = Connection::open(server, Duration::from_secs(5))?;
    let response = connection.get("/api/controller/models")?;
    if response.status != 200 {
        bail!("listing answered {}: {}", response.status, response.body);
    }
    let list: Vec<serde_json::Value> = serde_json::from_str(&response.body)?;
    Ok(list
        .iter()
        .map(|instance| {
            let key = format!(
                "{}|{}|{}",
                instance["model_name"].as_str().unwrap_or_default(),
                instance["host"].as_str().unwrap_or_default(),
                instance["port"]
            );
            (key, instance["healthy"].as_bool().unwrap_or(false))
        })
        .collect())
}

/// The value of an unlabelled counter in a server's `/metrics`.
pub(crate) fn metric(server: SocketAddr, name: &str) -> Result<f64> {
    let mut connection = Connection::open(server, Duration::from_secs(5))?;
    let response = connection.get("/metrics")?;
    response
        .body
        .lines()
        .find_map(|line| {
            line.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|value| value.trim().parse().ok())
        .with_context(|| format!("metric {name} not found at {server}"))
}

/// The key `instances` uses for simulated instance `i`.
pub(crate) fn key_of(i: usize) -> String {
    let body: serde_json::Value =
        serde_json::from_str(&super::http::instance_body(i)).unwrap_or_default();
    format!(
        "{}|{}|{}",
        body["model_name"].as_str().unwrap_or_default(),
        body["host"].as_str().unwrap_or_default(),
        body["port"]
    )
}

//! DB-GPT's own configuration file, the TOML given to `dbgpt start controller -c FILE`, read as
//! the file layer: `--config FILE` takes it when it has a `[service]` table (our own files
//! have none). It fills the same [`SettingsArgs`] as our own file, so flags and `REGISTRY_*`
//! variables override it as they override ours.
//!
//! DB-GPT's controller reads `[service.model.controller]` (with its `registry.database`,
//! `log` and `trace` tables) and the top-level `[log]` and `[trace]`; the controller's own
//! `log`/`trace` win over the top-level ones. Every other key is returned as an
//! [`IgnoredSetting`], to be warned about by name.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use toml::{Table, Value};

use super::SettingsArgs;
use super::dbgpt_values::{database_url, text, whole};

const CONTROLLER: &str = "service.model.controller";

/// A key of a DB-GPT file that this registry does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredSetting {
    /// The key, dotted from the top: `service.model.controller.daemon`.
    pub key: String,
    /// Whether DB-GPT's controller reads it (a setting this registry lacks); if not, it is a
    /// section for other DB-GPT services (`service.web`, `models`), ignored by both.
    pub read_by_dbgpt_controller: bool,
}

impl fmt::Display for IgnoredSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.read_by_dbgpt_controller {
            write!(
                f,
                "DB-GPT setting {} is not supported and ignored",
                self.key
            )
        } else {
            let key = &self.key;
            write!(
                f,
                "DB-GPT section {key} is not for the model controller; ignored"
            )
        }
    }
}

/// Whether `file` is in DB-GPT's shape.
pub(super) fn is_dbgpt_file(file: &Table) -> bool {
    file.get("service").is_some_and(Value::is_table)
}

/// The settings a DB-GPT file sets, and the keys it holds that are not read.
pub(super) fn read(mut file: Table) -> Result<(SettingsArgs, Vec<IgnoredSetting>), String> {
    let mut controller = take_table(&mut file, &["service", "model", "controller"])?;
    let mut own_log = take_table(&mut controller, &["log"])?;
    let mut own_trace = take_table(&mut controller, &["trace"])?;
    let mut top_log = take_table(&mut file, &["log"])?;
    let mut top_trace = take_table(&mut file, &["trace"])?;
    let mut args = SettingsArgs {
        listen: listen(&mut controller)?,
        heartbeat_interval: seconds(&mut controller, "heartbeat_interval_secs")?,
        heartbeat_timeout: seconds(&mut controller, "heartbeat_timeout_secs")?,
        ..SettingsArgs::default()
    };
    let mut ignored = Vec::new();
    registry(&mut controller, &mut args, &mut ignored)?;
    let level = match own_log.remove("level").or_else(|| top_log.remove("level")) {
        Some(value) => Some(text("log.level", &value)?),
        // DB-GPT's default level is `${env:DBGPT_LOG_LEVEL:-INFO}`.
        None => std::env::var("DBGPT_LOG_LEVEL").ok(),
    };
    args.log_level = level.map(|level| log_level(&level)).transpose()?;
    if let Some(file) = own_trace
        .remove("file")
        .or_else(|| top_trace.remove("file"))
    {
        args.span_file = Some(Some(PathBuf::from(text("trace.file", &file)?)));
    }
    for (prefix, rest) in [
        (format!("{CONTROLLER}.log"), own_log),
        (format!("{CONTROLLER}.trace"), own_trace),
        ("log".to_owned(), top_log),
        ("trace".to_owned(), top_trace),
        (CONTROLLER.to_owned(), controller),
    ] {
        leaves(&prefix, &rest, &mut ignored);
    }
    sections("", &file, &mut ignored);
    ignored.sort_by(|a, b| a.key.cmp(&b.key));
    Ok((args, ignored))
}

/// `host` and `port` as one address; either alone takes DB-GPT's default for the other.
fn listen(controller: &mut Table) -> Result<Option<SocketAddr>, String> {
    let (host, port) = (controller.remove("host"), controller.remove("port"));
    if host.is_none() && port.is_none() {
        return Ok(None);
    }
    let host = match host {
        Some(value) => text(&format!("{CONTROLLER}.host"), &value)?,
        None => "0.0.0.0".to_owned(),
    };
    let port = match port {
        Some(value) => whole(&format!("{CONTROLLER}.port"), &value)?,
        None => 8000,
    };
    let port = u16::try_from(port).map_err(|_| format!("{CONTROLLER}.port: {port} is no port"))?;
    let unresolved = || format!("{CONTROLLER}.host: cannot resolve {host}");
    let address = (host.as_str(), port).to_socket_addrs();
    let first = address.map_err(|_| unresolved())?.next();
    first.map(Some).ok_or_else(unresolved)
}

fn seconds(controller: &mut Table, key: &str) -> Result<Option<Duration>, String> {
    let Some(value) = controller.remove(key) else {
        return Ok(None);
    };
    Ok(Some(Duration::from_secs(whole(
        &format!("{CONTROLLER}.{key}"),
        &value,
    )?)))
}

/// `registry.database` as the storage URL, and the database pool's size and timeout; no
/// registry database is DB-GPT's embedded (in-memory) registry.
fn registry(
    controller: &mut Table,
    args: &mut SettingsArgs,
    ignored: &mut Vec<IgnoredSetting>,
) -> Result<(), String> {
    let mut registry = take_table(controller, &["registry"])?;
    let mut database = take_table(&mut registry, &["database"])?;
    leaves(&format!("{CONTROLLER}.registry"), &registry, ignored);
    if database.is_empty() {
        args.storage_url = Some("memory".to_owned());
        return Ok(());
    }
    let (url, read) = database_url(&database)?;
    args.storage_url = Some(url);
    for key in read {
        database.remove(key);
    }
    let prefix = format!("{CONTROLLER}.registry.database");
    if let Some(value) = database.remove("pool_size") {
        let size = whole(&format!("{prefix}.pool_size"), &value)?;
        args.pool_size = Some(u32::try_from(size).unwrap_or(u32::MAX));
    }
    if let Some(value) = database.remove("pool_timeout") {
        let secs = whole(&format!("{prefix}.pool_timeout"), &value)?;
        args.pool_timeout = Some(Duration::from_secs(secs));
    }
    leaves(&prefix, &database, ignored);
    Ok(())
}

/// DB-GPT's level names (Python's) as ours.
fn log_level(level: &str) -> Result<String, String> {
    let ours = match level.trim().to_ascii_lowercase().as_str() {
        "fatal" | "critical" | "error" => "error",
        "warning" | "warn" => "warn",
        "info" => "info",
        // Python's NOTSET lets every record through; DEBUG is its finest level.
        "debug" | "notset" => "debug",
        _ => return Err(format!("log.level: unknown level {level}")),
    };
    Ok(ours.to_owned())
}

fn into_table(value: Value) -> Result<Table, String> {
    match value {
        Value::Table(table) => Ok(table),
        other => Err(format!("expected a table, found {}", other.type_str())),
    }
}

/// Removes the table at `path` from `table`; an absent one is empty.
fn take_table(table: &mut Table, path: &[&str]) -> Result<Table, String> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(Table::new());
    };
    let mut current = table;
    for parent in parents {
        match current.get_mut(*parent) {
            Some(Value::Table(inner)) => current = inner,
            Some(_) => return Err(format!("{parent} must be a table")),
            None => return Ok(Table::new()),
        }
    }
    match current.remove(*last) {
        Some(value) => into_table(value).map_err(|error| format!("{}: {error}", path.join("."))),
        None => Ok(Table::new()),
    }
}

/// Every key left in a table the controller reads, as a setting it lacks.
fn leaves(prefix: &str, table: &Table, ignored: &mut Vec<IgnoredSetting>) {
    for (key, value) in table {
        let key = format!("{prefix}.{key}");
        match value {
            Value::Table(inner) => leaves(&key, inner, ignored),
            _ => ignored.push(IgnoredSetting {
                key,
                read_by_dbgpt_controller: true,
            }),
        }
    }
}

/// The sections left (`service.web`, `models`, …), which DB-GPT's controller does not read
/// either; `service` and `service.model` are walked into, to name their other services.
fn sections(prefix: &str, table: &Table, ignored: &mut Vec<IgnoredSetting>) {
    for (key, value) in table {
        let key = format!("{prefix}{key}");
        match value {
            Value::Table(inner) if key == "service" || key == "service.model" => {
                sections(&format!("{key}."), inner, ignored);
            }
            _ => ignored.push(IgnoredSetting {
                key,
                read_by_dbgpt_controller: false,
            }),
        }
    }
}

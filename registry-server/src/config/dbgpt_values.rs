//! Reading single values of a DB-GPT configuration file as DB-GPT reads them: strings may
//! name environment variables (`${env:NAME}`, `${env:NAME:-default}`), numbers may be written
//! as strings, and a registry database becomes one of our storage URLs.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use toml::{Table, Value};

/// What a user name or password may hold unencoded in a URL: RFC 3986's unreserved set.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` with each `${env:NAME}` or `${env:NAME:-default}` replaced by the variable's value
/// (or the default when it is unset); an unset variable without a default is an error, as in
/// DB-GPT.
pub(super) fn expand_env(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${env:") {
        let Some(length) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        let reference = &rest[start + "${env:".len()..start + length];
        let (name, default) = match reference.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (reference, None),
        };
        match (std::env::var(name), default) {
            (Ok(value), _) => out.push_str(&value),
            (Err(_), Some(default)) => out.push_str(default),
            (Err(_), None) => return Err(format!("environment variable {name} is not set")),
        }
        rest = &rest[start + length + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A string value, its environment variables expanded.
pub(super) fn text(key: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::String(text) => expand_env(text).map_err(|error| format!("{key}: {error}")),
        other => Err(format!(
            "{key}: expected a string, found {}",
            other.type_str()
        )),
    }
}

/// A whole number of at least 0, written as a number or as a string.
pub(super) fn whole(key: &str, value: &Value) -> Result<u64, String> {
    let number = match value {
        Value::Integer(number) => u64::try_from(*number).ok(),
        Value::String(_) => text(key, value)?.trim().parse().ok(),
        _ => None,
    };
    number.ok_or_else(|| format!("{key}: expected a whole number of at least 0"))
}

/// The storage URL for DB-GPT's `registry.database` table, and the keys of it that were read.
/// SQLite (`type = "sqlite"`, `path`) becomes `sqlite://PATH`; MySQL (`type = "mysql"`) and
/// PostgreSQL (`type = "postgresql"`, which DB-GPT's controller takes with the psycopg2 driver
/// installed), each with `host`, `port`, `user`, `password` and `database`, become
/// `mysql://USER:PASSWORD@HOST:PORT/DATABASE` and `postgres://…` alike, user and password
/// percent-encoded. A missing password is DB-GPT's default, `${env:DBGPT_DB_PASSWORD}`.
pub(super) fn database_url(database: &Table) -> Result<(String, Vec<&'static str>), String> {
    let key = |name: &str| format!("service.model.controller.registry.database.{name}");
    let field = |name: &'static str| -> Result<String, String> {
        let value = database
            .get(name)
            .ok_or_else(|| format!("{} is required", key(name)))?;
        match value {
            Value::Integer(number) => Ok(number.to_string()),
            _ => text(&key(name), value),
        }
    };
    let kind = field("type")?.to_ascii_lowercase();
    let scheme = match kind.as_str() {
        "sqlite" => return Ok((format!("sqlite://{}", field("path")?), vec!["type", "path"])),
        "mysql" => "mysql",
        "postgresql" => "postgres",
        other => {
            return Err(format!(
                "{}: {other} is not supported; use sqlite, mysql or postgresql",
                key("type")
            ));
        }
    };
    let password = match database.get("password") {
        Some(value) => text(&key("password"), value)?,
        None => expand_env("${env:DBGPT_DB_PASSWORD}")
            .map_err(|error| format!("{}: {error}", key("password")))?,
    };
    let url = format!(
        "{scheme}://{}:{}@{}:{}/{}",
        utf8_percent_encode(&field("user")?, USERINFO),
        utf8_percent_encode(&password, USERINFO),
        field("host")?,
        field("port")?,
        field("database")?,
    );
    let read = vec!["type", "host", "port", "user", "password", "database"];
    Ok((url, read))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_references_are_expanded_with_their_defaults() {
        let path = std::env::var("PATH").unwrap();
        assert_eq!(expand_env("a${env:PATH}b").unwrap(), format!("a{path}b"));
        let unset = "${env:REGISTRY_TEST_SURELY_UNSET_VARIABLE:-INFO}";
        assert_eq!(expand_env(unset).unwrap(), "INFO");
        assert!(expand_env("${env:REGISTRY_TEST_SURELY_UNSET_VARIABLE}").is_err());
        assert_eq!(expand_env("plain").unwrap(), "plain");
    }

    #[test]
    fn a_mysql_password_is_percent_encoded() {
        let table: Table = toml::from_str(
            "type = \"mysql\"\nhost = \"db\"\nport = 3306\nuser = \"dbgpt\"\n\
             password = \"p@ss:w/rd%\"\ndatabase = \"dbgpt\"\ndriver = \"mysql+pymysql\"",
        )
        .unwrap();
        let (url, read) = database_url(&table).unwrap();
        assert_eq!(url, "mysql://dbgpt:p%40ss%3Aw%2Frd%25@db:3306/dbgpt");
        assert!(!read.contains(&"driver"));
    }

    #[test]
    fn postgresql_becomes_a_postgres_url() {
        let table: Table = toml::from_str(
            "type = \"postgresql\"\nhost = \"db\"\nport = 5432\nuser = \"dbgpt\"\n\
             password = \"a b\"\ndatabase = \"registry\"\nschema = \"other\"",
        )
        .unwrap();
        let (url, read) = database_url(&table).unwrap();
        assert_eq!(url, "postgres://dbgpt:a%20b@db:5432/registry");
        // Not read, so warned about by name: this server uses the default search path.
        assert!(!read.contains(&"schema"));
    }

    #[test]
    fn other_database_types_are_refused() {
        let table: Table = toml::from_str("type = \"oceanbase\"").unwrap();
        assert!(database_url(&table).unwrap_err().contains("oceanbase"));
    }
}

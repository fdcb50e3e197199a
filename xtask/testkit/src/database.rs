//! Where the test databases are, and the one policy for a test whose database is missing.
//!
//! PostgreSQL and MariaDB are found through `REGISTRY_TEST_POSTGRES_URL` and
//! `REGISTRY_TEST_MYSQL_URL` (defaults: `postgres://postgres@127.0.0.1:5432/test`,
//! `mysql://root@127.0.0.1:3306/test`). A backend that cannot be used skips the test with a
//! printed `SKIPPED` line, unless it is required: its variable is set, or `CI=true`; then the
//! test fails.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A database backend a test can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A file of its own; always available.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
    /// A MySQL or MariaDB server.
    Mysql,
}

impl Backend {
    /// The cargo feature name of the backend (`sqlite`, `postgres`, `mysql`).
    pub fn feature(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
        }
    }

    /// The variable that names the backend's server, and its default; `None` for SQLite.
    pub fn url_variable(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Sqlite => None,
            Self::Postgres => Some((
                "REGISTRY_TEST_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/test",
            )),
            Self::Mysql => Some((
                "REGISTRY_TEST_MYSQL_URL",
                "mysql://root@127.0.0.1:3306/test",
            )),
        }
    }

    /// The server's port when a URL names none.
    fn default_port(self) -> u16 {
        match self {
            Self::Postgres => 5432,
            _ => 3306,
        }
    }
}

/// The server URL of a backend (its variable, else the default), and whether the variable set
/// it. Panics for SQLite, which has no server.
pub fn server_url(backend: Backend) -> (String, bool) {
    let (variable, default) = backend
        .url_variable()
        .unwrap_or_else(|| panic!("{backend:?} has no server"));
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => (url, true),
        _ => (default.to_owned(), false),
    }
}

/// Whether this run is CI's (`CI=true`), where every backend is required.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

/// Whether a test on `backend` must fail rather than skip when the backend cannot be used: its
/// URL variable is set, or `CI=true`. SQLite is always available, so never skipped.
pub fn required(backend: Backend) -> bool {
    backend == Backend::Sqlite || server_url(backend).1 || ci()
}

/// The policy: `Some(value)` when it could be had; otherwise prints `SKIPPED: reason` and
/// returns `None`, or panics with the reason when `backend` is [`required`].
pub fn or_skip<T>(backend: Backend, found: Result<T, String>) -> Option<T> {
    match found {
        Ok(value) => Some(value),
        Err(reason) if !required(backend) => {
            eprintln!("SKIPPED: {reason}");
            None
        }
        Err(reason) => {
            panic!("{reason}; it is required because CI=true or its URL variable is set")
        }
    }
}

/// `url` with its database name replaced by `name` (the query, if any, kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a server URL");
    let host_start = rest.rfind('@').map_or(0, |at| at + 1);
    let (authority_end, query) = match rest[host_start..].find(['/', '?']) {
        Some(offset) => {
            let end = host_start + offset;
            let query = rest[end..].find('?').map_or("", |q| &rest[end + q..]);
            (end, query)
        }
        None => (rest.len(), ""),
    };
    format!("{scheme}://{}/{name}{query}", &rest[..authority_end])
}

/// The user info (with its `@`, or empty) and `host:port` of a server URL, the port defaulted
/// by the scheme.
pub fn split_authority(url: &str) -> (&str, String) {
    let (scheme, rest) = url.split_once("://").expect("a server URL");
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (&authority[..=user.len()], host),
        None => ("", authority),
    };
    let backend = if scheme.starts_with("postgres") {
        Backend::Postgres
    } else {
        Backend::Mysql
    };
    let host_port = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:{}", backend.default_port())
    };
    (user, host_port)
}

/// `url` with its host and port replaced by `address` (a proxy in front of the server).
pub fn with_address(url: &str, address: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a server URL");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let user = rest[..end].rfind('@').map_or("", |at| &rest[..=at]);
    format!("{scheme}://{user}{address}{}", &rest[end..])
}

/// The first address the server of `url` resolves to.
pub fn server_address(url: &str) -> Option<SocketAddr> {
    split_authority(url).1.to_socket_addrs().ok()?.next()
}

/// Whether something accepts TCP connections at the server of `url` (within 2 s).
pub fn reachable(url: &str) -> bool {
    server_address(url)
        .is_some_and(|address| TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::{split_authority, with_address, with_database};

    #[test]
    fn database_urls_swap_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("mysql://root:pw@db:3306/test?ssl_mode=disabled", "x"),
            "mysql://root:pw@db:3306/x?ssl_mode=disabled"
        );
        assert_eq!(with_database("postgres://db", "x"), "postgres://db/x");
    }

    #[test]
    fn server_urls_swap_the_address_and_default_the_port() {
        assert_eq!(
            split_authority("mysql://root:pw@db/test"),
            ("root:pw@", "db:3306".to_owned())
        );
        assert_eq!(
            with_address(
                "postgres://u:p@127.0.0.1:5432/test?x=1",
                "127.0.0.1:9".parse().unwrap()
            ),
            "postgres://u:p@127.0.0.1:9/test?x=1"
        );
        assert_eq!(
            with_address("postgres://db/test", "127.0.0.1:9".parse().unwrap()),
            "postgres://127.0.0.1:9/test"
        );
    }
}

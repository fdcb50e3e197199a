//! Which database a URL names, the file of a SQLite URL, and how to print a URL without its
//! password.

use std::fmt;
use std::path::Path;

use thiserror::Error;

/// A database backend the storage can run on.
///
/// Every backend exists as a value whatever features are enabled, so that a URL for a backend
/// that is not compiled in gives [`crate::DieselError::BackendNotCompiled`], which names the
/// feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite, embedded: `sqlite://PATH` or a plain file path.
    Sqlite,
    /// PostgreSQL: `postgres://…` or `postgresql://…`.
    Postgres,
    /// MySQL or MariaDB: `mysql://…`.
    Mysql,
}

impl Backend {
    /// The backend a URL names: by its scheme, or SQLite for a URL without one (a file path).
    ///
    /// ```
    /// use registry_diesel::Backend;
    /// assert_eq!(Backend::from_url("registry.db").unwrap(), Backend::Sqlite);
    /// assert_eq!(Backend::from_url("postgresql://db/registry").unwrap(), Backend::Postgres);
    /// assert!(Backend::from_url("redis://localhost").is_err());
    /// ```
    pub fn from_url(url: &str) -> Result<Self, UnsupportedUrl> {
        let unsupported = || UnsupportedUrl {
            url: redact_url(url),
        };
        if url.trim().is_empty() {
            return Err(unsupported());
        }
        match url.split_once("://") {
            None => Ok(Self::Sqlite),
            Some((scheme, _)) => match scheme.to_ascii_lowercase().as_str() {
                "sqlite" => Ok(Self::Sqlite),
                "postgres" | "postgresql" => Ok(Self::Postgres),
                "mysql" => Ok(Self::Mysql),
                _ => Err(unsupported()),
            },
        }
    }

    /// Its short name for logs and metrics: `sqlite`, `postgres` or `mysql`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
        }
    }

    /// The cargo feature of this crate that compiles the backend in.
    pub fn feature(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
        }
    }

    /// Whether this build includes the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Self::Sqlite => cfg!(feature = "sqlite"),
            Self::Postgres => cfg!(feature = "postgres"),
            Self::Mysql => cfg!(feature = "mysql"),
        }
    }
}

/// A URL whose scheme names no backend this crate knows.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unsupported database URL `{url}`: use sqlite://PATH or a file path, postgres:// or postgresql://, or mysql://"
)]
pub struct UnsupportedUrl {
    /// The URL, password redacted.
    pub url: String,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
            Self::Mysql => "MySQL",
        })
    }
}

/// The URL with its password replaced by `***`, fit for logs and error messages.
///
/// Both the password of the user-info part and a `password=` query parameter are hidden. A
/// file path is returned as it is.
///
/// ```
/// use registry_diesel::redact_url;
/// assert_eq!(redact_url("postgres://app:s3cret@db:5432/registry"), "postgres://app:***@db:5432/registry");
/// assert_eq!(redact_url("mysql://db/registry?password=s3cret&ssl_mode=required"),
///            "mysql://db/registry?password=***&ssl_mode=required");
/// assert_eq!(redact_url("/var/lib/registry.db"), "/var/lib/registry.db");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (rest, None),
    };
    // The last '@' ends the user info, so a password holding '@' or '/' is hidden whole.
    let authority_and_path = match before_query.rsplit_once('@') {
        Some((user_info, host_and_path)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host_and_path}"),
            None => format!("{user_info}@{host_and_path}"),
        },
        None => before_query.to_owned(),
    };
    let mut redacted = format!("{scheme}://{authority_and_path}");
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => param.to_owned(),
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&params.join("&"));
    }
    redacted
}

/// The secrets a URL holds (its password, in the user info or a query parameter).
pub(crate) fn url_secrets(url: &str) -> Vec<String> {
    let Some((_, rest)) = url.split_once("://") else {
        return Vec::new();
    };
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut secrets = Vec::new();
    if let Some((user_info, _)) = before_query.rsplit_once('@') {
        if let Some((_, password)) = user_info.split_once(':') {
            secrets.push(password.to_owned());
        }
    }
    for param in query.split('&') {
        if let Some((key, value)) = param.split_once('=') {
            if key.eq_ignore_ascii_case("password") {
                secrets.push(value.to_owned());
            }
        }
    }
    secrets.retain(|secret| !secret.is_empty());
    secrets
}

/// `message` with every secret of `url` replaced by `***`.
pub(crate) fn scrub(message: &str, url: &str) -> String {
    url_secrets(url)
        .iter()
        .fold(message.to_owned(), |text, secret| {
            text.replace(secret, "***")
        })
}

/// Whether a SQLite URL names an in-memory database, of which every connection has its own.
pub(crate) fn is_sqlite_memory(url: &str) -> bool {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("file:"))
        .unwrap_or(url);
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory")
}

/// The file a SQLite URL names: the path of `sqlite://PATH` or of a plain path. `None` for an
/// in-memory database or a `file:` URI (whose path and options this crate does not parse).
pub(crate) fn sqlite_file(url: &str) -> Option<&Path> {
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    (!path.starts_with("file:") && !is_sqlite_memory(url)).then(|| Path::new(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_pick_backends() {
        for (url, backend) in [
            ("sqlite://registry.db", Backend::Sqlite),
            ("SQLITE:///var/lib/registry.db", Backend::Sqlite),
            ("./registry.db", Backend::Sqlite),
            (":memory:", Backend::Sqlite),
            ("postgres://u@h/db", Backend::Postgres),
            ("postgresql://u@h/db", Backend::Postgres),
            ("mysql://u@h/db", Backend::Mysql),
        ] {
            assert_eq!(Backend::from_url(url).unwrap(), backend, "{url}");
        }
    }

    #[test]
    fn unknown_schemes_are_rejected_without_their_password() {
        let error = Backend::from_url("redis://user:hunter2@localhost").unwrap_err();
        let message = error.to_string();
        assert!(!message.contains("hunter2"), "{message}");
        assert!(Backend::from_url("  ").is_err());
    }

    #[test]
    fn passwords_are_redacted_and_scrubbed() {
        let url = "postgres://app:p@ss/word@db:5432/registry?password=other&sslmode=off";
        assert_eq!(
            redact_url(url),
            "postgres://app:***@db:5432/registry?password=***&sslmode=off"
        );
        assert_eq!(url_secrets(url), ["p@ss/word", "other"]);
        assert_eq!(
            scrub("failed for p@ss/word and other", url),
            "failed for *** and ***"
        );
        assert_eq!(
            redact_url("mysql://root@db/registry"),
            "mysql://root@db/registry"
        );
        assert!(url_secrets("mysql://root@db/registry").is_empty());
    }

    #[test]
    fn memory_urls_are_recognised() {
        for url in [
            ":memory:",
            "sqlite://:memory:",
            "file::memory:",
            "file:x?mode=memory",
        ] {
            assert!(is_sqlite_memory(url), "{url}");
        }
        assert!(!is_sqlite_memory("sqlite://registry.db"));
    }

    #[test]
    fn sqlite_files_are_the_path_of_the_url() {
        assert_eq!(
            sqlite_file("sqlite:///var/lib/registry.db"),
            Some(Path::new("/var/lib/registry.db"))
        );
        assert_eq!(
            sqlite_file("./data/registry.db"),
            Some(Path::new("./data/registry.db"))
        );
        for url in [
            "sqlite://:memory:",
            ":memory:",
            "file:registry.db?mode=ro",
            "",
        ] {
            assert_eq!(sqlite_file(url), None, "{url}");
        }
    }

    #[test]
    fn backends_have_short_names() {
        let names = [Backend::Sqlite, Backend::Postgres, Backend::Mysql].map(Backend::name);
        assert_eq!(names, ["sqlite", "postgres", "mysql"]);
    }
}

//! This crate's error, and how it and diesel's errors become registry-core's [`StorageError`].
//!
//! Policy: what the registry can act on is the kind. "The database is unreachable or timed
//! out" becomes [`StorageError::Unavailable`], the one retryable kind; constraint and data
//! errors become [`StorageError::Data`]; anything else [`StorageError::Backend`]. No message
//! this crate builds contains a connection URL's password.

use diesel::result::{DatabaseErrorKind, Error as QueryError};
use registry_core::StorageError;
use thiserror::Error;

use crate::backend::{Backend, UnsupportedUrl, redact_url};

/// Why connecting, migrating or querying failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DieselError {
    /// The URL's scheme names no backend this crate knows.
    #[error(
        "unsupported database URL `{url}`: use sqlite://PATH or a file path, postgres:// or postgresql://, or mysql://"
    )]
    UnsupportedUrl {
        /// The URL, password redacted.
        url: String,
    },
    /// The URL names a backend this build does not include.
    #[error(
        "the {backend} backend is not compiled in: enable the `{feature}` feature of registry-diesel",
        feature = backend.feature()
    )]
    BackendNotCompiled {
        /// The backend the URL names.
        backend: Backend,
    },
    /// No connection could be made within the connection timeout. Retrying later may succeed.
    #[error("database `{url}` is unreachable or timed out: {reason}")]
    Unavailable {
        /// The URL, password redacted.
        url: String,
        /// What the driver said, password removed.
        reason: String,
    },
    /// The database answered and refused the connection (bad credentials, no such database),
    /// or the URL's connection settings are malformed. Retrying will not help.
    #[error("database `{url}` refused the connection or its URL is malformed: {reason}")]
    Rejected {
        /// The URL, password redacted.
        url: String,
        /// What the driver said, password removed.
        reason: String,
    },
    /// A migration failed.
    #[error("migrations on `{url}` failed: {reason}")]
    Migration {
        /// The URL, password redacted.
        url: String,
        /// What failed, password removed.
        reason: String,
    },
    /// A statement failed.
    #[error("query failed: {0}")]
    Query(#[from] QueryError),
    /// A stored row cannot be an instance (a DB-GPT row with a port out of range, say).
    #[error("stored row is invalid: {0}")]
    InvalidRow(String),
    /// The folder of a SQLite file could not be created.
    #[error("cannot create the folder `{}`: {source}", folder.display())]
    CreateFolder {
        /// The folder.
        folder: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Driver messages of a failed connection that mean the settings are wrong, not that the
/// database is down: a malformed URL (libpq's and diesel's MySQL URL parsers), or a database
/// that answered and refused the credentials or does not have the named database.
const REJECTIONS: &[&str] = &[
    "invalid integer value",
    "invalid port number",
    "invalid uri",
    "invalid connection option",
    "invalid percent-encoded",
    "invalid sslmode",
    "missing \"=\" after",
    "must be in the form",
    "password authentication failed",
    "no pg_hba.conf entry",
    "does not exist",
    "access denied",
    "unknown database",
];

impl From<UnsupportedUrl> for DieselError {
    fn from(error: UnsupportedUrl) -> Self {
        Self::UnsupportedUrl { url: error.url }
    }
}

impl DieselError {
    /// The backend a URL names, if this build includes it.
    pub(crate) fn compiled_backend(url: &str) -> Result<Backend, Self> {
        let backend = Backend::from_url(url)?;
        if backend.is_compiled() {
            Ok(backend)
        } else {
            Err(Self::BackendNotCompiled { backend })
        }
    }
}

impl DieselError {
    /// A connection to `url` failed with `reason` (already scrubbed of the password):
    /// [`Rejected`](Self::Rejected) when the driver says the settings are wrong, else
    /// [`Unavailable`](Self::Unavailable).
    pub(crate) fn connection_failed(url: &str, reason: String) -> Self {
        let lower = reason.to_ascii_lowercase();
        let url = redact_url(url);
        if REJECTIONS.iter().any(|marker| lower.contains(marker)) {
            Self::Rejected { url, reason }
        } else {
            Self::Unavailable { url, reason }
        }
    }

    /// Whether retrying later may succeed: the database was unreachable, timed out, or lost a
    /// race it reported as retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unavailable { .. } => true,
            Self::Query(error) => is_unavailable(error),
            _ => false,
        }
    }
}

impl From<DieselError> for StorageError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::Query(error) => query_error(&error, error.to_string()),
            DieselError::Unavailable { .. } => Self::Unavailable(error.to_string()),
            DieselError::InvalidRow(_) => Self::Data(error.to_string()),
            DieselError::UnsupportedUrl { .. }
            | DieselError::BackendNotCompiled { .. }
            | DieselError::Rejected { .. }
            | DieselError::Migration { .. }
            | DieselError::CreateFolder { .. } => Self::Backend(error.to_string()),
        }
    }
}

/// The storage error for a failed statement; `message` is the error's text, already scrubbed.
pub(crate) fn query_error(error: &QueryError, message: String) -> StorageError {
    if is_unavailable(error) {
        return StorageError::Unavailable(message);
    }
    match error {
        QueryError::DatabaseError(
            DatabaseErrorKind::UniqueViolation
            | DatabaseErrorKind::ForeignKeyViolation
            | DatabaseErrorKind::NotNullViolation
            | DatabaseErrorKind::CheckViolation,
            _,
        )
        | QueryError::SerializationError(_)
        | QueryError::DeserializationError(_)
        | QueryError::InvalidCString(_) => StorageError::Data(message),
        QueryError::DatabaseError(_, info) if is_data_message(info.message()) => {
            StorageError::Data(message)
        }
        _ => StorageError::Backend(message),
    }
}

/// Driver messages that mean "this value does not fit the column" (PostgreSQL's SQLSTATE class
/// 22, MySQL's data errors), which diesel reports without a kind of their own.
const DATA_MESSAGES: &[&str] = &[
    "too long",
    "out of range",
    "invalid input",
    "incorrect",
    "truncat",
    "invalid byte sequence",
];

fn is_data_message(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    DATA_MESSAGES.iter().any(|m| message.contains(m))
}

/// Driver messages that mean "unreachable or timed out". Not every driver gives these a kind
/// of their own (MySQL's "server has gone away", SQLite's "database is locked" after the busy
/// timeout), so their text is the only sign.
const UNAVAILABLE_MESSAGES: &[&str] = &[
    "database is locked",
    "database table is locked",
    "server has gone away",
    "lost connection",
    "can't connect",
    "connection refused",
    "connection reset",
    "broken pipe",
    "terminating connection",
    "server closed the connection",
    "no connection to the server",
    "could not connect",
    "timed out",
    "timeout",
    "max_statement_time",
    "max_execution_time",
    "too many connections",
    "the database system is",
    "read-only",
    "readonly",
    "read only",
];

/// Whether a failed statement means the database is unreachable, timed out or asked for a
/// retry (deadlock, serialization failure).
pub(crate) fn is_unavailable(error: &QueryError) -> bool {
    match error {
        QueryError::DatabaseError(kind, info) => match kind {
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::SerializationFailure
            | DatabaseErrorKind::ReadOnlyTransaction => true,
            _ => {
                let message = info.message().to_ascii_lowercase();
                UNAVAILABLE_MESSAGES.iter().any(|m| message.contains(m))
            }
        },
        QueryError::BrokenTransactionManager => true,
        _ => false,
    }
}

/// Driver messages of a statement the server ended while the connection stays usable.
const STATEMENT_ENDED_MESSAGES: &[&str] = &[
    "locked",
    "statement timeout",
    "max_statement_time",
    "max_execution_time",
];

/// Whether the connection that produced `error` should be dropped rather than reused.
pub(crate) fn is_connection_lost(error: &QueryError) -> bool {
    match error {
        QueryError::DatabaseError(
            DatabaseErrorKind::SerializationFailure | DatabaseErrorKind::ReadOnlyTransaction,
            _,
        ) => false,
        // The server ended one statement (busy, locked, or past the statement timeout); the
        // connection is fine.
        QueryError::DatabaseError(_, info)
            if STATEMENT_ENDED_MESSAGES
                .iter()
                .any(|m| info.message().to_ascii_lowercase().contains(m)) =>
        {
            false
        }
        _ => is_unavailable(error),
    }
}

/// Whether the same statement may simply be run again: a deadlock or serialization failure,
/// which the database resolved by aborting this statement.
pub(crate) fn is_retryable_conflict(error: &QueryError) -> bool {
    matches!(
        error,
        QueryError::DatabaseError(DatabaseErrorKind::SerializationFailure, _)
    ) || matches!(error, QueryError::DatabaseError(_, info)
        if info.message().to_ascii_lowercase().contains("deadlock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_error(kind: DatabaseErrorKind, message: &str) -> QueryError {
        QueryError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn kinds_map_to_storage_errors() {
        let unique = db_error(DatabaseErrorKind::UniqueViolation, "duplicate key");
        assert!(matches!(
            query_error(&unique, String::new()),
            StorageError::Data(_)
        ));
        let closed = db_error(DatabaseErrorKind::ClosedConnection, "closed");
        assert!(query_error(&closed, String::new()).is_retryable());
        let gone = db_error(DatabaseErrorKind::Unknown, "MySQL server has gone away");
        assert!(query_error(&gone, String::new()).is_retryable());
        assert!(is_connection_lost(&gone));
        let locked = db_error(DatabaseErrorKind::Unknown, "database is locked");
        assert!(query_error(&locked, String::new()).is_retryable());
        assert!(!is_connection_lost(&locked));
        let deadlock = db_error(DatabaseErrorKind::SerializationFailure, "Deadlock found");
        assert!(is_retryable_conflict(&deadlock));
        let too_long = db_error(
            DatabaseErrorKind::Unknown,
            "value too long for type character varying(128)",
        );
        assert!(matches!(
            query_error(&too_long, String::new()),
            StorageError::Data(_)
        ));
        let syntax = db_error(DatabaseErrorKind::Unknown, "syntax error");
        assert!(matches!(
            query_error(&syntax, String::new()),
            StorageError::Backend(_)
        ));
    }

    #[test]
    fn read_only_databases_are_unavailable() {
        for message in [
            "attempt to write a readonly database",
            "The MariaDB server is running with the --read-only option so it cannot execute this statement",
            "The MySQL server is running with the --super-read-only option so it cannot execute this statement",
            "Cannot execute statement in a READ ONLY transaction",
            "Query execution was interrupted (max_statement_time exceeded)",
        ] {
            let error = db_error(DatabaseErrorKind::Unknown, message);
            assert!(
                query_error(&error, String::new()).is_retryable(),
                "{message}"
            );
        }
        let timed_out = db_error(
            DatabaseErrorKind::Unknown,
            "canceling statement due to statement timeout",
        );
        assert!(query_error(&timed_out, String::new()).is_retryable());
        assert!(!is_connection_lost(&timed_out));
        let pg = db_error(
            DatabaseErrorKind::ReadOnlyTransaction,
            "cannot execute UPDATE in a read-only transaction",
        );
        assert!(query_error(&pg, String::new()).is_retryable());
    }

    #[test]
    fn unavailable_converts_to_the_retryable_kind() {
        let error = DieselError::Unavailable {
            url: "postgres://u:***@h/db".to_owned(),
            reason: "connection refused".to_owned(),
        };
        assert!(error.is_retryable());
        assert!(StorageError::from(error).is_retryable());
    }

    #[test]
    fn missing_backends_name_their_feature() {
        let message = DieselError::BackendNotCompiled {
            backend: Backend::Postgres,
        }
        .to_string();
        assert!(message.contains("`postgres` feature"), "{message}");
    }

    #[test]
    fn unknown_schemes_are_unsupported_urls() {
        let error = DieselError::from(Backend::from_url("redis://u:hunter2@h").unwrap_err());
        assert!(matches!(error, DieselError::UnsupportedUrl { .. }));
        assert!(!error.to_string().contains("hunter2"));
    }
}

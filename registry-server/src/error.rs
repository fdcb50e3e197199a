//! The one place where errors become HTTP answers.
//!
//! Error policy of this crate: every failure a request can meet is an [`AppError`]; its
//! [`IntoResponse`] turns it into a status code and FastAPI's JSON body, as DB-GPT answers:
//! `{"detail":[{"type","loc","msg","input"},…]}` for input that cannot be read (422), else
//! `{"detail": "…"}` (`{"detail":"Not Found"}`, `{"detail":"Method Not Allowed"}`, …). Input errors are 4xx and leave storage unchanged, a
//! storage that cannot be reached is 503, and nothing else is allowed to panic or hang.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use registry_core::{RegistryError, StorageError, ValidationError};
use registry_wire::{Place, Problem, WireError};
use serde::Serialize;
use thiserror::Error;

/// Why a request failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AppError {
    /// The body or query could not be read: not JSON (400), or well formed but not what the
    /// route takes or failing validation (422). `registry-wire` owns these errors; the
    /// server's own routes and queries build them too, so every input error has one shape.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The body is larger than the configured limit.
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body could not be read.
    #[error("could not read the request body: {0}")]
    BodyUnreadable(String),
    /// The body did not arrive within the body read timeout.
    #[error("the request body did not arrive within {}", crate::config::format_duration(*.timeout))]
    BodyTimeout {
        /// The timeout.
        timeout: std::time::Duration,
    },
    /// A write (or, when configured, a read) came without the right token.
    #[error(
        "a valid token is required (Authorization: Bearer TOKEN, or Basic with the token as password)"
    )]
    Unauthorized,
    /// The request is understood but refused, such as a cross-site browser write.
    #[error("{0}")]
    Forbidden(String),
    /// No such route.
    #[error("no route for {0}")]
    NotFound(String),
    /// The instance an operator named is not registered.
    #[error("no such instance: {0}")]
    NoSuchInstance(String),
    /// The trace asked for is in no span file.
    #[error("no such trace: {0}")]
    NoSuchTrace(String),
    /// The storage cannot do what was asked (such as applying an operator's settings).
    #[error("not supported by this storage: {0}")]
    Unsupported(String),
    /// The route exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The storage could not be reached or did not answer in time.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a backend failure the client cannot fix.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// An input error about one field.
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        Self::Wire(WireError::field(field, message))
    }

    /// An input error about one query parameter.
    pub fn query_field(field: &'static str, message: impl Into<String>) -> Self {
        Self::Wire(WireError::query_field(field, message))
    }

    /// An input error about no one field of the body.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::Wire(Problem::new("value_error", Place::Body, None, message).into())
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BodyUnreadable(_) => StatusCode::BAD_REQUEST,
            // Input that cannot be read, or breaks a rule: 422, as DB-GPT's FastAPI answers it.
            Self::Wire(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::NoSuchInstance(_) | Self::NoSuchTrace(_) => {
                StatusCode::NOT_FOUND
            }
            Self::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The wire field this error is about, if any.
    pub fn field_name(&self) -> Option<&'static str> {
        match self {
            Self::Wire(error) => error.field_name(),
            _ => None,
        }
    }
}

impl From<RegistryError> for AppError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::Invalid(invalid) => invalid.into(),
            RegistryError::Storage(storage) => storage.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// A query string that does not fit the route's query type.
impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        Self::Wire(
            Problem::new(
                "value_error",
                Place::Query,
                None,
                format!("invalid query: {}", rejection.body_text()),
            )
            .into(),
        )
    }
}

impl From<ValidationError> for AppError {
    fn from(error: ValidationError) -> Self {
        Self::Wire(WireError::from(error))
    }
}

impl From<StorageError> for AppError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Invalid(invalid) => invalid.into(),
            StorageError::InvalidArgument(message) => Self::bad_input(message),
            StorageError::Unavailable(message) => Self::Unavailable(message),
            StorageError::Unsupported(what) => Self::Unsupported(what.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// FastAPI's error body: `detail` is the list of problems for input that cannot be read,
/// else one sentence.
#[derive(Serialize)]
struct ErrorBody {
    detail: serde_json::Value,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        match status {
            StatusCode::INTERNAL_SERVER_ERROR | StatusCode::SERVICE_UNAVAILABLE => {
                tracing::warn!(error = %self, "request failed");
            }
            _ => tracing::debug!(error = %self, "request rejected"),
        }
        // The driver's words stay in the log (storage URLs there are already redacted); a
        // client learns only that the storage is unavailable and when to retry.
        let detail = match &self {
            Self::Wire(error) => error.detail(),
            // Starlette's words for these, as DB-GPT answers them.
            Self::NotFound(_) => "Not Found".into(),
            Self::MethodNotAllowed => "Method Not Allowed".into(),
            Self::Unavailable(_) => "storage unavailable; retry later".into(),
            Self::Internal(_) => "internal error".into(),
            _ => self.to_string().into(),
        };
        let body = ErrorBody { detail };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match self {
            Self::Unauthorized => {
                headers.append(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                headers.append(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"registry\", charset=\"UTF-8\""),
                );
            }
            Self::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

//! The one place where errors become HTTP answers.
//!
//! Error policy of this crate: every failure a request can meet is an [`AppError`]; its
//! [`IntoResponse`] turns it into a status code and a JSON body `{"error": …, "field": …}`
//! (`field` only where one applies). Input errors are 4xx and leave storage unchanged, a
//! storage that cannot be reached is 503, and nothing else is allowed to panic or hang.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use registry_core::{RegistryError, StorageError, ValidationError};
use registry_wire::WireError;
use serde::Serialize;
use thiserror::Error;

/// Why a request failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AppError {
    /// The body is not JSON at all.
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// The body or query is well formed but not what the route takes.
    #[error("{message}")]
    BadInput {
        /// What is wrong.
        message: String,
        /// The field it is about, as spelled on the wire.
        field: Option<&'static str>,
    },
    /// The instance failed the registry's validation.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
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
        Self::BadInput {
            message: message.into(),
            field: Some(field),
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::BodyUnreadable(_) => StatusCode::BAD_REQUEST,
            // Well-formed input that breaks a rule: 422, as DB-GPT's FastAPI answers it.
            Self::BadInput { .. } | Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
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
            Self::BadInput { field, .. } => *field,
            Self::Invalid(error) => Some(error.field()),
            _ => None,
        }
    }
}

impl From<RegistryError> for AppError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::Invalid(invalid) => Self::Invalid(invalid),
            RegistryError::Storage(storage) => storage.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<WireError> for AppError {
    fn from(error: WireError) -> Self {
        match error {
            WireError::MalformedJson(message) => Self::MalformedJson(message),
            WireError::Invalid(invalid) => Self::Invalid(invalid),
            WireError::BadInput { message, field } => Self::BadInput { message, field },
            other => Self::BadInput {
                message: other.to_string(),
                field: None,
            },
        }
    }
}

impl From<StorageError> for AppError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Invalid(invalid) => Self::Invalid(invalid),
            StorageError::InvalidArgument(message) => Self::BadInput {
                message,
                field: None,
            },
            StorageError::Unavailable(message) => Self::Unavailable(message),
            StorageError::Unsupported(what) => Self::Unsupported(what.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
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
        let message = match &self {
            Self::Unavailable(_) => "storage unavailable; retry later".to_owned(),
            Self::Internal(_) => "internal error".to_owned(),
            _ => self.to_string(),
        };
        let body = ErrorBody {
            error: &message,
            field: self.field_name(),
        };
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

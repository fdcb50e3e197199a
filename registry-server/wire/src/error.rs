//! Why DB-GPT's JSON could not be read.

use registry_core::ValidationError;
use thiserror::Error;

/// Why a body or query could not be read into an instance. Every variant but
/// [`MalformedJson`](Self::MalformedJson) names its field where one applies.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum WireError {
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
}

impl WireError {
    /// An input error about one field.
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        Self::BadInput {
            message: message.into(),
            field: Some(field),
        }
    }

    /// The wire field this error is about, if any.
    pub fn field_name(&self) -> Option<&'static str> {
        match self {
            Self::BadInput { field, .. } => *field,
            Self::Invalid(error) => Some(error.field()),
            Self::MalformedJson(_) => None,
        }
    }
}

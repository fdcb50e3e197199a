//! The one error type every storage returns.

use thiserror::Error;

use crate::identifier::ValidationError;

/// Why a storage operation failed.
///
/// [`Unavailable`](Self::Unavailable) is the only retryable kind: the backend could not be
/// reached or did not answer in time. The others are about the data and will fail again.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum StorageError {
    /// `save` found an item with the same identifier.
    #[error("an item with identifier {0} already exists")]
    Duplicate(String),
    /// `update` found no item with this identifier.
    #[error("no item with identifier {0}")]
    NotFound(String),
    /// The item is invalid.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// An argument is out of range, such as page 0.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The backend could not be reached or timed out; retrying later may succeed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The backend rejected the data (a constraint or a type).
    #[error("storage rejected the data: {0}")]
    Data(String),
    /// The storage does not implement this operation.
    #[error("this storage does not support {0}")]
    Unsupported(&'static str),
    /// Any other backend failure.
    #[error("storage failure: {0}")]
    Backend(String),
}

impl StorageError {
    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

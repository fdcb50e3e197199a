//! The client's errors and their mapping onto the registry's.

use registry_core::{RegistryError, StorageError, ValidationError};
use thiserror::Error;

/// Why a client call failed.
///
/// Through the [`ModelRegistry`](registry_core::ModelRegistry) trait it becomes a
/// [`RegistryError`]: a server that cannot be reached (or answers 503) is
/// [`StorageError::Unavailable`], so [`RegistryError::is_retryable`] tells a caller whether
/// trying again later may help.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The configuration is unusable: no server URL, a URL that is not `http://host:port`.
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// The instance failed validation before anything was sent.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No server is currently known to be healthy.
    #[error("no healthy registry server among {servers} configured")]
    NoHealthyServer {
        /// How many servers are configured.
        servers: usize,
    },
    /// The server could not be reached, or did not answer in time.
    #[error("{url}: {message}")]
    Transport {
        /// The server's base URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The server answered with a status other than 2xx.
    #[error("{url}: HTTP {status}: {message}")]
    Status {
        /// The server's base URL.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The `error` field of the server's JSON answer, or its body.
        message: String,
    },
    /// The server's answer is not what the route returns.
    #[error("{url}: unexpected answer: {message}")]
    Decode {
        /// The server's base URL.
        url: String,
        /// What could not be decoded.
        message: String,
    },
    /// The blocking task that ran the call panicked or was cancelled.
    #[error("client task failed: {0}")]
    Task(String),
}

impl ClientError {
    /// Whether the same call may succeed on another server or later: the server could not be
    /// reached, or it answered with a 5xx status.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::NoHealthyServer { .. } | Self::Transport { .. } => true,
            Self::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

impl From<ClientError> for RegistryError {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::Invalid(invalid) => RegistryError::Invalid(invalid),
            ClientError::Task(message) => RegistryError::Task(message),
            ClientError::NoHealthyServer { .. } | ClientError::Transport { .. } => {
                StorageError::Unavailable(error.to_string()).into()
            }
            ClientError::Status { status, .. } if status == 503 || status == 502 => {
                StorageError::Unavailable(error.to_string()).into()
            }
            ClientError::Status { status, .. }
                if (400..500).contains(&status) && status != 401 && status != 403 =>
            {
                StorageError::InvalidArgument(error.to_string()).into()
            }
            other => StorageError::Backend(other.to_string()).into(),
        }
    }
}

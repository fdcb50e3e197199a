//! Readiness and the storage's side of `/metrics`: honest answers about the storage, each
//! bounded by the storage deadline so that they answer while the database does not.
//!
//! `/api/health` stays DB-GPT's constant liveness answer; `/api/ready` says whether the
//! storage can be reached and written now.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use registry_core::{HealthCounts, InstanceStorage, ModelCountsPage, StorageError};

use crate::AppState;

/// Runs `op` on the storage off the async threads (when the storage blocks), and gives up
/// with [`StorageError::Unavailable`] after the storage deadline.
pub(crate) async fn storage_call<R, F>(state: &AppState, op: F) -> Result<R, StorageError>
where
    R: Send + 'static,
    F: FnOnce(&dyn InstanceStorage) -> Result<R, StorageError> + Send + 'static,
{
    let storage = Arc::clone(state.registry().storage());
    let call = async move {
        if !storage.is_blocking() {
            return op(storage.as_ref());
        }
        tokio::task::spawn_blocking(move || op(storage.as_ref()))
            .await
            .map_err(|error| StorageError::Backend(error.to_string()))?
    };
    let deadline = state.policy().storage_deadline;
    tokio::time::timeout(deadline, call)
        .await
        .unwrap_or_else(|_| {
            Err(StorageError::Unavailable(
                "the storage did not answer within the storage deadline".into(),
            ))
        })
}

/// `GET /api/ready`: 200 when the storage can be reached and written, else 503 with
/// `Retry-After`. Never needs the token, as `/api/health` does not.
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    match storage_call(&state, |storage| storage.check_ready()).await {
        Ok(()) => json(StatusCode::OK, r#"{"status":"ready"}"#),
        Err(error) => {
            tracing::warn!(%error, "readiness probe failed");
            let mut response = json(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"unavailable","reason":"storage unavailable"}"#,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

/// Instance counts for `/metrics`, overall and per model, `None` when the storage is not
/// reachable and writable.
pub(crate) async fn storage_counts(state: &AppState) -> Option<(HealthCounts, ModelCountsPage)> {
    let probed = storage_call(state, |storage| {
        storage.check_ready()?;
        Ok((
            storage.count_by_health()?,
            storage.count_by_model(crate::metrics::MAX_MODELS)?,
        ))
    })
    .await;
    match probed {
        Ok(counts) => Some(counts),
        Err(error) => {
            tracing::debug!(%error, "metrics: storage down");
            None
        }
    }
}

fn json(status: StatusCode, text: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

//! `GET /api/controller/watch?index=N[&timeout=DURATION]`: a blocking query over the change
//! feed, as Consul's.
//!
//! It answers at once when the feed's index differs from `N` (absent or 0: the first call),
//! otherwise when the registry changes, or after `timeout` (default 60 s, at most 5 min) with
//! the unchanged index; and at once, with the current index, when the server starts shutting
//! down. The answer is `{"index": …, "instances": […]}` (instances as
//! `GET /api/controller/models` lists them) and the index is also in `X-Registry-Index`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use registry_core::ModelInstance;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::config::parse_duration_setting;
use crate::error::AppError;
use registry_wire::{InstanceOut, instance_list};

/// The header holding the answer's index.
pub const INDEX_HEADER: &str = "x-registry-index";
/// How long a watch waits when it names no timeout.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);
/// The longest a watch may wait.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WatchQuery {
    index: Option<String>,
    timeout: Option<String>,
}

#[derive(Serialize)]
struct WatchAnswer<'a> {
    index: u64,
    instances: Vec<InstanceOut<'a>>,
}

impl WatchQuery {
    pub(crate) fn new(index: Option<String>, timeout: Option<String>) -> Self {
        Self { index, timeout }
    }

    fn parse(self) -> Result<(u64, Duration), AppError> {
        let index = match self.index.as_deref().map(str::trim) {
            None | Some("") => 0,
            Some(text) => text.parse().map_err(|_| {
                AppError::query_field(
                    "index",
                    format!("index must be a whole number, not {text:?}"),
                )
            })?,
        };
        let timeout = match self.timeout.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_WAIT,
            Some(text) => parse_duration_setting(text)
                .map_err(|message| AppError::query_field("timeout", message))?,
        };
        Ok((index, timeout.min(MAX_WAIT)))
    }
}

/// Waits as the query asks; answers the feed's index and its instances, sorted by key.
pub(crate) async fn wait_for_change(
    state: &AppState,
    query: WatchQuery,
) -> Result<(u64, Arc<Vec<ModelInstance>>), AppError> {
    let (since, timeout) = query.parse()?;
    let feed = state.change_feed();
    // A first call (or one during shutdown) answers at once, from a reading at most a second
    // old; a shutting-down server does not wait out the poll, and the client's next poll finds
    // it gone.
    let snapshot = if since == 0 || state.is_shutting_down() {
        feed.fresh(super::FEED_MAX_POLL, state.policy().storage_deadline)
            .await
    } else {
        tokio::select! {
            snapshot = feed.wait(since, timeout) => snapshot,
            () = state.shutdown_started() => feed.current(),
        }
    };
    Ok((snapshot.index, snapshot.instances))
}

/// The long poll.
pub(crate) async fn watch(
    State(state): State<AppState>,
    query: Result<Query<WatchQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let Query(query) = query?;
    let (index, instances) = wait_for_change(&state, query).await?;
    let body = WatchAnswer {
        index,
        instances: instance_list(&instances),
    };
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(INDEX_HEADER, HeaderValue::from(index));
    Ok(response)
}

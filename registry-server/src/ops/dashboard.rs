//! `GET /api/controller/dashboard`: what the dashboard shows, as a long poll over the change
//! feed that answers a summary and the page in view, never the whole registry.
//!
//! The answer holds every model's counts (paged, searchable by name), one page of instances
//! (filtered by model, host, health, enablement and flapping) and fleet totals. It waits as
//! `/api/controller/watch` does (`index`, `timeout`); a filter or page change is a new call
//! with no index, answered at once. Its size is bounded by the page sizes (at most
//! [`MAX_MODEL_ROWS`] models and [`MAX_INSTANCE_ROWS`] instances), whatever the registry's.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use registry_core::ModelInstance;
use serde::{Deserialize, Serialize};

use super::INDEX_HEADER;
use super::watch::WatchQuery;
use crate::AppState;
use crate::error::AppError;
use registry_wire::InstanceOut;

/// The most model rows one answer holds.
pub const MAX_MODEL_ROWS: usize = 500;
/// The most instance rows one answer holds.
pub const MAX_INSTANCE_ROWS: usize = 500;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DashboardQuery {
    index: Option<String>,
    timeout: Option<String>,
    model_search: Option<String>,
    model_offset: Option<String>,
    model_limit: Option<String>,
    model: Option<String>,
    host: Option<String>,
    health: Option<String>,
    enabled: Option<String>,
    flapping: Option<String>,
    offset: Option<String>,
    limit: Option<String>,
}

/// What the instance page shows.
#[derive(Debug, Default)]
struct View {
    model_search: String,
    model_offset: usize,
    model_limit: usize,
    model: Option<String>,
    host: String,
    healthy: Option<bool>,
    enabled: Option<bool>,
    flapping_only: bool,
    offset: usize,
    limit: usize,
}

fn number(text: Option<&str>, field: &'static str, default: usize) -> Result<usize, AppError> {
    match text.map(str::trim) {
        None | Some("") => Ok(default),
        Some(text) => text.parse().map_err(|_| {
            AppError::query_field(
                field,
                format!("{field} must be a whole number, not {text:?}"),
            )
        }),
    }
}

fn page_size(text: Option<&str>, field: &'static str, max: usize) -> Result<usize, AppError> {
    let size = number(text, field, 100.min(max))?;
    if size == 0 || size > max {
        return Err(AppError::query_field(
            field,
            format!("{field} must be between 1 and {max}"),
        ));
    }
    Ok(size)
}

fn choice(
    text: Option<&str>,
    field: &'static str,
    yes: &str,
    no: &str,
) -> Result<Option<bool>, AppError> {
    match text.map(str::trim) {
        None | Some("" | "any") => Ok(None),
        Some(t) if t == yes => Ok(Some(true)),
        Some(t) if t == no => Ok(Some(false)),
        Some(t) => Err(AppError::query_field(
            field,
            format!("{field} must be any, {yes} or {no}, not {t:?}"),
        )),
    }
}

impl DashboardQuery {
    fn parse(self) -> Result<(WatchQuery, View), AppError> {
        let view = View {
            model_search: self.model_search.unwrap_or_default().trim().to_lowercase(),
            model_offset: number(self.model_offset.as_deref(), "model_offset", 0)?,
            model_limit: page_size(self.model_limit.as_deref(), "model_limit", MAX_MODEL_ROWS)?,
            model: self.model.filter(|m| !m.trim().is_empty()),
            host: self.host.unwrap_or_default().trim().to_lowercase(),
            healthy: choice(self.health.as_deref(), "health", "healthy", "unhealthy")?,
            enabled: choice(self.enabled.as_deref(), "enabled", "true", "false")?,
            flapping_only: choice(self.flapping.as_deref(), "flapping", "true", "false")?
                .unwrap_or(false),
            offset: number(self.offset.as_deref(), "offset", 0)?,
            limit: page_size(self.limit.as_deref(), "limit", MAX_INSTANCE_ROWS)?,
        };
        Ok((WatchQuery::new(self.index, self.timeout), view))
    }
}

#[derive(Serialize)]
struct Totals {
    models: usize,
    instances: usize,
    healthy: usize,
    enabled: usize,
    flapping: usize,
}

#[derive(Serialize)]
struct ModelRow<'a> {
    model_name: &'a str,
    instances: usize,
    healthy: usize,
    enabled: usize,
    /// Weight of the instances selection may pick.
    serving_weight: f64,
    /// Weight of every instance.
    total_weight: f64,
    flapping: usize,
    /// The lowest healthy count of each minute of the last hour, oldest first.
    healthy_history: Vec<Option<u32>>,
}

#[derive(Serialize)]
struct InstanceRow<'a> {
    #[serde(flatten)]
    instance: InstanceOut<'a>,
    /// Its share of its model's selectable weight: the chance selection picks it.
    share: f64,
    /// Health transitions within the flap window, when at or above the threshold.
    flapping: usize,
}

#[derive(Serialize)]
struct Rows<T> {
    offset: usize,
    limit: usize,
    matched: usize,
    rows: Vec<T>,
}

#[derive(Serialize)]
struct DashboardAnswer<'a> {
    index: u64,
    totals: Totals,
    models: Rows<ModelRow<'a>>,
    instances: Rows<InstanceRow<'a>>,
}

type Flapping = HashMap<(String, String, u16), usize>;

fn flaps(flapping: &Flapping, i: &ModelInstance) -> usize {
    if flapping.is_empty() {
        return 0;
    }
    flapping
        .get(&(i.model_name.clone(), i.host.clone(), i.port))
        .copied()
        .unwrap_or(0)
}

/// The long poll.
pub(crate) async fn dashboard(
    State(state): State<AppState>,
    query: Result<Query<DashboardQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let Query(query) = query?;
    let (watch, view) = query.parse()?;
    let (index, instances) = super::watch::wait_for_change(&state, watch).await?;
    let now = chrono::Utc::now();
    let history = state.ops().history();
    let flapping = history.flapping(now);
    let answer = answer(index, &instances, &view, &flapping, |model| {
        history.healthy_series(model, now)
    });
    let mut response = Json(answer).into_response();
    response
        .headers_mut()
        .insert(INDEX_HEADER, HeaderValue::from(index));
    Ok(response)
}

fn answer<'a>(
    index: u64,
    instances: &'a Arc<Vec<ModelInstance>>,
    view: &View,
    flapping: &Flapping,
    series: impl Fn(&str) -> Vec<Option<u32>>,
) -> DashboardAnswer<'a> {
    let models: Vec<&'a [ModelInstance]> = instances
        .chunk_by(|a, b| a.model_name == b.model_name)
        .collect();
    let serving = |group: &[ModelInstance]| -> f64 {
        group
            .iter()
            .filter(|i| i.is_selectable())
            .map(|i| i.weight)
            .sum()
    };
    let matched_models: Vec<&&[ModelInstance]> = models
        .iter()
        .filter(|g| g[0].model_name.to_lowercase().contains(&view.model_search))
        .collect();
    let model_rows = matched_models
        .iter()
        .skip(view.model_offset)
        .take(view.model_limit)
        .map(|group| ModelRow {
            model_name: &group[0].model_name,
            instances: group.len(),
            healthy: group.iter().filter(|i| i.healthy).count(),
            enabled: group.iter().filter(|i| i.enabled).count(),
            serving_weight: serving(group),
            total_weight: group.iter().map(|i| i.weight).sum(),
            flapping: group.iter().filter(|i| flaps(flapping, i) > 0).count(),
            healthy_history: series(&group[0].model_name),
        })
        .collect();
    let in_view = |i: &&ModelInstance| {
        view.model.as_ref().is_none_or(|m| *m == i.model_name)
            && view.healthy.is_none_or(|h| h == i.healthy)
            && view.enabled.is_none_or(|e| e == i.enabled)
            && (!view.flapping_only || flaps(flapping, i) > 0)
            && (view.host.is_empty() || host_matches(i, &view.host))
    };
    let matched: Vec<&ModelInstance> = instances.iter().filter(in_view).collect();
    let serving_of: HashMap<&str, f64> = models
        .iter()
        .map(|g| (g[0].model_name.as_str(), serving(g)))
        .collect();
    let instance_rows = matched
        .iter()
        .skip(view.offset)
        .take(view.limit)
        .map(|i| {
            let total = serving_of
                .get(i.model_name.as_str())
                .copied()
                .unwrap_or(0.0);
            InstanceRow {
                instance: InstanceOut::from(*i),
                share: if i.is_selectable() && total > 0.0 {
                    i.weight / total
                } else {
                    0.0
                },
                flapping: flaps(flapping, i),
            }
        })
        .collect();
    DashboardAnswer {
        index,
        totals: Totals {
            models: models.len(),
            instances: instances.len(),
            healthy: instances.iter().filter(|i| i.healthy).count(),
            enabled: instances.iter().filter(|i| i.enabled).count(),
            flapping: flapping.len(),
        },
        models: Rows {
            offset: view.model_offset,
            limit: view.model_limit,
            matched: matched_models.len(),
            rows: model_rows,
        },
        instances: Rows {
            offset: view.offset,
            limit: view.limit,
            matched: matched.len(),
            rows: instance_rows,
        },
    }
}

/// A case-insensitive substring of `host:port`.
fn host_matches(instance: &ModelInstance, search: &str) -> bool {
    if instance.host.to_lowercase().contains(search) {
        return true;
    }
    search.contains(':') && format!("{}:{}", instance.host, instance.port).contains(search)
}

#[cfg(test)]
mod tests;

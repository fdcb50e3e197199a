//! The listing's `last_heartbeat` as DB-GPT's controller shows it: a naive wall-clock time in
//! the server's configured zone.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::{call, register};
use registry_core::{
    InMemoryStorage, InstanceStorage, ManualClock, ModelInstance, RegistryConfig,
    StorageModelRegistry,
};
use registry_diesel::WallClockZone;
use registry_server::{AppState, app};

async fn listed_heartbeat(zone: Option<&str>) -> serde_json::Value {
    let storage: Arc<dyn InstanceStorage> = Arc::new(InMemoryStorage::<ModelInstance>::new());
    // 2026-12-05 11:59:21.123456 UTC.
    let now = chrono::DateTime::from_timestamp(1_796_471_961, 123_456_000).unwrap();
    let registry = Arc::new(
        StorageModelRegistry::with_config(storage, RegistryConfig::default())
            .with_clock(Arc::new(ManualClock::new(now))),
    );
    let mut state = AppState::new(registry);
    if let Some(zone) = zone {
        state = state.with_time_zone(zone.parse::<WallClockZone>().unwrap());
    }
    let app = app(state);
    assert_eq!(register(&app, "m@llm", "h", 1).await.status, StatusCode::OK);
    let list = call(&app, "GET", "/api/controller/models", None, &[]).await;
    assert_eq!(list.status, StatusCode::OK);
    list.json[0]["last_heartbeat"].clone()
}

#[tokio::test]
async fn the_listing_shows_the_configured_zones_wall_clock() {
    assert_eq!(
        listed_heartbeat(Some("Asia/Shanghai")).await,
        "2026-12-05T19:59:21.123456"
    );
    assert_eq!(
        listed_heartbeat(Some("America/New_York")).await,
        "2026-12-05T06:59:21.123456"
    );
}

#[tokio::test]
async fn a_state_without_a_zone_lists_utc_wall_clock_times() {
    assert_eq!(listed_heartbeat(None).await, "2026-12-05T11:59:21.123456");
}

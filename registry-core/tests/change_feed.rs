//! The change feed: a long poll answers on a change, and only on changes watchers care about.

use std::sync::Arc;
use std::time::Duration;

use registry_core::{
    ChangeFeed, InMemoryStorage, ManualClock, ModelInstance, ModelRegistry, Polling,
    RegistryConfig, StorageModelRegistry, ValidInstance,
};

const LONG_POLL: Duration = Duration::from_secs(300);

struct Fixture {
    registry: Arc<StorageModelRegistry<InMemoryStorage<ModelInstance>>>,
    clock: Arc<ManualClock>,
    feed: ChangeFeed,
}

async fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::default());
    let registry = Arc::new(
        StorageModelRegistry::with_config(
            Arc::new(InMemoryStorage::new()),
            RegistryConfig::default(),
        )
        .with_clock(clock.clone()),
    );
    let feed = ChangeFeed::start(registry.clone(), Duration::from_secs(1));
    // Let the first read happen.
    tokio::task::yield_now().await;
    Fixture {
        registry,
        clock,
        feed,
    }
}

#[tokio::test(start_paused = true)]
async fn a_registration_wakes_a_waiting_long_poll() {
    let f = fixture().await;
    let before = f.feed.current();
    let waiter = {
        let feed = &f.feed;
        async move { feed.wait(before.index, LONG_POLL).await }
    };
    let writer = async {
        f.registry
            .register_instance(valid(&ModelInstance::new("m", "h", 1)))
            .await
            .unwrap();
        f.feed.nudge();
    };
    let started = tokio::time::Instant::now();
    let (snapshot, ()) = tokio::join!(waiter, writer);
    assert_eq!(snapshot.index, before.index + 1);
    assert_eq!(snapshot.instances.len(), 1);
    assert!(
        started.elapsed() < LONG_POLL,
        "answered on the change, not at the timeout"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unknown_index_answers_at_once_and_no_change_waits_out_the_poll() {
    let f = fixture().await;
    let current = f.feed.current();
    assert_eq!(f.feed.wait(0, LONG_POLL).await.index, current.index);
    let started = tokio::time::Instant::now();
    let unchanged = f.feed.wait(current.index, Duration::from_secs(30)).await;
    assert_eq!(unchanged.index, current.index);
    assert!(started.elapsed() >= Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn heartbeats_are_not_changes_but_expiry_is() {
    let f = fixture().await;
    let before = f.feed.current().index;
    f.registry
        .register_instance(valid(&ModelInstance::new("m", "h", 1)))
        .await
        .unwrap();
    f.feed.nudge();
    let registered = f.feed.wait(before, LONG_POLL).await.index;
    assert_eq!(registered, before + 1, "a registration is a change");

    f.clock.advance(chrono::Duration::seconds(10));
    f.registry
        .send_heartbeat(valid(&ModelInstance::new("m", "h", 1)))
        .await
        .unwrap();
    f.feed.nudge();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(f.feed.current().index, registered);

    f.clock.advance(chrono::Duration::seconds(61));
    f.registry.sweep().await.unwrap();
    // Seen by the periodic read, without a nudge, as another server's write would be.
    let expired = f.feed.wait(registered, LONG_POLL).await;
    assert_eq!(expired.index, registered + 1);
    assert!(!expired.instances[0].healthy);
}

/// The instance, validated; every instance these tests pass is valid.
fn valid(instance: &ModelInstance) -> ValidInstance {
    ValidInstance::new(instance.clone()).expect("a valid instance")
}

#[tokio::test(start_paused = true)]
async fn an_idle_feed_reads_seldom_until_a_long_poll_waits() {
    let registry = Arc::new(StorageModelRegistry::new(Arc::new(InMemoryStorage::new())));
    let polling = Polling {
        watched: Duration::from_secs(1),
        idle: Duration::from_secs(20),
    };
    let feed = ChangeFeed::start_recording(registry.clone(), polling, None);
    tokio::task::yield_now().await;
    let first = feed.current();
    // A write the feed is not told of (as another server's): unseen while nobody watches.
    registry
        .register_instance(valid(&ModelInstance::new("m", "h", 1)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(feed.current().index, first.index, "idle: no reading yet");
    // A long poll shortens the idle wait to the watched interval.
    let started = tokio::time::Instant::now();
    let seen = feed.wait(first.index, LONG_POLL).await;
    assert_eq!(seen.instances.len(), 1);
    assert!(
        started.elapsed() <= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

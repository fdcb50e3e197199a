//! Warnings about a failing storage are rate-limited: one storage failing every batch logs
//! its first failure, then at most one warning per `warning_interval`.
//!
//! Its own test binary, because it installs a global subscriber to count the warnings that the
//! flush thread logs.

use span_storage::{
    ContainerConfig, Span, SpanStorage, SpanStorageContainer, SpanStorageError, SpanType,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tracing_subscriber::layer::{Context, SubscriberExt};

static WARNINGS: AtomicUsize = AtomicUsize::new(0);

struct CountWarnings;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountWarnings {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() == tracing::Level::WARN {
            WARNINGS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

struct AlwaysFull;

impl SpanStorage for AlwaysFull {
    fn append_span(&self, _span: &Span) -> Result<(), SpanStorageError> {
        Err(SpanStorageError::Export("no space left on device".into()))
    }
}

#[test]
fn a_storage_failing_every_batch_logs_one_warning_per_interval() {
    let subscriber = tracing_subscriber::registry().with(CountWarnings);
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    let config = ContainerConfig::default()
        .with_batch_size(1)
        .with_flush_interval(Duration::from_secs(3600))
        // Longer than any test run: every warning after the first is held back.
        .with_warning_interval(Duration::from_secs(3600));
    let container = SpanStorageContainer::new(config, vec![Arc::new(AlwaysFull)]).expect("new");
    for i in 0..50 {
        container.append(Span::new_root(SpanType::Base, format!("op{i}")));
        // One batch each: every flush is one more failure.
        assert!(container.flush().is_err());
    }
    assert_eq!(container.failed_writes(), 50);
    assert_eq!(WARNINGS.load(Ordering::SeqCst), 1);
}

//! Traces a few nested `tracing` spans into a DB-GPT-compatible JSON-lines file and prints it.
//!
//! Run with `cargo run -p span-storage --example trace_to_file [PATH]`.

use span_storage::{
    ContainerConfig, FileSpanStorage, SpanLayer, SpanStorageContainer, TRACE_HEADER,
    current_span_id, read_span_file,
};
use std::sync::Arc;
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        std::env::temp_dir()
            .join("span-storage-example.jsonl")
            .display()
            .to_string()
    });
    let file = Arc::new(FileSpanStorage::open(&path)?);
    let container = Arc::new(SpanStorageContainer::new(
        ContainerConfig::default(),
        vec![file],
    )?);
    let subscriber = tracing_subscriber::registry().with(SpanLayer::new(container.clone()));

    tracing::subscriber::with_default(subscriber, || {
        let request = tracing::info_span!(
            "dbgpt.model.controller.register_instance",
            model_name = "glm-4-9b-chat@llm"
        );
        let _request = request.enter();
        let store = tracing::info_span!("storage.upsert", rows = 1_u64);
        let _store = store.enter();
        // What a client would send on to the next service.
        if let Some(id) = current_span_id() {
            println!("{TRACE_HEADER}: {id}");
        }
    });

    container.shutdown(Duration::from_secs(10))?;
    let contents = read_span_file(&path)?;
    println!("{} spans in {path}:", contents.spans.len());
    for span in contents.spans {
        println!("{}", span.to_json_line());
    }
    Ok(())
}

//! An in-memory model registry: workers register and beat, a silent one expires, and callers
//! pick a healthy instance by weight.
//!
//! ```sh
//! cargo run -p registry-core --example in_memory
//! ```

use std::sync::Arc;

use chrono::Duration;
use registry_core::{
    InMemoryStorage, ManualClock, ModelInstance, ModelRegistry, StorageModelRegistry, ValidInstance,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), registry_core::RegistryError> {
    // A manual clock makes expiry visible without waiting a minute.
    let clock = Arc::new(ManualClock::default());
    let registry =
        StorageModelRegistry::new(Arc::new(InMemoryStorage::new())).with_clock(clock.clone());

    // Validation happens once, when an instance becomes a `ValidInstance`.
    let heavy = ValidInstance::new(ModelInstance {
        weight: 3.0,
        ..ModelInstance::new("glm-4-9b-chat@llm", "10.0.0.1", 8001)
    })?;
    let light = ValidInstance::new(ModelInstance::new("glm-4-9b-chat@llm", "10.0.0.2", 8001))?;
    registry.register_instance(heavy.clone()).await?;
    registry.register_instance(light.clone()).await?;

    let mut picks = [0u32; 2];
    for _ in 0..1000 {
        if let Some(chosen) = registry
            .select_one_health_instance("glm-4-9b-chat@llm")
            .await?
        {
            picks[usize::from(chosen.host == light.host)] += 1;
        }
    }
    println!(
        "weighted picks: 10.0.0.1 (weight 3) {}, 10.0.0.2 (weight 1) {}",
        picks[0], picks[1]
    );

    // Only the heavy instance keeps beating; after the timeout the sweep expires the other.
    clock.advance(Duration::seconds(50));
    registry.send_heartbeat(heavy).await?;
    clock.advance(Duration::seconds(20));
    let outcome = registry.sweep().await?;
    println!("sweep: {outcome:?}");

    for instance in registry
        .get_all_instances("glm-4-9b-chat@llm", false)
        .await?
    {
        println!(
            "{}:{} healthy={}",
            instance.host, instance.port, instance.healthy
        );
    }
    Ok(())
}

//! A registry on the SQL storage: register, heartbeat, list, sweep.
//!
//! `cargo run -p registry-diesel --example registry -- [URL]`; without a URL it uses a SQLite
//! file in a temporary directory. Try `postgres://postgres@127.0.0.1:5432/test` with
//! `--features postgres`.

use std::sync::Arc;

use registry_core::{ModelInstance, ModelRegistry, StorageModelRegistry, ValidInstance};
use registry_diesel::{DieselStorage, PoolConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("registry.db").display()));
    let storage = DieselStorage::connect(&url, PoolConfig::default())?;
    println!(
        "connected to {} ({})",
        storage.redacted_url(),
        storage.backend()
    );

    let registry = StorageModelRegistry::new(Arc::new(storage));
    let runtime = tokio::runtime::Builder::new_multi_thread().build()?;
    runtime.block_on(async {
        let worker = ModelInstance::new("glm-4-9b-chat@llm", "172.17.0.2", 8001);
        registry.register_instance(valid(&worker)).await?;
        registry.send_heartbeat(valid(&worker)).await?;
        for instance in registry
            .get_all_instances("glm-4-9b-chat@llm", true)
            .await?
        {
            println!(
                "{}@{}:{} healthy={} last_heartbeat={:?}",
                instance.model_name,
                instance.host,
                instance.port,
                instance.healthy,
                instance.last_heartbeat
            );
        }
        let outcome = registry.sweep().await?;
        println!("sweep expired {} instance(s)", outcome.expired);
        Ok::<_, registry_core::RegistryError>(())
    })?;
    Ok(())
}

/// The instance, validated; every instance written here is valid.
fn valid(instance: &ModelInstance) -> ValidInstance {
    ValidInstance::new(instance.clone()).expect("a valid instance")
}

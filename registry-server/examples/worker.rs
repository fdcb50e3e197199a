//! A model worker's registration: keeps one instance registered with one or more registry
//! servers until Ctrl-C, then deregisters it.
//!
//! ```sh
//! cargo run -p registry-server -- --storage-url memory &
//! cargo run -p registry-server --features client --example worker -- http://127.0.0.1:8000
//! ```
//!
//! The argument is a comma-separated list of server URLs (default `http://127.0.0.1:8000`).

use std::sync::Arc;
use std::time::Duration;

use registry_core::{ModelInstance, ModelRegistry, ValidInstance};
use registry_server::client::{ClientConfig, RegistryClient, WorkerRegistration};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let urls = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8000".to_owned());
    let client = Arc::new(RegistryClient::new(ClientConfig::from_urls(&urls))?);

    let instance = ValidInstance::new(ModelInstance::new("example-model@llm", "127.0.0.1", 8001))?;
    let task = WorkerRegistration::new(instance)
        .with_interval(Duration::from_secs(5))
        .start(client.clone());

    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let status = task.status();
                let healthy = client.get_all_instances("example-model@llm", true).await;
                println!(
                    "registered: {}, heartbeats: {}, failures: {}, healthy instances: {:?}",
                    status.registered,
                    status.heartbeats,
                    status.failures,
                    healthy.map(|list| list.len()),
                );
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    task.shutdown().await?;
    println!("deregistered");
    Ok(())
}

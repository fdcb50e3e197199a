//! The registry served in-process, a worker keeping itself registered through the Rust client,
//! and a lookup: everything the crate offers, in one program that ends by itself.
//!
//! ```sh
//! cargo run -p registry-server --features client --example embedded
//! ```

use std::sync::Arc;
use std::time::Duration;

use registry_core::{ModelInstance, ModelRegistry, ValidInstance};
use registry_server::client::{ClientConfig, RegistryClient, WorkerRegistration};
use registry_server::{AppState, app, memory_registry};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The server: memory storage, the heartbeat checker, the router on a free port.
    let registry = Arc::new(memory_registry());
    let checker = registry.start_checker();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(listener, app(AppState::new(registry.clone())))
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .into_future(),
    );
    println!("registry on {url}");

    // A worker: registers and beats every second through the client.
    let client = Arc::new(RegistryClient::new(ClientConfig::from_urls(&url))?);
    let instance = ValidInstance::new(ModelInstance::new("glm-4@llm", "127.0.0.1", 8001))?;
    let worker = WorkerRegistration::new(instance)
        .with_interval(Duration::from_secs(1))
        .start(client.clone());
    while worker.status().registrations == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A caller: finds a healthy instance.
    let chosen = client.select_one_health_instance("glm-4@llm").await?;
    println!("chosen: {chosen:?}");

    // Shutdown: the worker deregisters, then the server stops.
    worker.shutdown().await?;
    let listed = client.get_all_instances("glm-4@llm", false).await?;
    println!(
        "after shutdown: healthy = {:?}",
        listed.iter().map(|i| i.healthy).collect::<Vec<_>>()
    );
    let _ = stop.send(());
    server.await??;
    checker.shutdown().await;
    Ok(())
}

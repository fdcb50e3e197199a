//! Throughput of the registry API on in-memory storage, on one thread.
//!
//! Prints heartbeats/s, registrations/s and listings/s with 100 and with 10,000 instances over
//! 10 models. Run with `cargo bench -p registry-core` (or `cargo xtask bench`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use registry_core::{InMemoryStorage, ModelInstance, ModelRegistry, StorageModelRegistry};

const MODELS: usize = 10;
/// Each measurement runs for about this long.
const TARGET: Duration = Duration::from_millis(1500);

fn instances(count: usize) -> Vec<ModelInstance> {
    (0..count)
        .map(|i| {
            let port = u16::try_from(1 + i % 60_000).unwrap_or(1);
            ModelInstance::new(
                format!("model-{}", i % MODELS),
                format!("10.0.{}.1", i / 60_000),
                port,
            )
        })
        .collect()
}

/// Runs `round` (which performs `ops_per_round` operations) until about [`TARGET`] has passed;
/// returns operations per second.
async fn rate<F, Fut>(ops_per_round: usize, mut round: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    round().await; // warm-up
    let start = Instant::now();
    let mut ops = 0_usize;
    while start.elapsed() < TARGET {
        round().await;
        ops += ops_per_round;
    }
    ops as f64 / start.elapsed().as_secs_f64()
}

async fn measure(count: usize) -> [f64; 3] {
    let all = instances(count);
    let registry = StorageModelRegistry::new(Arc::new(InMemoryStorage::new()));
    let register = rate(all.len(), || async {
        for instance in &all {
            black_box(registry.register_instance(instance).await.ok());
        }
    })
    .await;
    let heartbeat = rate(all.len(), || async {
        for instance in &all {
            black_box(registry.send_heartbeat(instance).await.ok());
        }
    })
    .await;
    let listing = rate(MODELS, || async {
        for model in 0..MODELS {
            black_box(
                registry
                    .get_all_instances(&format!("model-{model}"), true)
                    .await
                    .ok(),
            );
        }
    })
    .await;
    [heartbeat, register, listing]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    println!("registry-core: registry API on in-memory storage, one thread");
    println!(
        "{:<12} {:>16} {:>16} {:>16}",
        "instances", "heartbeats/s", "registrations/s", "listings/s"
    );
    let mut heartbeat_rates = Vec::new();
    for count in [100, 10_000] {
        let [heartbeat, register, listing] = runtime.block_on(measure(count));
        heartbeat_rates.push(heartbeat);
        println!("{count:<12} {heartbeat:>16.0} {register:>16.0} {listing:>16.0}");
    }
    let ratio = heartbeat_rates[1] / heartbeat_rates[0];
    println!("heartbeat rate at 10,000 instances / at 100: {ratio:.2} (target >= 0.80)");
    println!("target: >= 3,000,000 heartbeats/s at 100 instances");
}

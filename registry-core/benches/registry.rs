//! Throughput of the registry API on in-memory storage, on one thread.
//!
//! Prints heartbeats/s, registrations/s and listings/s with 100 and with 10,000 instances over
//! 10 models. Run with `cargo bench -p registry-core` (or `cargo xtask bench`).
//!
//! Each figure is the median of several trials, and the trials of the two sizes alternate: a
//! slow moment of a shared machine then lands in one trial of each size rather than in every
//! trial of one size, and the median leaves it out.
//!
//! Each call's instance is written into one reused `ModelInstance`, as a server decodes each
//! request into a fresh, cache-hot value. Ten thousand prebuilt instances would be 1.7 MB of
//! the caller's own data streaming through the cache beside the registry's table, and the
//! figure at 10,000 would then measure the caller as much as the registry.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use registry_core::{
    InMemoryStorage, ModelInstance, ModelRegistry, StorageModelRegistry, ValidInstance,
};

const MODELS: usize = 10;
const SIZES: [usize; 2] = [100, 10_000];
const TRIALS: usize = 7;
/// Each trial runs for about this long.
const TRIAL: Duration = Duration::from_millis(300);

type Registry = StorageModelRegistry<InMemoryStorage<ModelInstance>>;

/// The `i`-th instance's key: model index, host index and port.
fn key(i: usize) -> (usize, usize, u16) {
    let port = u16::try_from(1 + i % 60_000).unwrap_or(1);
    (i % MODELS, i / 60_000, port)
}

/// Writes the `i`-th instance's key into `instance`, reusing its buffers.
fn write_key(instance: &mut ModelInstance, names: &Names, i: usize) {
    let (model, host, port) = key(i);
    instance.model_name.clear();
    instance.model_name.push_str(&names.models[model]);
    instance.host.clear();
    instance.host.push_str(&names.hosts[host]);
    instance.port = port;
}

/// The texts instance keys are made of.
struct Names {
    models: Vec<String>,
    hosts: Vec<String>,
}

impl Names {
    fn new(count: usize) -> Self {
        Self {
            models: (0..MODELS).map(|m| format!("model-{m}")).collect(),
            hosts: (0..=count / 60_000)
                .map(|h| format!("10.0.{h}.1"))
                .collect(),
        }
    }
}

/// Runs `round` (which performs `ops_per_round` operations) until about [`TRIAL`] has passed;
/// returns operations per second.
async fn rate<F, Fut>(ops_per_round: usize, mut round: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    round().await; // warm-up
    let start = Instant::now();
    let mut ops = 0_usize;
    while start.elapsed() < TRIAL {
        round().await;
        ops += ops_per_round;
    }
    ops as f64 / start.elapsed().as_secs_f64()
}

/// One registry per size with its instances, so trials of the sizes can alternate.
struct Subject {
    count: usize,
    names: Names,
    registry: Registry,
}

impl Subject {
    fn new(count: usize) -> Self {
        Self {
            count,
            names: Names::new(count),
            registry: StorageModelRegistry::new(Arc::new(InMemoryStorage::new())),
        }
    }

    async fn registrations(&self) -> f64 {
        rate(self.count, || async {
            let mut instance = ModelInstance::new(String::new(), String::new(), 1);
            for i in 0..self.count {
                write_key(&mut instance, &self.names, i);
                black_box(self.registry.register_instance(valid(&instance)).await.ok());
            }
        })
        .await
    }

    async fn heartbeats(&self) -> f64 {
        rate(self.count, || async {
            let mut instance = ModelInstance::new(String::new(), String::new(), 1);
            for i in 0..self.count {
                write_key(&mut instance, &self.names, i);
                black_box(self.registry.send_heartbeat(valid(&instance)).await.ok());
            }
        })
        .await
    }

    async fn listings(&self) -> f64 {
        rate(MODELS, || async {
            for model in 0..MODELS {
                let name = format!("model-{model}");
                black_box(self.registry.get_all_instances(&name, true).await.ok());
            }
        })
        .await
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Medians of heartbeats/s, registrations/s and listings/s for each subject.
async fn measure(subjects: &[Subject]) -> Vec<[f64; 3]> {
    let mut trials = vec![[const { Vec::new() }; 3]; subjects.len()];
    for _ in 0..TRIALS {
        for (subject, trial) in subjects.iter().zip(&mut trials) {
            trial[1].push(subject.registrations().await);
            trial[0].push(subject.heartbeats().await);
            trial[2].push(subject.listings().await);
        }
    }
    trials
        .into_iter()
        .map(|[heartbeats, registrations, listings]| {
            [median(heartbeats), median(registrations), median(listings)]
        })
        .collect()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let subjects: Vec<Subject> = SIZES.into_iter().map(Subject::new).collect();
    let figures = runtime.block_on(measure(&subjects));
    println!("registry-core: registry API on in-memory storage, one thread");
    println!("(median of {TRIALS} alternating trials of {TRIAL:?} each)");
    println!(
        "{:<12} {:>16} {:>16} {:>16}",
        "instances", "heartbeats/s", "registrations/s", "listings/s"
    );
    for (count, [heartbeat, register, listing]) in SIZES.iter().zip(&figures) {
        println!("{count:<12} {heartbeat:>16.0} {register:>16.0} {listing:>16.0}");
    }
    let ratio = figures[1][0] / figures[0][0];
    println!("heartbeat rate at 10,000 instances / at 100: {ratio:.2} (target >= 0.80)");
    println!("target: >= 3,000,000 heartbeats/s at 100 instances");
}

/// The instance, validated; every instance these tests pass is valid.
fn valid(instance: &ModelInstance) -> ValidInstance {
    ValidInstance::new(instance.clone()).expect("a valid instance")
}

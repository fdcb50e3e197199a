//! [`RegistryClient`]: the registry trait over HTTP, with background health checks.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use async_trait::async_trait;
use registry_core::{ModelInstance, ModelRegistry, RegistryError, ValidInstance, pick_weighted};

use super::config::ClientConfig;
use super::error::ClientError;
use super::http::{Answer, Call, Shared};

/// A [`ModelRegistry`] over HTTP: DB-GPT's controller API on one or more registry servers (or
/// DB-GPT controllers; the wire format is the same).
///
/// A background thread checks every server's `GET /api/health` each
/// [`health_interval`](ClientConfig::health_interval); each call goes to the next healthy
/// server in turn. When a call fails in a way another server may not (unreachable, 5xx), it is
/// sent once more to another healthy server; a server that cannot be reached counts as
/// unhealthy until its health check succeeds again.
///
/// The async methods run the blocking HTTP call on tokio's blocking pool, so they need a tokio
/// runtime; [`sync_get_all_instances`](ModelRegistry::sync_get_all_instances) needs none and
/// works from a plain thread. Clones share the servers, their health and the background
/// thread, which stops when the last clone is dropped.
///
/// ```no_run
/// use registry_core::{ModelInstance, ModelRegistry, ValidInstance};
/// use registry_client::{ClientConfig, RegistryClient};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = RegistryClient::new(ClientConfig::from_urls("http://10.0.0.1:8000,http://10.0.0.2:8000"))?;
/// let instance = ValidInstance::new(ModelInstance::new("glm-4@llm", "10.0.0.7", 8001))?;
/// client.register_instance(instance).await?;
/// let chosen = client.select_one_health_instance("glm-4@llm").await?;
/// println!("{chosen:?}");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RegistryClient {
    shared: Arc<Shared>,
    _health: Arc<HealthThread>,
}

/// One server's URL and whether the client currently counts it as healthy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerHealth {
    /// The server's base URL.
    pub url: String,
    /// Whether its last health check (or call) succeeded.
    pub healthy: bool,
}

/// Stops the health thread when dropped: the thread waits on this channel between checks and
/// ends when the sender goes away.
#[derive(Debug)]
struct HealthThread {
    _stop: mpsc::Sender<()>,
}

impl RegistryClient {
    /// A client for the configured servers. Starts the health thread, whose first check runs
    /// at once; until a server's first check answers, it counts as healthy.
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        let shared = Arc::new(Shared::new(&config)?);
        let (stop, stopped) = mpsc::channel::<()>();
        let interval = config.health_interval;
        let checked = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("registry-client-health".to_owned())
            .spawn(move || health_loop(&checked, &stopped, interval))
            .map_err(|error| ClientError::Config(format!("cannot start health thread: {error}")))?;
        Ok(Self {
            shared,
            _health: Arc::new(HealthThread { _stop: stop }),
        })
    }

    /// A client for a comma-separated list of URLs, every other setting at its default.
    pub fn from_urls(list: &str) -> Result<Self, ClientError> {
        Self::new(ClientConfig::from_urls(list))
    }

    /// Every configured server and whether it currently counts as healthy.
    pub fn servers(&self) -> Vec<ServerHealth> {
        self.shared
            .servers
            .iter()
            .map(|server| ServerHealth {
                url: server.url.clone(),
                healthy: server.is_healthy(),
            })
            .collect()
    }

    /// Checks every server's health now, blocking until all have answered or timed out, and
    /// returns how many are healthy. Do not call it from async code.
    pub fn check_health_now(&self) -> usize {
        self.shared.check_health();
        self.shared
            .servers
            .iter()
            .filter(|server| server.is_healthy())
            .count()
    }

    /// Runs one call on the blocking pool.
    async fn run<T, F>(&self, call: F) -> Result<T, RegistryError>
    where
        T: Answer + Send + 'static,
        F: FnOnce(&Shared) -> Result<T, ClientError> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || call(&shared))
            .await
            .map_err(|error| ClientError::Task(error.to_string()))?
            .map_err(RegistryError::from)
    }

    async fn write(&self, kind: Write, instance: ValidInstance) -> Result<bool, RegistryError> {
        self.run(move |shared| {
            shared.execute(&match kind {
                Write::Register => Call::Register(&instance),
                Write::Deregister => Call::Deregister(&instance),
                Write::Heartbeat => Call::Heartbeat(&instance),
            })
        })
        .await
    }
}

#[derive(Debug, Clone, Copy)]
enum Write {
    Register,
    Deregister,
    Heartbeat,
}

fn health_loop(shared: &Shared, stopped: &mpsc::Receiver<()>, interval: Duration) {
    loop {
        shared.check_health();
        match stopped.recv_timeout(interval) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[async_trait]
impl ModelRegistry for RegistryClient {
    async fn register_instance(&self, instance: ValidInstance) -> Result<bool, RegistryError> {
        self.write(Write::Register, instance).await
    }

    async fn deregister_instance(&self, instance: ValidInstance) -> Result<bool, RegistryError> {
        self.write(Write::Deregister, instance).await
    }

    async fn send_heartbeat(&self, instance: ValidInstance) -> Result<bool, RegistryError> {
        self.write(Write::Heartbeat, instance).await
    }

    async fn get_all_instances(
        &self,
        model_name: &str,
        healthy_only: bool,
    ) -> Result<Vec<ModelInstance>, RegistryError> {
        let model_name = model_name.to_owned();
        self.run(move |shared| {
            shared.execute(&Call::List {
                model_name: Some(&model_name),
                healthy_only,
            })
        })
        .await
    }

    async fn get_all_model_instances(
        &self,
        healthy_only: bool,
    ) -> Result<Vec<ModelInstance>, RegistryError> {
        self.run(move |shared| {
            shared.execute(&Call::List {
                model_name: None,
                healthy_only,
            })
        })
        .await
    }

    async fn select_one_health_instance(
        &self,
        model_name: &str,
    ) -> Result<Option<ModelInstance>, RegistryError> {
        let instances = self.get_all_instances(model_name, true).await?;
        Ok(pick_weighted(&instances, fastrand::f64()).cloned())
    }

    fn sync_get_all_instances(
        &self,
        model_name: &str,
        healthy_only: bool,
    ) -> Result<Vec<ModelInstance>, RegistryError> {
        Ok(self.shared.execute(&Call::List {
            model_name: Some(model_name),
            healthy_only,
        })?)
    }
}

//! The Rust client and the worker's heartbeat task against real `registry-server` processes
//! (memory storage, free ports), including one being killed and one restarted empty.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use registry_core::{
    InMemoryStorage, ModelInstance, ModelRegistry, RegistryError, StorageModelRegistry,
    ValidInstance,
};
use registry_server::client::{
    ClientConfig, ClientError, HeartbeatTask, RegistryClient, WorkerRegistration,
};
use registry_testkit::server::{ServerProcess, Starting, serve_command};

/// Generous: these deadlines only bound a wait for something that happens in another process.
const DEADLINE: Duration = Duration::from_secs(30);

/// A running `registry-server serve` on memory storage (the test kit's process, killed on
/// drop).
struct Server(ServerProcess);

impl Server {
    /// Starts a server on a free port.
    fn start(extra: &[&str]) -> Server {
        Self::start_on(0, extra)
    }

    /// Starts a server on `port` (0: a free one), retrying while the port is still held by a
    /// process that was just killed.
    fn start_on(port: u16, extra: &[&str]) -> Server {
        let start = Instant::now();
        loop {
            let mut command = serve_command(
                env!("CARGO_BIN_EXE_registry-server"),
                &[],
                &format!("127.0.0.1:{port}"),
            );
            command
                .args(["--storage-url", "memory", "--span-file", "off"])
                .args(extra);
            let starting = Starting::spawn(command).expect("start registry-server");
            if let Ok(server) = starting.try_listening(DEADLINE) {
                return Server(server);
            }
            assert!(
                start.elapsed() < DEADLINE,
                "server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn port(&self) -> u16 {
        self.0.addr.port()
    }

    fn url(&self) -> String {
        format!("http://{}", self.0.addr)
    }

    /// SIGKILL: no graceful shutdown, connections reset.
    fn kill(mut self) {
        self.0.kill();
    }
}

/// A port nothing listens on (for now).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` until it holds; panics after the deadline. Never a timing assertion.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < DEADLINE,
            "not within {DEADLINE:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn config(urls: &[String]) -> ClientConfig {
    ClientConfig::new(urls.iter().cloned()).with_health_interval(Duration::from_millis(100))
}

/// Whether `registry` lists the instance, and whether as healthy.
async fn listed(registry: &RegistryClient, instance: &ModelInstance) -> Option<bool> {
    let all = registry
        .get_all_instances(&instance.model_name, false)
        .await
        .ok()?;
    all.iter()
        .find(|i| i.host == instance.host && i.port == instance.port)
        .map(|i| i.healthy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trait_call_round_trips() {
    let server = Server::start(&[]);
    let client = RegistryClient::new(config(&[server.url()])).unwrap();

    let mut first = ModelInstance::new("glm-4@llm", "10.0.0.1", 8001);
    first.weight = 2.0;
    first.prompt_template = Some("chatglm".to_owned());
    assert!(client.register_instance(valid(&first)).await.unwrap());
    let listed_first = client.get_all_instances("glm-4@llm", false).await.unwrap();
    assert_eq!(listed_first.len(), 1);
    let got = &listed_first[0];
    assert!(got.healthy && got.last_heartbeat.is_some());
    assert_eq!(
        (got.weight, got.prompt_template.as_deref()),
        (2.0, Some("chatglm"))
    );

    // A heartbeat for an unknown instance registers it.
    let second = ModelInstance::new("glm-4@llm", "10.0.0.2", 8001);
    assert!(client.send_heartbeat(valid(&second)).await.unwrap());
    let other = ModelInstance::new("bge@text2vec", "10.0.0.3", 8002);
    assert!(client.register_instance(valid(&other)).await.unwrap());
    assert_eq!(client.get_all_model_instances(true).await.unwrap().len(), 3);
    assert_eq!(
        client
            .get_all_instances("glm-4@llm", true)
            .await
            .unwrap()
            .len(),
        2
    );

    let chosen = client
        .select_one_health_instance("glm-4@llm")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(chosen.model_name, "glm-4@llm");
    assert!(
        client
            .select_one_health_instance("nothing@llm")
            .await
            .unwrap()
            .is_none()
    );

    // Deregister marks unhealthy; with remove_from_registry it deletes.
    assert!(client.deregister_instance(valid(&second)).await.unwrap());
    assert_eq!(
        client
            .get_all_instances("glm-4@llm", true)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        client
            .get_all_instances("glm-4@llm", false)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        client.get_all_model_instances(false).await.unwrap().len(),
        3
    );
    let mut remove = second.clone();
    remove.remove_from_registry = true;
    assert!(client.deregister_instance(valid(&remove)).await.unwrap());
    assert_eq!(
        client
            .get_all_instances("glm-4@llm", false)
            .await
            .unwrap()
            .len(),
        1
    );
    for _ in 0..5 {
        let chosen = client
            .select_one_health_instance("glm-4@llm")
            .await
            .unwrap();
        assert_eq!(chosen.unwrap().host, "10.0.0.1");
    }

    // The blocking twin works from a plain thread, without a runtime.
    let sync_client = client.clone();
    let from_thread = std::thread::spawn(move || {
        sync_client
            .sync_get_all_instances("glm-4@llm", true)
            .unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(
        from_thread,
        client.get_all_instances("glm-4@llm", true).await.unwrap()
    );

    // An invalid instance never becomes a `ValidInstance`, so nothing can be sent.
    let invalid = ModelInstance::new("  ", "10.0.0.1", 8001);
    let error = ValidInstance::new(invalid).unwrap_err();
    assert_eq!(error.field(), "model_name");
    assert!(client.servers().iter().all(|s| s.healthy));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_is_sent_and_a_rejection_is_not_retryable() {
    let server = Server::start(&["--token", "secret"]);
    let instance = ModelInstance::new("glm-4@llm", "10.0.0.1", 8001);

    let without = RegistryClient::new(config(&[server.url()])).unwrap();
    let error = without
        .register_instance(valid(&instance))
        .await
        .unwrap_err();
    assert!(!error.is_retryable(), "{error:?}");
    assert!(error.to_string().contains("401"), "{error}");

    let with = RegistryClient::new(config(&[server.url()]).with_token("secret")).unwrap();
    assert!(with.register_instance(valid(&instance)).await.unwrap());
    assert_eq!(
        with.get_all_instances("glm-4@llm", true)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_servers_are_unavailable_errors() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let client = RegistryClient::new(config(&[url])).unwrap();
    let instance = ModelInstance::new("glm-4@llm", "10.0.0.1", 8001);
    let error = client
        .register_instance(valid(&instance))
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    eventually("the server is marked unhealthy", || async {
        client.servers().iter().all(|s| !s.healthy)
    })
    .await;
    let error = client.get_all_model_instances(false).await.unwrap_err();
    assert!(
        error.is_retryable() && error.to_string().contains("no healthy"),
        "{error}"
    );
    assert_eq!(client.check_health_now(), 0);

    // A configuration without servers, or with an https URL, is refused up front.
    assert!(matches!(
        RegistryClient::from_urls(" , "),
        Err(ClientError::Config(_))
    ));
    assert!(RegistryClient::from_urls("https://10.0.0.1:8000").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_over_at_once_when_one_of_two_servers_is_killed() {
    let doomed = Server::start(&[]);
    let survivor = Server::start(&[]);
    let doomed_url = doomed.url();
    // Health checks far apart: right after the kill only the retry keeps calls working.
    let client = RegistryClient::new(
        config(&[doomed.url(), survivor.url()]).with_health_interval(Duration::from_secs(3600)),
    )
    .unwrap();
    // Both servers take calls in turn.
    for port in 1..=4 {
        let instance = ModelInstance::new("glm-4@llm", "10.0.0.1", port);
        assert!(client.register_instance(valid(&instance)).await.unwrap());
    }
    doomed.kill();
    for port in 10..30 {
        let instance = ModelInstance::new("glm-4@llm", "10.0.0.1", port);
        assert!(client.register_instance(valid(&instance)).await.unwrap());
        assert!(client.send_heartbeat(valid(&instance)).await.unwrap());
        let all = client.get_all_instances("glm-4@llm", true).await.unwrap();
        assert!(all.iter().any(|i| i.port == port));
    }
    let health = client.servers();
    let doomed_health = health.iter().find(|s| s.url == doomed_url).unwrap();
    assert!(!doomed_health.healthy, "{health:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_route_around_a_killed_server_and_back_to_a_restarted_one() {
    let first = Server::start(&[]);
    let second = Server::start(&[]);
    let first_port = first.port();
    let first_url = first.url();
    let client = RegistryClient::new(config(&[first.url(), second.url()])).unwrap();
    let instance = ModelInstance::new("glm-4@llm", "10.0.0.1", 8001);

    first.kill();
    eventually("the killed server is marked unhealthy", || async {
        client
            .servers()
            .iter()
            .any(|s| s.url == first_url && !s.healthy)
    })
    .await;
    for _ in 0..10 {
        assert!(client.send_heartbeat(valid(&instance)).await.unwrap());
    }
    let _restarted = Server::start_on(first_port, &[]);
    eventually("the restarted server is healthy again", || async {
        client.servers().iter().all(|s| s.healthy)
    })
    .await;
    for _ in 0..10 {
        assert!(client.send_heartbeat(valid(&instance)).await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_task_registers_beats_reregisters_after_restart_and_deregisters() {
    let server = Server::start(&[]);
    let port = server.port();
    let client = Arc::new(RegistryClient::new(config(&[server.url()])).unwrap());
    let instance = ModelInstance::new("glm-4@llm", "10.0.0.7", 8001);
    let task = WorkerRegistration::new(valid(&instance))
        .with_interval(Duration::from_millis(100))
        .with_retry_delay(Duration::from_millis(50))
        .start(client.clone());

    eventually("registered", || async {
        listed(&client, &instance).await == Some(true)
    })
    .await;
    eventually("keeps beating", || async { task.status().heartbeats >= 3 }).await;
    assert_eq!(task.status().registrations, 1);

    // A restart with memory storage forgets everything; the task puts the instance back.
    server.kill();
    eventually("the failure is noticed", || async {
        task.status().failures >= 1
    })
    .await;
    let _restarted = Server::start_on(port, &[]);
    eventually("registered again on the restarted server", || async {
        listed(&client, &instance).await == Some(true)
    })
    .await;
    let status = task.status();
    assert!(status.registered && status.registrations >= 2, "{status:?}");
    assert!(!task.is_finished());

    // Shutdown deregisters: listed, but unhealthy.
    task.shutdown().await.unwrap();
    assert_eq!(listed(&client, &instance).await, Some(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_task_outlives_a_server_that_is_not_there_yet_and_removes_on_shutdown() {
    let port = free_port();
    let client =
        Arc::new(RegistryClient::new(config(&[format!("http://127.0.0.1:{port}")])).unwrap());
    let instance = ModelInstance::new("bge@text2vec", "10.0.0.8", 8002);
    let task = WorkerRegistration::new(valid(&instance))
        .with_interval(Duration::from_millis(100))
        .with_retry_delay(Duration::from_millis(20))
        .with_remove_on_shutdown(true)
        .start(client.clone());
    eventually("several failures", || async { task.status().failures >= 3 }).await;
    assert!(!task.is_finished());
    assert!(task.status().last_error.is_some());

    let _server = Server::start_on(port, &[]);
    eventually("registered once the server is up", || async {
        listed(&client, &instance).await == Some(true)
    })
    .await;
    task.shutdown().await.unwrap();
    assert_eq!(listed(&client, &instance).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_task_puts_back_an_instance_an_operator_removed() {
    let server = Server::start(&[]);
    let client = Arc::new(RegistryClient::new(config(&[server.url()])).unwrap());
    let instance = ModelInstance::new("glm-4@llm", "10.0.0.9", 8003);
    let task = WorkerRegistration::new(valid(&instance))
        .with_interval(Duration::from_millis(100))
        .with_verify_interval(Some(Duration::from_millis(200)))
        .start(client.clone());
    eventually("registered", || async {
        listed(&client, &instance).await == Some(true)
    })
    .await;
    let mut remove = instance.clone();
    remove.remove_from_registry = true;
    client.deregister_instance(valid(&remove)).await.unwrap();
    eventually("listed again", || async {
        listed(&client, &instance).await == Some(true)
    })
    .await;
    client.deregister_instance(valid(&instance)).await.unwrap();
    eventually("healthy again", || async {
        listed(&client, &instance).await == Some(true)
    })
    .await;
    task.shutdown().await.unwrap();
}

/// A registry whose calls fail or panic now and then.
struct Flaky {
    inner: StorageModelRegistry<InMemoryStorage<ModelInstance>>,
    calls: AtomicUsize,
}

impl Flaky {
    fn trouble(&self) -> Result<(), RegistryError> {
        match self.calls.fetch_add(1, Ordering::Relaxed) % 4 {
            1 => panic!("a registry call panicked"),
            2 => Err(registry_core::StorageError::Unavailable("flaky".into()).into()),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl ModelRegistry for Flaky {
    async fn register_instance(&self, instance: ValidInstance) -> Result<bool, RegistryError> {
        self.trouble()?;
        self.inner.register_instance(instance).await
    }
    async fn deregister_instance(&self, instance: ValidInstance) -> Result<bool, RegistryError> {
        self.inner.deregister_instance(instance).await
    }
    async fn send_heartbeat(&self, instance: ValidInstance) -> Result<bool, RegistryError> {
        self.trouble()?;
        self.inner.send_heartbeat(instance).await
    }
    async fn get_all_instances(
        &self,
        model_name: &str,
        healthy_only: bool,
    ) -> Result<Vec<ModelInstance>, RegistryError> {
        self.trouble()?;
        self.inner.get_all_instances(model_name, healthy_only).await
    }
    async fn get_all_model_instances(
        &self,
        healthy_only: bool,
    ) -> Result<Vec<ModelInstance>, RegistryError> {
        self.inner.get_all_model_instances(healthy_only).await
    }
    async fn select_one_health_instance(
        &self,
        model_name: &str,
    ) -> Result<Option<ModelInstance>, RegistryError> {
        self.inner.select_one_health_instance(model_name).await
    }
    fn sync_get_all_instances(
        &self,
        model_name: &str,
        healthy_only: bool,
    ) -> Result<Vec<ModelInstance>, RegistryError> {
        self.inner.sync_get_all_instances(model_name, healthy_only)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_panics_never_end_the_heartbeat_task() {
    let registry = Arc::new(Flaky {
        inner: StorageModelRegistry::new(Arc::new(InMemoryStorage::new())),
        calls: AtomicUsize::new(0),
    });
    let instance = ModelInstance::new("glm-4@llm", "10.0.0.10", 8004);
    let task = HeartbeatTask::start(
        registry.clone(),
        WorkerRegistration::new(valid(&instance))
            .with_interval(Duration::from_millis(20))
            .with_retry_delay(Duration::from_millis(5))
            .with_verify_interval(Some(Duration::from_millis(50))),
    );
    eventually("many failures and many successes", || async {
        let status = task.status();
        status.failures >= 10 && status.heartbeats >= 10
    })
    .await;
    assert!(!task.is_finished());
    let listed = registry
        .inner
        .get_all_instances("glm-4@llm", true)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    task.shutdown().await.unwrap();
    let listed = registry
        .inner
        .get_all_instances("glm-4@llm", true)
        .await
        .unwrap();
    assert!(listed.is_empty());
}

/// The instance, validated; every instance these tests send is valid.
fn valid(instance: &ModelInstance) -> ValidInstance {
    ValidInstance::new(instance.clone()).expect("a valid instance")
}

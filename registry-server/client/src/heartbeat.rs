//! The worker's side: register, beat, re-register when forgotten, deregister on shutdown.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use registry_core::{ModelRegistry, RegistryError, StorageError, ValidInstance};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What a worker registers and how it keeps its registration alive.
///
/// Every field but the instance has a default: beat every 20 s (as DB-GPT's workers do), back
/// off from 1 s after an error, check every 60 s that the registry still lists the instance,
/// and deregister (mark unhealthy, not remove) on shutdown.
///
/// ```
/// use std::time::Duration;
/// use registry_core::{ModelInstance, ValidInstance};
/// use registry_client::WorkerRegistration;
///
/// let instance = ValidInstance::new(ModelInstance::new("glm-4@llm", "10.0.0.7", 8001)).unwrap();
/// let registration = WorkerRegistration::new(instance)
///     .with_interval(Duration::from_secs(10))
///     .with_remove_on_shutdown(true);
/// assert!(registration.deregister_on_shutdown);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkerRegistration {
    /// The instance this worker serves, validated once when the registration is made.
    pub instance: ValidInstance,
    /// Time between heartbeats [default: 20 s].
    pub interval: Duration,
    /// First wait after a failed call; it doubles with each further failure, up to
    /// `interval` [default: 1 s].
    pub retry_delay: Duration,
    /// How often to check that the registry still lists the instance as healthy, and register
    /// it again if not; `None` never checks [default: 60 s]. Registries that register unknown
    /// instances on heartbeat (this server, DB-GPT's controller) refill themselves anyway;
    /// this also catches one that does not, or an operator's deregistration.
    pub verify_interval: Option<Duration>,
    /// Whether [`HeartbeatTask::shutdown`] deregisters the instance [default: true].
    pub deregister_on_shutdown: bool,
    /// Whether that deregistration removes the instance instead of marking it unhealthy
    /// [default: false].
    pub remove_on_shutdown: bool,
    /// Longest time the deregistration on shutdown may take [default: 5 s].
    pub shutdown_timeout: Duration,
}

impl WorkerRegistration {
    /// A registration of `instance` with every setting at its default.
    pub fn new(instance: ValidInstance) -> Self {
        Self {
            instance,
            interval: Duration::from_secs(20),
            retry_delay: Duration::from_secs(1),
            verify_interval: Some(Duration::from_secs(60)),
            deregister_on_shutdown: true,
            remove_on_shutdown: false,
            shutdown_timeout: Duration::from_secs(5),
        }
    }

    /// Sets the time between heartbeats.
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the first wait after a failed call.
    pub fn with_retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// Sets how often the registration is verified; `None` never verifies.
    pub fn with_verify_interval(mut self, interval: Option<Duration>) -> Self {
        self.verify_interval = interval;
        self
    }

    /// Sets whether shutdown deregisters the instance.
    pub fn with_deregister_on_shutdown(mut self, deregister: bool) -> Self {
        self.deregister_on_shutdown = deregister;
        self
    }

    /// Sets whether the deregistration on shutdown removes the instance.
    pub fn with_remove_on_shutdown(mut self, remove: bool) -> Self {
        self.remove_on_shutdown = remove;
        self
    }

    /// Sets the longest time the deregistration on shutdown may take.
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Starts a [`HeartbeatTask`] for this registration on `registry`. Needs a tokio runtime.
    pub fn start<R>(self, registry: Arc<R>) -> HeartbeatTask
    where
        R: ModelRegistry + ?Sized + 'static,
    {
        HeartbeatTask::start(registry, self)
    }
}

/// What a [`HeartbeatTask`] has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeartbeatStatus {
    /// Whether the last call succeeded, so the registry knows the instance.
    pub registered: bool,
    /// Successful registrations: the first, and each one after an error or a lost registration.
    pub registrations: u64,
    /// Successful heartbeats.
    pub heartbeats: u64,
    /// Failed calls (each was logged and retried).
    pub failures: u64,
    /// The last error, if any call has failed.
    pub last_error: Option<String>,
}

/// A tokio task keeping one instance registered: it registers, sends a heartbeat every
/// interval, registers again after an error or when the registry no longer lists the instance,
/// and deregisters on [`shutdown`](Self::shutdown). An error is logged and retried with
/// back-off; a panicking registry call counts as an error. The task only ends on shutdown, or
/// when the handle is dropped (then it deregisters in the background, if the runtime lives).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use registry_core::{
///     InMemoryStorage, ModelInstance, ModelRegistry, StorageModelRegistry, ValidInstance,
/// };
/// use registry_client::{HeartbeatTask, WorkerRegistration};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// // Any `ModelRegistry` will do: a `RegistryClient` in a worker, an in-process one here.
/// let registry = Arc::new(StorageModelRegistry::new(Arc::new(InMemoryStorage::new())));
/// let instance = ValidInstance::new(ModelInstance::new("glm-4@llm", "10.0.0.7", 8001)).unwrap();
/// let task = HeartbeatTask::start(
///     registry.clone(),
///     WorkerRegistration::new(instance).with_interval(Duration::from_millis(50)),
/// );
/// while task.status().registrations == 0 {
///     tokio::time::sleep(Duration::from_millis(10)).await;
/// }
/// assert_eq!(registry.get_all_instances("glm-4@llm", true).await.unwrap().len(), 1);
/// task.shutdown().await.unwrap();
/// assert!(registry.get_all_instances("glm-4@llm", true).await.unwrap().is_empty());
/// # });
/// ```
#[derive(Debug)]
pub struct HeartbeatTask {
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), RegistryError>>>,
    status: Arc<Mutex<HeartbeatStatus>>,
}

impl HeartbeatTask {
    /// Starts the task on the current tokio runtime. The first registration is attempted at
    /// once.
    pub fn start<R>(registry: Arc<R>, registration: WorkerRegistration) -> Self
    where
        R: ModelRegistry + ?Sized + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        let status = Arc::new(Mutex::new(HeartbeatStatus::default()));
        let worker = Worker {
            registry,
            registration,
            status: Arc::clone(&status),
        };
        let handle = tokio::spawn(worker.run(stopped));
        Self {
            stop: Some(stop),
            handle: Some(handle),
            status,
        }
    }

    /// What the task has done so far.
    pub fn status(&self) -> HeartbeatStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the task has ended (only after shutdown or drop of its handle).
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops beating and, unless configured otherwise, deregisters the instance; returns the
    /// deregistration's error, if it failed or took longer than the shutdown timeout.
    pub async fn shutdown(mut self) -> Result<(), RegistryError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.handle.take() {
            Some(handle) => handle
                .await
                .unwrap_or_else(|error| Err(RegistryError::Task(error.to_string()))),
            None => Ok(()),
        }
    }
}

struct Worker<R: ?Sized> {
    registry: Arc<R>,
    registration: WorkerRegistration,
    status: Arc<Mutex<HeartbeatStatus>>,
}

/// Which call the next turn makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Register,
    Heartbeat,
    Verify,
}

impl<R: ModelRegistry + ?Sized + 'static> Worker<R> {
    async fn run(self, mut stopped: oneshot::Receiver<()>) -> Result<(), RegistryError> {
        let interval = self.registration.interval.max(Duration::from_millis(1));
        let first_delay = self
            .registration
            .retry_delay
            .clamp(Duration::from_millis(1), interval);
        let mut backoff = first_delay;
        let mut step = Step::Register;
        let mut last_verified = Instant::now();
        loop {
            let turn = tokio::select! {
                result = self.turn(step) => result,
                _ = &mut stopped => break,
            };
            let delay = match turn {
                Ok(_) => {
                    backoff = first_delay;
                    step = Step::Heartbeat;
                    interval
                }
                Err(error) => {
                    tracing::warn!(
                        model_name = %self.registration.instance.model_name,
                        %error,
                        retry_in = ?backoff,
                        "registry call failed; will register again"
                    );
                    self.record(|status| {
                        status.registered = false;
                        status.failures += 1;
                        status.last_error = Some(error.to_string());
                    });
                    step = Step::Register;
                    let delay = backoff;
                    backoff = (backoff * 2).min(interval);
                    delay
                }
            };
            if step == Step::Heartbeat && self.due(last_verified) {
                last_verified = Instant::now();
                step = Step::Verify;
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = &mut stopped => break,
            }
        }
        self.deregister().await
    }

    fn due(&self, last_verified: Instant) -> bool {
        self.registration
            .verify_interval
            .is_some_and(|every| last_verified.elapsed() >= every)
    }

    /// One call; returns which step it turned out to be (a verify that found the instance
    /// missing registers it).
    async fn turn(&self, step: Step) -> Result<Step, RegistryError> {
        let instance = self.registration.instance.clone();
        match step {
            Step::Register => {
                self.call(move |r| async move { r.register_instance(instance).await })
                    .await?;
                self.record(|status| {
                    status.registered = true;
                    status.registrations += 1;
                });
                Ok(Step::Register)
            }
            Step::Heartbeat => {
                self.call(move |r| async move { r.send_heartbeat(instance).await })
                    .await?;
                self.record(|status| {
                    status.registered = true;
                    status.heartbeats += 1;
                });
                Ok(Step::Heartbeat)
            }
            Step::Verify => {
                let model_name = instance.model_name.clone();
                let listed = self
                    .call(move |r| async move { r.get_all_instances(&model_name, false).await })
                    .await?;
                let known = listed.iter().any(|other| {
                    other.healthy
                        && other.model_name.trim() == instance.model_name.trim()
                        && other.host.trim() == instance.host.trim()
                        && other.port == instance.port
                });
                if known {
                    Box::pin(self.turn(Step::Heartbeat)).await
                } else {
                    tracing::info!(model_name = %instance.model_name, "registry no longer lists this instance; registering again");
                    Box::pin(self.turn(Step::Register)).await
                }
            }
        }
    }

    /// Runs one registry call as its own task, so that a panic in it is an error, not the end
    /// of the heartbeat task.
    async fn call<T, F, Fut>(&self, call: F) -> Result<T, RegistryError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<R>) -> Fut,
        Fut: Future<Output = Result<T, RegistryError>> + Send + 'static,
    {
        tokio::spawn(call(Arc::clone(&self.registry)))
            .await
            .unwrap_or_else(|error| Err(RegistryError::Task(error.to_string())))
    }

    async fn deregister(&self) -> Result<(), RegistryError> {
        if !self.registration.deregister_on_shutdown {
            return Ok(());
        }
        let instance = self
            .registration
            .instance
            .clone()
            .with_remove_from_registry(self.registration.remove_on_shutdown);
        let call = self.call(move |r| async move { r.deregister_instance(instance).await });
        let result = match tokio::time::timeout(self.registration.shutdown_timeout, call).await {
            Ok(result) => result.map(drop),
            Err(_) => Err(StorageError::Unavailable(format!(
                "deregistration took longer than {:?}",
                self.registration.shutdown_timeout
            ))
            .into()),
        };
        match &result {
            Ok(()) => self.record(|status| status.registered = false),
            Err(error) => tracing::warn!(%error, "deregistration on shutdown failed"),
        }
        result
    }

    fn record(&self, update: impl FnOnce(&mut HeartbeatStatus)) {
        update(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

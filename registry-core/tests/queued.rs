//! A storage that writes heartbeats on a thread of its own: the registry hands them over and
//! awaits them instead of calling the blocking `heartbeat`, gets the writer's errors as storage
//! errors, survives a writer that never answers, and coalesces after a queued write.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use chrono::{DateTime, Utc};
use registry_core::{
    BlockingCalls, InMemoryStorage, InstanceStorage, ModelInstance, ModelInstanceIdentifier,
    ModelRegistry, QueuedWrite, RegistryConfig, RegistryError, StorageError, StorageModelRegistry,
    ValidInstance, WriteReply, queued_write,
};

/// What the writer thread does with the next heartbeat.
#[derive(Clone, Copy, PartialEq)]
enum Writer {
    Writes,
    Fails,
    DropsTheReply,
}

type Job = (ValidInstance, DateTime<Utc>, WriteReply);

/// An in-memory storage whose heartbeats go through a writer thread.
struct ThreadedStorage {
    inner: Arc<InMemoryStorage<ModelInstance>>,
    jobs: Mutex<mpsc::Sender<Job>>,
    mode: Arc<Mutex<Writer>>,
    queued: AtomicU32,
    blocking_heartbeats: AtomicU32,
}

impl ThreadedStorage {
    fn start() -> Arc<Self> {
        let inner = Arc::new(InMemoryStorage::new());
        let mode = Arc::new(Mutex::new(Writer::Writes));
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::spawn({
            let (inner, mode) = (Arc::clone(&inner), Arc::clone(&mode));
            move || {
                for (instance, now, reply) in queue {
                    match *mode.lock().unwrap() {
                        Writer::Writes => {
                            reply.send(inner.heartbeat(&instance, now).map(|()| instance))
                        }
                        Writer::Fails => {
                            reply.send(Err(StorageError::Unavailable("database is down".into())))
                        }
                        Writer::DropsTheReply => drop(reply),
                    }
                }
            }
        });
        Arc::new(Self {
            inner,
            jobs: Mutex::new(jobs),
            mode,
            queued: AtomicU32::new(0),
            blocking_heartbeats: AtomicU32::new(0),
        })
    }

    fn set_writer(&self, writer: Writer) {
        *self.mode.lock().unwrap() = writer;
    }
}

forward_storage!(ThreadedStorage => inner);

impl InstanceStorage for ThreadedStorage {
    fn register(&self, instance: &ValidInstance, now: DateTime<Utc>) -> Result<(), StorageError> {
        self.inner.register(instance, now)
    }
    fn heartbeat(&self, instance: &ValidInstance, now: DateTime<Utc>) -> Result<(), StorageError> {
        self.blocking_heartbeats.fetch_add(1, Ordering::SeqCst);
        self.inner.heartbeat(instance, now)
    }
    fn queues_heartbeats(&self) -> bool {
        true
    }
    fn queue_heartbeat(&self, instance: ValidInstance, now: DateTime<Utc>) -> QueuedWrite {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let (reply, write) = queued_write();
        if let Err(mpsc::SendError((_, _, reply))) =
            self.jobs.lock().unwrap().send((instance, now, reply))
        {
            reply.send(Err(StorageError::Backend("writer gone".into())));
        }
        write
    }
    fn deregister(&self, id: &ModelInstanceIdentifier, remove: bool) -> Result<(), StorageError> {
        self.inner.deregister(id, remove)
    }
    fn expire_stale(&self, timeout: Duration, now: DateTime<Utc>) -> Result<u64, StorageError> {
        self.inner.expire_stale(timeout, now)
    }
    fn remove_stale(&self, timeout: Duration, now: DateTime<Utc>) -> Result<u64, StorageError> {
        self.inner.remove_stale(timeout, now)
    }
}

fn instance(port: u16) -> ValidInstance {
    ValidInstance::new(ModelInstance::new("glm-4@llm", "10.0.0.1", port)).unwrap()
}

#[tokio::test]
async fn heartbeats_go_to_the_writer_and_land() {
    let storage = ThreadedStorage::start();
    let registry = StorageModelRegistry::new(Arc::clone(&storage));
    for port in 1..=20 {
        assert!(registry.send_heartbeat(instance(port)).await.unwrap());
    }
    assert_eq!(storage.queued.load(Ordering::SeqCst), 20);
    assert_eq!(storage.blocking_heartbeats.load(Ordering::SeqCst), 0);
    let healthy = registry.get_all_instances("glm-4@llm", true).await.unwrap();
    assert_eq!(healthy.len(), 20);
    assert_eq!(registry.stats().heartbeats, 20);
}

#[tokio::test]
async fn a_writer_error_is_the_heartbeats_storage_error() {
    let storage = ThreadedStorage::start();
    let registry = StorageModelRegistry::new(Arc::clone(&storage));
    storage.set_writer(Writer::Fails);
    let error = registry.send_heartbeat(instance(1)).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::Storage(StorageError::Unavailable(_))),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_eq!(registry.stats().heartbeats, 0);
}

#[tokio::test]
async fn a_writer_that_never_answers_fails_the_heartbeat() {
    let storage = ThreadedStorage::start();
    let registry = StorageModelRegistry::new(Arc::clone(&storage));
    storage.set_writer(Writer::DropsTheReply);
    let error = registry.send_heartbeat(instance(1)).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::Storage(StorageError::Backend(_))),
        "{error:?}"
    );
    storage.set_writer(Writer::Writes);
    registry.send_heartbeat(instance(1)).await.unwrap();
}

#[tokio::test]
async fn a_queued_heartbeat_starts_the_coalescing_window() {
    let storage = ThreadedStorage::start();
    let config =
        RegistryConfig::default().with_heartbeat_coalesce_window(Some(Duration::from_secs(5)));
    let registry = StorageModelRegistry::with_config(Arc::clone(&storage), config);
    registry.send_heartbeat(instance(1)).await.unwrap();
    registry.send_heartbeat(instance(1)).await.unwrap();
    assert_eq!(storage.queued.load(Ordering::SeqCst), 1);
    assert_eq!(registry.stats().heartbeats_coalesced, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_place_heartbeats_are_written_in_place_not_queued() {
    let storage = ThreadedStorage::start();
    let config = RegistryConfig::default().with_blocking_calls(BlockingCalls::InPlace);
    let registry = StorageModelRegistry::with_config(Arc::clone(&storage), config);
    registry.send_heartbeat(instance(1)).await.unwrap();
    assert_eq!(storage.queued.load(Ordering::SeqCst), 0);
    assert_eq!(storage.blocking_heartbeats.load(Ordering::SeqCst), 1);
    assert_eq!(
        registry
            .get_all_instances("glm-4@llm", true)
            .await
            .unwrap()
            .len(),
        1
    );
}

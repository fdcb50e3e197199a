//! A Rust client for the registry, for model workers and for services that look models up
//! (the `registry-client` package; `registry-server` re-exports it as `client` behind its `client` feature).
//!
//! [`RegistryClient`] implements [`registry_core::ModelRegistry`] over HTTP against one or more
//! registry servers, or DB-GPT controllers: the wire format is DB-GPT's controller API. It
//! checks each server's `GET /api/health` in the background (every 5 s by default), sends each
//! call to a healthy server and, unlike DB-GPT's client, retries a failed call once on another
//! healthy server.
//!
//! [`HeartbeatTask`] keeps a worker registered through any `ModelRegistry`: it registers,
//! beats every interval, registers again when the registry has forgotten the instance (after a
//! restart with memory storage, say), deregisters on shutdown, and never ends on an error.
//!
//! ```no_run
//! use std::sync::Arc;
//! use registry_core::{ModelInstance, ModelRegistry, ValidInstance};
//! use registry_client::{ClientConfig, RegistryClient, WorkerRegistration};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Arc::new(RegistryClient::new(
//!     ClientConfig::from_urls("http://10.0.0.1:8000,http://10.0.0.2:8000").with_token("secret"),
//! )?);
//! let instance = ValidInstance::new(ModelInstance::new("glm-4@llm", "10.0.0.7", 8001))?;
//! let task = WorkerRegistration::new(instance).start(client.clone());
//! // … serve the model …
//! let instances = client.get_all_instances("glm-4@llm", true).await?;
//! println!("{} healthy instances", instances.len());
//! task.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Plain `http://` only; the HTTP client is [`ureq`], run on tokio's blocking pool, and proxy
//! settings in the environment are not used.

mod config;
mod error;
mod heartbeat;
mod http;
mod registry;

pub use config::ClientConfig;
pub use error::ClientError;
pub use heartbeat::{HeartbeatStatus, HeartbeatTask, WorkerRegistration};
pub use registry::{RegistryClient, ServerHealth};

/// The README's examples, compiled as doc tests so that they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

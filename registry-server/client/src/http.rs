//! The servers, their health, and the blocking HTTP calls (ureq), one server at a time.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use registry_core::ModelInstance;

use super::config::ClientConfig;
use super::error::ClientError;

/// One configured server and what the client last learnt of its health.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) url: String,
    healthy: AtomicBool,
}

impl Server {
    pub(crate) fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Records the server's health; returns whether it changed.
    pub(crate) fn set_healthy(&self, healthy: bool) -> bool {
        self.healthy.swap(healthy, Ordering::Relaxed) != healthy
    }
}

/// Everything the calls and the health thread share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) servers: Vec<Server>,
    agent: ureq::Agent,
    health_agent: ureq::Agent,
    authorization: Option<String>,
    next: AtomicUsize,
}

/// A call the client makes, independent of the server it is sent to.
#[derive(Debug)]
pub(crate) enum Call<'a> {
    Register(&'a ModelInstance),
    Deregister(&'a ModelInstance),
    Heartbeat(&'a ModelInstance),
    List {
        model_name: Option<&'a str>,
        healthy_only: bool,
    },
}

fn agent(connect: Duration, global: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(connect))
        .timeout_global(Some(global))
        .http_status_as_error(false)
        // Registry traffic stays inside the cluster: no proxy from the environment.
        .proxy(None)
        .build()
        .into()
}

impl Shared {
    pub(crate) fn new(config: &ClientConfig) -> Result<Self, ClientError> {
        let servers = config
            .base_urls()?
            .into_iter()
            // Optimistic until the first health check: a call to a dead server fails over.
            .map(|url| Server {
                url,
                healthy: AtomicBool::new(true),
            })
            .collect();
        Ok(Self {
            servers,
            agent: agent(config.connect_timeout, config.request_timeout),
            health_agent: agent(
                config.connect_timeout.min(config.health_timeout),
                config.health_timeout,
            ),
            authorization: config.token.as_ref().map(|token| format!("Bearer {token}")),
            next: AtomicUsize::new(0),
        })
    }

    /// The next healthy server in turn, other than `except`.
    fn pick(&self, except: Option<usize>) -> Option<usize> {
        let count = self.servers.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..count)
            .map(|offset| (start + offset) % count)
            .find(|&index| Some(index) != except && self.servers[index].is_healthy())
    }

    /// Sends `call` to a healthy server and, when that fails in a way another server may not,
    /// once more to another healthy server.
    pub(crate) fn execute<T: Answer>(&self, call: &Call<'_>) -> Result<T, ClientError> {
        let first = self.pick(None).ok_or(ClientError::NoHealthyServer {
            servers: self.servers.len(),
        })?;
        let error = match self.send(first, call) {
            Ok(answer) => return Ok(answer),
            Err(error) if error.is_retryable() => error,
            Err(error) => return Err(error),
        };
        match self.pick(Some(first)) {
            Some(second) => {
                tracing::warn!(%error, retry = %self.servers[second].url, "registry call failed; retrying on another server");
                self.send(second, call)
            }
            None => Err(error),
        }
    }

    /// One call to one server. A server that cannot be reached is marked unhealthy until the
    /// next health check finds it answering.
    fn send<T: Answer>(&self, index: usize, call: &Call<'_>) -> Result<T, ClientError> {
        let server = &self.servers[index];
        let result = self.request(&server.url, call);
        if let Err(ClientError::Transport { .. }) = &result {
            if server.set_healthy(false) {
                tracing::warn!(url = %server.url, "registry server unreachable; marked unhealthy");
            }
        }
        result
    }

    fn request<T: Answer>(&self, base: &str, call: &Call<'_>) -> Result<T, ClientError> {
        let transport = |error: ureq::Error| ClientError::Transport {
            url: base.to_owned(),
            message: error.to_string(),
        };
        let models = format!("{base}/api/controller/models");
        let result = match call {
            Call::Register(instance) => {
                let body = registry_wire::encode_instance(instance);
                self.authorize(self.agent.post(&models))
                    .header("Content-Type", "application/json")
                    .send(&body[..])
            }
            Call::Heartbeat(instance) => {
                let body = registry_wire::encode_instance(instance);
                let url = format!("{base}/api/controller/heartbeat");
                self.authorize(self.agent.post(&url))
                    .header("Content-Type", "application/json")
                    .send(&body[..])
            }
            Call::Deregister(instance) => self
                .authorize(self.agent.delete(&models))
                .query("model_name", &instance.model_name)
                .query("host", &instance.host)
                .query("port", instance.port.to_string())
                .query(
                    "remove_from_registry",
                    if instance.remove_from_registry {
                        "true"
                    } else {
                        "false"
                    },
                )
                .call(),
            Call::List {
                model_name,
                healthy_only,
            } => {
                let mut request = self.authorize(self.agent.get(&models));
                if let Some(model_name) = model_name {
                    request = request.query("model_name", *model_name);
                }
                request
                    .query("healthy_only", if *healthy_only { "true" } else { "false" })
                    .call()
            }
        };
        let mut response = result.map_err(transport)?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_vec().map_err(transport)?;
        if !(200..300).contains(&status) {
            return Err(ClientError::Status {
                url: base.to_owned(),
                status,
                message: error_message(&body),
            });
        }
        T::decode(&body).map_err(|message| ClientError::Decode {
            url: base.to_owned(),
            message,
        })
    }

    fn authorize<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.authorization {
            Some(value) => request.header("Authorization", value),
            None => request,
        }
    }

    /// Checks `GET /api/health` on every server at once and records the answers.
    pub(crate) fn check_health(&self) {
        std::thread::scope(|scope| {
            for server in &self.servers {
                scope.spawn(move || {
                    let healthy = self.is_answering(&server.url);
                    if server.set_healthy(healthy) {
                        if healthy {
                            tracing::info!(url = %server.url, "registry server healthy");
                        } else {
                            tracing::warn!(url = %server.url, "registry server unhealthy");
                        }
                    }
                });
            }
        });
    }

    fn is_answering(&self, base: &str) -> bool {
        let url = format!("{base}/api/health");
        match self.health_agent.get(&url).call() {
            Ok(mut response) => {
                let ok = response.status().is_success();
                // Read the body so that the connection can be reused.
                let _ = response.body_mut().read_to_vec();
                ok
            }
            Err(_) => false,
        }
    }
}

/// An answer the client reads: DB-GPT's `true`/`false` for writes, a listing for reads. The
/// listing is read by `registry-wire`, the same code that writes it on the server.
pub(crate) trait Answer: Sized {
    fn decode(body: &[u8]) -> Result<Self, String>;
}

impl Answer for bool {
    fn decode(body: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(body).map_err(|error| error.to_string())
    }
}

impl Answer for Vec<ModelInstance> {
    fn decode(body: &[u8]) -> Result<Self, String> {
        registry_wire::parse_listing(body).map_err(|error| error.to_string())
    }
}

/// What a FastAPI-shaped error answer says (its `detail`: one sentence, or each problem's
/// place and message), or the start of the body. Both this server and DB-GPT's controller
/// answer this way.
fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        detail: serde_json::Value,
    }
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) {
        return match parsed.detail {
            serde_json::Value::String(text) => text,
            serde_json::Value::Array(problems) => problems
                .iter()
                .map(|problem| {
                    let place: Vec<String> = problem["loc"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|part| {
                            part.as_str()
                                .map_or_else(|| part.to_string(), str::to_owned)
                        })
                        .collect();
                    format!(
                        "{}: {}",
                        place.join("."),
                        problem["msg"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        };
    }
    let text = String::from_utf8_lossy(body);
    let mut text = text.trim().to_owned();
    if text.len() > 200 {
        let mut end = 200;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_come_from_the_json_body_or_the_text() {
        assert_eq!(
            error_message(
                br#"{"detail":[{"type":"missing","loc":["body","port"],"msg":"Field required","input":{}}]}"#
            ),
            "body.port: Field required"
        );
        assert_eq!(error_message(br#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(error_message(br#"{"error":"x"}"#), r#"{"error":"x"}"#);
        assert_eq!(
            error_message("é".repeat(300).as_bytes()).chars().count(),
            101
        );
    }

    #[test]
    fn pick_skips_unhealthy_servers_and_the_excluded_one() {
        let shared = Shared::new(&ClientConfig::new(["a:1", "b:2", "c:3"])).unwrap();
        shared.servers[1].set_healthy(false);
        for _ in 0..6 {
            let first = shared.pick(None).unwrap();
            assert_ne!(first, 1);
            let second = shared.pick(Some(first)).unwrap();
            assert!(second != 1 && second != first);
        }
        shared.servers[0].set_healthy(false);
        assert_eq!(shared.pick(Some(2)), None);
    }
}

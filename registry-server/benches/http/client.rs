//! Ordinary requests over ureq: polling for the first answer and filling the registry, each
//! agent keeping its connection alive between requests.

use std::net::SocketAddr;
use std::time::Duration;

/// An HTTP client for one server.
pub(crate) struct Client {
    agent: ureq::Agent,
    base: String,
}

impl Client {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            // The server is on this machine: no proxy from the environment.
            .proxy(None)
            .build()
            .into();
        Self {
            agent,
            base: format!("http://{addr}"),
        }
    }

    /// POSTs a JSON body and returns the status code; the answer's body is read and dropped,
    /// so that the connection is reused.
    pub(crate) fn post_json(&self, path: &str, body: &str) -> Result<u16, ureq::Error> {
        let mut response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .send(body)?;
        response.body_mut().read_to_vec()?;
        Ok(response.status().as_u16())
    }

    /// GETs `path` and returns the status code.
    pub(crate) fn get(&self, path: &str) -> Result<u16, ureq::Error> {
        let mut response = self.agent.get(format!("{}{path}", self.base)).call()?;
        response.body_mut().read_to_vec()?;
        Ok(response.status().as_u16())
    }
}

//! Keep-alive HTTP connections for the suites and the load generator: the test kit's ureq
//! client (any method, header and body; every status answered, none an error).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;
use registry_testkit::http::Client;
pub(crate) use registry_testkit::http::{Request, Response};

/// Requests to one server on a connection of their own, kept alive between requests.
pub(crate) struct Connection {
    client: Client,
}

impl Connection {
    /// A connection to `address` whose every request (connecting included) gives up after
    /// `timeout`. It connects at its first request.
    pub(crate) fn open(address: SocketAddr, timeout: Duration) -> Result<Self> {
        Ok(Self {
            client: Client::with_timeout(address, timeout),
        })
    }

    pub(crate) fn address(&self) -> SocketAddr {
        self.client.address()
    }

    pub(crate) fn get(&mut self, path: &str) -> Result<Response> {
        Ok(self.client.get(path)?)
    }

    pub(crate) fn post_json(&mut self, path: &str, body: &str) -> Result<Response> {
        Ok(self.client.post_json(path, body)?)
    }

    /// Sends `request` and reads the answer.
    pub(crate) fn request(&mut self, request: &Request<'_>) -> Result<Response> {
        Ok(self.client.send(request)?)
    }
}

/// A heartbeat body for instance number `i` of the simulated fleet.
pub(crate) fn instance_body(i: usize) -> String {
    format!(
        r#"{{"model_name":"model-{}","host":"10.{}.{}.1","port":{}}}"#,
        i % 10,
        i / 60_000,
        (i / 250) % 250,
        1 + i % 60_000
    )
}

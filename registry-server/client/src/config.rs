//! The client's configuration.

use std::time::Duration;

use super::error::ClientError;

/// How a [`RegistryClient`](super::RegistryClient) reaches its servers.
///
/// Every field has a default but the server list; build one with [`ClientConfig::new`] or
/// [`ClientConfig::from_urls`] and adjust it with the `with_*` methods.
///
/// ```
/// use std::time::Duration;
/// use registry_client::ClientConfig;
///
/// let config = ClientConfig::from_urls("http://10.0.0.1:8000, http://10.0.0.2:8000")
///     .with_health_interval(Duration::from_secs(2))
///     .with_token("secret");
/// assert_eq!(config.urls.len(), 2);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The servers' base URLs, `http://host:port` (a missing scheme means `http://`).
    pub urls: Vec<String>,
    /// How often each server's `GET /api/health` is checked in the background [default: 5 s].
    pub health_interval: Duration,
    /// How long a health check may take before the server counts as unhealthy [default: 2 s].
    pub health_timeout: Duration,
    /// How long a connection may take to open [default: 2 s].
    pub connect_timeout: Duration,
    /// How long a whole call may take, per server tried [default: 10 s].
    pub request_timeout: Duration,
    /// A bearer token sent as `Authorization: Bearer <token>` on every call [default: none].
    pub token: Option<String>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("urls", &self.urls)
            .field("health_interval", &self.health_interval)
            .field("health_timeout", &self.health_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Default for ClientConfig {
    /// No servers yet, and every other field at its default.
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            health_interval: Duration::from_secs(5),
            health_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
            token: None,
        }
    }
}

impl ClientConfig {
    /// A configuration for these servers, every other field at its default.
    pub fn new<I, S>(urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            urls: urls.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// A configuration from a comma-separated list of URLs, as DB-GPT's workers take their
    /// controller addresses. Empty entries are skipped.
    pub fn from_urls(list: &str) -> Self {
        Self::new(list.split(',').map(str::trim).filter(|url| !url.is_empty()))
    }

    /// Sets how often each server's health is checked.
    pub fn with_health_interval(mut self, interval: Duration) -> Self {
        self.health_interval = interval;
        self
    }

    /// Sets how long a health check may take.
    pub fn with_health_timeout(mut self, timeout: Duration) -> Self {
        self.health_timeout = timeout;
        self
    }

    /// Sets how long a connection may take to open.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how long a call may take on one server.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the bearer token; an empty token counts as none.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.token = (!token.is_empty()).then_some(token);
        self
    }

    /// The base URLs, normalised (`http://` added where no scheme was given, trailing `/`
    /// removed), or why one is unusable.
    pub(crate) fn base_urls(&self) -> Result<Vec<String>, ClientError> {
        if self.urls.is_empty() {
            return Err(ClientError::Config("no server URL given".to_owned()));
        }
        if self.health_interval.is_zero() {
            return Err(ClientError::Config(
                "health_interval must be greater than zero".to_owned(),
            ));
        }
        self.urls.iter().map(|url| normalize_url(url)).collect()
    }
}

fn normalize_url(url: &str) -> Result<String, ClientError> {
    let url = url.trim();
    let full = if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    };
    let Some(rest) = full.strip_prefix("http://") else {
        return Err(ClientError::Config(format!(
            "{url}: only http:// URLs are supported (put TLS in front with a proxy)"
        )));
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.starts_with('/') || rest.contains(['?', '#', ' ']) {
        return Err(ClientError::Config(format!(
            "{url}: expected http://host:port"
        )));
    }
    Ok(format!("http://{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalised() {
        let config = ClientConfig::from_urls(" 127.0.0.1:8000 ,http://a:1/,, http://b:2/base/ ");
        assert_eq!(
            config.base_urls().unwrap(),
            ["http://127.0.0.1:8000", "http://a:1", "http://b:2/base"]
        );
    }

    #[test]
    fn unusable_configurations_are_errors() {
        assert!(ClientConfig::default().base_urls().is_err());
        assert!(ClientConfig::new(["https://a:1"]).base_urls().is_err());
        assert!(ClientConfig::new(["http://"]).base_urls().is_err());
        let zero = ClientConfig::new(["a:1"]).with_health_interval(Duration::ZERO);
        assert!(zero.base_urls().is_err());
    }

    #[test]
    fn token_is_hidden_and_empty_means_none() {
        let config = ClientConfig::new(["a:1"]).with_token("secret");
        assert!(!format!("{config:?}").contains("secret"));
        assert!(ClientConfig::new(["a:1"]).with_token("").token.is_none());
    }
}

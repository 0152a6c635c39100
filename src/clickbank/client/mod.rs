//! The reqwest implementation of [`ClickBankApi`].

mod bodies;
mod config;
mod endpoints;
mod limiter;
mod transport;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};
use url::Url;

pub use config::{ClientConfig, RetryPolicy, DEFAULT_BASE_URL};
pub use limiter::{Limiter, Limiters};

use super::api::ClickBankApi;
use super::error::ClickBankError;

/// Counters of a client, for tests and the admin page.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Retries made.
    pub retries: u64,
    /// Requests that had to wait for the rate limiter.
    pub throttled: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
}

/// The ClickBank REST client (reqwest), with retries for reads and a rate limiter.
pub struct ClickBankClient {
    http: reqwest::Client,
    base: Url,
    config: ClientConfig,
    limiter: Option<Arc<Limiter>>,
    counters: Counters,
}

impl fmt::Debug for ClickBankClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClickBankClient")
            .field("config", &self.config)
            .finish()
    }
}

fn invalid(detail: impl Into<String>) -> ClickBankError {
    ClickBankError::InvalidRequest {
        detail: detail.into(),
    }
}

fn decode_err(e: impl fmt::Display) -> ClickBankError {
    ClickBankError::Decode {
        detail: e.to_string(),
    }
}

impl ClickBankClient {
    /// Build a client with a limiter of its own (`requests_per_second`, `burst`). Fails on an
    /// unusable base URL or key.
    pub fn new(config: ClientConfig) -> Result<Self, ClickBankError> {
        let limiter = Limiter::new(config.requests_per_second, config.burst).map(Arc::new);
        Self::with_limiter(config, limiter)
    }

    /// Build a client that takes its turns from `limiter` (shared with the other clients of
    /// the account, see [`Limiters`]; `None`: no limit) instead of the configuration's rate.
    pub fn with_limiter(config: ClientConfig, limiter: Option<Arc<Limiter>>) -> Result<Self, ClickBankError> {
        let base = Url::parse(config.base_url.trim())
            .map_err(|e| invalid(format!("base URL `{}`: {e}", config.base_url)))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "base URL `{}` must be an http(s) URL",
                config.base_url
            )));
        }
        if config.api_key.trim().is_empty() {
            return Err(invalid("the ClickBank API key is empty"));
        }
        let auth = HeaderValue::from_str(&config.authorization())
            .map_err(|_| invalid("the ClickBank keys contain characters not allowed in a header"))?;
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|e| invalid(format!("HTTP client: {e}")))?;
        Ok(ClickBankClient {
            http,
            base,
            config,
            limiter,
            counters: Counters::default(),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The limiter this client takes its turns from, if any.
    pub fn limiter(&self) -> Option<&Arc<Limiter>> {
        self.limiter.as_ref()
    }

    /// Request, retry and limiter counters.
    pub fn stats(&self) -> ClientStats {
        ClientStats {
            requests: self.counters.requests.load(Ordering::Relaxed),
            retries: self.counters.retries.load(Ordering::Relaxed),
            throttled: self.counters.throttled.load(Ordering::Relaxed),
        }
    }
}

/// Convenience: a shared client behind the trait.
pub fn shared_client(config: ClientConfig) -> Result<Arc<dyn ClickBankApi>, ClickBankError> {
    Ok(Arc::new(ClickBankClient::new(config)?))
}

/// A client behind the trait taking its turns from `limiter` (see [`ClickBankClient::with_limiter`]).
pub fn shared_client_with(
    config: ClientConfig,
    limiter: Option<Arc<Limiter>>,
) -> Result<Arc<dyn ClickBankApi>, ClickBankError> {
    Ok(Arc::new(ClickBankClient::with_limiter(config, limiter)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_configuration() {
        assert!(ClickBankClient::new(ClientConfig::new("")).is_err());
        assert!(ClickBankClient::new(ClientConfig::new("k").with_base_url("not a url")).is_err());
        assert!(ClickBankClient::new(ClientConfig::new("k").with_base_url("ftp://x/")).is_err());
        let c = ClickBankClient::new(ClientConfig::new("k").with_base_url("http://h/rest/1.3/")).unwrap();
        assert_eq!(
            c.url(&["orders2", "A B"]).unwrap().as_str(),
            "http://h/rest/1.3/orders2/A%20B"
        );
    }
}

//! How a [`ClickBankClient`](super::ClickBankClient) is configured: base URL, keys,
//! timeouts, the read retry policy and the client-side rate limit.

use std::fmt;
use std::time::Duration;

use rand::Rng;

/// ClickBank's production API base.
pub const DEFAULT_BASE_URL: &str = "https://api.clickbank.com/rest/1.3";

/// Retries of reads (writes are never retried blindly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, including the first (1 = no retry).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled each time, with jitter.
    pub base_delay: Duration,
    /// Upper bound of one delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        }
    }

    /// Delay before retry number `retry` (1-based): exponential, half of it random.
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(self.max_delay);
        let half = exp / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let extra = if jitter_ms == 0 {
            0
        } else {
            rand::thread_rng().gen_range(0..=jitter_ms)
        };
        half + Duration::from_millis(extra)
    }
}

/// Configuration of [`ClickBankClient`].
#[derive(Clone)]
pub struct ClientConfig {
    /// API base including the version path, e.g. [`DEFAULT_BASE_URL`] or the sandbox's.
    pub base_url: String,
    /// The clerk API key (`API-...`).
    pub api_key: String,
    /// Legacy developer key (`DEV-...`); when set, `Authorization` is `DEV:API`.
    pub dev_key: Option<String>,
    /// Timeout of one HTTP exchange.
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Retries of reads.
    pub retry: RetryPolicy,
    /// Client-side limit in requests per second (ClickBank allows about 10); 0 = off.
    pub requests_per_second: u32,
    /// Requests allowed at once before the limit applies (at least 1).
    pub burst: u32,
    /// User-Agent header.
    pub user_agent: String,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("dev_key", &self.dev_key.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("requests_per_second", &self.requests_per_second)
            .field("burst", &self.burst)
            .finish()
    }
}

impl ClientConfig {
    /// Defaults for production with this API key: 30 s timeout, 4 read attempts,
    /// 10 requests/s.
    pub fn new(api_key: impl Into<String>) -> Self {
        ClientConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            api_key: api_key.into(),
            dev_key: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            requests_per_second: 10,
            burst: 1,
            user_agent: concat!("merchant-crm/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }

    /// Use another API base (e.g. the base URL the sandbox's handle reports).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Set the legacy developer key.
    pub fn with_dev_key(mut self, dev_key: Option<String>) -> Self {
        self.dev_key = dev_key.filter(|k| !k.trim().is_empty());
        self
    }

    /// The raw `Authorization` value: `DEV-x:API-y` with a dev key, else the API key.
    pub fn authorization(&self) -> String {
        match &self.dev_key {
            Some(dev) => format!("{}:{}", dev.trim(), self.api_key.trim()),
            None => self.api_key.trim().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_forms() {
        let c = ClientConfig::new("API-abc");
        assert_eq!(c.authorization(), "API-abc");
        let c = c.with_dev_key(Some("DEV-xyz".into()));
        assert_eq!(c.authorization(), "DEV-xyz:API-abc");
        let c = c.with_dev_key(Some("  ".into()));
        assert_eq!(c.authorization(), "API-abc");
        assert!(!format!("{c:?}").contains("abc"));
    }

    #[test]
    fn backoff_grows_and_is_bounded() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        for _ in 0..20 {
            let d1 = p.delay(1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = p.delay(3);
            assert!(d3 >= Duration::from_millis(150) && d3 <= Duration::from_millis(300));
        }
    }
}

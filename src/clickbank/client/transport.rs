//! One HTTP exchange with ClickBank: URL building, the rate limiter, reads retried
//! with backoff, writes sent once.

use std::sync::atomic::Ordering;

use reqwest::header::{HeaderValue, CONTENT_LENGTH};
use reqwest::{Method, StatusCode};
use url::Url;

use super::{invalid, ClickBankClient};
use crate::clickbank::error::ClickBankError;

/// A successful HTTP answer.
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) body: bytes::Bytes,
}

fn transport_err(e: reqwest::Error) -> ClickBankError {
    if e.is_timeout() {
        ClickBankError::Timeout
    } else {
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            source = s.source();
        }
        ClickBankError::Connection { detail }
    }
}

impl ClickBankClient {
    pub(super) fn url(&self, segments: &[&str]) -> Result<Url, ClickBankError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|_| invalid("base URL cannot take a path"))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn wait_for_limiter(&self) {
        if let Some(limiter) = &self.limiter {
            if limiter.acquire().await {
                self.counters.throttled.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// One HTTP exchange; non-2xx answers become errors (except those `accept` allows).
    async fn exchange(
        &self,
        method: &Method,
        url: &Url,
        query: &[(&'static str, String)],
        page: Option<u32>,
        accept: &[StatusCode],
    ) -> Result<Answer, ClickBankError> {
        self.wait_for_limiter().await;
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let mut req = self.http.request(method.clone(), url.clone()).query(query);
        if let Some(p) = page {
            req = req.header("Page", p.to_string());
        }
        if matches!(*method, Method::POST | Method::PUT) {
            req = req
                .header(CONTENT_LENGTH, HeaderValue::from_static("0"))
                .body(Vec::<u8>::new());
        }
        let resp = req.send().await.map_err(transport_err)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(transport_err)?;
        if status.is_success() || accept.contains(&status) {
            Ok(Answer { status, body })
        } else {
            let text = String::from_utf8_lossy(&body).trim().to_string();
            Err(ClickBankError::from_status(status.as_u16(), text))
        }
    }

    /// A read: retried with backoff on 5xx, timeouts, connection errors and rate limits.
    pub(super) async fn read(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&'static str, String)],
        page: Option<u32>,
        accept: &[StatusCode],
    ) -> Result<Answer, ClickBankError> {
        let url = self.url(segments)?;
        let attempts = self.config.retry.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            match self.exchange(&method, &url, query, page, accept).await {
                Err(e) if e.is_retryable() && attempt < attempts => {
                    let delay = self.config.retry.delay(attempt);
                    tracing::warn!(
                        error = %e,
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        path = url.path(),
                        "ClickBank read failed, retrying"
                    );
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// A write: sent once.
    pub(super) async fn write(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&'static str, String)],
    ) -> Result<Answer, ClickBankError> {
        let url = self.url(segments)?;
        self.exchange(&method, &url, query, None, &[]).await
    }
}

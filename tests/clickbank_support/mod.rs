//! Shared helpers of the ClickBank integration tests.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use merchant_crm::clickbank::sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use merchant_crm::clickbank::{ClickBankClient, ClientConfig};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The pinned "today" of test sandboxes (a summer day: Pacific offsets are -07:00).
pub fn anchor() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 15, 19, 0, 0).unwrap()
}

/// Pacific date of the anchor.
pub fn anchor_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 15).unwrap()
}

/// A test configuration: pinned anchor, fast tickets and INS retries.
pub fn config(orders: usize) -> SandboxConfig {
    SandboxConfig {
        orders,
        days: 120,
        anchor: Some(anchor()),
        ticket_delay: Duration::from_millis(300),
        ins_retry_delay: Duration::from_millis(200),
        workers: 1,
        ..SandboxConfig::default()
    }
}

/// Start a sandbox with `orders` orders.
pub fn start(orders: usize) -> SandboxHandle {
    Sandbox::start(config(orders)).expect("sandbox starts")
}

/// A client for the sandbox (no client-side rate limit, fast retries).
pub fn client(sb: &SandboxHandle) -> ClickBankClient {
    ClickBankClient::new(sb.client_config()).expect("client builds")
}

/// A client with a custom configuration tweak.
pub fn client_with(sb: &SandboxHandle, tweak: impl FnOnce(&mut ClientConfig)) -> ClickBankClient {
    let mut c = sb.client_config();
    tweak(&mut c);
    ClickBankClient::new(c).expect("client builds")
}

/// An Instant Notification receiver answering `status`.
pub async fn receiver(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ins"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

/// The receiver's INS URL.
pub fn ins_url(server: &MockServer) -> String {
    format!("{}/ins", server.uri())
}

/// Wait (up to 15 s) until the receiver got at least `n` requests.
pub async fn wait_for_requests(server: &MockServer, n: usize) -> Vec<Request> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = server.received_requests().await.unwrap_or_default();
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Poll `check` (up to 15 s) until it returns Some.
pub async fn eventually<T>(mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

//! How a sandbox is configured ([`SandboxConfig`]) and the settings its state keeps.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::state::Settings;

/// How to run a sandbox. `Default` gives a small, quiet sandbox on a free port.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Dataset seed: the same seed and anchor give the same data.
    pub seed: u64,
    /// Number of orders (front-end sales) to generate.
    pub orders: usize,
    /// Days of history the orders spread over.
    pub days: u32,
    /// Percent (0..=100) of subscription sales made before those days, up to
    /// [`OLDER_SALES_DAYS`] earlier, as in a real account with years of subscribers: their
    /// rebills, refunds and cancellations fall in the listed days, their SALE does not.
    pub older_subscriptions: u32,
    /// Percent (0..=100) of one-off sales whose line items share a SKU, as real accounts
    /// have: an ORIGINAL and a BUMP of one product, or a cart with it twice. Their refunds
    /// may pay back one of the two lines.
    pub same_sku_bumps: u32,
    /// "Now" of the dataset; `None` = the current time. Pin it for reproducible tests.
    pub anchor: Option<DateTime<Utc>>,
    /// Vendor / site nickname.
    pub site: String,
    /// Accepted API key.
    pub api_key: String,
    /// Accepted developer key (`DEV-...`); `None` accepts any dev key with the right API key.
    pub dev_key: Option<String>,
    /// Secret key used to encrypt INS.
    pub secret_key: String,
    /// Instant Notification URL (encrypted INS events are POSTed there).
    pub notify_url: Option<String>,
    /// Live events generated per second (0 = none).
    pub events_per_second: f64,
    /// Fraction (0..=1) of API requests answered 503.
    pub error_rate: f64,
    /// Requests per second above which requests get ClickBank's rate-limit 403 (None = off).
    pub rate_limit: Option<u32>,
    /// Delay added to every API response.
    pub latency: Duration,
    /// Time before a ticket becomes an RFND / CANCEL-REBILL.
    pub ticket_delay: Duration,
    /// Whether partial refunds are enabled for the vendor.
    pub partial_refunds: bool,
    /// Records per orders page (ClickBank: 100).
    pub page_size: usize,
    /// Make some pages deterministically shorter although more follow.
    pub short_pages: bool,
    /// Products per products page.
    pub products_page_size: usize,
    /// INS version sent: 6 (RFC 3339 times), 7 (compact times) or 8 (+ tracking parameters).
    pub ins_version: u8,
    /// Delivery attempts per INS event (attemptCount rises).
    pub ins_max_attempts: u32,
    /// Delay between INS delivery attempts.
    pub ins_retry_delay: Duration,
    /// An INS outage: (starts this long after the start, lasts this long). Events still
    /// happen and are listed; their deliveries (retries included) in it are dropped.
    pub ins_outage: Option<(Duration, Duration)>,
    /// HTTP worker threads.
    pub workers: usize,
}

/// How far before the listed days the older subscription sales go.
pub const OLDER_SALES_DAYS: i64 = 180;

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            seed: 42,
            orders: 1_000,
            days: 180,
            older_subscriptions: 0,
            same_sku_bumps: 0,
            anchor: None,
            site: "DEMOSHOP".to_string(),
            api_key: "API-SANDBOX-0000000000000000000000".to_string(),
            dev_key: None,
            secret_key: "SANDBOXSECRET001".to_string(),
            notify_url: None,
            events_per_second: 0.0,
            error_rate: 0.0,
            rate_limit: None,
            latency: Duration::ZERO,
            ticket_delay: Duration::from_secs(5),
            partial_refunds: false,
            page_size: 100,
            short_pages: true,
            products_page_size: 100,
            ins_version: 8,
            ins_max_attempts: 3,
            ins_retry_delay: Duration::from_secs(2),
            ins_outage: None,
            workers: 2,
        }
    }
}

impl SandboxConfig {
    /// The part of the configuration the running state reads (and the handle may change).
    pub(super) fn settings(&self) -> Settings {
        Settings {
            page_size: self.page_size.max(1),
            short_pages: self.short_pages,
            products_page_size: self.products_page_size.max(1),
            partial_refunds: self.partial_refunds,
            ticket_delay: self.ticket_delay,
            notify_url: self.notify_url.clone(),
            ins_version: self.ins_version.clamp(6, 8),
            ins_max_attempts: self.ins_max_attempts.max(1),
            ins_retry_delay: self.ins_retry_delay,
            seed: self.seed,
            events_per_second: self.events_per_second.max(0.0),
            same_sku_bumps: self.same_sku_bumps.min(100),
            ins_outage: self.ins_outage.map(|(after, length)| {
                let start = Instant::now() + after;
                (start, Some(start + length))
            }),
        }
    }
}

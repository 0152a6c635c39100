//! A local ClickBank for demos and tests: REST API with ClickBank's quirks, a
//! deterministic dataset, tickets that turn into refunds and cancellations, and an INS
//! sender that encrypts like ClickBank.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use merchant_crm::clickbank::sandbox::{Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig { orders: 500, ..SandboxConfig::default() })?;
//! println!("ClickBank API at {}", sandbox.base_url());
//! # Ok(()) }
//! ```

pub(crate) mod catalog;
mod dataset;
mod delivery;
mod live;
mod model;
mod render;
mod server;
mod state;
mod subscriptions;
mod tickets;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpServer};
use chrono::{DateTime, NaiveDate, Utc};

use crate::clickbank::client::ClientConfig;
use crate::clickbank::ins::{parse_notification, InsEncoder, InsError, Notification};
use crate::clickbank::time::pacific_midnight;
use crate::clickbank::types::{LineItemStatus, LineItemType, Ticket, TransactionType};

pub use catalog::CURRENCIES;
pub use model::RecordedShipNotice;
pub use state::DeliveryRecord;

use dataset::{generate, GenConfig};
use server::{Faults, Shared};
use state::{Settings, State};

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
    /// HTTP worker threads.
    pub workers: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            seed: 42,
            orders: 1_000,
            days: 180,
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
            workers: 2,
        }
    }
}

/// Errors of the sandbox's test hooks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    /// The POST failed before an HTTP answer.
    #[error("could not post to {url}: {detail}")]
    Post {
        /// Target.
        url: String,
        /// Transport error.
        detail: String,
    },
    /// No such event.
    #[error("no sandbox event {0}")]
    UnknownEvent(u64),
}

/// An event of the sandbox as an INS notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxEvent {
    /// Sandbox event id.
    pub id: u64,
    /// Type.
    pub transaction_type: TransactionType,
    /// Receipt (`None` for abandoned orders).
    pub receipt: Option<String>,
    /// When.
    pub transaction_time: DateTime<Utc>,
    /// Decrypted INS JSON (attemptCount 1).
    pub plaintext: String,
}

impl SandboxEvent {
    /// Parse the plaintext as the portal would.
    pub fn notification(&self) -> Result<Notification, InsError> {
        parse_notification(self.plaintext.as_bytes())
    }

    /// Encrypt with a secret key into an INS envelope body.
    pub fn encrypt(&self, secret_key: &str) -> String {
        InsEncoder::new(secret_key).encrypt(self.plaintext.as_bytes())
    }
}

/// One line of a truth transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthItem {
    /// SKU.
    pub sku: String,
    /// Line type.
    pub line_type: LineItemType,
    /// Quantity.
    pub quantity: u32,
    /// Customer amount (minor units, signed).
    pub customer_minor: i64,
    /// Vendor amount (minor units, signed).
    pub account_minor: i64,
}

/// What the sandbox holds about one event, for comparing imports with the truth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthTransaction {
    /// Sandbox event id.
    pub id: u64,
    /// Receipt.
    pub receipt: Option<String>,
    /// Type.
    pub transaction_type: TransactionType,
    /// Time.
    pub time: DateTime<Utc>,
    /// Currency.
    pub currency: String,
    /// Order total, minor units, signed.
    pub total_minor: i64,
    /// Tax part.
    pub tax_minor: i64,
    /// Shipping part.
    pub shipping_minor: i64,
    /// Vendor's share.
    pub account_minor: i64,
    /// Affiliate nickname.
    pub affiliate: Option<String>,
    /// Payment method.
    pub payment_method: String,
    /// Customer email.
    pub email: String,
    /// Customer first name (may contain HTML on purpose).
    pub first_name: String,
    /// Customer last name.
    pub last_name: String,
    /// Lines.
    pub items: Vec<TruthItem>,
    /// Original receipt of an upsell.
    pub upsell_original_receipt: Option<String>,
    /// Visible in `orders2/list`.
    pub listed: bool,
}

/// Count and signed sum per (currency, type).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeTotals {
    /// Transactions.
    pub count: u64,
    /// Sum of totals (minor units).
    pub total_minor: i64,
}

/// Totals of the listed transactions of a date range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TruthSummary {
    /// All transactions.
    pub count: u64,
    /// Per (currency, transaction type).
    pub by_currency_and_type: BTreeMap<(String, String), TypeTotals>,
}

impl TruthSummary {
    /// Totals of one (currency, type).
    pub fn get(&self, currency: &str, transaction_type: &str) -> TypeTotals {
        self.by_currency_and_type
            .get(&(currency.to_string(), transaction_type.to_string()))
            .copied()
            .unwrap_or_default()
    }
}

/// The current state of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthSubscription {
    /// Receipt.
    pub receipt: String,
    /// Current SKU.
    pub sku: String,
    /// Status.
    pub status: LineItemStatus,
    /// Next rebill.
    pub next_payment: Option<DateTime<Utc>>,
    /// Payments made.
    pub processed: u32,
    /// Payments remaining.
    pub remaining: u32,
    /// Pause end (restart date).
    pub paused_until: Option<DateTime<Utc>>,
    /// When it was canceled.
    pub canceled_at: Option<DateTime<Utc>>,
}

/// A product of the sandbox catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthProduct {
    /// SKU.
    pub sku: String,
    /// Title.
    pub title: String,
    /// Main currency.
    pub currency: String,
    /// Initial price, minor units.
    pub price_minor: i64,
    /// Recurring.
    pub recurring: bool,
    /// Physical.
    pub physical: bool,
    /// Active.
    pub active: bool,
}

/// Entry point: `Sandbox::start(config)`.
pub struct Sandbox;

impl Sandbox {
    fn offline_state(config: &SandboxConfig) -> State {
        let anchor = config.anchor.unwrap_or_else(Utc::now);
        let world = generate(&GenConfig {
            seed: config.seed,
            orders: config.orders,
            days: config.days,
            anchor,
        });
        State::new(world, config.site.clone(), anchor, Self::settings(config))
    }

    fn settings(config: &SandboxConfig) -> Settings {
        Settings {
            page_size: config.page_size.max(1),
            short_pages: config.short_pages,
            products_page_size: config.products_page_size.max(1),
            partial_refunds: config.partial_refunds,
            ticket_delay: config.ticket_delay,
            notify_url: config.notify_url.clone(),
            ins_version: config.ins_version.clamp(6, 8),
            ins_max_attempts: config.ins_max_attempts.max(1),
            ins_retry_delay: config.ins_retry_delay,
            seed: config.seed,
            events_per_second: config.events_per_second.max(0.0),
        }
    }

    /// Every listed transaction of the dataset rendered as `orders2/list` bodies of
    /// `page_size` records, without a server (for benchmarks and fixtures).
    pub fn dataset_order_pages(config: &SandboxConfig) -> Vec<String> {
        let st = Self::offline_state(config);
        let listed: Vec<&model::SbEvent> = st.events.iter().filter(|e| e.listed()).collect();
        listed
            .chunks(config.page_size.max(1))
            .map(|chunk| render::rest_orders(&st, chunk, None))
            .collect()
    }

    /// The first `limit` dataset events as plaintext INS notifications (no server).
    pub fn dataset_notifications(config: &SandboxConfig, limit: usize) -> Vec<String> {
        let st = Self::offline_state(config);
        st.events
            .iter()
            .take(limit)
            .map(|e| render::ins_notification(&st, e, 1))
            .collect()
    }

    /// Generate the dataset, bind and serve in the background of the current Tokio
    /// runtime (works inside `#[actix_web::test]` and `#[tokio::test]`).
    pub fn start(config: SandboxConfig) -> std::io::Result<SandboxHandle> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| std::io::Error::other("Sandbox::start must be called inside a Tokio runtime"))?;
        let state = Self::offline_state(&config);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            faults: Mutex::new(Faults::new(
                config.seed,
                config.error_rate,
                config.rate_limit,
                config.latency,
            )),
            requests: AtomicU64::new(0),
            wake: tokio::sync::Notify::new(),
            api_key: config.api_key.trim().to_string(),
            dev_key: config.dev_key.clone().filter(|d| !d.trim().is_empty()),
            encoder: InsEncoder::new(&config.secret_key),
            http,
        });
        let listener = TcpListener::bind(config.bind)?;
        let addr = listener.local_addr()?;
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || App::new().app_data(data.clone()).configure(server::routes))
            .workers(config.workers.max(1))
            .disable_signals()
            .shutdown_timeout(2)
            .listen(listener)?
            .run();
        let server_handle = server.handle();
        let server_task = runtime.spawn(server);
        let scheduler = runtime.spawn(delivery::scheduler(shared.clone()));
        let host = if addr.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        } else {
            addr
        };
        Ok(SandboxHandle {
            shared,
            addr: host,
            config,
            server: server_handle,
            server_task: Some(server_task),
            scheduler,
        })
    }
}

/// A running sandbox: its URL and credentials, fault switches, truth and INS hooks.
/// Dropping it stops the server.
pub struct SandboxHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    config: SandboxConfig,
    server: actix_web::dev::ServerHandle,
    server_task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    scheduler: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("base_url", &self.base_url())
            .finish()
    }
}

impl SandboxHandle {
    /// Socket address served.
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// The API base to configure in the client, e.g. `http://127.0.0.1:8090/rest/1.3`.
    pub fn base_url(&self) -> String {
        format!("http://{}/rest/1.3", self.addr)
    }

    /// Site / vendor nickname.
    pub fn site(&self) -> &str {
        &self.config.site
    }

    /// Accepted API key.
    pub fn api_key(&self) -> &str {
        &self.config.api_key
    }

    /// Configured developer key.
    pub fn dev_key(&self) -> Option<&str> {
        self.config.dev_key.as_deref()
    }

    /// INS secret key.
    pub fn secret_key(&self) -> &str {
        &self.config.secret_key
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// A client configuration pointing at this sandbox (no rate limit, fast retries).
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new(self.config.api_key.clone())
            .with_base_url(self.base_url())
            .with_dev_key(self.config.dev_key.clone());
        c.requests_per_second = 0;
        c.retry.base_delay = Duration::from_millis(10);
        c.retry.max_delay = Duration::from_millis(100);
        c.timeout = Duration::from_secs(20);
        c
    }

    /// The sandbox clock (anchor + time since start).
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().now()
    }

    /// API requests received so far (all of them, refused ones included).
    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    // ----- fault switches -----

    /// Answer this fraction of requests with 503.
    pub fn set_error_rate(&self, rate: f64) {
        self.shared.faults().error_rate = rate.clamp(0.0, 1.0);
    }

    /// Answer the next `n` requests with 503.
    pub fn fail_next(&self, n: u32) {
        self.shared.faults().fail_next = n;
    }

    /// Refuse requests above `rps` per second with ClickBank's rate-limit 403 (None = off).
    pub fn set_rate_limit(&self, rps: Option<u32>) {
        self.shared.faults().rate_limit_rps = rps;
    }

    /// Refuse the next `n` requests with the rate-limit 403.
    pub fn rate_limit_next(&self, n: u32) {
        self.shared.faults().rate_limit_next = n;
    }

    /// Delay every response.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.faults().latency = latency;
    }

    /// Delay the next `n` responses (the request is applied before the delay).
    pub fn delay_next(&self, n: u32, delay: Duration) {
        let mut f = self.shared.faults();
        f.delay_next = n;
        f.delay_next_by = delay;
    }

    /// Set or clear the Instant Notification URL.
    pub fn set_notify_url(&self, url: Option<String>) {
        self.shared.lock().settings.notify_url = url;
    }

    /// Time before tickets are applied.
    pub fn set_ticket_delay(&self, delay: Duration) {
        self.shared.lock().settings.ticket_delay = delay;
    }

    /// Apply every pending ticket now instead of after the delay (closed tickets are
    /// skipped, as ClickBank would). Returns the number of events created; their INS
    /// deliveries are queued to the notify URL.
    pub fn process_tickets_now(&self) -> usize {
        let mut st = self.shared.lock();
        let mut ids = Vec::new();
        st.pending.retain(|p| match p.job {
            state::Job::CompleteTicket(id) => {
                ids.push(id);
                false
            }
            _ => true,
        });
        let created = ids.into_iter().filter_map(|id| st.complete_ticket(id)).count();
        drop(st);
        self.shared.wake.notify_one();
        created
    }

    /// Enable or disable partial refunds.
    pub fn set_partial_refunds(&self, enabled: bool) {
        self.shared.lock().settings.partial_refunds = enabled;
    }

    /// Live events per second (0 stops the stream).
    pub fn set_events_per_second(&self, rate: f64) {
        self.shared.lock().settings.events_per_second = rate.max(0.0);
        self.shared.wake.notify_one();
    }

    /// Renames a catalog product, as the vendor would in ClickBank (the products list and
    /// later orders show the new title). False for an unknown SKU.
    pub fn set_product_title(&self, sku: &str, title: &str) -> bool {
        self.shared
            .lock()
            .set_product(sku, |p| p.title = title.to_string())
    }

    /// Changes a catalog product's price in its own currency (minor units). False for an
    /// unknown SKU.
    pub fn set_product_price(&self, sku: &str, price_minor: i64) -> bool {
        self.shared.lock().set_product(sku, |p| p.price = price_minor)
    }

    // ----- truth -----

    fn truth(st: &State, e: &model::SbEvent) -> TruthTransaction {
        let c = &st.customers[e.customer];
        TruthTransaction {
            id: e.id,
            receipt: e.receipt.clone(),
            transaction_type: e.tx_type.clone(),
            time: e.time,
            currency: e.currency.to_string(),
            total_minor: e.total(),
            tax_minor: e.tax(),
            shipping_minor: e.shipping(),
            account_minor: e.account_total(),
            affiliate: st.affiliate_name(e.affiliate).map(str::to_string),
            payment_method: e.payment_method.to_string(),
            email: c.email.clone(),
            first_name: c.first.clone(),
            last_name: c.last.clone(),
            items: e
                .lines
                .iter()
                .map(|l| TruthItem {
                    sku: st.products[l.product].sku.clone(),
                    line_type: l.line_type.clone(),
                    quantity: l.qty,
                    customer_minor: l.customer_amount,
                    account_minor: l.account_amount,
                })
                .collect(),
            upsell_original_receipt: e.upsell_original.clone(),
            listed: e.listed(),
        }
    }

    /// Every event (transactions and INS-only events), in time order.
    pub fn events(&self) -> Vec<TruthTransaction> {
        let st = self.shared.lock();
        st.events.iter().map(|e| Self::truth(&st, e)).collect()
    }

    /// The transactions `orders2/list` shows, in time order.
    pub fn transactions(&self) -> Vec<TruthTransaction> {
        let st = self.shared.lock();
        st.events
            .iter()
            .filter(|e| e.listed())
            .map(|e| Self::truth(&st, e))
            .collect()
    }

    /// Listed transactions of the Pacific days `start..=end` (the orders list's days).
    pub fn transactions_between(&self, start: NaiveDate, end: NaiveDate) -> Vec<TruthTransaction> {
        let (from, to) = (
            pacific_midnight(start),
            pacific_midnight(end + chrono::Duration::days(1)),
        );
        let st = self.shared.lock();
        st.events
            .iter()
            .filter(|e| e.listed() && e.time >= from && e.time < to)
            .map(|e| Self::truth(&st, e))
            .collect()
    }

    /// Counts and sums per currency and type of the listed transactions of `start..=end`.
    pub fn summary(&self, start: NaiveDate, end: NaiveDate) -> TruthSummary {
        let mut s = TruthSummary::default();
        for t in self.transactions_between(start, end) {
            s.count += 1;
            let e = s
                .by_currency_and_type
                .entry((t.currency.clone(), t.transaction_type.as_str().to_string()))
                .or_default();
            e.count += 1;
            e.total_minor += t.total_minor;
        }
        s
    }

    /// The catalog.
    pub fn products(&self) -> Vec<TruthProduct> {
        let st = self.shared.lock();
        st.products
            .iter()
            .map(|p| TruthProduct {
                sku: p.sku.clone(),
                title: p.title.clone(),
                currency: p.currency.to_string(),
                price_minor: p.price,
                recurring: p.plan.is_some(),
                physical: p.physical,
                active: p.active,
            })
            .collect()
    }

    /// Subscriptions of a receipt.
    pub fn subscriptions(&self, receipt: &str) -> Vec<TruthSubscription> {
        let st = self.shared.lock();
        st.sub_index
            .get(&receipt.to_ascii_uppercase())
            .map(|v| {
                v.iter()
                    .map(|&i| {
                        let s = &st.subs[i];
                        TruthSubscription {
                            receipt: s.receipt.clone(),
                            sku: st.products[s.product].sku.clone(),
                            status: s.status.clone(),
                            next_payment: s.next_payment,
                            processed: s.processed,
                            remaining: s.remaining(),
                            paused_until: s.paused_until,
                            canceled_at: s.canceled_at,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Receipts of subscriptions in `status`, for picking test subjects.
    pub fn subscription_receipts(&self, status: LineItemStatus) -> Vec<String> {
        let st = self.shared.lock();
        st.subs
            .iter()
            .filter(|s| s.status == status)
            .map(|s| s.receipt.clone())
            .collect()
    }

    /// All tickets, as the API shows them.
    pub fn tickets(&self) -> Vec<Ticket> {
        let st = self.shared.lock();
        st.tickets.iter().map(|t| server::typed_ticket(&st, t)).collect()
    }

    /// Shipping notices received.
    pub fn ship_notices(&self) -> Vec<RecordedShipNotice> {
        self.shared.lock().ship_notices.clone()
    }

    /// INS deliveries attempted.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.shared.lock().deliveries.clone()
    }

    // ----- INS -----

    fn sandbox_event(st: &State, id: u64) -> Option<SandboxEvent> {
        let e = st.events.get(id as usize)?;
        Some(SandboxEvent {
            id,
            transaction_type: e.tx_type.clone(),
            receipt: e.receipt.clone(),
            transaction_time: e.time,
            plaintext: render::ins_notification(st, e, 1),
        })
    }

    /// One event as an INS notification.
    pub fn event(&self, id: u64) -> Option<SandboxEvent> {
        Self::sandbox_event(&self.shared.lock(), id)
    }

    /// The INS notification of a dataset transaction (the first of that receipt and type),
    /// so the same sale can arrive by INS and through the orders list.
    pub fn ins_for(&self, receipt: &str, transaction_type: &TransactionType) -> Option<SandboxEvent> {
        let st = self.shared.lock();
        let id = st
            .events
            .iter()
            .find(|e| {
                &e.tx_type == transaction_type
                    && e.receipt
                        .as_deref()
                        .is_some_and(|r| r.eq_ignore_ascii_case(receipt))
            })?
            .id;
        Self::sandbox_event(&st, id)
    }

    /// Create a new live event of any type (SALE, BILL, RFND, CGBK, INSF, CANCEL-REBILL,
    /// UNCANCEL-REBILL, SUBSCRIPTION-CHG, ABANDONED_ORDER, TEST, TEST_SALE, ...) without
    /// delivering it. Money events also appear in the orders list.
    pub fn create_event(&self, transaction_type: &TransactionType) -> SandboxEvent {
        let mut st = self.shared.lock();
        let id = st.create_event(transaction_type);
        Self::sandbox_event(&st, id).unwrap_or_else(|| SandboxEvent {
            id,
            transaction_type: transaction_type.clone(),
            receipt: None,
            transaction_time: st.now(),
            plaintext: String::new(),
        })
    }

    /// Create a live event and queue its delivery to the notify URL.
    pub fn emit(&self, transaction_type: &TransactionType) -> SandboxEvent {
        let ev = self.create_event(transaction_type);
        self.shared.lock().queue_delivery(ev.id);
        self.shared.wake.notify_one();
        ev
    }

    /// Encrypt a plaintext with the sandbox secret key (an INS envelope body).
    pub fn encrypt(&self, plaintext: &str) -> String {
        self.shared.encoder.encrypt(plaintext.as_bytes())
    }

    /// Encrypt and POST an event to `url` now; returns the HTTP status. Recorded in
    /// [`deliveries`](Self::deliveries); failures are retried like ClickBank does.
    pub async fn post_event(&self, url: &str, event: &SandboxEvent) -> Result<u16, SandboxError> {
        if self.shared.lock().events.len() as u64 <= event.id {
            return Err(SandboxError::UnknownEvent(event.id));
        }
        delivery::deliver(&self.shared, url, event.id, 1)
            .await
            .map_err(|detail| SandboxError::Post {
                url: url.to_string(),
                detail,
            })
    }

    /// POST any body (JSON content type) to `url`; returns the HTTP status.
    pub async fn post_raw(&self, url: &str, body: impl Into<Vec<u8>>) -> Result<u16, SandboxError> {
        delivery::post_body(&self.shared, url, body.into(), "application/json")
            .await
            .map_err(|detail| SandboxError::Post {
                url: url.to_string(),
                detail,
            })
    }

    /// Wait until the server stops (e.g. after [`stop`](Self::stop) from another task).
    pub async fn wait(&mut self) -> std::io::Result<()> {
        match self.server_task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }

    /// Stop serving (graceful) and stop the background tasks.
    pub async fn stop(self) {
        self.scheduler.abort();
        self.server.stop(true).await;
    }

    /// A handle to stop the server from elsewhere (e.g. on Ctrl-C).
    pub fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.clone()
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        self.scheduler.abort();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let server = self.server.clone();
            rt.spawn(async move { server.stop(false).await });
        }
    }
}

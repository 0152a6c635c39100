//! Running a sandbox: generating its dataset, serving it in the background, and the
//! handle that owns the server (its URL, credentials and lifetime).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpServer};
use chrono::{DateTime, Utc};

use super::config::SandboxConfig;
use super::dataset::{generate, GenConfig};
use super::faults::Faults;
use super::server::{self, Shared};
use super::state::State;
use super::{delivery, model, render};
use crate::clickbank::client::ClientConfig;
use crate::clickbank::ins::InsEncoder;

/// Entry point: `Sandbox::start(config)`.
pub struct Sandbox;

impl Sandbox {
    fn offline_state(config: &SandboxConfig) -> State {
        let anchor = config.anchor.unwrap_or_else(Utc::now);
        let world = generate(&GenConfig {
            seed: config.seed,
            orders: config.orders,
            days: config.days,
            older_subscriptions: config.older_subscriptions.min(100),
            same_sku_bumps: config.same_sku_bumps.min(100),
            anchor,
        });
        State::new(world, config.site.clone(), anchor, config.settings())
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
    pub(super) shared: Arc<Shared>,
    pub(super) addr: SocketAddr,
    pub(super) config: SandboxConfig,
    pub(super) server: actix_web::dev::ServerHandle,
    pub(super) server_task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub(super) scheduler: tokio::task::JoinHandle<()>,
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

//! merchant-crm: a self-hosted CRM portal for direct-response merchants who sell through
//! ClickBank. `Application` builds the HTTP server; the route table is `web::routes`.

pub mod clickbank;
pub mod config;
pub mod db;
pub mod demo;
pub mod dev;
pub mod domain;
pub mod error;
pub mod jobs;
pub mod private_files;
pub mod secrets;
pub mod web;

use std::net::TcpListener;

use actix_session::config::{PersistentSession, TtlExtensionPolicy};
use actix_session::SessionMiddleware;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web as aweb, App, HttpServer};
use tracing::Span;
use tracing_actix_web::{RootSpanBuilder, TracingLogger};

use config::Config;
use db::Database;
use error::AppError;

/// What every handler can reach.
pub struct AppState {
    pub db: Database,
    pub config: Config,
    pub secrets: secrets::SecretBox,
    pub api_auth: domain::accounts::api_users::ApiAuthenticator,
    /// Wakes the INS worker when a notification is stored.
    pub wake_inbox: std::sync::Arc<tokio::sync::Notify>,
    /// INS requests storing a body at this moment (the worker lets them go first).
    pub ins_storing: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Wakes the import scheduler (a task was started or asked to run now).
    pub wake_jobs: std::sync::Arc<tokio::sync::Notify>,
    /// Whether requests look proxied while the proxy is not trusted.
    pub proxy_signs: web::proxy_signs::ProxySigns,
    /// One ClickBank rate limiter per account, shared by every job and action of the process.
    pub clickbank_limiters: clickbank::Limiters,
}

impl AppState {
    /// What the background jobs and the ClickBank actions share.
    pub fn job_context(&self) -> domain::context::JobContext {
        domain::context::JobContext::new(
            self.db.clone(),
            self.secrets.clone(),
            self.config.clickbank_api_base.clone(),
        )
        .with_limiters(self.clickbank_limiters.clone())
    }

    /// What the fulfillment export job needs.
    pub fn export_context(&self) -> Result<domain::fulfillment::export::ExportContext, AppError> {
        domain::fulfillment::export::ExportContext::new(
            self.job_context(),
            i64::from(self.config.export_interval_minutes),
        )
        .map(|c| c.with_export_root(self.config.export_root.clone()))
    }

    /// What the import jobs need.
    pub fn import_context(&self) -> domain::sync::imports::ImportContext {
        domain::sync::imports::ImportContext {
            job: self.job_context(),
            continuous_interval_minutes: self.config.import_interval_minutes,
        }
    }

    /// What the Customer Service actions need.
    pub fn service_context(&self) -> domain::customer_service::actions::ServiceContext {
        self.job_context()
    }
}

/// Request spans that name the path only: query strings can carry secrets (ClickBank
/// sends the API user's password in the Instant Notification URL), so they are never logged.
pub struct PathOnlySpan;

impl RootSpanBuilder for PathOnlySpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.path(),
            status = tracing::field::Empty
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let status = match outcome {
            Ok(r) => r.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        span.record("status", status);
        tracing::info!(parent: &span, status, "done");
    }
}

/// Security headers on every response.
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Content-Type-Options", "nosniff"))
}

/// A running portal: its server future and the port it listens on.
pub struct Application {
    port: u16,
    server: Server,
    state: aweb::Data<AppState>,
}

impl Application {
    /// Connects to the database, applies migrations and binds `config.bind`.
    pub fn build(config: Config) -> Result<Self, AppError> {
        let db = Database::connect(&config.database_url, config.pool_size)?;
        db.migrate()?;
        let listener = TcpListener::bind(&config.bind)
            .map_err(|e| AppError::Config(format!("cannot listen on {}: {e}", config.bind)))?;
        Self::from_parts(config, db, listener)
    }

    /// Serves `db` on an already-bound listener (tests bind port 0).
    pub fn from_parts(config: Config, db: Database, listener: TcpListener) -> Result<Self, AppError> {
        let port = listener
            .local_addr()
            .map_err(|e| AppError::Config(format!("listener has no address: {e}")))?
            .port();
        let key = Key::try_from(config.session_key.as_slice())
            .map_err(|e| AppError::Config(format!("session key unusable: {e}")))?;
        let secure = config.secure_cookies;
        let secrets = secrets::SecretBox::new(&config.master_key)?;
        let state = aweb::Data::new(AppState {
            db,
            config,
            secrets,
            api_auth: Default::default(),
            wake_inbox: Default::default(),
            ins_storing: Default::default(),
            wake_jobs: Default::default(),
            proxy_signs: Default::default(),
            clickbank_limiters: Default::default(),
        });
        // Computed once here, not on an async worker under the first wrong login.
        domain::accounts::passwords::dummy_hash();
        // The public API routes refuse callers outside every allowlist from the first request on.
        // A database down at start leaves it empty (every caller refused) until the next refresh.
        if let Err(e) = state
            .db
            .conn()
            .and_then(|mut c| state.api_auth.union.load(&mut c))
        {
            tracing::warn!(error = %e, "could not load the API users' allowlists; retrying every 30 s");
        }
        state.api_auth.union.spawn_refresher(state.db.clone());
        jobs::inbox_worker::spawn(
            state.db.clone(),
            state.secrets.clone(),
            state.wake_inbox.clone(),
            state.ins_storing.clone(),
        );
        if state.config.jobs {
            jobs::scheduler::spawn(
                state.import_context(),
                state.export_context()?,
                std::time::Duration::from_secs(state.config.scheduler_tick_secs),
                state.wake_jobs.clone(),
            );
        }
        let store =
            web::session_store::DbSessionStore::new(state.db.clone(), state.config.session_timeouts());
        store.spawn_flusher();
        let absolute = actix_web::cookie::time::Duration::seconds(state.config.session_absolute_secs as i64);
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            let sessions = SessionMiddleware::builder(store.clone(), key.clone())
                .cookie_name("merchant_crm_session".into())
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .cookie_secure(secure)
                .session_lifecycle(
                    PersistentSession::default()
                        .session_ttl(absolute)
                        .session_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
                )
                .build();
            App::new()
                .app_data(state.clone())
                .app_data(web::form_config())
                .app_data(web::query_config())
                .app_data(web::path_config())
                .configure(web::routes)
                .default_service(aweb::to(web::not_found))
                .wrap(from_fn(web::csrf::protect))
                .wrap(from_fn(web::error_page::pages))
                .wrap(sessions)
                .wrap(security_headers())
                .wrap(TracingLogger::<PathOnlySpan>::new())
        })
        .listen(listener)
        .map_err(|e| AppError::Config(format!("cannot serve: {e}")))?
        .run();
        Ok(Application {
            port,
            server,
            state: app_state,
        })
    }

    /// Asks the import scheduler to look for due tasks now.
    pub fn wake_jobs(&self) {
        self.state.wake_jobs.notify_one();
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server (tests, the demo).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

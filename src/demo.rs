//! `merchant-crm demo`: the portal on SQLite plus an in-process ClickBank sandbox, wired
//! together the way a merchant would wire the real ClickBank, so a newcomer sees campaigns,
//! customers, refunds and partials within a minute.

use std::net::TcpListener;

use rand::distributions::Alphanumeric;
use rand::Rng;

use crate::clickbank::{Sandbox, SandboxConfig};
use crate::config::Config;
use crate::db::Database;
use crate::domain::accounts::api_users::{self, ApiUserInput, Permission};
use crate::domain::{accounts::passwords, accounts::users, plugins, sync::imports, Actor};
use crate::error::AppError;
use crate::Application;

pub const DEMO_EMAIL: &str = "demo@merchant-crm.local";
const INS_LOGIN: &str = "clickbank-demo";

fn random_password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

/// What the demo set up (printed for the newcomer).
pub struct Demo {
    pub app: Application,
    pub url: String,
    pub email: String,
    pub password: String,
    pub sandbox: crate::clickbank::SandboxHandle,
}

/// Starts the sandbox and the portal and connects them. `config.bind` may use port 0.
pub async fn start(mut config: Config, orders: usize, events_per_second: f64) -> Result<Demo, AppError> {
    let sandbox = Sandbox::start(SandboxConfig {
        bind: "127.0.0.1:0"
            .parse()
            .map_err(|_| AppError::Internal("sandbox address".into()))?,
        orders,
        days: 120,
        older_subscriptions: crate::clickbank::cli::DEMO_OLDER_SUBSCRIPTIONS,
        same_sku_bumps: crate::clickbank::cli::DEMO_SAME_SKU_BUMPS,
        ..Default::default()
    })
    .map_err(|e| AppError::Config(format!("cannot start the ClickBank sandbox: {e}")))?;
    config.clickbank_api_base = sandbox.base_url();
    let db = Database::connect(&config.database_url, config.pool_size)?;
    db.migrate()?;
    let listener = TcpListener::bind(&config.bind)
        .map_err(|e| AppError::Config(format!("cannot listen on {}: {e}", config.bind)))?;
    let port = listener
        .local_addr()
        .map_err(|e| AppError::Config(e.to_string()))?
        .port();
    let url = format!("http://127.0.0.1:{port}");

    let password = random_password();
    let ins_password = random_password();
    let secrets = crate::secrets::SecretBox::new(&config.master_key)?;
    let input = plugins::PluginInput::basic(
        "ClickBank",
        sandbox.site(),
        sandbox.api_key(),
        sandbox.secret_key(),
    )?;
    let api = plugins::client_for(&input.keys, &config.clickbank_api_base)?;
    plugins::connect_check(api.as_ref(), &input.site).await?;

    let (hash, ins_hash) = (passwords::hash(&password)?, passwords::hash(&ins_password)?);
    let plugin = db
        .run(move |c| {
            let actor = Actor::cli();
            match users::find_by_email(c, DEMO_EMAIL)? {
                Some(u) => users::set_password_hash(c, &actor, u.id, &hash)?,
                None => {
                    users::create(c, &actor, DEMO_EMAIL, &hash, users::Role::Admin)?;
                }
            }
            match api_users::find_by_login(c, INS_LOGIN)? {
                Some(u) => {
                    api_users::update(
                        c,
                        &actor,
                        u.id,
                        "127.0.0.1",
                        &[Permission::ImportOrder],
                        Some(&ins_hash),
                    )?;
                }
                None => {
                    let a = ApiUserInput::new(INS_LOGIN, "127.0.0.1", vec![Permission::ImportOrder])?;
                    api_users::create(c, &actor, &a, &ins_hash)?;
                }
            }
            // A demo data dir reused later gets a fresh sandbox: start its plugin afresh too.
            let plugin = match plugins::list(c)?.into_iter().find(|p| p.name == "ClickBank") {
                Some(p) => plugins::update(c, &actor, &secrets, p.id, &input, true)?,
                None => plugins::create(c, &actor, &secrets, &input, true)?,
            };
            Ok(plugin)
        })
        .await?;
    let plugin_id = plugin.id;
    let app = Application::from_parts(config, db.clone(), listener)?;
    db.run(move |c| imports::start_products(c, &Actor::cli(), plugin_id))
        .await?;
    let started = db
        .run(move |c| imports::start_initial(c, &Actor::cli(), plugin_id, 90, Some(30)))
        .await;
    match started {
        Ok(_) | Err(AppError::Conflict(_)) => {}
        Err(e) => return Err(e),
    }
    app.wake_jobs();
    sandbox.set_notify_url(Some(format!(
        "{url}/clickbank/?loginId={INS_LOGIN}&password={ins_password}"
    )));
    sandbox.set_events_per_second(events_per_second);
    Ok(Demo {
        app,
        url,
        email: DEMO_EMAIL.to_string(),
        password,
        sandbox,
    })
}

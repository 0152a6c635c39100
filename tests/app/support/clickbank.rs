//! ClickBank for the tests: the in-process sandbox, a portal wired to it with an INS API user,
//! the plugin form and the Instant Notification URL.

use std::net::SocketAddr;
use std::time::Duration;

use merchant_crm::clickbank::{Sandbox, SandboxConfig, SandboxHandle};
use merchant_crm::db::models::TaskState;
use merchant_crm::domain::context::JobContext;
use merchant_crm::domain::sync::imports::{self, ImportContext};
use merchant_crm::domain::{plugins, Actor};

use super::app::TestApp;

pub const INS_LOGIN: &str = "clickbank-ins";
pub const INS_PASSWORD: &str = "ins password 0123456789";

pub fn sandbox_config() -> SandboxConfig {
    SandboxConfig {
        bind: "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        orders: 150,
        days: 60,
        ..Default::default()
    }
}

pub async fn sandbox() -> SandboxHandle {
    Sandbox::start(sandbox_config()).expect("sandbox starts")
}

/// A portal wired to `sb` as its ClickBank, with an admin signed in and an INS API user.
pub async fn portal_for(sb: &SandboxHandle) -> TestApp {
    let app = TestApp::builder()
        .env("CLICKBANK_API_BASE", &sb.base_url())
        .build()
        .await;
    admin_with_ins_user(&app).await;
    app
}

/// Runs /setup (the admin stays signed in) and adds the INS API user (`import_order`, from
/// 127.0.0.1).
pub async fn admin_with_ins_user(app: &TestApp) {
    app.setup_admin().await;
    let r = app
        .post_form(
            "/admin/api-users",
            "/admin/api-users",
            &[
                ("login_id", INS_LOGIN),
                ("password", INS_PASSWORD),
                ("allow_ips", "127.0.0.1"),
                ("permission", "import_order"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
}

/// Activates a ClickBank plugin through the admin form.
pub async fn activate(
    app: &TestApp,
    name: &str,
    sb: &SandboxHandle,
    secret: &str,
    include_test: bool,
) -> reqwest::Response {
    let mut fields = vec![
        ("name", name.to_string()),
        ("site", sb.site().to_string()),
        ("api_key", sb.api_key().to_string()),
        ("secret_key", secret.to_string()),
    ];
    if include_test {
        fields.push(("include_test_transactions", "on".into()));
    }
    let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.post_form("/admin/plugins", "/admin/plugins", &f).await
}

pub fn ins_url(app: &TestApp) -> String {
    app.url(&format!(
        "/clickbank/?loginId={INS_LOGIN}&password={}",
        INS_PASSWORD.replace(' ', "%20")
    ))
}

/// What the portal's import jobs get, pointed at the sandbox and not rate-limited.
pub fn import_ctx(app: &TestApp, sb: &SandboxHandle) -> ImportContext {
    let secrets = merchant_crm::secrets::SecretBox::new(&app.config.master_key).unwrap();
    ImportContext {
        job: JobContext {
            requests_per_second: 0,
            ..JobContext::new(app.db.clone(), secrets, sb.base_url())
        },
        continuous_interval_minutes: 15,
    }
}

/// A portal with the sandbox's orders imported and the sandbox delivering INS to it.
pub async fn portal_with_orders(sb: &SandboxHandle) -> TestApp {
    let app = portal_for(sb).await;
    let c = import_ctx(&app, sb);
    let secrets = c.job.secrets.clone();
    let input = plugins::PluginInput::basic("ClickBank", sb.site(), sb.api_key(), sb.secret_key()).unwrap();
    let pid = app
        .db
        .run(move |conn| Ok(plugins::create(conn, &Actor::cli(), &secrets, &input, false)?.id))
        .await
        .unwrap();
    let id = app
        .db
        .run(move |conn| Ok(imports::start_initial(conn, &Actor::cli(), pid, 32, None)?.id))
        .await
        .unwrap();
    for _ in 0..600 {
        imports::run_task(&c, id, "cs-test", 1000).await.unwrap();
        let t = app.db.read(move |conn| imports::find(conn, id)).await.unwrap();
        if t.state == TaskState::Done {
            break;
        }
        assert_ne!(t.state, TaskState::Failed, "{:?}", t.last_error);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sb.set_notify_url(Some(ins_url(&app)));
    app
}

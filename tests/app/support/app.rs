//! TestApp: the portal on port 0 with a fresh database per test (a SQLite file in a temp
//! dir, or a new PostgreSQL database when TEST_DATABASE_URL is set).

use std::collections::HashMap;
use std::net::TcpListener;

use diesel::{Connection, PgConnection, RunQueryDsl};
use merchant_crm::config::{Config, Overrides};
use merchant_crm::db::{Backend, Database};
use merchant_crm::Application;
use rand::Rng;
use reqwest::redirect::Policy;
use reqwest::{Client, Response};

pub const ADMIN_EMAIL: &str = "exec@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub db: Database,
    pub config: Config,
    pub _data_dir: tempfile::TempDir,
    handle: actix_web::dev::ServerHandle,
}

/// A database URL for one test: a fresh PostgreSQL database when TEST_DATABASE_URL is set,
/// else a SQLite file under `dir`.
pub fn fresh_database_url(dir: &std::path::Path) -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            let name = format!("crm_test_{:016x}", rand::thread_rng().gen::<u64>());
            let mut conn = PgConnection::establish(&base)
                .unwrap_or_else(|e| panic!("TEST_DATABASE_URL does not connect: {e}"));
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .expect("create test database");
            let mut url = url::Url::parse(&base).expect("TEST_DATABASE_URL is a URL");
            url.set_path(&format!("/{name}"));
            url.to_string()
        }
        _ => dir.join("test.sqlite3").to_string_lossy().into_owned(),
    }
}

pub fn expected_backend() -> Backend {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(v) if !v.is_empty() => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

pub fn test_config(dir: &std::path::Path, database_url: &str, extra: &[(&str, &str)]) -> Config {
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("MERCHANT_CRM_POOL_SIZE".into(), "4".into());
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    let overrides = Overrides {
        bind: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.to_path_buf()),
        database_url: Some(database_url.to_string()),
        config_file: None,
    };
    Config::from_sources(&env, &overrides).expect("test config")
}

pub fn client() -> Client {
    Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .build()
        .expect("http client")
}

pub struct TestAppBuilder {
    env: Vec<(String, String)>,
    database: Option<Database>,
}

impl TestAppBuilder {
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Serve this database instead of a fresh, migrated one.
    pub fn database(mut self, db: Database) -> Self {
        self.database = Some(db);
        self
    }

    pub async fn build(self) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let db = match self.database {
            Some(db) => db,
            None => {
                let url = fresh_database_url(data_dir.path());
                let db = Database::connect(&url, 4).expect("connect test database");
                db.migrate().expect("migrate");
                db
            }
        };
        let extra: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let config = test_config(data_dir.path(), "test.sqlite3", &extra);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let app = Application::from_parts(config.clone(), db.clone(), listener).expect("build app");
        let address = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        actix_web::rt::spawn(app.run_until_stopped());
        TestApp {
            address,
            client: client(),
            db,
            config,
            _data_dir: data_dir,
            handle,
        }
    }
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            env: Vec::new(),
            database: None,
        }
    }

    pub async fn spawn() -> TestApp {
        Self::builder().build().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    /// The CSRF token of the form on `path` (GETs the page with this client's session).
    pub async fn csrf(&self, path: &str) -> String {
        let body = self.get_text(path).await;
        csrf_in(&body).unwrap_or_else(|| panic!("no csrf_token on {path}: {body}"))
    }

    /// POSTs a form as-is (no token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("POST")
    }

    /// POSTs a form with the session's CSRF token taken from `form_page`.
    pub async fn post_form(&self, form_page: &str, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf(form_page).await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        self.post_raw(path, &all).await
    }

    /// Runs /setup with the default admin (signed in afterwards).
    pub async fn setup_admin(&self) {
        let r = self
            .post_form(
                "/setup",
                "/setup",
                &[
                    ("email", ADMIN_EMAIL),
                    ("password", ADMIN_PASSWORD),
                    ("password_confirm", ADMIN_PASSWORD),
                ],
            )
            .await;
        assert_eq!(
            r.status(),
            303,
            "setup failed: {}",
            r.text().await.unwrap_or_default()
        );
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_form("/login", "/login", &[("email", email), ("password", password)])
            .await
    }

    /// Waits until the INS worker has processed every stored notification.
    pub async fn settle(&self) {
        for _ in 0..400 {
            let n = self
                .db
                .read(merchant_crm::domain::sync::inbox::backlog)
                .await
                .expect("backlog");
            if n == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the INS inbox did not drain in 10 s");
    }

    /// A second browser (its own cookie jar) on the same app.
    pub fn other_client(&self) -> TestApp {
        TestApp {
            address: self.address.clone(),
            client: client(),
            db: self.db.clone(),
            config: self.config.clone(),
            _data_dir: tempfile::tempdir().expect("temp dir"),
            handle: self.handle.clone(),
        }
    }

    /// Creates a user through the admin page (the current client must be an admin).
    pub async fn create_user(&self, email: &str, role: &str, password: &str) {
        let r = self
            .post_form(
                "/admin/users",
                "/admin/users",
                &[("email", email), ("role", role), ("password", password)],
            )
            .await;
        assert_eq!(r.status(), 303);
        let page = self.get_text("/admin/users").await;
        assert!(page.contains("created.</div>"), "{email} was not created: {page}");
    }
}

pub fn csrf_in(body: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].to_string())
}

/// The id of a user by email, read from the database.
pub async fn user_id(app: &TestApp, email: &str) -> i64 {
    let email = email.to_string();
    app.db
        .run(move |c| merchant_crm::domain::accounts::users::find_by_email(c, &email))
        .await
        .expect("query")
        .expect("user exists")
        .id
}

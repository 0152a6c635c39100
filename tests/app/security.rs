//! The security review's findings (issue 14), each as a probe that failed before its fix.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diesel::prelude::*;
use merchant_crm::db::schema::inbound_notifications;

use crate::helpers::{fresh_database_url, TestApp};
use crate::support::html::{has_data, has_id};

pub const API_LOGIN: &str = "clickbank-ins";
pub const API_PASSWORD: &str = "ins password 0123456789";

/// Creates an API user through the admin page (the client must be an account executive).
pub async fn api_user(app: &TestApp, login: &str, password: &str, allow: &str) {
    let r = app
        .post_form(
            "/admin/api-users",
            "/admin/api-users",
            &[
                ("login_id", login),
                ("password", password),
                ("allow_ips", allow),
                ("permission", "import_order"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
}

/// POSTs a body to the INS route as `login`/`password`: (status, body).
pub async fn ins_post(base: &str, login: &str, password: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{base}/clickbank/"))
        .query(&[("loginId", login), ("password", password)])
        .body("this is not JSON")
        .send()
        .await
        .expect("POST /clickbank/");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

async fn stored(app: &TestApp) -> i64 {
    app.db
        .read(|c| Ok(inbound_notifications::table.count().get_result(c)?))
        .await
        .unwrap()
}

/// A `merchant-crm serve` child process with one INS API user allowed from 127.0.0.1.
struct Portal {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Portal {
    fn start() -> Portal {
        let dir = tempfile::tempdir().unwrap();
        let url = fresh_database_url(dir.path());
        let run = |args: &[&str]| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_merchant-crm"));
            c.args(args)
                .env("MERCHANT_CRM_DATA_DIR", dir.path())
                .env("DATABASE_URL", &url)
                .env("RUST_LOG", "warn");
            c
        };
        let out = run(&[
            "api-user",
            "create",
            "--login-id",
            API_LOGIN,
            "--password",
            API_PASSWORD,
            "--allow-ip",
            "127.0.0.1",
            "--permission",
            "import_order",
        ])
        .output()
        .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = run(&["serve", "--no-jobs"])
            .env("MERCHANT_CRM_BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start merchant-crm serve");
        Portal {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    async fn wait_ready(&self) {
        for _ in 0..300 {
            if let Ok(r) = reqwest::get(format!("{}/healthz", self.base)).await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the portal did not start in 30 s");
    }

    /// The peak resident memory of the process, in MiB.
    fn peak_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status");
        kb / 1024
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The memory a portal may reach under the probe: its own start plus, for each argon2 the
/// process lets run at once (one per core), one argon2 block (19 MiB) and some slack.
fn memory_bound_mib(start_mib: u64) -> u64 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    start_mib + 40 + cores * 24
}

#[actix_web::test]
async fn ins_memory_stays_bounded_under_200_concurrent_wrong_passwords() {
    let portal = Portal::start();
    portal.wait_ready().await;
    let start = portal.peak_mib();
    // One client for all: building one is slow enough to starve the others' connections.
    let client = reqwest::Client::new();
    let posts = (0..200).map(|i| {
        let base = portal.base.clone();
        let client = client.clone();
        async move {
            // Half guess the real login, half unknown ones: both cost argon2 before the fix.
            let login = if i % 2 == 0 {
                API_LOGIN.to_string()
            } else {
                format!("guess-{i}")
            };
            let r = client
                .post(format!("{base}/clickbank/"))
                .query(&[("loginId", login.as_str()), ("password", "wrong password")])
                .body("this is not JSON")
                .send()
                .await;
            r.map(|r| r.status().as_u16())
                .map_err(|e| format!("{:?}", std::error::Error::source(&e)))
        }
    });
    let statuses = futures_util::future::join_all(posts).await;
    let mut counts = std::collections::BTreeMap::new();
    for s in &statuses {
        *counts.entry(format!("{s:?}")).or_insert(0) += 1;
    }
    for s in &statuses {
        assert!(
            matches!(s, Ok(401 | 429 | 503)),
            "a wrong password got {s:?} ({counts:?})"
        );
    }
    let peak = portal.peak_mib();
    let bound = memory_bound_mib(start);
    assert!(
        peak <= bound,
        "200 concurrent wrong passwords took the portal from {start} MiB to {peak} MiB (bound {bound} MiB)"
    );
    // The portal still serves ClickBank afterwards.
    let (s, _) = ins_post(&portal.base, API_LOGIN, API_PASSWORD).await;
    assert!(matches!(s, 200 | 429), "{s}");
}

#[actix_web::test]
async fn a_burst_of_right_passwords_before_any_is_remembered_is_all_accepted() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    api_user(&app, API_LOGIN, API_PASSWORD, "127.0.0.1").await;
    let base = app.address.clone();
    // ClickBank delivering a backlog at once just after the portal started: more at once than
    // the login's limit of reserved verifications, none remembered yet.
    let burst = (0..16).map(|_| {
        let base = base.clone();
        tokio::spawn(async move { ins_post(&base, API_LOGIN, API_PASSWORD).await.0 })
    });
    let mut statuses = Vec::new();
    for t in burst.collect::<Vec<_>>() {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses,
        vec![200; 16],
        "every right password is taken: {statuses:?}"
    );
    assert_eq!(stored(&app).await, 16, "every delivery is stored");
}

#[actix_web::test]
async fn clickbanks_right_password_passes_while_its_login_is_throttled() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    api_user(&app, API_LOGIN, API_PASSWORD, "127.0.0.1").await;
    let base = app.address.clone();
    assert_eq!(ins_post(&base, API_LOGIN, API_PASSWORD).await.0, 200);
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(ins_post(&base, API_LOGIN, "a wrong guess").await.0);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429], "{statuses:?}");
    assert_eq!(
        ins_post(&base, API_LOGIN, API_PASSWORD).await.0,
        200,
        "a remembered password passes the throttle"
    );
}

#[actix_web::test]
async fn a_throttled_login_still_verifies_one_attempt_every_ten_seconds() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    api_user(&app, API_LOGIN, API_PASSWORD, "127.0.0.1").await;
    let base = app.address.clone();
    for _ in 0..5 {
        assert_eq!(ins_post(&base, API_LOGIN, "a wrong guess").await.0, 401);
    }
    let r = reqwest::Client::new()
        .post(format!("{base}/clickbank/"))
        .query(&[("loginId", API_LOGIN), ("password", API_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    tokio::time::sleep(Duration::from_secs(retry + 1)).await;
    assert_eq!(ins_post(&base, API_LOGIN, API_PASSWORD).await.0, 200);
}

#[actix_web::test]
async fn outside_every_allowlist_the_ins_route_refuses_before_any_password_work() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    api_user(&app, API_LOGIN, API_PASSWORD, "192.0.2.1").await;
    let base = app.address.clone();
    let right = ins_post(&base, API_LOGIN, API_PASSWORD).await;
    let wrong = ins_post(&base, API_LOGIN, "wrong").await;
    let unknown = ins_post(&base, "nobody", "wrong").await;
    assert_eq!(right.0, 403);
    assert_eq!(right, wrong, "the same answer whatever the password");
    assert_eq!(right, unknown, "the same answer whoever it claims to be");
    assert!(right.1.contains("IP allowlist"), "{}", right.1);
    assert_eq!(stored(&app).await, 0, "nothing is written");
    // Many of them cost no argon2 and are never throttled: they never reach a password.
    for _ in 0..30 {
        assert_eq!(ins_post(&base, API_LOGIN, "wrong").await.0, 403);
    }

    // An edit in this process changes the union at once.
    let id = app
        .db
        .read(|c| merchant_crm::domain::accounts::api_users::find_by_login(c, API_LOGIN))
        .await
        .unwrap()
        .unwrap()
        .id;
    let r = app
        .post_form(
            "/admin/api-users",
            &format!("/admin/api-users/{id}"),
            &[("allow_ips", "127.0.0.1"), ("permission", "import_order")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(ins_post(&base, API_LOGIN, API_PASSWORD).await.0, 200);
    assert_eq!(stored(&app).await, 1);
}

#[actix_web::test]
async fn outside_an_api_users_allowlist_right_and_wrong_passwords_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    // Another API user puts this address inside the union, so the route reaches the user.
    api_user(&app, API_LOGIN, API_PASSWORD, "127.0.0.1").await;
    api_user(&app, "house-feed", "house password 0123", "192.0.2.1").await;
    let base = app.address.clone();
    let right = ins_post(&base, "house-feed", "house password 0123").await;
    let wrong = ins_post(&base, "house-feed", "a guessed password").await;
    assert_eq!(right.0, 403, "{}", right.1);
    assert_eq!(right, wrong, "an outsider learns nothing about a guess");
    assert_eq!(stored(&app).await, 0);
}

async fn failures_recorded(app: &TestApp) -> i64 {
    use merchant_crm::db::schema::login_failures;
    app.db
        .read(|c| Ok(login_failures::table.count().get_result(c)?))
        .await
        .unwrap()
}

#[actix_web::test]
async fn concurrent_wrong_logins_evaluate_at_most_the_limit() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let guesser = app.other_client();
    let token = guesser.csrf("/login").await;
    let posts = (0..100).map(|i| {
        let (client, url, token) = (guesser.client.clone(), guesser.url("/login"), token.clone());
        async move {
            let password = format!("guess number {i}");
            let r = client
                .post(url)
                .form(&[
                    ("email", crate::helpers::ADMIN_EMAIL),
                    ("password", password.as_str()),
                    ("csrf_token", token.as_str()),
                ])
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }
    });
    let statuses = futures_util::future::join_all(posts).await;
    let evaluated = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        statuses.iter().all(|s| matches!(s, 401 | 429 | 503)),
        "{statuses:?}"
    );
    assert!(evaluated <= 5, "{evaluated} guesses were evaluated: {statuses:?}");
    assert!(
        failures_recorded(&app).await <= 5,
        "{}",
        failures_recorded(&app).await
    );
}

/// The SQLite database, its WAL and SHM and the key files hold PII and secrets: 0600 for a
/// new install, and an existing install's 0644 files are tightened when the portal opens them.
#[cfg(unix)]
#[test]
fn the_sqlite_files_and_keys_are_private_and_loose_ones_are_tightened() {
    use merchant_crm::db::Database;
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();

    let fresh = dir.path().join("fresh.sqlite3");
    let db = Database::connect(fresh.to_str().unwrap(), 2).unwrap();
    db.migrate().unwrap();
    let conn = db.conn().unwrap();
    for f in merchant_crm::private_files::sqlite_files(&fresh) {
        assert_eq!(mode(&f), 0o600, "{} of a new install must be 0600", f.display());
    }
    drop(conn);

    let old = dir.path().join("old.sqlite3");
    std::fs::write(&old, b"").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    let key = dir.path().join("secret.key");
    merchant_crm::config::load_or_create_key(dir.path(), "secret.key", 32).unwrap();
    assert_eq!(mode(&key), 0o600, "a new key file is 0600");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();

    let db = Database::connect(old.to_str().unwrap(), 2).unwrap();
    db.migrate().unwrap();
    merchant_crm::config::load_or_create_key(dir.path(), "secret.key", 32).unwrap();
    assert_eq!(
        mode(&old),
        0o600,
        "an existing 0644 database is tightened at start"
    );
    assert_eq!(
        mode(&key),
        0o600,
        "an existing 0644 key file is tightened at start"
    );
    for f in merchant_crm::private_files::sqlite_files(&old) {
        if f.exists() {
            assert_eq!(mode(&f), 0o600, "{} must follow the database's mode", f.display());
        }
    }
}

/// Admin → Sign-in locks lists the locked account and address with the time each lifts;
/// merchant staff cannot lift one; an account executive lifts both (audited) and the person
/// signs in again.
#[actix_web::test]
async fn an_account_executive_sees_and_lifts_sign_in_locks() {
    use crate::helpers::ADMIN_EMAIL;
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    app.create_user("staff@example.com", "merchant", "staff password 123")
        .await;
    let staff = app.other_client();
    for _ in 0..5 {
        staff.login("staff@example.com", "wrong password").await;
    }
    assert_eq!(
        staff
            .login("staff@example.com", "staff password 123")
            .await
            .status(),
        429
    );

    let page = app.get_text("/admin/locks").await;
    for lock in ["account:staff@example.com", "address:127.0.0.1"] {
        assert!(has_data(&page, "lock", lock), "{lock} is listed: {page}");
    }
    assert!(
        !has_id(&page, "proxy-warning"),
        "no proxy warning for direct requests"
    );

    // Staff are refused before their form is read.
    let r = staff
        .post_raw(
            "/admin/locks/clear",
            &[("on", "account"), ("key", "staff@example.com")],
        )
        .await;
    assert_eq!(r.status(), 403);

    for (on, key) in [("account", "staff@example.com"), ("address", "127.0.0.1")] {
        let r = app
            .post_form("/admin/locks", "/admin/locks/clear", &[("on", on), ("key", key)])
            .await;
        assert_eq!(r.status(), 303, "lift {on} {key}");
    }
    let page = app.get_text("/admin/locks").await;
    assert!(page.contains("can sign in again"), "the lift is confirmed");
    assert!(has_id(&page, "no-locks"), "no lock is left: {page}");
    let audit = app.get_text("/admin/audit?action=throttle.cleared").await;
    assert_eq!(
        audit.matches("<code>throttle.cleared</code>").count(),
        2,
        "both lifts are audited"
    );
    assert!(audit.contains(ADMIN_EMAIL));
    assert_eq!(
        staff
            .login("staff@example.com", "staff password 123")
            .await
            .status(),
        303
    );
}

/// With MERCHANT_CRM_TRUST_PROXY=0 (the default) and every request carrying X-Forwarded-For,
/// the locks page warns that all visitors share the proxy's address.
#[actix_web::test]
async fn requests_that_all_look_proxied_bring_a_warning() {
    let mut app = TestApp::spawn().await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
    app.client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .default_headers(headers)
        .build()
        .unwrap();
    app.setup_admin().await;
    for _ in 0..20 {
        assert_eq!(app.get("/").await.status(), 200);
    }
    let page = app.get_text("/admin/locks").await;
    assert!(has_id(&page, "proxy-warning"), "the proxy warning is shown");
}

#[actix_web::test]
async fn an_api_user_made_by_another_process_is_let_in_after_the_next_refresh() {
    use merchant_crm::domain::accounts::api_guard::AllowUnion;
    use merchant_crm::domain::accounts::api_users::{self, ApiUserInput, Permission};
    use merchant_crm::domain::accounts::ip_allow::IpRanges;
    use merchant_crm::domain::Actor;

    let app = TestApp::spawn().await;
    let union = std::sync::Arc::new(AllowUnion::default());
    union.reload(&app.db).await.unwrap();
    let ip: std::net::IpAddr = "198.51.100.7".parse().unwrap();
    assert!(!union.allows(ip, &IpRanges::default()), "nobody is allowed yet");
    union.spawn_refresher_every(app.db.clone(), Duration::from_millis(100));
    // Another portal process (or the CLI) adds an API user: this process hears nothing of it.
    app.db
        .run(move |c| {
            let input = ApiUserInput::new("other-process", "198.51.100.7", vec![Permission::ImportOrder])?;
            api_users::create(c, &Actor::cli(), &input, "$argon2id$not-a-real-hash")?;
            Ok(())
        })
        .await
        .unwrap();
    let mut seen = false;
    for _ in 0..50 {
        if union.allows(ip, &IpRanges::default()) {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "the periodic reload takes in what another process wrote");
    // Disabled elsewhere: out again after the next reload.
    app.db
        .run(|c| {
            let u = api_users::find_by_login(c, "other-process")?.expect("the user");
            api_users::set_disabled(c, &Actor::cli(), u.id, true)
        })
        .await
        .unwrap();
    let mut gone = false;
    for _ in 0..50 {
        if !union.allows(ip, &IpRanges::default()) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        gone,
        "a user disabled by another process stops letting its addresses in"
    );
}

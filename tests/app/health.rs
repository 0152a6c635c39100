use merchant_crm::db::Database;

use crate::helpers::{expected_backend, fresh_database_url, TestApp};

#[actix_web::test]
async fn healthz_names_the_backend() {
    let app = TestApp::spawn().await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], expected_backend().name());
}

#[actix_web::test]
async fn healthz_is_503_when_the_database_is_unreachable() {
    // Port 1 on loopback refuses connections: the pool can never hand one out.
    let db = Database::connect_lazy("postgres://crm@127.0.0.1:1/crm", 1).unwrap();
    let app = TestApp::builder().database(db).build().await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"], "postgres");
}

#[actix_web::test]
async fn migrations_apply_from_empty_and_then_are_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(&fresh_database_url(dir.path()), 2).unwrap();
    assert_eq!(db.backend, expected_backend());
    let first = db.migrate().unwrap();
    assert!(!first.is_empty(), "an empty database gets every migration");
    assert!(db.migrate().unwrap().is_empty(), "a second run applies nothing");
    let n = db
        .run(merchant_crm::domain::accounts::users::count)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[actix_web::test]
async fn pages_carry_security_headers_and_404_is_a_page() {
    let app = TestApp::spawn().await;
    let r = app.get("/no/such/page").await;
    assert_eq!(r.status(), 404);
    let h = r.headers().clone();
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Page not found") && body.contains("<html"),
        "{body}"
    );
    let css = app.get("/static/app.css").await;
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
}

#[actix_web::test]
async fn times_are_shown_in_the_configured_zone() {
    let app = TestApp::builder()
        .env("MERCHANT_CRM_TIME_ZONE", "America/Los_Angeles")
        .build()
        .await;
    app.setup_admin().await;
    app.post_form("/", "/logout", &[]).await;
    assert_eq!(
        app.login(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
            .await
            .status(),
        303
    );
    let page = app.get_text("/admin/users").await;
    assert!(page.contains("times in America/Los_Angeles"), "{page}");
    assert!(
        page.contains(" PST") || page.contains(" PDT"),
        "last sign-in shown in Pacific time: {page}"
    );
}

//! Server-side sessions: the cookie names a row; ending the row ends every copy of the cookie.

use std::time::Duration;

use crate::helpers::{user_id, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};

/// The session cookie the last response set (name=value).
fn session_cookie(r: &reqwest::Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("merchant_crm_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}

/// GETs `path` sending only `cookie`, as a copy of the browser's cookie would.
async fn get_with(app: &TestApp, path: &str, cookie: &str) -> u16 {
    crate::helpers::client()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn signed_in_copy(app: &TestApp, email: &str, password: &str) -> (TestApp, String) {
    let browser = app.other_client();
    let r = browser.login(email, password).await;
    assert_eq!(r.status(), 303);
    let cookie = session_cookie(&r);
    assert_eq!(
        get_with(app, "/", &cookie).await,
        200,
        "the copy works while signed in"
    );
    (browser, cookie)
}

#[actix_web::test]
async fn a_cookie_saved_before_sign_out_is_refused_after_it() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let (browser, saved) = signed_in_copy(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let r = browser.post_form("/", "/logout", &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(get_with(&app, "/", &saved).await, 303, "signed out everywhere");
}

#[actix_web::test]
async fn disabling_a_user_ends_their_sessions_for_good() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    app.create_user("staff@example.com", "merchant", "staff password 123")
        .await;
    let (_browser, saved) = signed_in_copy(&app, "staff@example.com", "staff password 123").await;
    let id = user_id(&app, "staff@example.com").await;
    for action in ["disable", "enable"] {
        let r = app
            .post_form("/admin/users", &format!("/admin/users/{id}/{action}"), &[])
            .await;
        assert_eq!(r.status(), 303);
    }
    assert_eq!(
        get_with(&app, "/", &saved).await,
        303,
        "re-enabling revives no old cookie"
    );
}

#[actix_web::test]
async fn an_idle_session_ends_on_the_server() {
    let app = TestApp::builder()
        .env("MERCHANT_CRM_SESSION_IDLE_SECS", "2")
        .build()
        .await;
    app.setup_admin().await;
    let (_browser, saved) = signed_in_copy(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(get_with(&app, "/", &saved).await, 200, "use keeps it alive");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        get_with(&app, "/", &saved).await,
        200,
        "still within 2 s of the last use"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(get_with(&app, "/", &saved).await, 303, "idle past the timeout");
}

#[actix_web::test]
async fn the_absolute_timeout_ends_even_a_busy_session() {
    let app = TestApp::builder()
        .env("MERCHANT_CRM_SESSION_ABSOLUTE_SECS", "3")
        .build()
        .await;
    app.setup_admin().await;
    let (_browser, saved) = signed_in_copy(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(get_with(&app, "/", &saved).await, 200);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(get_with(&app, "/", &saved).await, 303);
}

#[actix_web::test]
async fn the_account_page_lists_sessions_and_ends_the_others() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let (_laptop, laptop_cookie) = signed_in_copy(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = app.get_text("/account/sessions").await;
    assert!(page.contains("This session"), "{page}");
    let ends: Vec<&str> = page.matches("/end\"").collect();
    assert_eq!(ends.len(), 1, "one other session to end: {page}");
    let start = page.find("/account/sessions/").unwrap();
    let path = &page[start..page[start..].find('"').unwrap() + start];
    // Without the form's token nothing happens.
    assert_eq!(app.post_raw(path, &[]).await.status(), 403);
    assert_eq!(get_with(&app, "/", &laptop_cookie).await, 200);
    let r = app.post_form("/account/sessions", path, &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        get_with(&app, "/", &laptop_cookie).await,
        303,
        "the other session ended"
    );
    assert_eq!(app.get("/").await.status(), 200, "this one goes on");
}

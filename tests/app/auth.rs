use crate::helpers::{user_id, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::support::html;

#[actix_web::test]
async fn setup_creates_the_first_admin_then_disappears() {
    let app = TestApp::spawn().await;
    let r = app.get("/login").await;
    assert_eq!(r.status(), 303, "no users yet: login sends to setup");
    assert_eq!(r.headers()["location"], "/setup");
    assert_eq!(app.get("/setup").await.status(), 200);

    let token = app.csrf("/setup").await;
    let r = app
        .post_raw(
            "/setup",
            &[
                ("email", "exec@example.com"),
                ("password", "short"),
                ("password_confirm", "short"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("at least 12 characters"));

    app.setup_admin().await;
    let dash = app.get_text("/").await;
    assert!(
        dash.contains(ADMIN_EMAIL) && dash.contains("Account executive"),
        "{dash}"
    );

    assert_eq!(app.get("/setup").await.status(), 404);
    let other = app.other_client();
    assert_eq!(other.get("/setup").await.status(), 404);
    let token = other.csrf("/login").await;
    let r = other
        .post_raw(
            "/setup",
            &[
                ("email", "intruder@example.com"),
                ("password", ADMIN_PASSWORD),
                ("password_confirm", ADMIN_PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(r.status(), 404, "a second setup is refused");
    let n = app
        .db
        .run(merchant_crm::domain::accounts::users::count)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[actix_web::test]
async fn login_logout_and_session_renewal() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let token_before = app.csrf("/").await;
    let r = app.post_form("/", "/logout", &[]).await;
    assert_eq!(r.status(), 303);
    let r = app.get("/").await;
    assert_eq!(r.status(), 303, "signed out: dashboard redirects");
    assert_eq!(r.headers()["location"], "/login");

    let r = app.login(ADMIN_EMAIL, "wrong password here").await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("Wrong email or password."));
    let r = app.login("nobody@example.com", ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 401, "unknown email gives the same answer");

    let r = app.login(" EXEC@example.com ", ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    let token_after = app.csrf("/").await;
    assert_ne!(
        token_before, token_after,
        "signing in starts a new session with a new token"
    );
    assert_eq!(
        html::text_of_id(&app.get_text("/").await, "whoami"),
        Some("exec@example.com")
    );
}

#[actix_web::test]
async fn login_is_throttled_per_account_with_a_retry_time() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let other = app.other_client();
    for _ in 0..5 {
        assert_eq!(other.login(ADMIN_EMAIL, "not the password!").await.status(), 401);
    }
    let r = other.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 429, "blocked even with the right password");
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Too many failed sign-ins for this account")
            && body.contains("Try again in 15 minutes"),
        "{body}"
    );
}

#[actix_web::test]
async fn login_is_throttled_per_ip_across_accounts() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let other = app.other_client();
    for i in 0..5 {
        let email = format!("guess{i}@example.com");
        assert_eq!(other.login(&email, "not the password!").await.status(), 401);
    }
    let r = other.login("guess9@example.com", "not the password!").await;
    assert_eq!(r.status(), 429);
    assert!(r.text().await.unwrap().contains("your network address"));
}

#[actix_web::test]
async fn disabled_users_cannot_sign_in_and_lose_their_session() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    app.create_user("staff@example.com", "merchant", "staff password 123")
        .await;
    let staff = app.other_client();
    assert_eq!(
        staff
            .login("staff@example.com", "staff password 123")
            .await
            .status(),
        303
    );
    assert_eq!(staff.get("/").await.status(), 200);

    let id = user_id(&app, "staff@example.com").await;
    let r = app
        .post_form("/admin/users", &format!("/admin/users/{id}/disable"), &[])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        staff.get("/").await.status(),
        303,
        "open session ends at the next request"
    );

    // A disabled account's right password is answered exactly like a wrong one.
    let wrong = staff.login("staff@example.com", "not the password").await;
    let wrong_status = wrong.status();
    let wrong_body = wrong.text().await.unwrap();
    let r = staff.login("staff@example.com", "staff password 123").await;
    assert_eq!(
        r.status(),
        wrong_status,
        "disabled login must answer like a wrong password"
    );
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Wrong email or password."),
        "disabled login shows the wrong-password message"
    );
    assert!(
        !body.contains("disabled"),
        "disabled login must not say the account is disabled"
    );
    assert!(wrong_body.contains("Wrong email or password."));

    let r = app
        .post_form("/admin/users", &format!("/admin/users/{id}/enable"), &[])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        staff
            .login("staff@example.com", "staff password 123")
            .await
            .status(),
        303
    );
}

#[actix_web::test]
async fn roles_are_checked_on_the_server() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.get("/admin/users").await.status(),
        303,
        "anonymous is sent to sign in"
    );
    app.setup_admin().await;
    app.create_user("staff@example.com", "merchant", "staff password 123")
        .await;
    let staff = app.other_client();
    staff.login("staff@example.com", "staff password 123").await;
    assert_eq!(staff.get("/").await.status(), 200);
    for path in ["/admin/users", "/admin/audit"] {
        let r = staff.get(path).await;
        assert_eq!(r.status(), 403, "{path}");
        assert!(r.text().await.unwrap().contains("account executives only"));
    }
    let r = staff
        .post_form(
            "/",
            "/admin/users",
            &[
                ("email", "sneaky@example.com"),
                ("role", "admin"),
                ("password", "sneaky password 1"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    // The role is checked before the form is read: an incomplete or malformed form from
    // merchant staff is a 403 too, never a 400 that tells them about the form.
    for (path, fields) in [
        ("/admin/users", vec![("email", "x@example.com")]),
        ("/admin/plugins", vec![]),
        ("/crm/fulfillment-houses", vec![("name", "x")]),
        ("/admin/users/1/password", vec![]),
    ] {
        let r = staff.post_form("/", path, &fields).await;
        assert_eq!(r.status(), 403, "staff POST {path} with an incomplete form");
    }
    let users_page = staff.get_text("/").await;
    assert!(!users_page.contains("x@example.com"));
    // An account executive's incomplete form names the field in plain words.
    let r = app
        .post_form("/admin/users", "/admin/users", &[("email", "y@example.com")])
        .await;
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(
        !body.contains('`') && !body.contains("missing field"),
        "no serde wording: {body}"
    );
    assert!(
        body.contains("The form is missing its"),
        "the missing field is named"
    );
    let nav = staff.get_text("/").await;
    assert!(
        !nav.contains("href=\"/admin/users\""),
        "merchant staff do not see admin links"
    );
}

#[actix_web::test]
async fn a_user_changes_their_own_password() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let r = app
        .post_form(
            "/account/password",
            "/account/password",
            &[
                ("current_password", "not it at all"),
                ("new_password", "brand new password"),
                ("new_password_confirm", "brand new password"),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("current password is not right"));
    let r = app
        .post_form(
            "/account/password",
            "/account/password",
            &[
                ("current_password", ADMIN_PASSWORD),
                ("new_password", "brand new password"),
                ("new_password_confirm", "brand new password"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let other = app.other_client();
    assert_eq!(other.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(), 401);
    assert_eq!(other.login(ADMIN_EMAIL, "brand new password").await.status(), 303);
    let audit = app.get_text("/admin/audit?action=user.password").await;
    assert!(audit.contains("user.password_change"), "{audit}");
}

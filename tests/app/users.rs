use crate::helpers::{user_id, TestApp, ADMIN_EMAIL};

#[actix_web::test]
async fn admin_manages_users_and_every_change_is_audited() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    app.create_user("staff@example.com", "merchant", "staff password 123")
        .await;

    // Duplicate email, weak password and unknown role come back as clear messages.
    for (email, role, pw, msg) in [
        (
            "staff@example.com",
            "merchant",
            "another password 1",
            "already exists",
        ),
        ("new@example.com", "merchant", "short", "at least 12 characters"),
        ("new@example.com", "owner", "long enough password", "Unknown role"),
        (
            "not-an-email",
            "merchant",
            "long enough password",
            "not a valid email",
        ),
    ] {
        let r = app
            .post_form(
                "/admin/users",
                "/admin/users",
                &[("email", email), ("role", role), ("password", pw)],
            )
            .await;
        assert_eq!(r.status(), 303);
        let page = app.get_text("/admin/users").await;
        assert!(page.contains(msg), "expected {msg:?} for {email}/{role}");
    }
    assert!(!app.get_text("/admin/users").await.contains("new@example.com"));

    let id = user_id(&app, "staff@example.com").await;
    let r = app
        .post_form(
            "/admin/users",
            &format!("/admin/users/{id}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let staff = app.other_client();
    staff.login("staff@example.com", "staff password 123").await;
    assert_eq!(
        staff.get("/admin/users").await.status(),
        200,
        "promoted to account executive"
    );

    let r = app
        .post_form(
            "/admin/users",
            &format!("/admin/users/{id}/password"),
            &[("password", "reset password 456")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        staff.get("/").await.status(),
        303,
        "a password reset ends the user's open sessions"
    );
    assert_eq!(
        app.get("/admin/users").await.status(),
        200,
        "the admin's own session goes on"
    );
    let fresh = app.other_client();
    assert_eq!(
        fresh
            .login("staff@example.com", "staff password 123")
            .await
            .status(),
        401
    );
    assert_eq!(
        fresh
            .login("staff@example.com", "reset password 456")
            .await
            .status(),
        303
    );

    let audit = app.get_text("/admin/audit").await;
    for action in [
        "setup",
        "user.create",
        "user.role",
        "user.password_reset",
        "login",
        "login.failed",
    ] {
        assert!(
            audit.contains(&format!("<code>{action}</code>")),
            "audit lacks {action}"
        );
    }
    let only_roles = app.get_text("/admin/audit?action=user.role").await;
    assert!(only_roles.contains("user.role") && !only_roles.contains("<code>user.create</code>"));
}

#[actix_web::test]
async fn an_admin_cannot_lock_themself_out() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let me = user_id(&app, ADMIN_EMAIL).await;
    app.post_form("/admin/users", &format!("/admin/users/{me}/disable"), &[])
        .await;
    assert!(app
        .get_text("/admin/users")
        .await
        .contains("cannot disable your own account"));
    app.post_form(
        "/admin/users",
        &format!("/admin/users/{me}/role"),
        &[("role", "merchant")],
    )
    .await;
    assert!(app
        .get_text("/admin/users")
        .await
        .contains("cannot remove your own account executive role"));
    assert_eq!(app.get("/admin/users").await.status(), 200);
}

#[actix_web::test]
async fn user_supplied_text_is_escaped() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    app.create_user(
        "<script>alert(1)</script>@example.com",
        "merchant",
        "staff password 123",
    )
    .await;
    let page = app.get_text("/admin/users").await;
    assert!(
        !page.contains("<script>alert(1)</script>"),
        "raw markup must never reach the page"
    );
    assert!(
        page.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || page.contains("&lt;script&gt;"),
        "{page}"
    );
}

#[actix_web::test]
async fn audit_log_pages_with_a_stable_keyset() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let other = app.other_client();
    for i in 0..60 {
        let actor = merchant_crm::domain::Actor::cli();
        let target = format!("t{i}");
        app.db
            .run(move |c| {
                merchant_crm::domain::audit::record(c, &actor, "test.bulk", &target, serde_json::json!({}))
            })
            .await
            .unwrap();
    }
    drop(other);
    let first = app.get_text("/admin/audit?action=test.bulk").await;
    assert!(first.contains(">t59<") && first.contains(">t10<") && !first.contains(">t9<"));
    let start = first.find("/admin/audit?").expect("next link");
    let link = &first[start..first[start..].find('"').unwrap() + start];
    let link = link.replace("&amp;", "&").replace("&#38;", "&");
    assert!(link.contains("before="), "{link}");
    let second = app.get_text(&link).await;
    assert!(
        second.contains(">t9<") && second.contains(">t0<") && !second.contains(">t10<"),
        "{second}"
    );
}

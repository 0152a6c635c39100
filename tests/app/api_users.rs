use crate::helpers::TestApp;

async fn create(app: &TestApp, fields: &[(&str, &str)]) -> String {
    let r = app
        .post_form("/admin/api-users", "/admin/api-users", fields)
        .await;
    assert_eq!(r.status(), 303);
    app.get_text("/admin/api-users").await
}

#[actix_web::test]
async fn admin_creates_edits_and_disables_api_users() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let page = create(
        &app,
        &[
            ("login_id", "clickbank-ins"),
            ("password", "ins password 1234"),
            ("allow_ips", "127.0.0.1, 10.0.0.0/8 aws"),
            ("permission", "import_order"),
        ],
    )
    .await;
    assert!(page.contains("API user clickbank-ins created."), "{page}");
    assert!(
        page.contains("127.0.0.1 10.0.0.0/8 AWS"),
        "allowlist stored in canonical form"
    );
    assert!(
        page.contains("none is loaded"),
        "the page says no keyword list is configured"
    );

    for (fields, msg) in [
        (
            vec![
                ("login_id", "clickbank-ins"),
                ("password", "ins password 1234"),
                ("allow_ips", "127.0.0.1"),
                ("permission", "import_order"),
            ],
            "already exists",
        ),
        (
            vec![
                ("login_id", "bad id!"),
                ("password", "ins password 1234"),
                ("allow_ips", "127.0.0.1"),
                ("permission", "import_order"),
            ],
            "login id must be",
        ),
        (
            vec![
                ("login_id", "house"),
                ("password", "ins password 1234"),
                ("allow_ips", "localhost"),
                ("permission", "import_order"),
            ],
            "not an IP address",
        ),
        (
            vec![
                ("login_id", "house"),
                ("password", "ins password 1234"),
                ("allow_ips", "127.0.0.1"),
            ],
            "at least one permission",
        ),
        (
            vec![
                ("login_id", "house"),
                ("password", "short"),
                ("allow_ips", "127.0.0.1"),
                ("permission", "update_fulfillment"),
            ],
            "at least 12 characters",
        ),
    ] {
        let page = create(&app, &fields).await;
        assert!(page.contains(msg), "expected {msg:?}");
    }
    assert!(!app
        .get_text("/admin/api-users")
        .await
        .contains("<code>house</code>"));

    let id = app
        .db
        .run(|c| merchant_crm::domain::accounts::api_users::find_by_login(c, "clickbank-ins"))
        .await
        .unwrap()
        .unwrap()
        .id;
    let r = app
        .post_form(
            "/admin/api-users",
            &format!("/admin/api-users/{id}"),
            &[
                ("allow_ips", "192.0.2.1"),
                ("permission", "import_order"),
                ("permission", "update_fulfillment"),
                ("password", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let u = app
        .db
        .run(move |c| merchant_crm::domain::accounts::api_users::find(c, id))
        .await
        .unwrap();
    assert_eq!(u.allow_ips, "192.0.2.1");
    assert_eq!(u.permissions, "import_order,update_fulfillment");
    app.post_form("/admin/api-users", &format!("/admin/api-users/{id}/disable"), &[])
        .await;
    let u = app
        .db
        .run(move |c| merchant_crm::domain::accounts::api_users::find(c, id))
        .await
        .unwrap();
    assert!(u.disabled);
    let audit = app.get_text("/admin/audit?action=api_user").await;
    for a in ["api_user.create", "api_user.update", "api_user.disable"] {
        assert!(audit.contains(a), "{a}");
    }
    assert!(
        !audit.contains("ins password"),
        "passwords never reach the audit log"
    );
}

#[actix_web::test]
async fn api_users_cannot_sign_into_the_portal_and_staff_cannot_manage_them() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    create(
        &app,
        &[
            ("login_id", "ins"),
            ("password", "ins password 1234"),
            ("allow_ips", "127.0.0.1"),
            ("permission", "import_order"),
        ],
    )
    .await;
    app.create_user("staff@example.com", "merchant", "staff password 123")
        .await;
    let other = app.other_client();
    assert_eq!(other.login("ins", "ins password 1234").await.status(), 401);
    other.login("staff@example.com", "staff password 123").await;
    assert_eq!(other.get("/admin/api-users").await.status(), 403);
}

use crate::helpers::{TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};

#[actix_web::test]
async fn posts_without_or_with_a_wrong_token_are_refused() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let r = app
        .post_raw(
            "/admin/users",
            &[
                ("email", "a@example.com"),
                ("role", "merchant"),
                ("password", "long enough password"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("security token is missing"));
    let r = app
        .post_raw(
            "/admin/users",
            &[
                ("email", "a@example.com"),
                ("role", "merchant"),
                ("password", "long enough password"),
                ("csrf_token", "forged"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("security token is wrong"));
    let r = app.post_raw("/logout", &[]).await;
    assert_eq!(r.status(), 403, "even sign-out needs the token");
    let users = app.get_text("/admin/users").await;
    assert!(!users.contains("a@example.com"), "nothing was created");
}

#[actix_web::test]
async fn cross_site_requests_are_refused_by_fetch_metadata() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let token = app.csrf("/").await;
    let r = app
        .client
        .post(app.url("/logout"))
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("sent from another site"));
    let r = app
        .client
        .post(app.url("/logout"))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

#[actix_web::test]
async fn login_itself_needs_the_token() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let other = app.other_client();
    let r = other
        .post_raw("/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .await;
    assert_eq!(r.status(), 403);
    let token = other.csrf("/login").await;
    let r = other
        .client
        .post(other.url("/login"))
        .header("X-CSRF-Token", token)
        .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the header form of the token works too");
}

/// The middleware's own refusals (a missing token's 403, an oversized form's 413) carry the
/// same security headers as every page.
#[actix_web::test]
async fn csrf_refusals_and_oversized_forms_carry_the_security_headers() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let token = app.csrf("/").await;
    let big = "x".repeat(300 * 1024);
    let refused = app.post_raw("/logout", &[]).await;
    let too_large = app
        .post_raw(
            "/logout",
            &[("csrf_token", token.as_str()), ("filler", big.as_str())],
        )
        .await;
    for (what, r, status) in [
        ("missing token", refused, 403),
        ("oversized form", too_large, 413),
    ] {
        assert_eq!(r.status(), status, "{what}");
        let h = r.headers();
        for name in [
            "content-security-policy",
            "x-frame-options",
            "x-content-type-options",
            "referrer-policy",
        ] {
            assert!(h.contains_key(name), "{what}: the {status} answer lacks {name}");
        }
    }
}

/// A url-encoded form must carry its token in the body (or header): a token in the query
/// string, which leaks through logs and history, is accepted for multipart uploads only.
#[actix_web::test]
async fn a_token_in_the_query_string_of_a_url_encoded_form_is_refused() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let token = app.csrf("/admin/users").await;
    let r = app
        .client
        .post(app.url(&format!("/admin/users?csrf_token={token}")))
        .form(&[
            ("email", "q@example.com"),
            ("role", "merchant"),
            ("password", "long enough password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("security token is missing"));
    assert!(
        !app.get_text("/admin/users").await.contains("q@example.com"),
        "nothing was created"
    );
}

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

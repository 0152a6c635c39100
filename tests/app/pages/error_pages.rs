//! Every error page of the portal keeps the layout, the menu and a way back; the machines'
//! routes (`/clickbank/`, `/api/`) keep their plain answers.

use crate::helpers::TestApp;
use crate::support::html::{has_id, text_of_id};

async fn signed_in() -> TestApp {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    app
}

/// The `href` of the error page's way back.
fn back_href(page: &str) -> &str {
    let at = page.find("id=\"error-back\"").expect("a way back");
    let start = page[..at].rfind("href=\"").expect("the link's href") + 6;
    let end = start + page[start..].find('"').unwrap();
    &page[start..end]
}

#[actix_web::test]
async fn an_upload_without_a_file_is_a_page_with_the_menu_and_a_way_back() {
    let app = signed_in().await;
    let token = app.csrf("/fulfillment").await;
    // What a browser sends when no file was chosen: a file field with no name and no bytes.
    let boundary = "XnoFILEboundary7";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n\r\n--{boundary}--\r\n"
    );
    let r = app
        .client
        .post(app.url(&format!("/fulfillment/import?csrf_token={token}")))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("referer", app.url("/fulfillment?status=HOLD"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(has_id(&page, "mainnav"), "the menu is kept: {page}");
    assert_eq!(
        text_of_id(&page, "error-message"),
        Some("Choose a CSV file to upload.")
    );
    assert_eq!(
        back_href(&page),
        "/fulfillment?status=HOLD",
        "back to where the person was"
    );
}

#[actix_web::test]
async fn a_missing_page_a_wrong_method_and_a_bad_form_keep_the_menu() {
    let app = signed_in().await;
    let r = app.get("/no-such-page").await;
    assert_eq!(r.status(), 404);
    let page = r.text().await.unwrap();
    assert!(has_id(&page, "mainnav") && has_id(&page, "error-page"), "{page}");
    assert_eq!(back_href(&page), "/");

    let r = app.get("/customers/987654321").await;
    assert_eq!(r.status(), 404);
    let page = r.text().await.unwrap();
    assert!(has_id(&page, "mainnav"), "{page}");
    assert_eq!(back_href(&page), "/customer-service", "the section's page");

    // A route that only takes POST: no route answers a GET there.
    let r = app.get("/fulfillment/batch").await;
    assert_eq!(r.status(), 404);
    let page = r.text().await.unwrap();
    assert!(has_id(&page, "mainnav"), "{page}");
    assert_eq!(back_href(&page), "/fulfillment");

    // A form missing its fields (the form extractor's error).
    let r = app
        .post_form("/admin/users", "/admin/users", &[("email", "x@example.com")])
        .await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(has_id(&page, "mainnav"), "{page}");

    // Signed out, the page has no menu but still a way back.
    let other = app.other_client();
    let r = other.get("/no-such-page").await;
    assert_eq!(r.status(), 404);
    let page = r.text().await.unwrap();
    assert!(!has_id(&page, "mainnav") && has_id(&page, "error-back"), "{page}");
}

#[actix_web::test]
async fn clickbank_and_the_house_api_keep_plain_answers() {
    let app = signed_in().await;
    for (path, status) in [
        ("/clickbank/?loginId=nobody&password=wrong", 403),
        ("/api/fulfillment/update", 401),
    ] {
        let r = app.client.post(app.url(path)).body("x").send().await.unwrap();
        let got = r.status().as_u16();
        let kind = r.headers()["content-type"].to_str().unwrap().to_string();
        let body = r.text().await.unwrap();
        assert!(got == status || got == 401 || got == 403, "{path}: {got}");
        assert!(kind.starts_with("text/plain"), "{path}: {kind}");
        assert!(
            !body.contains("<html") && !body.contains("mainnav"),
            "{path}: {body}"
        );
    }
    // actix's own 405 (not an AppError) stays as actix answers it.
    let r = app
        .client
        .get(app.url("/api/fulfillment/update"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert!(!r.text().await.unwrap().contains("<html"));
}

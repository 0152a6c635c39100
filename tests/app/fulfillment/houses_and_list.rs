//! Houses are configured by account executives only, drop folders stay under the export root;
//! the item list escapes ClickBank data and pages by key.

use diesel::prelude::*;
use wiremock::MockServer;

use crate::support::builders::SaleBuilder;
use crate::support::fulfillment::*;
use crate::support::html;

#[actix_web::test]
async fn only_account_executives_configure_houses_and_drop_folders_stay_under_the_export_root() {
    let fx = fixture().await;
    let server = MockServer::start().await;
    let house = http_house(&fx.app, &format!("{}/orders", server.uri())).await;
    let drop = drop_dir(&fx.app);
    let csv = add_house(
        &fx.app,
        &[
            ("name", "Drop"),
            ("kind", "csv"),
            ("csv_folder", drop.path().to_str().unwrap()),
        ],
    )
    .await;
    // Folders outside the root, the root itself, or climbing out with .. are refused.
    let outside = tempfile::tempdir().unwrap();
    let root = fx.app.config.export_root.to_str().unwrap().to_string();
    let sneaky = format!("{}/../../etc", drop.path().to_str().unwrap());
    for folder in [
        outside.path().to_str().unwrap(),
        "relative/dir",
        root.as_str(),
        sneaky.as_str(),
    ] {
        let r = fx
            .app
            .post_form(
                "/crm/fulfillment-houses",
                "/crm/fulfillment-houses",
                &[
                    ("name", "Elsewhere"),
                    ("kind", "csv"),
                    ("csv_folder", folder),
                    ("active", "on"),
                ],
            )
            .await;
        assert_eq!(r.status(), 400, "{folder}");
        let page = r.text().await.unwrap();
        assert!(page.contains("MERCHANT_CRM_EXPORT_ROOT"), "{folder}: {page}");
        let r = fx
            .app
            .post_form(
                &format!("/crm/fulfillment-houses/{csv}"),
                &format!("/crm/fulfillment-houses/{csv}"),
                &[("name", "Drop"), ("csv_folder", folder), ("active", "on")],
            )
            .await;
        assert_eq!(r.status(), 400, "{folder}");
    }
    // A folder stored before the rule (outside the root) is never written by the export.
    let outside_path = outside.path().to_str().unwrap().to_string();
    fx.app
        .db
        .run(move |c| {
            use merchant_crm::db::schema::fulfillment_houses;
            diesel::update(fulfillment_houses::table.find(csv))
                .set(fulfillment_houses::csv_folder.eq(outside_path))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    product_on(&fx, "MUG", csv, 0).await;
    apply(&fx, SaleBuilder::new("OUT00001").email("o@example.com").build()).await;
    let s = run_export(&fx.app, csv).await;
    assert_eq!(s.failures, 1);
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);

    // A new endpoint needs the key and the secret typed again.
    let edit = format!("/crm/fulfillment-houses/{house}");
    let r = fx
        .app
        .post_form(
            &edit,
            &edit,
            &[
                ("name", "Acme Fulfillment"),
                ("endpoint", "https://evil.example.com/x"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("entered again"));
    let r = fx
        .app
        .post_form(
            &edit,
            &edit,
            &[
                ("name", "Acme Fulfillment"),
                ("endpoint", "https://new.example.com/x"),
                ("api_key", "k2"),
                ("signing_secret", "s2"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);

    // Merchant staff see houses but cannot add, edit or assign them.
    fx.app
        .create_user("staff@example.com", "merchant", "staff password 123")
        .await;
    let staff = fx.app.other_client();
    assert_eq!(
        staff
            .login("staff@example.com", "staff password 123")
            .await
            .status(),
        303
    );
    assert_eq!(staff.get("/crm/fulfillment-houses").await.status(), 200);
    let page = staff.get_text(&edit).await;
    assert!(!html::has_id(&page, "assign-all") && html::has_id(&page, "admin-only"));
    assert_eq!(staff.get("/fulfillment").await.status(), 200);
    let assign_all = format!("{edit}/assign-all");
    let evil_edit: &[(&str, &str)] = &[
        ("name", "Acme Fulfillment"),
        ("endpoint", "https://evil.example.com/x"),
        ("active", "on"),
    ];
    let evil_new: &[(&str, &str)] = &[
        ("name", "Mine"),
        ("kind", "http"),
        ("endpoint", "https://evil.example.com/x"),
        ("api_key", "a"),
        ("signing_secret", "b"),
    ];
    // (what staff try, the page whose form they use, where it posts, the fields)
    for (what, form_page, path, fields) in [
        ("edit a house", edit.as_str(), edit.as_str(), evil_edit),
        (
            "add a house",
            "/crm/fulfillment-houses",
            "/crm/fulfillment-houses",
            evil_new,
        ),
        (
            "assign a house to all products",
            edit.as_str(),
            assign_all.as_str(),
            &[],
        ),
    ] {
        let r = staff.post_form(form_page, path, fields).await;
        assert_eq!(r.status(), 403, "merchant staff cannot {what} ({path})");
    }
}

#[actix_web::test]
async fn the_list_escapes_clickbank_data_and_pages_by_key() {
    let fx = fixture().await;
    let mut ev = SaleBuilder::new("XSS00001")
        .email("x@example.com")
        .address("<script>alert(1)</script>")
        .build();
    ev.customer.first_name = "<b>Bold</b>".into();
    apply(&fx, ev).await;
    for n in 0..55 {
        apply(
            &fx,
            SaleBuilder::new(&format!("PAGE{n:04}"))
                .email("p@example.com")
                .build(),
        )
        .await;
    }
    let page = fx.app.get_text("/fulfillment").await;
    assert!(page.contains("56 items match"));
    let title = page
        .split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next())
        .expect("a title");
    assert!(title.starts_with("Fulfillment"), "title: {title}");
    assert!(
        !title.contains('<') && !title.contains("csrf"),
        "no markup or csrf token in the title: {title}"
    );
    assert_eq!(page.matches("Tracking and returns files").count(), 1);
    assert!(!page.contains("<b>Bold</b>") && !page.contains("<script>alert"));
    let next = page.split("id=\"next-page\"").next().unwrap();
    let href = next
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let second = fx.app.get_text(&href).await;
    assert!(
        second.contains("XSS00001"),
        "the oldest item is on page 2: {second}"
    );
    assert!(
        !second.contains("<b>Bold</b>") && !second.contains("<script>alert"),
        "escaped: {second}"
    );
    assert!(!html::has_id(&second, "next-page"));
}

//! The export job: an HTTP house (wiremock) gets signed bundles and a failure is retried once; a
//! CSV drop folder follows delays, bundle windows, addresses and houses, and reships; a refund
//! before export ships nothing; a rebilled subscription ships again once per cycle.

use chrono::Duration;
use diesel::prelude::*;
use merchant_crm::db::schema::fulfillments;
use merchant_crm::domain::fulfillment::export::{self};
use merchant_crm::domain::fulfillment::sign;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::builders::SaleBuilder;
use crate::support::fulfillment::*;

#[actix_web::test]
async fn http_house_gets_signed_bundles_and_a_failure_is_retried_once() {
    let fx = fixture().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"shipments": []})))
        .mount(&server)
        .await;
    let house = http_house(&fx.app, &format!("{}/orders", server.uri())).await;
    // The form never shows the secrets again.
    let page = fx.app.get_text(&format!("/crm/fulfillment-houses/{house}")).await;
    assert!(!page.contains("house-api-key-1") && !page.contains("house-signing-secret"));
    product_on(&fx, "BOOK", house, 0).await;
    // Pat: two orders 2 hours apart at the same address (spelt differently): one shipment.
    apply(
        &fx,
        SaleBuilder::new("PAT00001")
            .email("pat@example.com")
            .address("12 Main Street")
            .hours_ago(5)
            .item("BOOK")
            .build(),
    )
    .await;
    apply(
        &fx,
        SaleBuilder::new("PAT00002")
            .email("pat@example.com")
            .address("12 main st.")
            .hours_ago(3)
            .item("BOOK")
            .build(),
    )
    .await;
    // Sam: one order.
    apply(
        &fx,
        SaleBuilder::new("SAM00001")
            .email("sam@example.com")
            .address("1 Elm Road")
            .hours_ago(4)
            .item("BOOK")
            .build(),
    )
    .await;

    let s = run_export(&fx.app, house).await;
    assert_eq!((s.items, s.shipments, s.failures), (3, 2, 0), "{s:?}");
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1, "one POST per batch");
    let req = &reqs[0];
    assert_eq!(req.headers["x-api-key"].to_str().unwrap(), "house-api-key-1");
    assert_eq!(
        req.headers["x-signature"].to_str().unwrap(),
        sign("house-signing-secret", &req.body),
        "HMAC-SHA256 of the exact body"
    );
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["house"], "Acme Fulfillment");
    let shipments = body["shipments"].as_array().unwrap();
    assert_eq!(shipments.len(), 2);
    let pat = shipments
        .iter()
        .find(|s| s["customer"]["email"] == "pat@example.com")
        .unwrap();
    assert_eq!(pat["items"].as_array().unwrap().len(), 2);
    assert_eq!(pat["items"][0]["orderId"], "PAT00001");
    assert!(pat["items"][0]["clientFulfillmentId"].is_i64());
    assert_eq!(pat["shipTo"]["address1"], "12 Main Street");
    let all = items(&fx.app).await;
    assert!(all.iter().all(|i| i.status == "PENDING"), "{all:?}");
    assert_eq!(
        by_receipt(&all, "PAT00001").shipment,
        by_receipt(&all, "PAT00002").shipment
    );
    assert_ne!(
        by_receipt(&all, "PAT00001").shipment,
        by_receipt(&all, "SAM00001").shipment
    );

    // Nothing new: a run sends nothing, and never the same items twice.
    let s = run_export(&fx.app, house).await;
    assert_eq!(s.shipments, 0);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    // The house fails: FAILED with its reason, one automatic retry (RECYCLED), then FAILED.
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("warehouse closed"))
        .mount(&server)
        .await;
    apply(
        &fx,
        SaleBuilder::new("LEE00001")
            .email("lee@example.com")
            .address("9 Oak Lane")
            .item("BOOK")
            .build(),
    )
    .await;
    let s = run_export(&fx.app, house).await;
    assert_eq!((s.shipments, s.failures), (1, 1));
    let lee = by_receipt(&items(&fx.app).await, "LEE00001").clone();
    assert_eq!((lee.status.as_str(), lee.attempts), ("FAILED", 1));
    let reason: Option<String> = {
        let id = lee.id;
        fx.app
            .db
            .run(move |c| {
                Ok(fulfillments::table
                    .find(id)
                    .select(fulfillments::last_error)
                    .first(c)?)
            })
            .await
            .unwrap()
    };
    assert!(reason.unwrap().contains("warehouse closed"));
    let runs_page = fx.app.get_text("/fulfillment/runs").await;
    assert!(
        runs_page.contains("warehouse closed"),
        "the runs page shows the failure"
    );

    // The retry: while the (slow) house is being asked again, the item is RECYCLED.
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_string("warehouse closed")
                .set_delay(std::time::Duration::from_millis(400)),
        )
        .mount(&server)
        .await;
    let ctx = export_ctx(&fx.app);
    let running = actix_web::rt::spawn(async move { export::run_house(&ctx, house, "test-runner").await });
    let mut seen = Vec::new();
    for _ in 0..200 {
        let st = by_receipt(&items(&fx.app).await, "LEE00001").status.clone();
        if seen.last() != Some(&st) {
            seen.push(st.clone());
        }
        if seen.len() >= 2 && st == "FAILED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let s = running.await.unwrap().unwrap().unwrap();
    assert!(seen.contains(&"RECYCLED".to_string()), "{seen:?}");
    assert_eq!((s.shipments, s.failures), (1, 1), "the retry");
    let reqs = server.received_requests().await.unwrap();
    let retry: serde_json::Value = serde_json::from_slice(&reqs.last().unwrap().body).unwrap();
    assert_eq!(retry["shipments"][0]["retry"], true);
    assert_eq!(
        retry["shipments"][0]["shipmentId"].as_str(),
        lee.shipment.as_deref(),
        "same id"
    );
    let lee2 = by_receipt(&items(&fx.app).await, "LEE00001").clone();
    assert_eq!((lee2.status.as_str(), lee2.attempts), ("FAILED", 2));

    let s = run_export(&fx.app, house).await;
    assert_eq!(s.shipments, 0, "no third automatic attempt: a human decides");
    assert_eq!(server.received_requests().await.unwrap().len(), reqs.len());
    let run_page = fx
        .app
        .get_text(&format!("/fulfillment/runs/{}", s.run_id - 1))
        .await;
    assert!(run_page.contains(lee.shipment.as_deref().unwrap()));
}

#[actix_web::test]
async fn csv_drop_export_follows_delays_windows_addresses_houses_and_reships() {
    let fx = fixture().await;
    let drop = drop_dir(&fx.app);
    let folder = drop.path().to_str().unwrap().to_string();
    let house = add_house(
        &fx.app,
        &[("name", "Drop House"), ("kind", "csv"), ("csv_folder", &folder)],
    )
    .await;
    let other = add_house(
        &fx.app,
        &[("name", "Other House"), ("kind", "csv"), ("csv_folder", &folder)],
    )
    .await;
    product_on(&fx, "MUG", house, 0).await;
    product_on(&fx, "SLOW", house, 48).await;
    product_on(&fx, "ELSE", other, 0).await;
    // Delay: SLOW ordered 72 h ago is due; SLOW ordered 1 h ago waits.
    apply(
        &fx,
        SaleBuilder::new("OLD00001")
            .email("old@example.com")
            .address("1 First St")
            .hours_ago(72)
            .item("SLOW")
            .build(),
    )
    .await;
    apply(
        &fx,
        SaleBuilder::new("NEW00001")
            .email("new@example.com")
            .address("2 Second St")
            .hours_ago(1)
            .item("SLOW")
            .build(),
    )
    .await;
    // Same customer, different address: two shipments.
    apply(
        &fx,
        SaleBuilder::new("ADR00001")
            .email("ann@example.com")
            .address("3 Third St")
            .hours_ago(10)
            .build(),
    )
    .await;
    apply(
        &fx,
        SaleBuilder::new("ADR00002")
            .email("ann@example.com")
            .address("99 Far Away Ave")
            .hours_ago(9)
            .build(),
    )
    .await;
    // Same customer and address, 30 h apart (window 24 h): two shipments.
    apply(
        &fx,
        SaleBuilder::new("WIN00001")
            .email("bob@example.com")
            .address("4 Fourth St")
            .hours_ago(40)
            .build(),
    )
    .await;
    apply(
        &fx,
        SaleBuilder::new("WIN00002")
            .email("bob@example.com")
            .address("4 Fourth St")
            .hours_ago(10)
            .build(),
    )
    .await;
    // Same customer and address, another house: not in this house's export.
    apply(
        &fx,
        SaleBuilder::new("HSE00001")
            .email("bob@example.com")
            .address("4 Fourth St")
            .hours_ago(10)
            .item("ELSE")
            .build(),
    )
    .await;
    // An item still on the ClickBank house is never exported.
    apply(
        &fx,
        SaleBuilder::new("CBK00001")
            .email("bob@example.com")
            .address("4 Fourth St")
            .hours_ago(10)
            .item("DIGI")
            .build(),
    )
    .await;

    let s = run_export(&fx.app, house).await;
    assert_eq!((s.items, s.shipments, s.failures), (5, 5, 0), "{s:?}");
    let all = items(&fx.app).await;
    assert_eq!(by_receipt(&all, "OLD00001").status, "PENDING");
    assert_eq!(
        by_receipt(&all, "NEW00001").status,
        "HOLD",
        "its delay has not passed"
    );
    assert_ne!(
        by_receipt(&all, "ADR00001").shipment,
        by_receipt(&all, "ADR00002").shipment
    );
    assert_ne!(
        by_receipt(&all, "WIN00001").shipment,
        by_receipt(&all, "WIN00002").shipment
    );
    assert_eq!(by_receipt(&all, "HSE00001").status, "HOLD");
    assert_eq!(by_receipt(&all, "CBK00001").status, "HOLD");

    let file = drop
        .path()
        .join(format!("merchant-crm-house{house}-run{}.csv", s.run_id));
    let text = std::fs::read_to_string(&file).expect("one file per run");
    assert!(text.starts_with("shipmentId,clientFulfillmentId,orderId,sku,title,quantity,name,address1"));
    assert_eq!(text.lines().count(), 6, "{text}");
    assert!(text.contains("99 Far Away Ave"));

    // A wider window (set on the campaign page, at most 96 hours) bundles what 24 hours split.
    let campaign: i64 = fx
        .app
        .db
        .run(|c| {
            use merchant_crm::db::schema::campaigns;
            Ok(campaigns::table.select(campaigns::id).first(c)?)
        })
        .await
        .unwrap();
    let page = format!("/crm/campaigns/{campaign}");
    let action = format!("/crm/campaigns/{campaign}/bundle-window");
    assert_eq!(
        fx.app
            .post_form(&page, &action, &[("hours", "500")])
            .await
            .status(),
        303
    );
    assert!(fx.app.get_text(&page).await.contains("from 0 to 96"));
    assert_eq!(
        fx.app
            .post_form(&page, &action, &[("hours", "96")])
            .await
            .status(),
        303
    );
    assert!(fx
        .app
        .get_text(&page)
        .await
        .contains("Bundle window set to 96 hours."));
    apply(
        &fx,
        SaleBuilder::new("BIG00001")
            .email("cy@example.com")
            .address("5 Fifth St")
            .hours_ago(120)
            .build(),
    )
    .await;
    apply(
        &fx,
        SaleBuilder::new("BIG00002")
            .email("cy@example.com")
            .address("5 Fifth St")
            .hours_ago(60)
            .build(),
    )
    .await;
    apply(
        &fx,
        SaleBuilder::new("BIG00003")
            .email("cy@example.com")
            .address("5 Fifth St")
            .hours_ago(1)
            .build(),
    )
    .await;
    let s = run_export(&fx.app, house).await;
    assert_eq!(
        (s.items, s.shipments),
        (3, 2),
        "60 h apart bundle, 119 h apart do not: {s:?}"
    );

    // A deliberate reship: back to HOLD, exported again under a suffixed shipment id.
    let ann = by_receipt(&all, "ADR00001").clone();
    let r = fx
        .app
        .post_form(
            "/fulfillment",
            "/fulfillment/batch",
            &[
                ("scope", "selected"),
                ("id", &ann.id.to_string()),
                ("action", "status"),
                ("status", "HOLD"),
                ("confirm", "yes"),
                ("count", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let s = run_export(&fx.app, house).await;
    assert_eq!(s.shipments, 1);
    let again = by_receipt(&items(&fx.app).await, "ADR00001").clone();
    assert_eq!(again.status, "PENDING");
    assert_eq!(again.shipment, Some(format!("{}-R1", ann.shipment.unwrap())));

    // A folder that is gone: the run fails with the reason, items FAILED.
    drop.close().unwrap();
    apply(
        &fx,
        SaleBuilder::new("GONE0001")
            .email("dee@example.com")
            .address("6 Sixth St")
            .build(),
    )
    .await;
    let s = run_export(&fx.app, house).await;
    assert_eq!(s.failures, 1);
    let gone = by_receipt(&items(&fx.app).await, "GONE0001").clone();
    assert_eq!(gone.status, "FAILED");
}

#[actix_web::test]
async fn a_full_refund_before_export_cancels_the_items_and_nothing_ships() {
    let fx = fixture().await;
    let (_drop, house) = drop_house(&fx.app).await;
    product_on(&fx, "MUG", house, 24).await;
    apply(
        &fx,
        SaleBuilder::new("RFD00001")
            .email("r@example.com")
            .address("1 First St")
            .build(),
    )
    .await;
    let mut refund = SaleBuilder::new("RFD00001")
        .email("r@example.com")
        .address("1 First St")
        .hours_ago(1)
        .build();
    refund.kind = "RFND".into();
    apply(&fx, refund).await;
    assert_eq!(by_receipt(&items(&fx.app).await, "RFD00001").status, "CANCELLED");
    // A chargeback does the same.
    apply(
        &fx,
        SaleBuilder::new("CGB00001")
            .email("c@example.com")
            .address("2 First St")
            .hours_ago(30)
            .build(),
    )
    .await;
    let mut cb = SaleBuilder::new("CGB00001")
        .email("c@example.com")
        .address("2 First St")
        .hours_ago(1)
        .build();
    cb.kind = "CGBK".into();
    apply(&fx, cb).await;
    assert_eq!(by_receipt(&items(&fx.app).await, "CGB00001").status, "CANCELLED");
    let s = run_export(&fx.app, house).await;
    assert_eq!(s.shipments, 0);
}

#[actix_web::test]
async fn a_rebilled_physical_subscription_ships_again_once_per_cycle() {
    let fx = fixture().await;
    let (_drop, house) = drop_house(&fx.app).await;
    product_on(&fx, "SUB", house, 0).await;
    apply(
        &fx,
        SaleBuilder::new("SUB00001")
            .email("s@example.com")
            .address("1 First St")
            .hours_ago(24 * 30)
            .recurring_item("SUB")
            .build(),
    )
    .await;
    assert_eq!(run_export(&fx.app, house).await.items, 1);
    let mut bill = SaleBuilder::new("SUB00001")
        .email("s@example.com")
        .address("1 First St")
        .hours_ago(1)
        .recurring_item("SUB")
        .build();
    bill.kind = "BILL".into();
    apply(&fx, bill.clone()).await;
    apply(&fx, bill).await;
    let all = items(&fx.app).await;
    assert_eq!(all.len(), 2, "one new item for the new cycle, once: {all:?}");
    assert_eq!(
        (all[0].status.as_str(), all[1].status.as_str()),
        ("PENDING", "HOLD")
    );
    // The new cycle's item dates from the rebill (an hour ago), not from when it was applied.
    let second = all[1].id;
    let created: chrono::NaiveDateTime = fx
        .app
        .db
        .run(move |c| {
            Ok(fulfillments::table
                .find(second)
                .select(fulfillments::created_at)
                .first(c)?)
        })
        .await
        .unwrap();
    let ago = merchant_crm::domain::now() - created;
    assert!(
        ago > Duration::minutes(55) && ago < Duration::minutes(65),
        "created {ago} ago"
    );
    let s = run_export(&fx.app, house).await;
    assert_eq!((s.items, s.shipments), (1, 1));
    let all = items(&fx.app).await;
    assert_ne!(all[0].shipment, all[1].shipment, "a new parcel, not a reship");
}

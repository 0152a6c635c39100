//! An export that goes wrong midway: interrupted after sending (left to a human, never sent
//! twice), a refund while an item is being sent, and the export lease kept only while it is ours.

use diesel::prelude::*;
use merchant_crm::db::schema::fulfillments;
use merchant_crm::domain::fulfillment::export::{self};
use merchant_crm::domain::orders::OrderEvent;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::builders::SaleBuilder;
use crate::support::fulfillment::*;

#[actix_web::test]
async fn an_export_interrupted_after_sending_is_left_to_a_human_not_sent_again() {
    use merchant_crm::db::schema::shipments;
    let fx = fixture().await;
    let (_drop, house) = one_mug_exported(&fx, "CRS00001", "c@example.com").await;
    // As if the process died after sending, before recording.
    fx.app
        .db
        .run(|c| {
            diesel::update(fulfillments::table)
                .set(fulfillments::status.eq("HOLD"))
                .execute(c)?;
            diesel::update(shipments::table)
                .set(shipments::status.eq("sending"))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let s = run_export(&fx.app, house).await;
    assert_eq!(s.shipments, 0, "not sent again");
    let it = by_receipt(&items(&fx.app).await, "CRS00001").clone();
    assert_eq!((it.status.as_str(), it.attempts), ("FAILED", 2));
    assert_eq!(
        run_export(&fx.app, house).await.shipments,
        0,
        "no automatic retry either"
    );
}

/// Runs an export of `house` in the background (the house answers after `delay`), waits until
/// its items are claimed, applies `during`, and returns the run's summary.
async fn export_with_event_midway(
    fx: &Fx,
    house: i64,
    receipt: &str,
    during: OrderEvent,
) -> export::RunSummary {
    let ctx = export_ctx(&fx.app);
    let run = tokio::spawn(async move { export::run_house(&ctx, house, "test-runner").await });
    let mut claimed = false;
    for _ in 0..100 {
        if by_receipt(&items(&fx.app).await, receipt).status == export::IN_FLIGHT {
            claimed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(claimed, "the export claims the item first");
    apply(fx, during).await;
    // Refunded while being sent: still in flight, not cancelled under the export's feet.
    assert_eq!(
        by_receipt(&items(&fx.app).await, receipt).status,
        export::IN_FLIGHT
    );
    run.await.unwrap().unwrap().unwrap()
}

#[actix_web::test]
async fn a_refund_while_an_item_is_being_sent_never_leaves_it_shipped_but_cancelled() {
    let fx = fixture().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ok"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(std::time::Duration::from_millis(1500))
                .set_body_json(serde_json::json!({"shipments": []})),
        )
        .mount(&server)
        .await;
    let house = http_house(&fx.app, &format!("{}/ok", server.uri())).await;
    product_on(&fx, "MUG", house, 0).await;
    apply(&fx, SaleBuilder::new("MID00001").email("m@example.com").build()).await;
    let mut refund = SaleBuilder::new("MID00001")
        .email("m@example.com")
        .hours_ago(0)
        .build();
    refund.kind = "RFND".into();
    let s = export_with_event_midway(&fx, house, "MID00001", refund).await;
    // The house took it: PENDING (at the house), flagged for a human on the item and the run.
    let it = by_receipt(&items(&fx.app).await, "MID00001").clone();
    assert_eq!(it.status, "PENDING");
    assert_eq!(s.outcome, "needs attention");
    let page = fx.app.get_text(&format!("/fulfillment/runs/{}", s.run_id)).await;
    assert!(page.contains("refunded while"), "{page}");
    let err: Option<String> = fx
        .app
        .db
        .run(move |c| {
            Ok(fulfillments::table
                .find(it.id)
                .select(fulfillments::last_error)
                .first(c)?)
        })
        .await
        .unwrap();
    assert_eq!(err.as_deref(), Some(export::REFUNDED_IN_FLIGHT));

    // A house that refuses: nothing shipped, so the refunded item ends CANCELLED.
    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/no"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_delay(std::time::Duration::from_millis(1500))
                .set_body_string("down"),
        )
        .mount(&refusing)
        .await;
    let house2 = add_house(
        &fx.app,
        &[
            ("name", "Refuser"),
            ("kind", "http"),
            ("endpoint", &format!("{}/no", refusing.uri())),
            ("api_key", "house-api-key-2"),
            ("signing_secret", "house-signing-secret-2"),
        ],
    )
    .await;
    product_on(&fx, "CUP", house2, 0).await;
    apply(
        &fx,
        SaleBuilder::new("MID00002")
            .email("n@example.com")
            .address("2 St")
            .item("CUP")
            .build(),
    )
    .await;
    let mut refund = SaleBuilder::new("MID00002")
        .email("n@example.com")
        .address("2 St")
        .hours_ago(0)
        .item("CUP")
        .build();
    refund.kind = "RFND".into();
    let s = export_with_event_midway(&fx, house2, "MID00002", refund).await;
    assert_eq!(s.failures, 1);
    assert_eq!(by_receipt(&items(&fx.app).await, "MID00002").status, "CANCELLED");
}

#[actix_web::test]
async fn the_export_lease_is_renewed_only_while_it_is_ours() {
    use merchant_crm::db::schema::fulfillment_houses;
    let fx = fixture().await;
    let house = http_house(&fx.app, "http://127.0.0.1:9/orders").await;
    let r = fx
        .app
        .db
        .run(move |c| {
            assert!(export::claim(c, house, "runner-a")?);
            // Most of the lease used up by a long send.
            diesel::update(fulfillment_houses::table.find(house))
                .set(
                    fulfillment_houses::locked_until
                        .eq(Some(merchant_crm::domain::now() + chrono::Duration::seconds(5))),
                )
                .execute(c)?;
            export::renew(c, house, "runner-a")
        })
        .await
        .unwrap();
    assert!(r, "our own live lease is renewed");
    let renewed = fx
        .app
        .db
        .run(move |c| {
            Ok(fulfillment_houses::table
                .find(house)
                .select(fulfillment_houses::locked_until)
                .first::<Option<chrono::NaiveDateTime>>(c)?)
        })
        .await
        .unwrap()
        .unwrap();
    assert!(renewed > merchant_crm::domain::now() + chrono::Duration::seconds(export::LEASE_SECONDS - 60));
    // The lease expires and another process takes the house: the first runner cannot renew.
    let r = fx
        .app
        .db
        .run(move |c| {
            diesel::update(fulfillment_houses::table.find(house))
                .set(
                    fulfillment_houses::locked_until
                        .eq(Some(merchant_crm::domain::now() - chrono::Duration::seconds(1))),
                )
                .execute(c)?;
            assert!(!export::renew(c, house, "runner-a")?, "an expired lease is lost");
            assert!(export::claim(c, house, "runner-b")?);
            export::renew(c, house, "runner-a")
        })
        .await
        .unwrap();
    assert!(!r, "a lease taken over is not ours any more");
}

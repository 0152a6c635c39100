//! The update API houses post to: the `update_fulfillment` permission, and an API user tied to
//! a house updates only that house's items.

use diesel::prelude::*;
use merchant_crm::db::schema::fulfillments;

use crate::support::builders::SaleBuilder;
use crate::support::clickbank::{INS_LOGIN, INS_PASSWORD};
use crate::support::fulfillment::*;

#[actix_web::test]
async fn houses_post_updates_with_the_update_fulfillment_permission_only() {
    let fx = fixture().await;
    // A receipt the sandbox knows, so ClickBank accepts the ship notice.
    let known = fx
        .sb
        .create_event(&merchant_crm::clickbank::TransactionType::Sale)
        .receipt
        .unwrap();
    apply(&fx, SaleBuilder::new(&known).email("a@example.com").build()).await;
    let id = items(&fx.app).await[0].id;
    let url = fx.app.url("/api/fulfillment/update");
    let body = serde_json::json!({"updates": [{"clientFulfillmentId": id, "status": "SHIPPED",
        "trackingNumber": "1ZAPI", "carrier": "UPS", "method": "Ground", "shipDate": "2026-11-20"}]});
    // The INS user has import_order only.
    let r = fx
        .app
        .client
        .post(&url)
        .basic_auth(INS_LOGIN, Some(INS_PASSWORD))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("update_fulfillment"));
    let r = fx.app.client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = fx
        .app
        .post_form(
            "/admin/api-users",
            "/admin/api-users",
            &[
                ("login_id", "acme-house"),
                ("password", "house password 123456"),
                ("allow_ips", "127.0.0.1"),
                ("permission", "update_fulfillment"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let house_client = crate::helpers::client();
    // A bad update among good ones: nothing applied, every error listed.
    let mixed = serde_json::json!({"updates": [
        {"clientFulfillmentId": id, "status": "SHIPPED", "trackingNumber": "1ZAPI"},
        {"clientFulfillmentId": 999999, "status": "SHIPPED"},
        {"shipmentId": "nope", "status": "DELIVERED"}]});
    let r = house_client
        .post(&url)
        .basic_auth("acme-house", Some("house password 123456"))
        .json(&mixed)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["applied"], 0);
    assert_eq!(v["errors"].as_array().unwrap().len(), 2);
    assert_eq!(items(&fx.app).await[0].status, "HOLD");

    let r = house_client
        .post(&url)
        .basic_auth("acme-house", Some("house password 123456"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["applied"], 1);
    let it = items(&fx.app).await[0].clone();
    assert_eq!(
        (it.status.as_str(), it.tracking.as_deref()),
        ("SHIPPED", Some("1ZAPI"))
    );
    // An RMA later; a move the table forbids is refused.
    let r = house_client
        .post(&url)
        .basic_auth("acme-house", Some("house password 123456"))
        .json(&serde_json::json!({"clientFulfillmentId": id, "status": "RMA_PENDING", "rmaNumber": "RMA-9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = house_client
        .post(&url)
        .basic_auth("acme-house", Some("house password 123456"))
        .json(&serde_json::json!({"clientFulfillmentId": id, "status": "PENDING"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(items(&fx.app).await[0].status, "RMA_PENDING");
    let r = house_client
        .post(&url)
        .basic_auth("acme-house", Some("house password 123456"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<serde_json::Value>().await.unwrap()["errors"][0]["error"]
        .as_str()
        .unwrap()
        .contains("must be JSON"));

    // The tracking goes to ClickBank as a ship notice (the sandbox records it).
    let r = fx
        .app
        .post_form("/fulfillment", &format!("/fulfillment/{id}/ship-notice"), &[])
        .await;
    assert_eq!(r.status(), 303);
    let page = fx.app.get_text("/fulfillment").await;
    assert!(
        page.contains(&format!("Ship notice for order {known} sent to ClickBank.")),
        "{page}"
    );
    let notices = fx.sb.ship_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(
        (
            notices[0].receipt.as_str(),
            notices[0].tracking.as_str(),
            notices[0].carrier.as_str()
        ),
        (known.as_str(), "1ZAPI", "UPS")
    );
    assert_eq!(notices[0].date, "2026-11-20");
    // A double click (two requests at once) and a later click send nothing more.
    let url = format!("/fulfillment/{id}/ship-notice");
    let (a, b) = tokio::join!(
        fx.app.post_form("/fulfillment", &url, &[]),
        fx.app.post_form("/fulfillment", &url, &[])
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (303, 303));
    let page = fx.app.get_text("/fulfillment").await;
    assert!(page.contains("sent already"), "{page}");
    assert_eq!(fx.sb.ship_notices().len(), 1, "still one ship notice");
}

#[actix_web::test]
async fn a_house_api_user_updates_only_its_own_houses_items() {
    let fx = fixture().await;
    let (_drop, house) = drop_house(&fx.app).await;
    apply(&fx, SaleBuilder::new("OWN00001").email("o@example.com").build()).await;
    let id = items(&fx.app).await[0].id;
    let r = fx
        .app
        .post_form(
            "/admin/api-users",
            "/admin/api-users",
            &[
                ("login_id", "drop-house"),
                ("password", "house password 123456"),
                ("allow_ips", "127.0.0.1"),
                ("permission", "update_fulfillment"),
                ("house_id", &house.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = fx.app.get_text("/admin/api-users").await;
    assert!(
        page.contains(&format!("<option value=\"{house}\" selected>Drop</option>")),
        "{page}"
    );
    let url = fx.app.url("/api/fulfillment/update");
    let body = serde_json::json!({"clientFulfillmentId": id, "status": "SHIPPED", "trackingNumber": "1ZOWN"});
    let post = || {
        crate::helpers::client()
            .post(&url)
            .basic_auth("drop-house", Some("house password 123456"))
            .json(&body)
            .send()
    };
    // The item is still on the ClickBank house: not this house's to update.
    let r = post().await.unwrap();
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("not at your fulfillment house"),
        "{v}"
    );
    assert_eq!(items(&fx.app).await[0].status, "HOLD");
    // Once it is at this house, the house may update it.
    fx.app
        .db
        .run(move |c| {
            diesel::update(fulfillments::table.find(id))
                .set(fulfillments::house_id.eq(house))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let r = post().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(items(&fx.app).await[0].status, "SHIPPED");
}

//! Batch updates by filter: the count first, all or nothing, audited; in a real browser; items
//! being sent are left alone by batches and CSV imports.

use diesel::prelude::*;
use merchant_crm::db::schema::{audit_log, fulfillments};
use merchant_crm::domain::fulfillment::export::{self};

use crate::support::browser::{browser, click, find, text_of};
use crate::support::builders::SaleBuilder;
use crate::support::fulfillment::*;
use crate::support::html;

#[actix_web::test]
async fn batch_updates_by_filter_show_the_count_apply_all_or_nothing_and_are_audited() {
    let fx = fixture().await;
    let (_drop, house) = drop_house(&fx.app).await;
    for n in 1..=3 {
        apply(
            &fx,
            SaleBuilder::new(&format!("BAT0000{n}"))
                .email(&format!("b{n}@example.com"))
                .item("TEE")
                .build(),
        )
        .await;
    }
    let cb_house = items(&fx.app).await[0].house;
    assert_ne!(cb_house, house);
    let filter = format!("/fulfillment?status=HOLD&house={cb_house}");
    let page = fx.app.get_text(&filter).await;
    assert!(page.contains("3 items match"), "{page}");
    assert!(page.contains("BAT00001"));
    let house_s = house.to_string();
    let cb_s = cb_house.to_string();
    let fields = [
        ("scope", "filter"),
        ("f_status", "HOLD"),
        ("f_house", cb_s.as_str()),
        ("action", "house"),
        ("house_id", house_s.as_str()),
    ];
    // First the count and a confirmation.
    let r = fx.app.post_form(&filter, "/fulfillment/batch", &fields).await;
    assert_eq!(r.status(), 200);
    let confirm = r.text().await.unwrap();
    assert!(
        html::text_of_id(&confirm, "confirm-count") == Some("3"),
        "{confirm}"
    );
    assert!(
        items(&fx.app).await.iter().all(|i| i.house == cb_house),
        "nothing before confirming"
    );
    // A confirmation for another count is refused (the list changed).
    let mut stale = fields.to_vec();
    stale.extend([("confirm", "yes"), ("count", "2")]);
    assert_eq!(
        fx.app
            .post_form(&filter, "/fulfillment/batch", &stale)
            .await
            .status(),
        303
    );
    assert!(items(&fx.app).await.iter().all(|i| i.house == cb_house));
    let mut ok = fields.to_vec();
    ok.extend([("confirm", "yes"), ("count", "3")]);
    assert_eq!(
        fx.app
            .post_form(&filter, "/fulfillment/batch", &ok)
            .await
            .status(),
        303
    );
    let page = fx.app.get_text("/fulfillment").await;
    assert!(page.contains("Updated 3 item(s)."), "{page}");
    assert!(items(&fx.app)
        .await
        .iter()
        .all(|i| i.house == house && i.status == "HOLD"));
    // Moved from the dummy house to a real one: in the next export.
    assert_eq!(run_export(&fx.app, house).await.items, 3);

    // RETURNED is not allowed from PENDING: nothing changes, the reason is given.
    let one = items(&fx.app).await[0].id.to_string();
    apply(
        &fx,
        SaleBuilder::new("BAT00009")
            .email("b9@example.com")
            .item("TEE")
            .build(),
    )
    .await;
    let nine = by_receipt(&items(&fx.app).await, "BAT00009").id.to_string();
    let r = fx
        .app
        .post_form(
            "/fulfillment",
            "/fulfillment/batch",
            &[
                ("scope", "selected"),
                ("id", &one),
                ("id", &nine),
                ("action", "status"),
                ("status", "DELIVERED"),
            ],
        )
        .await;
    let text = r.text().await.unwrap();
    assert!(
        text.contains("1 of the 2 items cannot set the status to DELIVERED (1 HOLD)"),
        "{text}"
    );
    let mut direct = vec![
        ("scope", "selected"),
        ("id", one.as_str()),
        ("id", nine.as_str()),
        ("action", "status"),
        ("status", "RETURNED"),
        ("confirm", "yes"),
        ("count", "2"),
    ];
    let r = fx
        .app
        .post_form("/fulfillment", "/fulfillment/batch", &direct)
        .await;
    assert_eq!(r.status(), 303);
    let page = fx.app.get_text("/fulfillment").await;
    assert!(page.contains("Nothing was changed"), "{page}");
    assert_eq!(by_receipt(&items(&fx.app).await, "BAT00009").status, "HOLD");
    direct[4] = ("status", "SHIPPED");
    assert_eq!(
        fx.app
            .post_form("/fulfillment", "/fulfillment/batch", &direct)
            .await
            .status(),
        303
    );
    assert!(items(&fx.app)
        .await
        .iter()
        .filter(|i| [one.as_str(), nine.as_str()].contains(&i.id.to_string().as_str()))
        .all(|i| i.status == "SHIPPED"));

    let audits: i64 = fx
        .app
        .db
        .run(|c| {
            Ok(audit_log::table
                .filter(audit_log::action.eq("fulfillment.batch"))
                .count()
                .get_result(c)?)
        })
        .await
        .unwrap();
    assert_eq!(audits, 2);
}

#[actix_web::test]
async fn a_batch_update_in_a_real_browser_shows_the_count_and_applies_on_confirm() {
    let fx = fixture().await;
    apply(&fx, SaleBuilder::new("BRW00001").email("a@example.com").build()).await;
    apply(
        &fx,
        SaleBuilder::new("BRW00002")
            .email("b@example.com")
            .address("2 St")
            .build(),
    )
    .await;
    let target = by_receipt(&items(&fx.app).await, "BRW00002").id;
    let b = browser().await;
    let c = &b.client;
    browser_login(c, &fx.app).await;
    click(c, "a[href='/fulfillment']").await;
    click(c, &format!("#item-{target} input[type=checkbox]")).await;
    find(c, "#batch-status")
        .await
        .select_by_value("SHIPPED")
        .await
        .unwrap();
    click(c, "#batch-submit").await;
    assert_eq!(text_of(c, "#confirm-count").await, "1");
    assert_eq!(by_receipt(&items(&fx.app).await, "BRW00002").status, "HOLD");
    click(c, "#confirm-submit").await;
    assert!(text_of(c, ".flash-ok").await.contains("Updated 1 item(s)."));
    let all = items(&fx.app).await;
    assert_eq!(by_receipt(&all, "BRW00002").status, "SHIPPED");
    assert_eq!(by_receipt(&all, "BRW00001").status, "HOLD");
    b.client.clone().close().await.unwrap();
}

#[actix_web::test]
async fn items_being_sent_are_left_alone_by_batches_and_csv_imports() {
    use merchant_crm::db::schema::shipments;
    let fx = fixture().await;
    let (_drop, _house) = one_mug_exported(&fx, "FLY00001", "f@example.com").await;
    // As if a run were sending it now.
    fx.app
        .db
        .run(|c| {
            diesel::update(fulfillments::table)
                .set(fulfillments::status.eq(export::IN_FLIGHT))
                .execute(c)?;
            diesel::update(shipments::table)
                .set(shipments::status.eq("sending"))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let id = items(&fx.app).await[0].id;
    let r = upload(&fx.app, "cancel.csv", b"orderId,status\nFLY00001,CANCELLED\n").await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("being sent to their house"));
    let r = cancel_by_batch(&fx.app, id).await;
    assert!(r.status() == 303 || r.status() == 400, "{}", r.status());
    assert_eq!(
        items(&fx.app).await[0].status,
        export::IN_FLIGHT,
        "not cancelled mid-send"
    );
}

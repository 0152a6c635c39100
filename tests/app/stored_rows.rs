//! Rows written by the portal before its statuses and event kinds became Rust enums
//! (`tests/fixtures/stored_rows_v1.sql`) still mean what they meant: a stored event key makes
//! the same event a duplicate, a parked event's payload is read and applied after its sale,
//! and every status and type column reads back as the value it spells.

use chrono::{TimeZone, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use merchant_crm::clickbank::TransactionType;
use merchant_crm::db::models::{InboxStatus, OrderStatus, Plugin, PurchaseStatus};
use merchant_crm::db::schema::{
    applied_events, inbound_notifications, orders, pending_events, plugins, purchases, transactions,
};
use merchant_crm::domain::orders::event::{EventAddress, EventCustomer, EventItem, OrderEvent};
use merchant_crm::domain::orders::{self as events, Outcome};

use crate::helpers::TestApp;

const FIXTURE: &str = include_str!("../fixtures/stored_rows_v1.sql");

/// A fresh portal holding the fixture's rows, and the fixture's plugin. Its background jobs
/// do not run: the look-up job would apply the parked event before the test looks.
async fn portal_with_stored_rows() -> (TestApp, Plugin) {
    let app = TestApp::builder().env("MERCHANT_CRM_NO_JOBS", "1").build().await;
    let plugin = app
        .db
        .run(|c| {
            let now = merchant_crm::domain::now();
            diesel::insert_into(plugins::table)
                .values((
                    plugins::name.eq("Fixture"),
                    plugins::site.eq("FIXTURESHOP"),
                    plugins::api_key_enc.eq("not-a-key"),
                    plugins::created_at.eq(now),
                    plugins::updated_at.eq(now),
                ))
                .execute(c)?;
            let plugin: Plugin = plugins::table
                .filter(plugins::site.eq("FIXTURESHOP"))
                .select(Plugin::as_select())
                .first(c)?;
            c.batch_execute(&FIXTURE.replace("{plugin}", &plugin.id.to_string()))?;
            Ok(plugin)
        })
        .await
        .unwrap();
    (app, plugin)
}

fn sale(receipt: &str, item_no: &str, time: chrono::DateTime<Utc>) -> OrderEvent {
    let address = EventAddress {
        address1: "1 Main St".into(),
        city: "Springfield".into(),
        state: "IL".into(),
        postal_code: "62701".into(),
        country: "US".into(),
        ..Default::default()
    };
    OrderEvent {
        kind: TransactionType::Sale,
        time,
        receipt: receipt.into(),
        parent_receipt: None,
        vendor: Some("FIXTURESHOP".into()),
        affiliate: None,
        payment_method: Some("VISA".into()),
        currency: "USD".into(),
        total_minor: 1999,
        tax_minor: 0,
        shipping_minor: 0,
        customer: EventCustomer {
            email: "pat@example.com".into(),
            first_name: "Pat".into(),
            last_name: "Buyer".into(),
            phone: String::new(),
            billing: address.clone(),
            shipping: address,
            ship_first_name: "Pat".into(),
            ship_last_name: "Buyer".into(),
        },
        items: vec![EventItem {
            item_no: item_no.into(),
            title: format!("Product {item_no}"),
            line_item_type: "ORIGINAL".into(),
            quantity: 1,
            amount_minor: 1999,
            shippable: true,
            recurring: false,
            rebill_amount_minor: None,
            next_payment: None,
            frequency: None,
            payments_processed: None,
            list_status: None,
        }],
        read_at: None,
    }
}

async fn apply(app: &TestApp, plugin: &Plugin, ev: OrderEvent) -> Outcome {
    let plugin = plugin.clone();
    app.db
        .run(move |c| events::apply(c, &plugin, &ev, "ins"))
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_stored_event_key_makes_the_same_event_a_duplicate() {
    let (app, plugin) = portal_with_stored_rows().await;
    let at = Utc.with_ymd_and_hms(2025, 6, 1, 10, 0, 0).unwrap();
    assert_eq!(
        apply(&app, &plugin, sale("FIX0001", "ITEM1", at)).await,
        Outcome::Duplicate,
        "the SALE of FIX0001 is applied already by its stored key"
    );
    let at3 = Utc.with_ymd_and_hms(2025, 6, 3, 10, 0, 0).unwrap();
    let mut again = sale("FIX0003", "ITEM3", at3);
    again.total_minor = 2999;
    assert_eq!(
        apply(&app, &plugin, again).await,
        Outcome::Duplicate,
        "the SALE of the stored order FIX0003 is applied already"
    );
    let n: i64 = app
        .db
        .run(|c| Ok(orders::table.count().get_result(c)?))
        .await
        .unwrap();
    assert_eq!(n, 1, "no order was made by the duplicates");
}

#[actix_web::test]
async fn a_stored_pending_payload_is_applied_after_its_sale() {
    let (app, plugin) = portal_with_stored_rows().await;
    let at = Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap();
    let outcome = apply(&app, &plugin, sale("FIX0002", "ITEM2", at)).await;
    assert!(
        matches!(outcome, Outcome::Applied { order_id: Some(_) }),
        "{outcome:?}"
    );
    let (status, refunded, kinds, parked, delivery) = app
        .db
        .run(|c| {
            let (id, status, refunded): (i64, String, i64) = orders::table
                .filter(orders::receipt.eq("FIX0002"))
                .select((orders::id, orders::status, orders::refunded_minor))
                .first(c)?;
            let kinds: Vec<TransactionType> = transactions::table
                .filter(transactions::order_id.eq(id))
                .order(transactions::id.asc())
                .select(transactions::kind)
                .load(c)?;
            let parked: i64 = pending_events::table.count().get_result(c)?;
            let delivery: String = inbound_notifications::table
                .filter(inbound_notifications::receipt.eq("FIX0002"))
                .select(inbound_notifications::status)
                .first(c)?;
            Ok((status, refunded, kinds, parked, delivery))
        })
        .await
        .unwrap();
    assert_eq!(
        status, "REFUNDED",
        "the parked refund was read from its payload and applied"
    );
    assert_eq!(refunded, 1999);
    assert_eq!(kinds, [TransactionType::Sale, TransactionType::Rfnd]);
    assert_eq!(parked, 0, "nothing waits any more");
    assert_eq!(
        delivery, "processed",
        "the delivery that brought the refund is processed"
    );
    // The refund's key, written from the payload read back, is the key it was parked under.
    let mut refund = sale(
        "FIX0002",
        "ITEM2",
        Utc.with_ymd_and_hms(2025, 6, 2, 10, 0, 0).unwrap(),
    );
    refund.kind = TransactionType::Rfnd;
    let key = refund.key(plugin.id);
    assert_eq!(
        key,
        format!("{}|FIX0002|RFND|2025-06-02T10:00:00Z|ITEM2", plugin.id)
    );
    let stored: i64 = app
        .db
        .run(move |c| {
            Ok(applied_events::table
                .filter(applied_events::event_key.eq(key))
                .count()
                .get_result(c)?)
        })
        .await
        .unwrap();
    assert_eq!(stored, 1);
    assert_eq!(apply(&app, &plugin, refund).await, Outcome::Duplicate);
}

#[actix_web::test]
async fn a_parked_event_whose_sale_never_came_lands_on_an_order_built_from_it() {
    let (app, _plugin) = portal_with_stored_rows().await;
    let applied = app
        .db
        .run(|c| merchant_crm::domain::sync::sale_lookups::apply_parked(c, 50))
        .await
        .unwrap();
    assert_eq!(applied, 1);
    let (sale_seen, refunded, kinds, parked, delivery, lookups) = app
        .db
        .run(|c| {
            let (id, sale_seen, refunded): (i64, bool, i64) = orders::table
                .filter(orders::receipt.eq("FIX0002"))
                .select((orders::id, orders::sale_seen, orders::refunded_minor))
                .first(c)?;
            let kinds: Vec<TransactionType> = transactions::table
                .filter(transactions::order_id.eq(id))
                .select(transactions::kind)
                .load(c)?;
            let parked: i64 = pending_events::table.count().get_result(c)?;
            let delivery: (String, Option<String>) = inbound_notifications::table
                .filter(inbound_notifications::receipt.eq("FIX0002"))
                .select((inbound_notifications::status, inbound_notifications::error))
                .first(c)?;
            let lookups: Vec<String> = merchant_crm::db::schema::sale_lookups::table
                .select(merchant_crm::db::schema::sale_lookups::receipt)
                .load(c)?;
            Ok((sale_seen, refunded, kinds, parked, delivery, lookups))
        })
        .await
        .unwrap();
    assert!(!sale_seen, "the order is marked: its sale is not seen yet");
    assert_eq!(refunded, 1999, "the refund's money is on it");
    assert_eq!(kinds, [TransactionType::Rfnd]);
    assert_eq!(parked, 0, "nothing is parked any more");
    assert_eq!(delivery.0, "processed");
    assert!(delivery.1.unwrap_or_default().contains("sale is not seen yet"));
    assert_eq!(lookups, ["FIX0002"], "its sale is to be read from ClickBank");
}

#[actix_web::test]
async fn stored_types_read_back_as_the_values_they_spell() {
    let (app, _plugin) = portal_with_stored_rows().await;
    let (order_type, kind, order_status, purchase_status, delivery) = app
        .db
        .run(|c| {
            let order_type: TransactionType = orders::table
                .filter(orders::receipt.eq("FIX0003"))
                .select(orders::order_type)
                .first(c)?;
            let kind: TransactionType = transactions::table.select(transactions::kind).first(c)?;
            let order_status: OrderStatus = orders::table
                .filter(orders::receipt.eq("FIX0003"))
                .select(orders::status)
                .first(c)?;
            let purchase_status: PurchaseStatus = purchases::table.select(purchases::status).first(c)?;
            let delivery: InboxStatus = inbound_notifications::table
                .select(inbound_notifications::status)
                .first(c)?;
            Ok((order_type, kind, order_status, purchase_status, delivery))
        })
        .await
        .unwrap();
    assert_eq!(order_type, TransactionType::Sale);
    assert_eq!(kind, TransactionType::Sale);
    assert_eq!(order_status, OrderStatus::Complete, "orders.status COMPLETE");
    assert_eq!(purchase_status, PurchaseStatus::Active, "purchases.status ACTIVE");
    assert_eq!(
        delivery,
        InboxStatus::Waiting,
        "inbound_notifications.status waiting"
    );
}

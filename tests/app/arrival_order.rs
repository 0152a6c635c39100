//! Time, not arrival, decides: every order of arrival of one subscription's events ends in
//! the state their ClickBank time order gives, whichever event built the order.

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use diesel::prelude::*;
use merchant_crm::clickbank::TransactionType;
use merchant_crm::db::models::Plugin;
use merchant_crm::db::schema::{fulfillments, orders, plugins, purchases, transactions};
use merchant_crm::domain::orders::event::{EventCustomer, EventItem, OrderEvent};
use merchant_crm::domain::orders::{self as events, Outcome};
use merchant_crm::domain::{plugins as plugin_rules, Actor};

use crate::helpers::TestApp;

/// What a receipt's order is, as one comparable value.
#[derive(Debug, PartialEq, Eq)]
struct State {
    order: (String, String, i64, i64, bool, NaiveDateTime),
    purchases: Vec<(
        String,
        i32,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<i64>,
    )>,
    items: Vec<(i32, String)>,
    money: Vec<(String, i64)>,
}

fn event(
    kind: TransactionType,
    receipt: &str,
    time: DateTime<Utc>,
    amount: i64,
    next: Option<DateTime<Utc>>,
    processed: i32,
) -> OrderEvent {
    let address = crate::support::builders::address("1 Main St");
    OrderEvent {
        kind,
        time,
        receipt: receipt.into(),
        parent_receipt: None,
        vendor: Some("SHOP".into()),
        affiliate: None,
        payment_method: Some("VISA".into()),
        currency: "USD".into(),
        total_minor: amount,
        tax_minor: 0,
        shipping_minor: 0,
        customer: EventCustomer {
            email: "sam@example.com".into(),
            first_name: "Sam".into(),
            last_name: "Buyer".into(),
            phone: String::new(),
            billing: address.clone(),
            shipping: address,
            ship_first_name: "Sam".into(),
            ship_last_name: "Buyer".into(),
        },
        items: vec![EventItem {
            item_no: "SUB1".into(),
            title: "Monthly box".into(),
            line_item_type: "ORIGINAL".into(),
            quantity: 1,
            amount_minor: amount,
            shippable: true,
            recurring: true,
            rebill_amount_minor: Some(2999),
            next_payment: next,
            frequency: Some("MONTHLY".into()),
            payments_processed: Some(processed),
            list_status: None,
        }],
        read_at: None,
    }
}

/// SALE, BILL, CANCEL-REBILL, UNCANCEL-REBILL and a refund of the rebill, in time order, as
/// Instant Notifications carry them.
fn subscription_by_ins(receipt: &str) -> Vec<OrderEvent> {
    let t0 = Utc.with_ymd_and_hms(2026, 9, 1, 10, 0, 0).unwrap();
    let t1 = t0 + Duration::days(30);
    let t2 = t1 + Duration::days(5);
    vec![
        event(TransactionType::Sale, receipt, t0, 4999, Some(t1), 1),
        event(
            TransactionType::Bill,
            receipt,
            t1,
            2999,
            Some(t1 + Duration::days(30)),
            2,
        ),
        event(TransactionType::CancelRebill, receipt, t2, 0, None, 2),
        event(
            TransactionType::UncancelRebill,
            receipt,
            t2 + Duration::days(1),
            0,
            None,
            2,
        ),
        event(
            TransactionType::Rfnd,
            receipt,
            t2 + Duration::days(2),
            2999,
            None,
            2,
        ),
    ]
}

/// SALE, BILL and a refund that covers the sale, as the orders list carries them.
fn subscription_by_import(receipt: &str) -> Vec<OrderEvent> {
    let t0 = Utc.with_ymd_and_hms(2026, 9, 1, 10, 0, 0).unwrap();
    let t1 = t0 + Duration::days(30);
    vec![
        event(TransactionType::Sale, receipt, t0, 2999, Some(t1), 1),
        event(
            TransactionType::Bill,
            receipt,
            t1,
            2999,
            Some(t1 + Duration::days(30)),
            2,
        ),
        event(
            TransactionType::Rfnd,
            receipt,
            t1 + Duration::days(3),
            2999,
            None,
            2,
        ),
    ]
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for at in 0..=p.len() {
            let mut q = p.clone();
            q.insert(at, n - 1);
            out.push(q);
        }
    }
    out
}

async fn portal() -> (TestApp, Plugin) {
    let app = TestApp::builder().env("MERCHANT_CRM_NO_JOBS", "1").build().await;
    let secrets = merchant_crm::secrets::SecretBox::new(&app.config.master_key).unwrap();
    let plugin = app
        .db
        .run(move |c| {
            let input = plugin_rules::PluginInput::basic("ClickBank", "SHOP", "API-KEY", "SECRET").unwrap();
            let p = plugin_rules::create(c, &Actor::cli(), &secrets, &input, false)?;
            // Every item of these orders ships: no cut-off.
            diesel::update(plugins::table.find(p.id))
                .set(plugins::ship_cutoff_at.eq(None::<NaiveDateTime>))
                .execute(c)?;
            plugin_rules::find(c, p.id)
        })
        .await
        .unwrap();
    (app, plugin)
}

async fn state_of(app: &TestApp, receipt: &str) -> State {
    let receipt = receipt.to_string();
    app.db
        .read(move |c| {
            let (id, order): (i64, (String, String, i64, i64, bool, NaiveDateTime)) = orders::table
                .filter(orders::receipt.eq(&receipt))
                .select((
                    orders::id,
                    (
                        orders::order_type,
                        orders::status,
                        orders::total_minor,
                        orders::refunded_minor,
                        orders::sale_seen,
                        orders::transaction_time,
                    ),
                ))
                .first(c)?;
            let purchases = purchases::table
                .filter(purchases::order_id.eq(id))
                .order(purchases::id)
                .select((
                    purchases::status,
                    purchases::billing_cycle,
                    purchases::next_bill_date,
                    purchases::cancelled_at,
                    purchases::rebill_amount_minor,
                ))
                .load(c)?;
            let mut items: Vec<(i32, String)> = fulfillments::table
                .filter(fulfillments::order_id.eq(id))
                .select((fulfillments::cycle, fulfillments::status))
                .load(c)?;
            items.sort();
            let mut money: Vec<(String, i64)> = transactions::table
                .filter(transactions::order_id.eq(id))
                .select((transactions::kind, transactions::amount_minor))
                .load(c)?;
            money.sort();
            Ok(State {
                order,
                purchases,
                items,
                money,
            })
        })
        .await
        .unwrap()
}

/// Applies `events` in every order of arrival, each to its own receipt, and checks each
/// ends as the time order does. Gives the time order's state.
async fn every_arrival_ends_as_time_order(make: fn(&str) -> Vec<OrderEvent>, source: &'static str) -> State {
    let (app, plugin) = portal().await;
    let n = make("X").len();
    let mut want = None;
    for (i, order) in permutations(n).into_iter().enumerate() {
        let receipt = format!("{source}{i:03}").to_uppercase();
        let evs = make(&receipt);
        let arriving: Vec<OrderEvent> = order.iter().map(|&k| evs[k].clone()).collect();
        let p = plugin.clone();
        app.db
            .run(move |c| {
                for ev in &arriving {
                    let out = events::apply(c, &p, ev, source)?;
                    assert!(
                        matches!(out, Outcome::Applied { .. } | Outcome::SaleNotSeen { .. }),
                        "{out:?}"
                    );
                }
                Ok(())
            })
            .await
            .unwrap();
        let got = state_of(&app, &receipt).await;
        match &want {
            None => want = Some(got),
            Some(w) => assert_eq!(&got, w, "arrival order {order:?} of {receipt}"),
        }
    }
    want.unwrap()
}

#[actix_web::test]
async fn every_order_of_arrival_of_a_subscriptions_notifications_ends_as_their_time_order() {
    let s = every_arrival_ends_as_time_order(subscription_by_ins, "ins").await;
    // The time order: the refund of the rebill is the newest event, so the subscription is
    // cancelled at its time; the cycle and next bill date are the rebill's.
    let t0 = Utc.with_ymd_and_hms(2026, 9, 1, 10, 0, 0).unwrap();
    let refund_at = (t0 + Duration::days(37)).naive_utc();
    assert_eq!(
        s.purchases,
        [(
            "CANCELLED".to_string(),
            2,
            Some((t0 + Duration::days(60)).naive_utc()),
            Some(refund_at),
            Some(2999)
        )]
    );
    assert_eq!(
        s.order,
        ("SALE".into(), "COMPLETE".into(), 4999, 2999, true, t0.naive_utc())
    );
    assert_eq!(s.items, [(1, "HOLD".into()), (2, "HOLD".into())]);
    assert_eq!(
        s.money,
        [
            ("BILL".into(), 2999),
            ("RFND".into(), 2999),
            ("SALE".into(), 4999)
        ]
    );
}

#[actix_web::test]
async fn every_order_of_arrival_of_imported_records_ends_as_their_time_order() {
    let s = every_arrival_ends_as_time_order(subscription_by_import, "import").await;
    // The refund covers the sale: the order is refunded and nothing of it ships.
    assert_eq!(s.order.1, "REFUNDED");
    assert_eq!(s.items, [(1, "CANCELLED".into()), (2, "CANCELLED".into())]);
    assert_eq!(s.purchases[0].0, "CANCELLED");
}

#[actix_web::test]
async fn an_original_and_a_bump_of_the_same_sku_are_two_items_of_one_order() {
    let (app, plugin) = portal().await;
    let t0 = Utc.with_ymd_and_hms(2026, 9, 1, 10, 0, 0).unwrap();
    let mut sale = event(TransactionType::Sale, "SAMESKU1", t0, 7998, None, 1);
    let mut bump = sale.items[0].clone();
    bump.line_item_type = "BUMP".into();
    bump.recurring = false;
    sale.items[0].recurring = false;
    sale.items.push(bump);
    let p = plugin.clone();
    let out = app
        .db
        .run(move |c| events::apply(c, &p, &sale, "import"))
        .await
        .unwrap();
    assert!(matches!(out, Outcome::Applied { .. }), "{out:?}");
    let (items, shipped) = app
        .db
        .read(|c| {
            use merchant_crm::db::schema::order_items;
            let items: Vec<(String, String)> = order_items::table
                .inner_join(orders::table)
                .filter(orders::receipt.eq("SAMESKU1"))
                .order(order_items::id)
                .select((order_items::item_no, order_items::line_item_type))
                .load(c)?;
            let shipped: Vec<i64> = fulfillments::table
                .inner_join(orders::table)
                .filter(orders::receipt.eq("SAMESKU1"))
                .select(fulfillments::order_item_id)
                .load(c)?;
            Ok((items, shipped))
        })
        .await
        .unwrap();
    assert_eq!(
        items,
        [("SUB1".into(), "ORIGINAL".into()), ("SUB1".into(), "BUMP".into())]
    );
    assert_eq!(shipped.len(), 2, "each line item ships as its own item");
    assert_ne!(shipped[0], shipped[1]);
}

//! Orders whose line items share a SKU (an ORIGINAL and a BUMP of one product, a cart with it
//! twice), as real accounts have them: imported from a sandbox that makes them, each is whole
//! (both items, their amounts), the sums per campaign equal ClickBank's to the cent, and a
//! refund of one of the two lines pays back that line and keeps the order.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::Duration as Days;
use diesel::prelude::*;
use merchant_crm::clickbank::sandbox::TruthTransaction;
use merchant_crm::clickbank::time::pacific_date;
use merchant_crm::clickbank::{format_minor, Sandbox, SandboxConfig, SandboxHandle, TransactionType};
use merchant_crm::db::models::TaskState;
use merchant_crm::db::schema::{campaigns, fulfillments, order_items, orders, transactions};
use merchant_crm::domain::sync::imports::{self, clickbank_today};
use merchant_crm::domain::{plugins, Actor};

use crate::helpers::TestApp;
use crate::imports::{portal_totals, truth_totals};
use crate::support::clickbank::{admin_with_ins_user, import_ctx, ins_url};

const DAYS: u32 = 20;

/// SALEs of the last `days` whose two line items share a SKU.
fn same_sku_sales(sb: &SandboxHandle, days: i64) -> Vec<TruthTransaction> {
    let start = clickbank_today() - Days::days(days - 1);
    sb.transactions()
        .into_iter()
        .filter(|t| t.transaction_type == TransactionType::Sale && pacific_date(t.time) >= start)
        .filter(|t| t.items.len() == 2 && t.items[0].sku == t.items[1].sku)
        .collect()
}

/// (campaign, type) → sum of what the portal holds.
async fn portal_per_campaign(app: &TestApp) -> BTreeMap<(String, String), i64> {
    let rows: Vec<(String, String, i64)> = app
        .db
        .read(|c| {
            Ok(transactions::table
                .inner_join(orders::table.inner_join(campaigns::table))
                .select((campaigns::name, transactions::kind, transactions::amount_minor))
                .load(c)?)
        })
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for (campaign, kind, amount) in rows {
        *out.entry((campaign, kind)).or_insert(0) += amount.abs();
    }
    out
}

/// (receipt's order id, customer id, status, refunded) of `receipt`.
async fn order_of(app: &TestApp, receipt: &str) -> (i64, i64, String, i64) {
    let receipt = receipt.to_string();
    app.db
        .read(move |c| {
            Ok(orders::table
                .filter(orders::receipt.eq(&receipt))
                .select((
                    orders::id,
                    orders::customer_id,
                    orders::status,
                    orders::refunded_minor,
                ))
                .first(c)?)
        })
        .await
        .unwrap()
}

/// (SKU, line item type, amount) of the items of order `id`, in the order they were made.
async fn items_of(app: &TestApp, id: i64) -> Vec<(String, String, i64)> {
    app.db
        .read(move |c| {
            Ok(order_items::table
                .filter(order_items::order_id.eq(id))
                .order(order_items::id)
                .select((
                    order_items::item_no,
                    order_items::line_item_type,
                    order_items::amount_minor,
                ))
                .load(c)?)
        })
        .await
        .unwrap()
}

fn truth_items(t: &TruthTransaction) -> Vec<(String, String, i64)> {
    t.items
        .iter()
        .map(|i| (i.sku.clone(), i.line_type.as_str().to_string(), i.customer_minor))
        .collect()
}

#[actix_web::test]
async fn an_import_of_same_sku_orders_keeps_both_items_and_the_sums_and_one_line_can_be_refunded() {
    let sb = Sandbox::start(SandboxConfig {
        bind: "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        orders: 400,
        days: DAYS,
        same_sku_bumps: 25,
        partial_refunds: true,
        ticket_delay: Duration::from_secs(3_600),
        ..Default::default()
    })
    .unwrap();
    let app = TestApp::builder()
        .env("CLICKBANK_API_BASE", &sb.base_url())
        .env("MERCHANT_CRM_NO_JOBS", "1")
        .build()
        .await;
    admin_with_ins_user(&app).await;
    let c = import_ctx(&app, &sb);
    let days = i64::from(DAYS);
    let secrets = c.job.secrets.clone();
    let input = plugins::PluginInput::basic("ClickBank", sb.site(), sb.api_key(), sb.secret_key()).unwrap();
    let id = app
        .db
        .run(move |conn| {
            let pid = plugins::create(conn, &Actor::cli(), &secrets, &input, false)?.id;
            Ok(imports::start_initial(conn, &Actor::cli(), pid, days as i32, None)?.id)
        })
        .await
        .unwrap();
    loop {
        if !imports::run_task(&c, id, "runner", 50).await.unwrap().more {
            break;
        }
    }
    let task = app.db.read(move |conn| imports::find(conn, id)).await.unwrap();
    assert_eq!(task.state, TaskState::Done, "{:?}", task.last_error);
    assert_eq!(task.errors, 0);

    // Every same-SKU order is whole: both items with their own amounts, the total, and one
    // fulfillment item per shippable line.
    let sales = same_sku_sales(&sb, days);
    assert!(sales.len() >= 5, "{} same-SKU sales in the window", sales.len());
    let physical: Vec<String> = sb
        .products()
        .into_iter()
        .filter(|p| p.physical)
        .map(|p| p.sku)
        .collect();
    for t in &sales {
        let receipt = t.receipt.clone().unwrap();
        let (oid, ..) = order_of(&app, &receipt).await;
        assert_eq!(items_of(&app, oid).await, truth_items(t), "{receipt}");
        let total: i64 = app
            .db
            .read(move |c| Ok(orders::table.find(oid).select(orders::total_minor).first(c)?))
            .await
            .unwrap();
        assert_eq!(total, t.total_minor, "{receipt}");
        let shipped: i64 = app
            .db
            .read(move |c| {
                Ok(fulfillments::table
                    .filter(fulfillments::order_id.eq(oid))
                    .count()
                    .get_result(c)?)
            })
            .await
            .unwrap();
        let ships = t.items.iter().filter(|i| physical.contains(&i.sku)).count() as i64;
        assert_eq!(shipped, ships, "{receipt}: one item per shippable line");
    }

    // The sums per campaign (one per currency of the plugin) and type equal ClickBank's.
    assert_eq!(portal_totals(&app).await, truth_totals(&sb, days));
    let per_campaign = |sb: &SandboxHandle| -> BTreeMap<(String, String), i64> {
        truth_totals(sb, days)
            .into_iter()
            .map(|((cur, kind), (_, sum))| ((format!("ClickBank_{cur}"), kind), sum))
            .collect()
    };
    assert_eq!(portal_per_campaign(&app).await, per_campaign(&sb));

    // Staff refund one of the two lines (its SKU, that line's amount): ClickBank's RFND pays
    // back that line, the order keeps its other line and is not refunded in full.
    sb.set_notify_url(Some(ins_url(&app)));
    let touched: Vec<String> = sb
        .transactions()
        .into_iter()
        .filter(|x| x.transaction_type != TransactionType::Sale)
        .filter_map(|x| x.receipt)
        .collect();
    let t = sales
        .iter()
        .find(|t| !touched.contains(t.receipt.as_ref().unwrap()))
        .expect("a same-SKU sale without refunds");
    let receipt = t.receipt.clone().unwrap();
    let (oid, customer, status, _) = order_of(&app, &receipt).await;
    assert_eq!(status, "COMPLETE");
    let second = t.items[1].customer_minor;
    let form = format!("/customers/{customer}/orders/{oid}/refund");
    let amount = format_minor(second, &t.currency);
    let r = app
        .post_form(
            &form,
            &form,
            &[
                ("refund_type", "PARTIAL_AMOUNT"),
                ("amount", &amount),
                ("reason", "ticket.type.refund.8"),
                ("sku", &t.items[1].sku),
                ("comment", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(sb.process_tickets_now(), 1, "one ticket at ClickBank");
    let mut refunded = 0;
    for _ in 0..100 {
        app.settle().await;
        refunded = order_of(&app, &receipt).await.3;
        if refunded != 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(refunded, second, "{receipt}: the line's amount is paid back");
    let (_, _, status, _) = order_of(&app, &receipt).await;
    assert_ne!(status, "REFUNDED", "the other line is kept");
    assert_eq!(items_of(&app, oid).await, truth_items(t));
    let rfnd = sb
        .transactions()
        .into_iter()
        .find(|x| x.receipt.as_deref() == Some(&receipt) && x.transaction_type == TransactionType::Rfnd)
        .unwrap();
    assert_eq!(rfnd.items.len(), 1);
    assert_eq!(rfnd.items[0].line_type, t.items[1].line_type);
    assert_eq!(portal_totals(&app).await, truth_totals(&sb, days));
    assert_eq!(portal_per_campaign(&app).await, per_campaign(&sb));
}

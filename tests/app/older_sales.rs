//! Events of sales the CRM has not seen (rebills, refunds and cancellations of subscribers
//! older than the import's window or the plugin's connection) land on an order at once,
//! marked "sale not seen yet"; the background look-up then adds the original SALE through
//! the same code as a new sale, and a 403 means "try later".

use std::net::SocketAddr;

use chrono::Duration as Days;
use diesel::prelude::*;
use merchant_crm::clickbank::time::pacific_date;
use merchant_crm::clickbank::{LineItemStatus, Sandbox, SandboxConfig, SandboxHandle, TransactionType};
use merchant_crm::db::models::{PurchaseStatus, TaskState};
use merchant_crm::db::schema::{fulfillments, orders, pending_events, sale_lookups, transactions};
use merchant_crm::domain::context::JobContext;
use merchant_crm::domain::customer_service::customers;
use merchant_crm::domain::sync::imports::{self, clickbank_today};
use merchant_crm::domain::sync::sale_lookups as lookups;
use merchant_crm::domain::{plugins, Actor};

use crate::helpers::TestApp;
use crate::imports::{portal_totals, truth_totals};
use crate::support::clickbank::{activate, import_ctx, ins_url};

const DAYS: u32 = 20;

/// A sandbox where 40% of the subscription sales were made before its 20 listed days.
async fn sandbox_with_older_subscribers() -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        bind: "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        orders: 300,
        days: DAYS,
        older_subscriptions: 40,
        ..Default::default()
    })
    .unwrap()
}

/// Receipts whose SALE is older than the last `days` (ClickBank's days) and that have an
/// event of `kind` within them.
fn older_receipts_with(sb: &SandboxHandle, days: i64, kind: &TransactionType) -> Vec<String> {
    let start = clickbank_today() - Days::days(days - 1);
    let truth = sb.transactions();
    let sold_before = |r: &str| {
        truth.iter().any(|t| {
            t.receipt.as_deref() == Some(r)
                && t.transaction_type == TransactionType::Sale
                && pacific_date(t.time) < start
        })
    };
    let mut out: Vec<String> = truth
        .iter()
        .filter(|t| &t.transaction_type == kind && pacific_date(t.time) >= start)
        .filter_map(|t| t.receipt.clone())
        .filter(|r| sold_before(r))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Makes every queued look-up due now and runs rounds until none is left due.
async fn run_lookups(job: &JobContext) -> usize {
    job.db
        .run(|c| {
            let earlier = merchant_crm::domain::now() - Days::seconds(1);
            diesel::update(sale_lookups::table)
                .set(sale_lookups::next_attempt_at.eq(earlier))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let mut added = 0;
    loop {
        let n = lookups::run_due(job).await.unwrap().added;
        added += n;
        let due = job
            .db
            .read(|c| {
                Ok(sale_lookups::table
                    .filter(sale_lookups::next_attempt_at.le(merchant_crm::domain::now()))
                    .count()
                    .get_result::<i64>(c)?)
            })
            .await
            .unwrap();
        if due == 0 {
            return added;
        }
    }
}

/// (receipt, sale seen) of every order.
async fn orders_seen(app: &TestApp) -> Vec<(String, bool)> {
    app.db
        .read(|c| {
            Ok(orders::table
                .select((orders::receipt, orders::sale_seen))
                .order(orders::receipt)
                .load(c)?)
        })
        .await
        .unwrap()
}

#[actix_web::test]
async fn an_import_puts_every_event_of_older_sales_on_an_order_and_reads_their_sales_later() {
    let sb = sandbox_with_older_subscribers().await;
    let app = TestApp::builder()
        .env("CLICKBANK_API_BASE", &sb.base_url())
        .env("MERCHANT_CRM_NO_JOBS", "1")
        .build()
        .await;
    app.setup_admin().await;
    let c = import_ctx(&app, &sb);
    let days = i64::from(DAYS) - 5;
    let secrets = c.job.secrets.clone();
    let input = plugins::PluginInput::basic("ClickBank", sb.site(), sb.api_key(), sb.secret_key()).unwrap();
    let (id, products) = app
        .db
        .run(move |conn| {
            let pid = plugins::create(conn, &Actor::cli(), &secrets, &input, false)?.id;
            let products = imports::start_products(conn, &Actor::cli(), pid)?.id;
            let orders = imports::start_initial(conn, &Actor::cli(), pid, days as i32, Some(days as i32))?.id;
            Ok((orders, products))
        })
        .await
        .unwrap();
    imports::run_task(&c, products, "runner", 1).await.unwrap();
    loop {
        let r = imports::run_task(&c, id, "runner", 50).await.unwrap();
        if !r.more {
            break;
        }
    }
    let task = app.db.read(move |conn| imports::find(conn, id)).await.unwrap();
    assert_eq!(task.state, TaskState::Done, "{:?}", task.last_error);
    assert_eq!(task.errors, 0);

    // Nothing is parked: every rebill, refund and chargeback of the window is on an order
    // with its transaction, and the sums per currency and type equal ClickBank's.
    let parked: i64 = app
        .db
        .read(|c| Ok(pending_events::table.count().get_result(c)?))
        .await
        .unwrap();
    assert_eq!(parked, 0);
    assert_eq!(portal_totals(&app).await, truth_totals(&sb, days));
    let older = older_receipts_with(&sb, days, &TransactionType::Bill);
    assert!(
        older.len() >= 3,
        "the sandbox has rebills of older sales: {older:?}"
    );
    let unseen: Vec<String> = orders_seen(&app)
        .await
        .into_iter()
        .filter(|(_, seen)| !seen)
        .map(|(r, _)| r)
        .collect();
    for r in &older {
        assert!(
            unseen.contains(r),
            "{r}'s rebill is on an order marked 'sale not seen yet'"
        );
    }
    assert!(task.awaiting_sale > 0, "counted apart from the imported records");
    assert!(task.imported > 0);

    // The import task, the dashboard and Customer Service say so.
    let page = app.get_text(&format!("/admin/import-tasks/{id}")).await;
    assert!(page.contains("id=\"awaiting-sale\""), "{page}");
    let shown = format!("<span id=\"task-awaiting-sale\">{}</span>", task.awaiting_sale);
    assert!(page.contains(&shown), "{shown} in {page}");
    let dashboard = app.get_text("/").await;
    assert!(
        dashboard.contains(&format!("<strong>{}</strong> orders built", unseen.len())),
        "{dashboard}"
    );
    let found = app
        .get_text(&format!("/customer-service?receipt={}", older[0]))
        .await;
    assert!(
        found.contains(&older[0]) && found.contains("sale not seen yet"),
        "{found}"
    );

    // The look-ups add each original SALE, through the same code as a new sale.
    let added = run_lookups(&c.job).await;
    assert_eq!(added, unseen.len());
    assert!(orders_seen(&app).await.iter().all(|(_, seen)| *seen));
    let truth = sb.transactions();
    for r in &unseen {
        let want = truth
            .iter()
            .find(|t| t.receipt.as_deref() == Some(r.as_str()) && t.transaction_type == TransactionType::Sale)
            .unwrap();
        let receipt = r.clone();
        let (total, sales, first_items, paid): (i64, Vec<(i64, String)>, Vec<String>, i64) = app
            .db
            .read(move |c| {
                let (oid, total): (i64, i64) = orders::table
                    .filter(orders::receipt.eq(&receipt))
                    .select((orders::id, orders::total_minor))
                    .first(c)?;
                let sales = transactions::table
                    .filter(transactions::order_id.eq(oid))
                    .filter(transactions::kind.eq("SALE"))
                    .select((transactions::amount_minor, transactions::source))
                    .load(c)?;
                let items = fulfillments::table
                    .filter(fulfillments::order_id.eq(oid))
                    .filter(fulfillments::cycle.eq(1))
                    .select(fulfillments::status)
                    .load(c)?;
                use merchant_crm::db::schema::order_items;
                let paid: Vec<i64> = order_items::table
                    .filter(order_items::order_id.eq(oid))
                    .select(order_items::amount_minor)
                    .load(c)?;
                Ok((total, sales, items, paid.iter().sum()))
            })
            .await
            .unwrap();
        assert_eq!(total, want.total_minor.abs(), "{r}");
        assert!(
            paid > 0,
            "{r}: the lines carry the sale's amounts, not the later event's"
        );
        assert_eq!(sales, [(want.total_minor.abs(), "lookup".to_string())], "{r}");
        // Sold before the cut-off: its items never go to a house.
        assert!(first_items.iter().all(|s| s == "SHIPPED"), "{r}: {first_items:?}");
    }
    let waiting = app.db.read(|c| lookups::waiting(c, None)).await.unwrap();
    assert_eq!(waiting.orders, 0);

    // The orders list has no cancel types: each line's status, read with the record, is the
    // subscription's state then. Every subscription is in ClickBank's state and shows the
    // product's rebill frequency (the records carry none; the product import does).
    let subs: Vec<(String, String, PurchaseStatus, i64)> = app
        .db
        .read(|c| {
            use merchant_crm::db::schema::{order_items, purchases};
            Ok(purchases::table
                .inner_join(orders::table.on(orders::id.eq(purchases::order_id)))
                .inner_join(order_items::table)
                .select((
                    orders::receipt,
                    order_items::item_no,
                    purchases::status,
                    purchases::id,
                ))
                .load(c)?)
        })
        .await
        .unwrap();
    assert!(subs.len() > 10);
    let mut cancelled = 0;
    for (receipt, sku, status, id) in &subs {
        let truth = sb.subscriptions(receipt);
        let want = truth.iter().find(|t| &t.sku == sku).unwrap();
        match want.status {
            LineItemStatus::Canceled => {
                cancelled += 1;
                assert_eq!(*status, PurchaseStatus::Cancelled, "{receipt} {sku}");
            }
            LineItemStatus::Active => assert!(status.is_running(), "{receipt} {sku}: {status}"),
            _ => {}
        }
        let id = *id;
        let p = app.db.read(move |c| customers::purchase(c, id)).await.unwrap();
        assert!(
            p.frequency().is_some(),
            "{receipt} {sku} shows how often it rebills"
        );
    }
    assert!(cancelled > 0, "the sandbox has cancelled subscriptions");

    // A trial is the first payment of a product whose ClickBank pricing has trial days, until
    // the first rebill.
    let trials: Vec<(String, PurchaseStatus, i64)> = app
        .db
        .read(|c| {
            use merchant_crm::db::schema::{order_items, products, purchases};
            Ok(purchases::table
                .inner_join(orders::table.on(orders::id.eq(purchases::order_id)))
                .inner_join(order_items::table)
                .inner_join(products::table)
                .filter(products::trial_days.gt(0))
                .select((orders::receipt, purchases::status, orders::id))
                .load(c)?)
        })
        .await
        .unwrap();
    assert!(!trials.is_empty(), "the sandbox sells a product with a trial");
    let mut in_trial = 0;
    for (receipt, status, oid) in trials {
        let rebilled: i64 = app
            .db
            .read(move |c| {
                Ok(transactions::table
                    .filter(transactions::order_id.eq(oid))
                    .filter(transactions::kind.eq("BILL"))
                    .count()
                    .get_result(c)?)
            })
            .await
            .unwrap();
        match status {
            PurchaseStatus::Trial => {
                in_trial += 1;
                assert_eq!(rebilled, 0, "{receipt} was rebilled: no longer a trial");
            }
            PurchaseStatus::Active => assert!(rebilled > 0, "{receipt}: a trial until its first rebill"),
            PurchaseStatus::Cancelled => {}
        }
    }
    assert!(in_trial > 0, "some subscriptions are in their trial");
    let found = app.get_text("/customer-service?purchase=TRIAL").await;
    assert!(
        found.contains("TRIAL") || found.contains("Trial"),
        "the TRIAL filter finds them: {found}"
    );
}

#[actix_web::test]
async fn rebills_of_old_subscribers_by_ins_land_at_once_and_a_403_means_try_later() {
    let sb = sandbox_with_older_subscribers().await;
    let app = crate::support::clickbank::portal_for(&sb).await;
    activate(&app, "ClickBank", &sb, sb.secret_key(), false).await;
    let job = import_ctx(&app, &sb).job;
    let older = older_receipts_with(&sb, i64::from(DAYS), &TransactionType::Bill);
    let picked: Vec<String> = older.into_iter().take(3).collect();
    assert_eq!(picked.len(), 3);
    for r in &picked {
        let bill = sb.ins_for(r, &TransactionType::Bill).unwrap();
        assert_eq!(sb.post_event(&ins_url(&app), &bill).await.unwrap(), 200);
    }
    app.settle().await;
    let seen = orders_seen(&app).await;
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|(_, s)| !s), "{seen:?}");
    let page = app.get_text("/admin/notifications").await;
    assert!(page.contains("id=\"awaiting-sale\""), "{page}");
    assert!(!page.contains("status-waiting"), "nothing waits: {page}");

    // ClickBank answers 403 (rate limited): the orders stay marked, the look-ups wait.
    sb.rate_limit_next(1_000);
    assert_eq!(run_lookups(&job).await, 0);
    let waiting = app.db.read(|c| lookups::waiting(c, None)).await.unwrap();
    assert_eq!((waiting.orders, waiting.retrying), (3, 3));
    assert!(waiting.last_error.unwrap_or_default().contains("403"));
    assert!(orders_seen(&app).await.iter().all(|(_, s)| !s));
    let dashboard = app.get_text("/").await;
    assert!(dashboard.contains("id=\"awaiting-sale-retrying\""), "{dashboard}");

    // Once ClickBank answers, the sales are added and nothing is left waiting.
    sb.rate_limit_next(0);
    run_lookups(&job).await;
    assert!(orders_seen(&app).await.iter().all(|(_, s)| *s));
    // The plugin was connected today: sales made before never ship.
    let first_items: Vec<String> = app
        .db
        .read(|c| {
            Ok(fulfillments::table
                .filter(fulfillments::cycle.eq(1))
                .select(fulfillments::status)
                .load(c)?)
        })
        .await
        .unwrap();
    assert!(first_items.iter().all(|s| s == "SHIPPED"), "{first_items:?}");
}

#[actix_web::test]
async fn look_ups_keep_to_the_daily_budget_the_account_executive_sets_and_the_plugin_page_shows_the_split() {
    let sb = sandbox_with_older_subscribers().await;
    let app = crate::support::clickbank::portal_for(&sb).await;
    activate(&app, "ClickBank", &sb, sb.secret_key(), false).await;
    let job = import_ctx(&app, &sb).job;
    for r in older_receipts_with(&sb, i64::from(DAYS), &TransactionType::Bill)
        .iter()
        .take(3)
    {
        let bill = sb.ins_for(r, &TransactionType::Bill).unwrap();
        assert_eq!(sb.post_event(&ins_url(&app), &bill).await.unwrap(), 200);
    }
    app.settle().await;
    let pid: i64 = app.db.read(|c| Ok(plugins::list(c)?[0].id)).await.unwrap();
    let page = format!("/admin/plugins/{pid}");
    let r = app
        .post_form(&page, &format!("{page}/lookup-budget"), &[("lookup_budget", "1")])
        .await;
    assert_eq!(r.status(), 303);
    run_lookups(&job).await;
    let seen = orders_seen(&app).await;
    assert_eq!(
        seen.iter().filter(|(_, s)| *s).count(),
        1,
        "one look-up fits the budget: {seen:?}"
    );
    let waiting = app.db.read(|c| lookups::waiting(c, None)).await.unwrap();
    assert_eq!((waiting.orders, waiting.over_budget), (2, 2));
    let shown = app.get_text(&page).await;
    assert!(shown.contains("Daily budget of look-ups saved."), "{shown}");
    assert!(
        shown.contains("<tr data-purpose=\"lookup\"><td>look-ups of sales not seen yet</td><td class=\"num\">1</td></tr>"),
        "{shown}"
    );
    let audit = app.get_text("/admin/audit").await;
    assert!(audit.contains("plugin.lookup_budget"), "{audit}");
    let dashboard = app.get_text("/").await;
    assert!(dashboard.contains("id=\"awaiting-sale-budget\""), "{dashboard}");
}

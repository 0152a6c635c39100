//! The Instant Notification route end to end: the in-process ClickBank sandbox encrypts
//! events and POSTs them to a running portal, exactly as ClickBank does.

use diesel::prelude::*;
use merchant_crm::clickbank::sandbox::SandboxEvent;
use merchant_crm::clickbank::{Sandbox, SandboxConfig, SandboxHandle, TransactionType};
use merchant_crm::db::schema::{campaigns, inbound_notifications, orders, partials, purchases, transactions};

use crate::helpers::TestApp;

// The INS fixtures other stories use too live in `support::clickbank`; re-exported under their
// old path (`crate::ins::…`) for tests written against it.
pub use crate::support::clickbank::{
    activate, ins_url, portal_for, sandbox, sandbox_config, INS_LOGIN, INS_PASSWORD,
};

async fn post(sb: &SandboxHandle, app: &TestApp, ev: &SandboxEvent) {
    assert_eq!(
        sb.post_event(&ins_url(app), ev).await.unwrap(),
        200,
        "{}",
        ev.plaintext
    );
    app.settle().await;
}

/// The inbox statuses of `receipt`, oldest first.
async fn inbox_statuses(app: &TestApp, receipt: &str) -> Vec<(String, String)> {
    let r = receipt.to_string();
    app.db
        .run(move |c| {
            Ok(inbound_notifications::table
                .filter(inbound_notifications::receipt.eq(r))
                .order(inbound_notifications::id.asc())
                .select((
                    inbound_notifications::transaction_type.assume_not_null(),
                    inbound_notifications::status,
                ))
                .load::<(String, String)>(c)?)
        })
        .await
        .unwrap()
}

async fn order_of(app: &TestApp, receipt: &str) -> Option<(i64, String, i64, i64)> {
    let r = receipt.to_string();
    app.db
        .run(move |c| {
            Ok(orders::table
                .filter(orders::receipt.eq(r))
                .select((
                    orders::id,
                    orders::status,
                    orders::total_minor,
                    orders::refunded_minor,
                ))
                .first(c)
                .optional()?)
        })
        .await
        .unwrap()
}

async fn count(
    app: &TestApp,
    f: impl FnOnce(&mut merchant_crm::db::DbConn) -> QueryResult<i64> + Send + 'static,
) -> i64 {
    app.db.run(move |c| Ok(f(c)?)).await.unwrap()
}

#[actix_web::test]
async fn every_event_type_lands_where_it_belongs() {
    let sb = sandbox().await;
    let app = portal_for(&sb).await;
    assert_eq!(
        activate(&app, "ClickBank", &sb, sb.secret_key(), false)
            .await
            .status(),
        303
    );

    // SALE: order, customer, campaign ClickBank_<CUR>, items, transaction.
    let sale = sb.create_event(&TransactionType::Sale);
    post(&sb, &app, &sale).await;
    let receipt = sale.receipt.clone().unwrap();
    let (order_id, status, total, _) = order_of(&app, &receipt).await.expect("sale became an order");
    assert_eq!(status, "COMPLETE");
    assert!(total > 0);
    let note = sale.notification().unwrap();
    let cur = note.currency.clone().unwrap();
    let names: Vec<String> = app
        .db
        .run(|c| Ok(campaigns::table.select(campaigns::name).load(c)?))
        .await
        .unwrap();
    assert!(names.contains(&format!("ClickBank_{cur}")), "{names:?}");
    assert_eq!(
        inbox_statuses(&app, &receipt).await,
        vec![("SALE".into(), "processed".into())]
    );

    // BILL on a subscription: a rebill transaction and the cycle counted.
    let bill = sb.create_event(&TransactionType::Bill);
    let bill_receipt = bill.receipt.clone().unwrap();
    let parent = sb
        .ins_for(&bill_receipt, &TransactionType::Sale)
        .expect("the rebilled sale");
    post(&sb, &app, &parent).await;
    post(&sb, &app, &bill).await;
    let (bill_order, ..) = order_of(&app, &bill_receipt).await.expect("rebilled order");
    let bills = count(&app, move |c| {
        transactions::table
            .filter(transactions::order_id.eq(bill_order))
            .filter(transactions::kind.eq("BILL"))
            .count()
            .get_result(c)
    })
    .await;
    assert!(bills >= 1);
    let cycle: i32 = app
        .db
        .run(move |c| {
            Ok(purchases::table
                .filter(purchases::order_id.eq(bill_order))
                .select(purchases::billing_cycle)
                .first(c)?)
        })
        .await
        .unwrap();
    assert!(cycle >= 2, "cycle {cycle}");

    // CANCEL-REBILL then UNCANCEL-REBILL on the same subscription.
    for (kind, expect) in [
        (TransactionType::CancelRebill, "CANCELLED"),
        (TransactionType::UncancelRebill, "ACTIVE"),
    ] {
        let ev = sb.create_event(&kind);
        let r = ev.receipt.clone().unwrap();
        if order_of(&app, &r).await.is_none() {
            post(&sb, &app, &sb.ins_for(&r, &TransactionType::Sale).unwrap()).await;
        }
        post(&sb, &app, &ev).await;
        let (oid, ..) = order_of(&app, &r).await.unwrap();
        let st: String = app
            .db
            .run(move |c| {
                Ok(purchases::table
                    .filter(purchases::order_id.eq(oid))
                    .select(purchases::status)
                    .first(c)?)
            })
            .await
            .unwrap();
        assert_eq!(st, expect, "{kind}");
    }

    // RFND and CGBK: refunded money, the order REFUNDED when all of it went back.
    for kind in [TransactionType::Rfnd, TransactionType::Cgbk] {
        let ev = sb.create_event(&kind);
        let r = ev.receipt.clone().unwrap();
        if order_of(&app, &r).await.is_none() {
            post(&sb, &app, &sb.ins_for(&r, &TransactionType::Sale).unwrap()).await;
        }
        post(&sb, &app, &ev).await;
        let (_, status, total, refunded) = order_of(&app, &r).await.unwrap();
        assert!(refunded > 0, "{kind}: refund recorded");
        if refunded >= total {
            assert_eq!(status, "REFUNDED");
        }
    }

    // ABANDONED_ORDER: a partial.
    post(&sb, &app, &sb.create_event(&TransactionType::AbandonedOrder)).await;
    let n = count(&app, |c| partials::table.count().get_result(c)).await;
    let inbox = app.get_text("/admin/notifications?type=ABANDONED_ORDER").await;
    assert_eq!(n, 1, "{inbox}");
    let listed = |page: &str| page.matches("<code>ABANDONED_ORDER</code>").count();
    assert_eq!(listed(&inbox), 1, "the type filter lists the delivery");
    let any_case = app.get_text("/admin/notifications?type=abandoned_order").await;
    assert_eq!(listed(&any_case), 1, "the type filter takes any case");

    // TEST (the Test URL button) and TEST_SALE when test transactions are not included: logged only.
    for kind in [TransactionType::Test, TransactionType::TestSale] {
        post(&sb, &app, &sb.create_event(&kind)).await;
    }
    let ignored = count(&app, |c| {
        inbound_notifications::table
            .filter(inbound_notifications::status.eq("ignored"))
            .count()
            .get_result(c)
    })
    .await;
    assert_eq!(ignored, 2);
    let test_orders = count(&app, |c| {
        orders::table
            .filter(orders::order_type.like("TEST%"))
            .count()
            .get_result(c)
    })
    .await;
    assert_eq!(test_orders, 0);
    let _ = order_id;
}

#[actix_web::test]
async fn duplicates_change_nothing_and_a_refund_before_its_sale_lands_on_an_order_at_once() {
    let sb = sandbox().await;
    let app = portal_for(&sb).await;
    activate(&app, "ClickBank", &sb, sb.secret_key(), false).await;

    let sale = sb.create_event(&TransactionType::Sale);
    post(&sb, &app, &sale).await;
    post(&sb, &app, &sale).await;
    let r = sale.receipt.clone().unwrap();
    let n = count(&app, |c| orders::table.count().get_result(c)).await;
    assert_eq!(n, 1, "the same sale twice is one order");
    assert_eq!(
        inbox_statuses(&app, &r).await,
        vec![
            ("SALE".into(), "processed".into()),
            ("SALE".into(), "duplicate".into())
        ]
    );

    // A refund that arrives before its sale lands on an order built from it at once; the
    // sale then completes that order.
    // The URL pasted without its trailing slash works too (no CSRF check on machine routes).
    let other = sb.create_event(&TransactionType::Sale);
    let no_slash = app.url(&format!(
        "/clickbank?loginId={INS_LOGIN}&password={}",
        INS_PASSWORD.replace(' ', "%20")
    ));
    assert_eq!(sb.post_event(&no_slash, &other).await.unwrap(), 200);
    app.settle().await;
    assert!(order_of(&app, other.receipt.as_deref().unwrap()).await.is_some());

    let rfnd = sb.create_event(&TransactionType::Rfnd);
    let rr = rfnd.receipt.clone().unwrap();
    assert!(order_of(&app, &rr).await.is_none());
    post(&sb, &app, &rfnd).await;
    assert_eq!(
        inbox_statuses(&app, &rr).await,
        vec![("RFND".into(), "processed".into())]
    );
    let (early, _, total, refunded) = order_of(&app, &rr).await.unwrap();
    assert!(refunded > 0, "the refund is applied at once");
    assert_eq!(total, 0, "no sale money until the sale is seen");
    let page = app.get_text("/admin/notifications").await;
    assert!(page.contains("id=\"awaiting-sale\""), "{page}");
    post(&sb, &app, &sb.ins_for(&rr, &TransactionType::Sale).unwrap()).await;
    let (oid, _, total, refunded_after) = order_of(&app, &rr).await.unwrap();
    assert_eq!(oid, early, "the sale completes the same order");
    assert!(total > 0 && refunded_after == refunded);
    let waiting = app
        .db
        .read(|c| merchant_crm::domain::sync::sale_lookups::waiting(c, None))
        .await
        .unwrap();
    assert_eq!(waiting.orders, 0, "the sale's arrival ends the look-up");
    assert_eq!(
        inbox_statuses(&app, &rr).await,
        vec![
            ("RFND".into(), "processed".into()),
            ("SALE".into(), "processed".into())
        ]
    );
    let refunds = count(&app, move |c| {
        transactions::table
            .filter(transactions::order_id.eq(oid))
            .filter(transactions::kind.eq("RFND"))
            .count()
            .get_result(c)
    })
    .await;
    assert_eq!(refunds, 1);
}

#[actix_web::test]
async fn a_wrong_secret_key_keeps_the_notification_until_fixed() {
    let sb = sandbox().await;
    let app = portal_for(&sb).await;
    assert_eq!(
        activate(&app, "ClickBank", &sb, "WRONGKEY0000", false)
            .await
            .status(),
        303
    );
    let sale = sb.create_event(&TransactionType::Sale);
    post(&sb, &app, &sale).await;
    let r = sale.receipt.clone().unwrap();
    assert!(order_of(&app, &r).await.is_none());
    let page = app.get_text("/admin/notifications?status=failed").await;
    assert!(
        page.contains("wrong secret key or damaged notification"),
        "{page}"
    );

    let pid: i64 = app
        .db
        .run(|c| {
            Ok(merchant_crm::db::schema::plugins::table
                .select(merchant_crm::db::schema::plugins::id)
                .first(c)?)
        })
        .await
        .unwrap();
    let resp = app
        .post_form(
            &format!("/admin/plugins/{pid}"),
            &format!("/admin/plugins/{pid}"),
            &[("site", sb.site()), ("secret_key", sb.secret_key())],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let resp = app
        .post_form(
            "/admin/notifications",
            "/admin/notifications/reprocess-failed",
            &[],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert!(app
        .get_text("/admin/notifications")
        .await
        .contains("1 now applied, 0 still failing"));
    assert!(
        order_of(&app, &r).await.is_some(),
        "applied after the key was fixed"
    );
}

#[actix_web::test]
async fn the_route_checks_who_where_and_how_much() {
    let sb = sandbox().await;
    let app = portal_for(&sb).await;
    activate(&app, "ClickBank", &sb, sb.secret_key(), false).await;
    let sale = sb.create_event(&TransactionType::Sale);
    let body = sb.encrypt(&sale.plaintext);
    let c = reqwest::Client::new();
    let wrong_password = app.url(&format!("/clickbank/?loginId={INS_LOGIN}&password=wrong"));
    let unknown_login = app.url("/clickbank/?loginId=nobody&password=x");
    let big = "x".repeat(70 * 1024);
    for (what, url, payload, status) in [
        ("a wrong password", wrong_password, body.clone(), 401),
        ("an unknown login", unknown_login, body.clone(), 401),
        ("a body over 64 KiB", ins_url(&app), big, 413),
    ] {
        let r = c.post(url).body(payload).send().await.unwrap();
        assert_eq!(r.status(), status, "{what}");
    }

    // Only from the allowlist.
    let id = app
        .db
        .run(|c| merchant_crm::domain::accounts::api_users::find_by_login(c, INS_LOGIN))
        .await
        .unwrap()
        .unwrap()
        .id;
    app.post_form(
        "/admin/api-users",
        &format!("/admin/api-users/{id}"),
        &[("allow_ips", "192.0.2.10"), ("permission", "import_order")],
    )
    .await;
    let r = c.post(ins_url(&app)).body(body.clone()).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("IP allowlist"));
    // And only with the permission.
    app.post_form(
        "/admin/api-users",
        &format!("/admin/api-users/{id}"),
        &[("allow_ips", "127.0.0.1"), ("permission", "update_fulfillment")],
    )
    .await;
    let r = c.post(ins_url(&app)).body(body.clone()).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let n = count(&app, |c| inbound_notifications::table.count().get_result(c)).await;
    assert_eq!(n, 0, "refused calls store nothing");

    app.post_form(
        "/admin/api-users",
        &format!("/admin/api-users/{id}"),
        &[("allow_ips", "127.0.0.1"), ("permission", "import_order")],
    )
    .await;
    let r = c
        .post(ins_url(&app))
        .body("this is not JSON")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "stored, so ClickBank must not retry");
    app.settle().await;
    let page = app.get_text("/admin/notifications?status=failed").await;
    assert!(page.contains("body is not an INS envelope"), "{page}");
}

#[actix_web::test]
async fn two_plugins_each_get_their_own_events_and_deactivation_refuses() {
    let sb = sandbox().await;
    let other = Sandbox::start(SandboxConfig {
        site: "SECONDSHOP".into(),
        secret_key: "OTHERSECRET00002".into(),
        api_key: "API-OTHER-1111".into(),
        seed: 7,
        ..sandbox_config()
    })
    .unwrap();
    let app = portal_for(&sb).await;
    activate(&app, "ClickBank", &sb, sb.secret_key(), false).await;
    // The second vendor account's keys are checked against its own ClickBank: point the
    // connection check there by creating it through the domain with the check skipped.
    let secrets = merchant_crm::secrets::SecretBox::new(&app.config.master_key).unwrap();
    let input = merchant_crm::domain::plugins::PluginInput::basic(
        "Second",
        other.site(),
        other.api_key(),
        other.secret_key(),
    )
    .unwrap();
    app.db
        .run(move |c| {
            merchant_crm::domain::plugins::create(
                c,
                &merchant_crm::domain::Actor::cli(),
                &secrets,
                &input,
                false,
            )
            .map(|_| ())
        })
        .await
        .unwrap();

    let a = sb.create_event(&TransactionType::Sale);
    let b = other.create_event(&TransactionType::Sale);
    post(&sb, &app, &a).await;
    post(&other, &app, &b).await;
    let names: Vec<String> = app
        .db
        .run(|c| {
            Ok(campaigns::table
                .select(campaigns::name)
                .order(campaigns::name.asc())
                .load(c)?)
        })
        .await
        .unwrap();
    assert!(
        names.iter().any(|n| n.starts_with("ClickBank_")) && names.iter().any(|n| n.starts_with("Second_")),
        "{names:?}"
    );

    let pid: i64 = app
        .db
        .run(|c| {
            Ok(merchant_crm::db::schema::plugins::table
                .filter(merchant_crm::db::schema::plugins::name.eq("Second"))
                .select(merchant_crm::db::schema::plugins::id)
                .first(c)?)
        })
        .await
        .unwrap();
    app.post_form(
        &format!("/admin/plugins/{pid}"),
        &format!("/admin/plugins/{pid}/deactivate"),
        &[],
    )
    .await;
    let c2 = other.create_event(&TransactionType::Sale);
    post(&other, &app, &c2).await;
    assert!(order_of(&app, c2.receipt.as_deref().unwrap()).await.is_none());
    assert!(app
        .get_text("/admin/notifications?status=failed")
        .await
        .contains("plugin Second is deactivated"));
}

#[actix_web::test]
async fn connect_refuses_wrong_keys_with_clickbanks_text_and_saves_nothing() {
    let sb = sandbox().await;
    let app = portal_for(&sb).await;
    let r = app
        .post_form(
            "/admin/plugins",
            "/admin/plugins",
            &[
                ("name", "ClickBank"),
                ("site", sb.site()),
                ("api_key", "API-WRONG"),
                ("secret_key", sb.secret_key()),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(body.contains("ClickBank refused the connection"), "{body}");
    let n = count(&app, |c| {
        merchant_crm::db::schema::plugins::table.count().get_result(c)
    })
    .await;
    assert_eq!(n, 0);
    let r = activate(&app, "ClickBank", &sb, sb.secret_key(), false).await;
    assert_eq!(r.status(), 303);
    let page = app.get_text(r.headers()["location"].to_str().unwrap()).await;
    assert!(page.contains("Connected to ClickBank and activated ClickBank"));
    assert!(
        page.contains("/clickbank/?loginId=clickbank-ins&amp;password=YOUR_API_USER_PASSWORD")
            || page.contains("/clickbank/?loginId=clickbank-ins&#38;password=YOUR_API_USER_PASSWORD"),
        "{page}"
    );
    assert!(
        !page.contains(sb.api_key()) && !page.contains(sb.secret_key()),
        "keys are masked"
    );
}

#[actix_web::test]
async fn customer_text_from_clickbank_is_escaped() {
    let sb = sandbox().await;
    let app = portal_for(&sb).await;
    activate(&app, "ClickBank", &sb, sb.secret_key(), false).await;
    // Find a sale whose buyer has markup in their name (the sandbox seeds some).
    let mut found = None;
    for _ in 0..400 {
        let ev = sb.create_event(&TransactionType::Sale);
        if ev.plaintext.contains("<script") || ev.plaintext.contains("\\u003cscript") {
            found = Some(ev);
            break;
        }
    }
    let ev = found.expect("the sandbox makes buyers named with HTML");
    post(&sb, &app, &ev).await;
    let id: i64 = app
        .db
        .run(|c| {
            Ok(inbound_notifications::table
                .select(inbound_notifications::id)
                .order(inbound_notifications::id.desc())
                .first(c)?)
        })
        .await
        .unwrap();
    let page = app.get_text(&format!("/admin/notifications/{id}")).await;
    assert!(!page.contains("<script>"), "raw markup never reaches the page");
    assert!(
        page.contains("&#60;script") || page.contains("&lt;script"),
        "{page}"
    );
}

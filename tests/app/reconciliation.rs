//! Reconciliation against the sandbox: a day that matches is green to the cent, a deleted
//! order and an extra record are named by receipt, "Re-import this day" mends the missing one
//! (the extra one stays listed, never deleted), the nightly run checks the last days, and a
//! ClickBank failure is shown as such. A browser opens the calendar and drills into a red day.

use std::net::SocketAddr;

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use merchant_crm::clickbank::time::pacific_date;
use merchant_crm::clickbank::{Sandbox, SandboxConfig, SandboxHandle};
use merchant_crm::db::models::TaskState;
use merchant_crm::db::schema::{
    applied_events, fulfillments, order_items, orders, purchases, reconcile_schedules, sale_lookups,
    transactions,
};
use merchant_crm::domain::sync::imports::{self, clickbank_today, ImportContext};
use merchant_crm::domain::sync::reconcile::{self, day_bounds, DayOutcome, DayRow};
use merchant_crm::domain::{plugins, Actor};

use crate::browser::{browser, click, find};
use crate::helpers::TestApp;
use crate::support::clickbank::import_ctx;
use crate::support::fulfillment::browser_login;

async fn setup() -> (SandboxHandle, TestApp, ImportContext, i64) {
    let sb = Sandbox::start(SandboxConfig {
        bind: "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        orders: 300,
        days: 12,
        ..Default::default()
    })
    .unwrap();
    let app = TestApp::builder()
        .env("CLICKBANK_API_BASE", &sb.base_url())
        .env("MERCHANT_CRM_NO_JOBS", "1")
        .build()
        .await;
    app.setup_admin().await;
    let c = import_ctx(&app, &sb);
    let secrets = c.job.secrets.clone();
    let input = plugins::PluginInput::basic("ClickBank", sb.site(), sb.api_key(), sb.secret_key()).unwrap();
    let pid = app
        .db
        .run(move |conn| Ok(plugins::create(conn, &Actor::cli(), &secrets, &input, false)?.id))
        .await
        .unwrap();
    let task = app
        .db
        .run(move |conn| Ok(imports::start_initial(conn, &Actor::cli(), pid, 14, None)?.id))
        .await
        .unwrap();
    run_until_done(&app, &c, task).await;
    (sb, app, c, pid)
}

async fn run_until_done(app: &TestApp, c: &ImportContext, id: i64) {
    for _ in 0..200 {
        imports::run_task(c, id, "reconcile-test", 1000).await.unwrap();
        let t = app.db.read(move |conn| imports::find(conn, id)).await.unwrap();
        if t.state == TaskState::Done {
            return;
        }
        assert_ne!(t.state, TaskState::Failed, "{:?}", t.last_error);
    }
    panic!("task {id} did not finish");
}

async fn day_row(app: &TestApp, pid: i64, day: NaiveDate) -> DayRow {
    app.db
        .read(move |c| reconcile::find_day(c, pid, day))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{day} was not reconciled"))
}

/// Asks for `start..=end` through the page's form and runs the job once.
async fn check_days(app: &TestApp, c: &ImportContext, pid: i64, start: NaiveDate, end: NaiveDate) {
    let r = app
        .post_form(
            "/admin/reconciliation",
            "/admin/reconciliation/check",
            &[
                ("plugin", &pid.to_string()),
                ("start", &start.to_string()),
                ("end", &end.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(reconcile::run_due(&c.job, "reconcile-test").await.unwrap(), 1);
}

/// A past day with a one-off sale (an order whose only money is its SALE): (day, order, receipt).
async fn day_with_a_lone_sale(app: &TestApp) -> (NaiveDate, i64, String) {
    let today = clickbank_today();
    let rows: Vec<(i64, String, chrono::NaiveDateTime)> = app
        .db
        .read(|c| {
            Ok(orders::table
                .inner_join(transactions::table)
                .filter(transactions::kind.eq("SALE"))
                .select((orders::id, orders::receipt, transactions::transaction_time))
                .load(c)?)
        })
        .await
        .unwrap();
    for (id, receipt, time) in rows {
        let day = pacific_date(time.and_utc());
        if day >= today - Duration::days(1) || day < today - Duration::days(6) {
            continue;
        }
        let n: i64 = app
            .db
            .read(move |c| {
                Ok(transactions::table
                    .filter(transactions::order_id.eq(id))
                    .count()
                    .get_result(c)?)
            })
            .await
            .unwrap();
        if n == 1 {
            return (day, id, receipt);
        }
    }
    panic!("no day with a one-off sale");
}

/// Deletes an order whole, as a lost notification would leave it.
async fn delete_order(app: &TestApp, id: i64) {
    app.db
        .run(move |c| {
            diesel::delete(fulfillments::table.filter(fulfillments::order_id.eq(id))).execute(c)?;
            diesel::delete(purchases::table.filter(purchases::order_id.eq(id))).execute(c)?;
            diesel::delete(transactions::table.filter(transactions::order_id.eq(id))).execute(c)?;
            diesel::delete(order_items::table.filter(order_items::order_id.eq(id))).execute(c)?;
            diesel::delete(sale_lookups::table.filter(sale_lookups::order_id.eq(id))).execute(c)?;
            diesel::delete(applied_events::table.filter(applied_events::order_id.eq(Some(id)))).execute(c)?;
            diesel::delete(orders::table.find(id)).execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
}

/// Adds a rebill ClickBank never made to another order of `day`: (its receipt).
async fn add_extra_rebill(app: &TestApp, day: NaiveDate, not: i64) -> String {
    let (start, _) = day_bounds(day);
    app.db
        .run(move |c| {
            let (id, receipt): (i64, String) = orders::table
                .filter(orders::id.ne(not))
                .select((orders::id, orders::receipt))
                .first(c)?;
            diesel::insert_into(transactions::table)
                .values((
                    transactions::order_id.eq(id),
                    transactions::kind.eq("BILL"),
                    transactions::amount_minor.eq(1234i64),
                    transactions::currency.eq("USD"),
                    transactions::transaction_time.eq(start + Duration::hours(12)),
                    transactions::source.eq("import"),
                    transactions::created_at.eq(merchant_crm::domain::now()),
                ))
                .execute(c)?;
            Ok(receipt)
        })
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_deleted_order_and_an_extra_record_are_named_and_reimporting_the_day_mends_it() {
    let (sb, app, c, pid) = setup().await;
    let (day, order, receipt) = day_with_a_lone_sale(&app).await;

    // After the import the day and the one before match ClickBank to the cent.
    check_days(&app, &c, pid, day - Duration::days(1), day).await;
    for d in [day - Duration::days(1), day] {
        let row = day_row(&app, pid, d).await;
        assert_eq!(row.outcome, DayOutcome::Match, "{d}: {:?}", row.details());
        assert!(row.clickbank_count > 0);
        assert_eq!(row.clickbank_count, row.crm_count);
    }
    let truth = sb.summary(day, day).by_currency_and_type;
    for line in day_row(&app, pid, day).await.details().lines {
        let t = &truth[&(line.currency.clone(), line.kind.clone())];
        assert_eq!(
            (line.clickbank_count as u64, line.clickbank_minor),
            (t.count, t.total_minor.abs())
        );
    }

    // An order lost and a record ClickBank never made.
    delete_order(&app, order).await;
    let extra = add_extra_rebill(&app, day, order).await;
    check_days(&app, &c, pid, day, day).await;
    let row = day_row(&app, pid, day).await;
    assert_eq!(row.outcome, DayOutcome::Differs);
    assert_eq!((row.missing, row.extra), (1, 1));
    let det = row.details();
    assert_eq!(det.missing[0].receipt, receipt.to_uppercase());
    assert_eq!(det.missing[0].kind, "SALE");
    assert_eq!(det.extra[0].receipt, extra.to_uppercase());
    assert_eq!(det.extra[0].crm_minor, Some(1234));
    assert!(det.lines.iter().any(|l| l.kind == "SALE" && l.count_differs()));

    // The pages: a red day on the calendar and the dashboard, both receipts on the day's page.
    let month = day.format("%Y-%m").to_string();
    let cal = app
        .get_text(&format!("/admin/reconciliation?plugin={pid}&month={month}"))
        .await;
    assert!(
        cal.contains(&format!("class=\"cal cal-differs\" data-day=\"{day}\"")),
        "{cal}"
    );
    assert!(cal.contains("Pacific time"));
    let dash = app.get_text("/").await;
    assert!(dash.contains("id=\"reconcile-red\""), "{dash}");
    assert!(dash.contains(&format!("/admin/reconciliation/{pid}/{day}")));
    let page = app.get_text(&format!("/admin/reconciliation/{pid}/{day}")).await;
    assert!(
        page.contains(&receipt.to_uppercase()) && page.contains(&extra.to_uppercase()),
        "{page}"
    );
    assert!(page.contains("id=\"missing\"") && page.contains("id=\"extra\""));
    assert!(page.contains("<td title=\"SALE\">Sale</td>"), "types in words");
    assert!(
        !page.contains(&format!("receipt={}\"", receipt.to_uppercase()))
            && page.contains(&format!("receipt={}\"", extra.to_uppercase())),
        "a missing receipt is not in the CRM to link to; the extra one is"
    );

    // A browser opens the calendar and drills into the red day.
    {
        let b = browser().await;
        let cl = &b.client;
        browser_login(cl, &app).await;
        cl.goto(&app.url(&format!("/admin/reconciliation?plugin={pid}&month={month}")))
            .await
            .unwrap();
        click(cl, &format!("td.cal-differs[data-day='{day}'] a")).await;
        let missing = find(cl, "#missing").await.text().await.unwrap();
        assert!(missing.contains(&receipt.to_uppercase()), "{missing}");
        find(cl, "#reimport-day").await;
    }

    // "Re-import this day": a one-day task through the import; the day is checked again.
    let r = app
        .post_form(
            &format!("/admin/reconciliation/{pid}/{day}"),
            &format!("/admin/reconciliation/{pid}/{day}/reimport"),
            &[],
        )
        .await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let task: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
    let t = app.db.read(move |c| imports::find(c, task)).await.unwrap();
    assert!(t.is_day());
    assert_eq!(t.range_start.as_deref(), Some(day.to_string().as_str()));
    run_until_done(&app, &c, task).await;
    assert_eq!(reconcile::run_due(&c.job, "reconcile-test").await.unwrap(), 1);
    let row = day_row(&app, pid, day).await;
    assert_eq!(row.missing, 0, "{:?}", row.details());
    assert_eq!(row.extra, 1, "the extra record is listed, never deleted");
    assert_eq!(row.checked_by, "re-import");
    let back: i64 = app
        .db
        .read(move |c| {
            Ok(orders::table
                .filter(orders::receipt.eq(&receipt))
                .count()
                .get_result(c)?)
        })
        .await
        .unwrap();
    assert_eq!(back, 1, "the lost order is back, once");

    // Account executives only.
    app.create_user("staff@example.com", "merchant", "staff password 123")
        .await;
    let staff = app.other_client();
    staff.login("staff@example.com", "staff password 123").await;
    assert_eq!(staff.get("/admin/reconciliation").await.status(), 403);
    assert_eq!(
        staff
            .get(&format!("/admin/reconciliation/{pid}/{day}"))
            .await
            .status(),
        403
    );
    assert!(!staff.get_text("/").await.contains("reconcile-red"));
}

#[actix_web::test]
async fn the_nightly_run_checks_the_last_days_and_a_clickbank_failure_shows_as_such() {
    let (sb, app, c, pid) = setup().await;
    // The initial import asked for its last complete days at once; then nothing is due.
    assert_eq!(reconcile::run_due(&c.job, "nightly-test").await.unwrap(), 1);
    let yesterday = clickbank_today() - Duration::days(1);
    let after_import = app
        .db
        .read(move |conn| reconcile::days_between(conn, pid, yesterday - Duration::days(30), yesterday))
        .await
        .unwrap();
    assert_eq!(after_import.len() as i64, reconcile::NIGHTLY_DAYS);
    assert!(after_import
        .iter()
        .all(|r| r.outcome == DayOutcome::Match && r.checked_by == "initial import"));
    assert_eq!(reconcile::run_due(&c.job, "nightly-test").await.unwrap(), 0);
    let past = merchant_crm::domain::now() - Duration::minutes(1);
    app.db
        .run(move |conn| {
            diesel::update(reconcile_schedules::table.find(pid))
                .set(reconcile_schedules::next_nightly_at.eq(past))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(reconcile::run_due(&c.job, "nightly-test").await.unwrap(), 1);
    let first = yesterday - Duration::days(reconcile::NIGHTLY_DAYS - 1);
    let rows = app
        .db
        .read(move |conn| reconcile::days_between(conn, pid, first - Duration::days(3), clickbank_today()))
        .await
        .unwrap();
    let days: Vec<String> = rows.iter().map(|r| r.day.clone()).collect();
    let expected: Vec<String> = (0..reconcile::NIGHTLY_DAYS)
        .map(|i| (first + Duration::days(i)).to_string())
        .collect();
    assert_eq!(
        days,
        expected,
        "the last {} complete days",
        reconcile::NIGHTLY_DAYS
    );
    assert!(rows
        .iter()
        .all(|r| r.outcome == DayOutcome::Match && r.checked_by == "nightly"));
    let s = app
        .db
        .read(move |conn| reconcile::schedule::find(conn, pid))
        .await
        .unwrap()
        .unwrap();
    assert!(
        s.next_nightly_at > merchant_crm::domain::now(),
        "tomorrow's run is set"
    );
    let usage = app
        .db
        .read(move |conn| merchant_crm::domain::clickbank_budget::today_usage(conn, pid))
        .await
        .unwrap();
    assert!(usage.of(merchant_crm::domain::clickbank_budget::Purpose::Reconcile) >= reconcile::NIGHTLY_DAYS);

    // ClickBank down: the day says it could not be read, and the page says why.
    sb.set_error_rate(1.0);
    check_days(&app, &c, pid, yesterday, yesterday).await;
    let row = day_row(&app, pid, yesterday).await;
    assert_eq!(row.outcome, DayOutcome::Failed);
    assert!(
        row.error.as_deref().unwrap_or("").contains("could not be read"),
        "{:?}",
        row.error
    );
    let page = app
        .get_text(&format!("/admin/reconciliation/{pid}/{yesterday}"))
        .await;
    assert!(page.contains("id=\"reconcile-error\""), "{page}");
    sb.set_error_rate(0.0);
    check_days(&app, &c, pid, yesterday, yesterday).await;
    assert_eq!(day_row(&app, pid, yesterday).await.outcome, DayOutcome::Match);

    // Bad requests get a clear error and change nothing.
    let r = app
        .post_form(
            "/admin/reconciliation",
            "/admin/reconciliation/check",
            &[
                ("plugin", &pid.to_string()),
                ("start", &(clickbank_today() + Duration::days(2)).to_string()),
                ("end", &(clickbank_today() + Duration::days(2)).to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let cal = app.get_text("/admin/reconciliation").await;
    assert!(cal.contains("has not begun in ClickBank"), "{cal}");
    // Days before the CRM's data begins would only look lost: refused, and said why.
    let before = clickbank_today() - Duration::days(20);
    let r = app
        .post_form(
            "/admin/reconciliation",
            "/admin/reconciliation/check",
            &[
                ("plugin", &pid.to_string()),
                ("start", &before.to_string()),
                ("end", &before.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let cal = app.get_text("/admin/reconciliation").await;
    assert!(cal.contains("earlier days were never imported"), "{cal}");
    // A day that has not begun offers nothing to do.
    let future = app
        .get_text(&format!(
            "/admin/reconciliation/{pid}/{}",
            clickbank_today() + Duration::days(3)
        ))
        .await;
    assert!(future.contains("has not begun in ClickBank's time") && !future.contains("id=\"reimport-day\""));
    assert_eq!(reconcile::run_due(&c.job, "nightly-test").await.unwrap(), 0);
}

#[actix_web::test]
async fn sales_clickbank_never_notified_during_an_ins_outage_show_as_missing_and_the_reimport_brings_them() {
    let (sb, app, c, pid) = setup().await;
    sb.set_notify_url(Some(crate::support::clickbank::ins_url(&app)));
    sb.set_ins_outage(true);
    let lost: Vec<String> = (0..3)
        .map(|_| {
            sb.emit(&merchant_crm::clickbank::TransactionType::Sale)
                .receipt
                .unwrap()
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(sb.dropped_notifications().len() >= 3, "ClickBank sent nothing");
    let today = clickbank_today();
    check_days(&app, &c, pid, today, today).await;
    let row = day_row(&app, pid, today).await;
    assert_eq!(row.outcome, DayOutcome::Differs);
    let missing: Vec<String> = row.details().missing.iter().map(|d| d.receipt.clone()).collect();
    for r in &lost {
        assert!(missing.contains(&r.to_uppercase()), "{r} in {missing:?}");
    }
    assert_eq!(row.extra, 0);

    let task = app
        .db
        .run(move |conn| Ok(imports::start_day(conn, &Actor::cli(), pid, today)?.id))
        .await
        .unwrap();
    run_until_done(&app, &c, task).await;
    assert_eq!(reconcile::run_due(&c.job, "reconcile-test").await.unwrap(), 1);
    let row = day_row(&app, pid, today).await;
    assert_eq!(row.outcome, DayOutcome::Match, "{:?}", row.details());
}

//! Initial and continuous order imports against the sandbox: the result equals the
//! sandbox's own truth, survives a crash, never duplicates, and two runners never overlap.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::Duration as Days;
use diesel::prelude::*;
use merchant_crm::clickbank::{Sandbox, SandboxConfig, SandboxHandle, TransactionType};
use merchant_crm::db::models::TaskState;
use merchant_crm::db::schema::{fulfillments, import_task_runs, orders, pending_events, transactions};
use merchant_crm::domain::sync::imports::{self, clickbank_today, ImportContext};
use merchant_crm::domain::{plugins, Actor};

use crate::helpers::TestApp;
use crate::support::clickbank::{activate, import_ctx, ins_url, portal_for};

const DAYS: u32 = 20;

async fn small_sandbox() -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        bind: "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        orders: 400,
        days: DAYS,
        ..Default::default()
    })
    .unwrap()
}

/// A small sandbox and a portal for it whose scheduler does not run: the test runs the tasks.
async fn runner_less() -> (SandboxHandle, TestApp, ImportContext) {
    let sb = small_sandbox().await;
    let app = TestApp::builder()
        .env("CLICKBANK_API_BASE", &sb.base_url())
        .env("MERCHANT_CRM_NO_JOBS", "1")
        .build()
        .await;
    let c = ctx(&app, &sb);
    (sb, app, c)
}

fn ctx(app: &TestApp, sb: &SandboxHandle) -> ImportContext {
    import_ctx(app, sb)
}

async fn plugin_id(app: &TestApp) -> i64 {
    app.db.read(|c| Ok(plugins::list(c)?[0].id)).await.unwrap()
}

/// A plugin for `sb` (keys not checked) and an initial import of `days` queued for it.
async fn plugin_and_initial_import(
    app: &TestApp,
    c: &ImportContext,
    sb: &SandboxHandle,
    api_key: &str,
    days: i64,
) -> i64 {
    let secrets = c.job.secrets.clone();
    let input = plugins::PluginInput::basic("ClickBank", sb.site(), api_key, sb.secret_key()).unwrap();
    let pid = app
        .db
        .run(move |conn| Ok(plugins::create(conn, &Actor::cli(), &secrets, &input, false)?.id))
        .await
        .unwrap();
    app.db
        .run(move |conn| Ok(imports::start_initial(conn, &Actor::cli(), pid, days as i32, None)?.id))
        .await
        .unwrap()
}

async fn wait_done(app: &TestApp, id: i64) -> merchant_crm::db::models::ImportTask {
    for _ in 0..600 {
        let t = app.db.read(move |c| imports::find(c, id)).await.unwrap();
        if matches!(
            t.state,
            TaskState::Done | TaskState::Failed | TaskState::Cancelled
        ) {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("import task {id} did not finish in 60 s");
}

/// (currency, type) → (count, sum) of what the portal holds, waiting events included.
pub(crate) async fn portal_totals(app: &TestApp) -> BTreeMap<(String, String), (u64, i64)> {
    let rows: Vec<(String, String, i64)> = app
        .db
        .read(|c| {
            Ok(transactions::table
                .select((
                    transactions::currency,
                    transactions::kind,
                    transactions::amount_minor,
                ))
                .load(c)?)
        })
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for (cur, kind, amount) in rows {
        let e = out.entry((cur, kind)).or_insert((0u64, 0i64));
        e.0 += 1;
        e.1 += amount.abs();
    }
    out
}

pub(crate) fn truth_totals(sb: &SandboxHandle, days: i64) -> BTreeMap<(String, String), (u64, i64)> {
    let end = clickbank_today();
    let start = end - Days::days(days - 1);
    sb.summary(start, end)
        .by_currency_and_type
        .into_iter()
        .filter(|((_, t), _)| matches!(t.as_str(), "SALE" | "BILL" | "RFND" | "CGBK" | "INSF"))
        .map(|(k, v)| (k, (v.count, v.total_minor.abs())))
        .collect()
}

#[actix_web::test]
async fn an_initial_import_equals_the_sandbox_truth_and_starts_the_continuous_one() {
    let sb = small_sandbox().await;
    let app = portal_for(&sb).await;
    activate(&app, "ClickBank", &sb, sb.secret_key(), false).await;
    let pid = plugin_id(&app).await;
    let days = i64::from(DAYS) + 2;
    let r = app
        .post_form(
            &format!("/admin/plugins/{pid}"),
            &format!("/admin/plugins/{pid}/initial-import"),
            &[("days_back", &days.to_string()), ("ship_cutoff_days", "10")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = r.headers()["location"].to_str().unwrap().to_string();
    let id: i64 = page.rsplit('/').next().unwrap().parse().unwrap();
    let t = wait_done(&app, id).await;
    assert_eq!(t.state, TaskState::Done, "{:?}", t.last_error);
    assert_eq!(t.percent(), 100);
    assert_eq!(t.errors, 0);

    let waiting: i64 = app
        .db
        .read(|c| Ok(pending_events::table.count().get_result(c)?))
        .await
        .unwrap();
    assert_eq!(waiting, 0, "every refund and rebill found its sale");
    let mine = portal_totals(&app).await;
    let truth = truth_totals(&sb, days);
    assert!(!truth.is_empty());
    assert_eq!(
        mine, truth,
        "counts and sums per currency and type equal ClickBank's"
    );

    // The plugin page says the import is done and offers more days only as a second step.
    let plugin_page = app.get_text(&format!("/admin/plugins/{pid}")).await;
    assert!(plugin_page.contains("id=\"initial-done\""), "{plugin_page}");
    assert!(plugin_page.contains("id=\"import-more\""));

    // Items whose own event (the sale, or the rebill of a later cycle) is older than the
    // cut-off ship no more; newer ones wait for an address (ClickBank's orders list has no
    // street or city) or were cancelled by a refund. None goes to a house without a street.
    let cutoff = chrono::Utc::now().naive_utc() - Days::days(10);
    let statuses: Vec<(chrono::NaiveDateTime, String, Option<String>)> = app
        .db
        .read(|c| {
            let rows: Vec<(
                i32,
                chrono::NaiveDateTime,
                chrono::NaiveDateTime,
                String,
                Option<String>,
            )> = fulfillments::table
                .inner_join(orders::table)
                .select((
                    fulfillments::cycle,
                    orders::transaction_time,
                    fulfillments::created_at,
                    fulfillments::status,
                    fulfillments::ship_to,
                ))
                .load(c)?;
            Ok(rows
                .into_iter()
                .map(|(cycle, sold, made, s, to)| (if cycle == 1 { sold } else { made }, s, to))
                .collect())
        })
        .await
        .unwrap();
    assert!(statuses.iter().any(|(t, ..)| *t < cutoff) && statuses.iter().any(|(t, ..)| *t >= cutoff));
    for (t, s, to) in &statuses {
        if *t < cutoff - Days::hours(1) {
            assert!(s == "SHIPPED" || s == "CANCELLED", "{t} {s}");
        } else if *t > cutoff + Days::hours(1) {
            assert!(s == "NEEDS_ADDRESS" || s == "CANCELLED", "{t} {s} {to:?}");
        }
    }
    let page = app.get_text("/fulfillment").await;
    assert!(page.contains("id=\"needs-address\""), "{page}");

    let tasks = app.get_text("/admin/import-tasks").await;
    assert!(
        tasks.contains("Continuous order import") && tasks.contains("every 15 min"),
        "{tasks}"
    );
    let progress: serde_json::Value = app
        .get(&format!("/admin/import-tasks/{id}/progress.json"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(progress["percent"], 100);
    assert_eq!(progress["state"], "done");
}

#[actix_web::test]
async fn a_run_that_dies_resumes_without_duplicates_or_gaps() {
    let (sb, app, c) = runner_less().await;
    let days = i64::from(DAYS) + 2;
    let id = plugin_and_initial_import(&app, &c, &sb, sb.api_key(), days).await;

    // A first process gets three pages in, then dies holding its lease.
    let first = imports::run_task(&c, id, "process-a", 3).await.unwrap();
    assert!(first.claimed && first.more && first.pages == 3);
    app.db
        .run(move |conn| {
            use merchant_crm::db::schema::import_tasks as t;
            diesel::update(t::table.find(id))
                .set((
                    t::locked_by.eq(Some("process-a")),
                    t::locked_until.eq(Some(chrono::Utc::now().naive_utc() + Days::seconds(60))),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    let blocked = imports::run_task(&c, id, "process-b", 3).await.unwrap();
    assert!(!blocked.claimed, "a live lease keeps others out");
    app.db
        .run(move |conn| {
            use merchant_crm::db::schema::import_tasks as t;
            diesel::update(t::table.find(id))
                .set(t::locked_until.eq(Some(chrono::Utc::now().naive_utc() - Days::seconds(1))))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    // ClickBank stumbles twice on the way (5xx): the client retries.
    sb.fail_next(2);
    let mut runs = 0;
    loop {
        let r = imports::run_task(&c, id, "process-b", 5).await.unwrap();
        assert!(r.claimed);
        runs += 1;
        if !r.more {
            break;
        }
        assert!(runs < 200);
    }
    let t = app.db.read(move |conn| imports::find(conn, id)).await.unwrap();
    assert_eq!(t.state, TaskState::Done, "{:?}", t.last_error);
    let mine = portal_totals(&app).await;
    assert_eq!(mine, truth_totals(&sb, days));
}

#[actix_web::test]
async fn the_same_sale_by_ins_and_by_import_is_one_order() {
    let sb = small_sandbox().await;
    let app = portal_for(&sb).await;
    activate(&app, "ClickBank", &sb, sb.secret_key(), false).await;
    let sale = sb
        .transactions()
        .into_iter()
        .rev()
        .find(|t| t.transaction_type == TransactionType::Sale && t.receipt.is_some())
        .expect("a sale");
    let receipt = sale.receipt.clone().unwrap();
    let ev = sb.ins_for(&receipt, &TransactionType::Sale).unwrap();
    assert_eq!(sb.post_event(&ins_url(&app), &ev).await.unwrap(), 200);
    app.settle().await;
    let pid = plugin_id(&app).await;
    let days = i64::from(DAYS) + 2;
    let r = app
        .post_form(
            &format!("/admin/plugins/{pid}"),
            &format!("/admin/plugins/{pid}/initial-import"),
            &[("days_back", &days.to_string())],
        )
        .await;
    let id: i64 = r.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(wait_done(&app, id).await.state, TaskState::Done);
    let n: i64 = app
        .db
        .read(move |c| {
            Ok(orders::table
                .filter(orders::receipt.eq(receipt))
                .count()
                .get_result(c)?)
        })
        .await
        .unwrap();
    assert_eq!(n, 1);
    let mine = portal_totals(&app).await;
    assert_eq!(
        mine,
        truth_totals(&sb, days),
        "the INS sale was not counted twice"
    );
}

#[actix_web::test]
async fn bad_credentials_fail_the_task_clearly_without_a_crash_loop() {
    let (sb, app, c) = runner_less().await;
    let id = plugin_and_initial_import(&app, &c, &sb, "API-REVOKED", 5).await;
    let r = imports::run_task(&c, id, "runner", 10).await.unwrap();
    assert!(r.claimed && !r.more);
    let t = app.db.read(move |conn| imports::find(conn, id)).await.unwrap();
    assert_eq!(t.state, TaskState::Failed);
    assert!(
        t.last_error
            .as_deref()
            .unwrap_or("")
            .contains("ClickBank refused the request"),
        "{:?}",
        t.last_error
    );
    let due = app.db.read(|conn| imports::due(conn, 10)).await.unwrap();
    assert!(due.is_empty(), "a failed task is not retried by itself");
    assert!(
        sb.request_count() <= 5,
        "no request storm: {}",
        sb.request_count()
    );
}

#[actix_web::test]
async fn two_portal_processes_never_run_the_same_task_at_once() {
    let sb = small_sandbox().await;
    let app = TestApp::builder()
        .env("CLICKBANK_API_BASE", &sb.base_url())
        .env("MERCHANT_CRM_SCHEDULER_TICK_SECS", "1")
        .build()
        .await;
    // A second portal process on the same database, with its own scheduler.
    let second = TestApp::builder()
        .env("CLICKBANK_API_BASE", &sb.base_url())
        .env("MERCHANT_CRM_SCHEDULER_TICK_SECS", "1")
        .database(app.db.clone())
        .build()
        .await;
    let c = ctx(&app, &sb);
    let days = i64::from(DAYS) + 2;
    let id = plugin_and_initial_import(&app, &c, &sb, sb.api_key(), days).await;
    let t = wait_done(&app, id).await;
    assert_eq!(t.state, TaskState::Done);
    let runs: Vec<(String, chrono::NaiveDateTime, Option<chrono::NaiveDateTime>)> = app
        .db
        .read(move |c| {
            Ok(import_task_runs::table
                .filter(import_task_runs::task_id.eq(id))
                .order(import_task_runs::started_at.asc())
                .select((
                    import_task_runs::runner,
                    import_task_runs::started_at,
                    import_task_runs::finished_at,
                ))
                .load(c)?)
        })
        .await
        .unwrap();
    assert!(!runs.is_empty());
    for w in runs.windows(2) {
        let prev_end = w[0].2.expect("finished");
        assert!(w[1].1 >= prev_end, "runs overlap: {:?} then {:?}", w[0], w[1]);
    }
    let mine = portal_totals(&app).await;
    assert_eq!(mine, truth_totals(&sb, days));
    drop(second);
}

/// A record the database refuses (a trigger stands in for any failure while applying one) is
/// counted and named; the other records of its pages are kept and nothing is applied twice.
#[actix_web::test]
async fn a_record_that_cannot_be_applied_is_named_and_the_rest_of_its_pages_kept() {
    use diesel::connection::SimpleConnection;
    let (sb, app, c) = runner_less().await;
    let days = i64::from(DAYS) + 2;
    let id = plugin_and_initial_import(&app, &c, &sb, sb.api_key(), days).await;
    let end = clickbank_today();
    let truth = sb.transactions_between(end - Days::days(days - 1), end);
    let sales: Vec<String> = truth
        .iter()
        .filter(|t| t.transaction_type == TransactionType::Sale)
        .filter_map(|t| t.receipt.clone())
        .collect();
    let victim = sales[sales.len() / 2].clone();
    let ddl = match app.db.backend {
        merchant_crm::db::Backend::Sqlite => format!(
            "CREATE TRIGGER refuse_one BEFORE INSERT ON orders WHEN NEW.receipt = '{victim}' \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
        ),
        merchant_crm::db::Backend::Postgres => format!(
            "CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN \
             IF NEW.receipt = '{victim}' THEN RAISE EXCEPTION 'refused by the test'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse_one BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION refuse_one();"
        ),
    };
    app.db
        .run(move |conn| Ok(conn.batch_execute(&ddl)?))
        .await
        .unwrap();

    loop {
        let r = imports::run_task(&c, id, "runner", 1000).await.unwrap();
        if !r.more {
            break;
        }
    }
    let t = app.db.read(move |conn| imports::find(conn, id)).await.unwrap();
    assert_eq!(t.state, TaskState::Done, "{:?}", t.last_error);
    assert!(t.errors >= 1, "the refused record failed");
    let err = t.last_error.clone().unwrap_or_default();
    assert!(err.contains(&victim), "the error names the receipt: {err}");
    let held: Vec<String> = app
        .db
        .read(|conn| Ok(orders::table.select(orders::receipt).load(conn)?))
        .await
        .unwrap();
    assert!(!held.contains(&victim));
    let mut expected: Vec<String> = sales.iter().filter(|r| **r != victim).cloned().collect();
    let mut got = held.clone();
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "every other sale is one order");
    // Every other transaction arrived once: the sandbox's totals less the refused sale's own.
    let mine = portal_totals(&app).await;
    let refused = truth
        .iter()
        .find(|t| {
            t.receipt.as_deref() == Some(victim.as_str()) && t.transaction_type == TransactionType::Sale
        })
        .unwrap();
    let mut want = truth_totals(&sb, days);
    let e = want
        .get_mut(&(refused.currency.clone(), "SALE".to_string()))
        .unwrap();
    e.0 -= 1;
    e.1 -= refused.total_minor.abs();
    // Events of the refused order wait for it instead of being applied.
    let waiting: i64 = app
        .db
        .read(|conn| Ok(pending_events::table.count().get_result(conn)?))
        .await
        .unwrap();
    let later = truth
        .iter()
        .filter(|t| {
            t.receipt
                .as_deref()
                .is_some_and(|r| r == victim || r.starts_with(&format!("{victim}-")))
                && matches!(
                    t.transaction_type,
                    TransactionType::Bill
                        | TransactionType::Rfnd
                        | TransactionType::Cgbk
                        | TransactionType::Insf
                )
        })
        .collect::<Vec<_>>();
    for l in &later {
        let e = want
            .get_mut(&(l.currency.clone(), l.transaction_type.to_string()))
            .unwrap();
        e.0 -= 1;
        e.1 -= l.total_minor.abs();
    }
    want.retain(|_, v| v.0 > 0);
    assert_eq!(mine, want);
    assert_eq!(waiting, 0, "nothing is parked");
    assert_eq!(
        t.errors,
        1 + later.len() as i64,
        "only the refused sale failed, and its later events, whose order it refused too"
    );

    // The failed record is kept with its reason and reprocessed from the task page after
    // the fix: then the CRM holds everything ClickBank has.
    app.setup_admin().await;
    let page = app.get_text(&format!("/admin/import-tasks/{id}")).await;
    assert!(page.contains("id=\"failed-records\""), "{page}");
    assert!(page.contains(&format!("data-receipt=\"{victim}\"")) && page.contains("refused by the test"));
    let undo = match app.db.backend {
        merchant_crm::db::Backend::Sqlite => "DROP TRIGGER refuse_one;",
        merchant_crm::db::Backend::Postgres => {
            "DROP TRIGGER refuse_one ON orders; DROP FUNCTION refuse_one();"
        }
    };
    app.db
        .run(move |conn| Ok(conn.batch_execute(undo)?))
        .await
        .unwrap();
    let task_page = format!("/admin/import-tasks/{id}");
    let r = app
        .post_form(&task_page, &format!("{task_page}/failed/all"), &[])
        .await;
    assert_eq!(r.status(), 303);
    let page = app.get_text(&task_page).await;
    assert!(
        page.contains(&format!("{} failed record(s) applied.", t.errors)),
        "{page}"
    );
    assert!(!page.contains("id=\"failed-records\""), "{page}");
    let mut all = truth_totals(&sb, days);
    // The victim's later events were applied to the order built from them; its sale is now
    // there as well.
    let mut got = portal_totals(&app).await;
    all.retain(|_, v| v.0 > 0);
    got.retain(|_, v| v.0 > 0);
    assert_eq!(got, all, "after the reprocess the CRM equals ClickBank");
}

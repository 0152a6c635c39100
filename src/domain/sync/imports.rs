//! Background ClickBank order imports: the initial import an account executive starts
//! (N days back, day window by day window, page by page) and the continuous import that
//! follows it every N minutes with an overlap window. Both go through
//! [`orders::apply`](crate::domain::orders::apply), so an order seen by INS and by the import is one
//! order.
//!
//! Crash safety: a batch of pages (up to [`PAGES_PER_COMMIT`]) and the cursor that points past
//! them are committed in one transaction, so a run that dies resumes exactly where its last
//! commit stopped: at most one batch is fetched again, nothing is applied twice (the event keys
//! see to that) and nothing is skipped. The next batch is fetched while one is written, and
//! records are applied without a savepoint each unless one fails (see `commit_pages`).
//! Concurrency: a task is
//! claimed with a lease (`locked_until`, `locked_by`) by one conditional UPDATE, so several
//! portal processes on one PostgreSQL never run the same task at once.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde_json::json;

use crate::clickbank::{ClickBankClient, ClickBankError, ClientConfig, OrdersQuery};
use crate::db::models::{ImportTask, ImportTaskRun, Plugin};
use crate::db::schema::{
    clickbank_request_counts as counts, fulfillments, import_task_runs as runs, import_tasks as tasks, orders,
};
use crate::db::{Database, DbConn};
use crate::domain::orders::{apply_unguarded, apply_with, LookupsAndWrites, OrderEvent, Outcome};
use crate::domain::{audit, plugins, Actor};
use crate::error::AppError;
use crate::secrets::SecretBox;

/// How long a claim lasts without renewal (renewed after every page).
pub const LEASE_SECONDS: i64 = 120;
/// Pages a run handles before it gives the scheduler back (it is due again at once).
pub const PAGES_PER_RUN: u32 = 96;
/// Pages fetched and then committed in one transaction (with the cursor past the last one).
/// One commit per page spent a sixth of an import writing the same index pages again.
pub const PAGES_PER_COMMIT: u32 = 48;
/// Days a continuous import reads again behind its cursor, for late ClickBank records.
pub const OVERLAP_DAYS: i64 = 1;

/// ClickBank's days are Pacific days.
pub fn clickbank_today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Los_Angeles)
        .date_naive()
}

fn day_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn parse_day(s: &str) -> Result<NaiveDate, AppError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| AppError::Internal(format!("bad stored day {s:?}")))
}

pub fn find(conn: &mut DbConn, id: i64) -> Result<ImportTask, AppError> {
    Ok(tasks::table
        .find(id)
        .select(ImportTask::as_select())
        .first(conn)?)
}

pub fn list(conn: &mut DbConn) -> Result<Vec<(ImportTask, String)>, AppError> {
    use crate::db::schema::plugins as p;
    Ok(tasks::table
        .inner_join(p::table)
        .select((ImportTask::as_select(), p::name))
        .order(tasks::id.desc())
        .load(conn)?)
}

pub fn runs_of(conn: &mut DbConn, task_id: i64, limit: i64) -> Result<Vec<ImportTaskRun>, AppError> {
    Ok(runs::table
        .filter(runs::task_id.eq(task_id))
        .order(runs::id.desc())
        .limit(limit)
        .select(ImportTaskRun::as_select())
        .load(conn)?)
}

/// ClickBank requests made today (Pacific) for a plugin.
pub fn requests_today(conn: &mut DbConn, plugin_id: i64) -> Result<i64, AppError> {
    Ok(counts::table
        .filter(counts::plugin_id.eq(plugin_id))
        .filter(counts::day.eq(day_text(clickbank_today())))
        .select(counts::requests)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

fn add_requests(conn: &mut DbConn, plugin_id: i64, n: i64) -> Result<(), AppError> {
    if n <= 0 {
        return Ok(());
    }
    let day = day_text(clickbank_today());
    let target = counts::table
        .filter(counts::plugin_id.eq(plugin_id))
        .filter(counts::day.eq(&day));
    if diesel::update(target)
        .set(counts::requests.eq(counts::requests + n))
        .execute(conn)?
        == 0
    {
        let inserted = conn.transaction(|c| {
            diesel::insert_into(counts::table)
                .values((
                    counts::plugin_id.eq(plugin_id),
                    counts::day.eq(&day),
                    counts::requests.eq(n),
                ))
                .execute(c)
        });
        if inserted.is_err() {
            // Another process created the row meanwhile.
            let target = counts::table
                .filter(counts::plugin_id.eq(plugin_id))
                .filter(counts::day.eq(&day));
            diesel::update(target)
                .set(counts::requests.eq(counts::requests + n))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Starts an initial import of `days_back` days (1..3650); orders older than
/// `ship_cutoff_days` get their physical items marked SHIPPED so nothing ships twice.
pub fn start_initial(
    conn: &mut DbConn,
    actor: &Actor,
    plugin_id: i64,
    days_back: i32,
    ship_cutoff_days: Option<i32>,
) -> Result<ImportTask, AppError> {
    if !(1..=3650).contains(&days_back) {
        return Err(AppError::Validation(
            "Import between 1 and 3650 days back.".into(),
        ));
    }
    if let Some(d) = ship_cutoff_days {
        if !(0..=3650).contains(&d) {
            return Err(AppError::Validation(
                "The SHIPPED cut-off is 0 to 3650 days.".into(),
            ));
        }
    }
    conn.transaction(|conn| {
        let plugin = plugins::find(conn, plugin_id)?;
        let busy: i64 = tasks::table
            .filter(tasks::plugin_id.eq(plugin_id))
            .filter(tasks::kind.eq("initial_orders"))
            .filter(tasks::state.eq_any(["queued", "running", "paused"]))
            .count()
            .get_result(conn)?;
        if busy > 0 {
            return Err(AppError::Conflict(format!(
                "An initial import of {} is already under way: see Admin → Import tasks.",
                plugin.name
            )));
        }
        let end = clickbank_today();
        let start = end - Duration::days(i64::from(days_back) - 1);
        let now = crate::domain::now();
        diesel::insert_into(tasks::table)
            .values((
                tasks::kind.eq("initial_orders"),
                tasks::plugin_id.eq(plugin_id),
                tasks::state.eq("queued"),
                tasks::days_back.eq(days_back),
                tasks::ship_cutoff_days.eq(ship_cutoff_days),
                tasks::range_start.eq(Some(day_text(start))),
                tasks::range_end.eq(Some(day_text(end))),
                tasks::cursor_day.eq(Some(day_text(start))),
                tasks::cursor_page.eq(1),
                tasks::windows_total.eq(days_back),
                tasks::next_run_at.eq(Some(now)),
                tasks::created_at.eq(now),
                tasks::updated_at.eq(now),
            ))
            .execute(conn)?;
        let task: ImportTask = tasks::table
            .filter(tasks::plugin_id.eq(plugin_id))
            .order(tasks::id.desc())
            .select(ImportTask::as_select())
            .first(conn)?;
        audit::record(
            conn,
            actor,
            "import.initial.start",
            &plugin.name,
            json!({"task": task.id, "days_back": days_back, "ship_cutoff_days": ship_cutoff_days}),
        )?;
        Ok(task)
    })
}

/// Queues a product import of the plugin (a background task like the order imports).
pub fn start_products(conn: &mut DbConn, actor: &Actor, plugin_id: i64) -> Result<ImportTask, AppError> {
    conn.transaction(|conn| {
        let plugin = plugins::find(conn, plugin_id)?;
        let existing: Option<i64> = tasks::table
            .filter(tasks::plugin_id.eq(plugin_id))
            .filter(tasks::kind.eq("products"))
            .filter(tasks::state.eq_any(["queued", "running"]))
            .select(tasks::id)
            .first(conn)
            .optional()?;
        if let Some(id) = existing {
            return find(conn, id);
        }
        let now = crate::domain::now();
        diesel::insert_into(tasks::table)
            .values((
                tasks::kind.eq("products"),
                tasks::plugin_id.eq(plugin_id),
                tasks::state.eq("queued"),
                tasks::windows_total.eq(1),
                tasks::next_run_at.eq(Some(now)),
                tasks::created_at.eq(now),
                tasks::updated_at.eq(now),
            ))
            .execute(conn)?;
        let task: ImportTask = tasks::table
            .filter(tasks::plugin_id.eq(plugin_id))
            .order(tasks::id.desc())
            .select(ImportTask::as_select())
            .first(conn)?;
        audit::record(
            conn,
            actor,
            "import.products.start",
            &plugin.name,
            json!({"task": task.id}),
        )?;
        Ok(task)
    })
}

/// Makes sure the plugin has a continuous import (queued, due after `interval_minutes`).
pub fn ensure_continuous(conn: &mut DbConn, plugin_id: i64, interval_minutes: i32) -> Result<i64, AppError> {
    let existing: Option<i64> = tasks::table
        .filter(tasks::plugin_id.eq(plugin_id))
        .filter(tasks::kind.eq("continuous_orders"))
        .select(tasks::id)
        .first(conn)
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let now = crate::domain::now();
    diesel::insert_into(tasks::table)
        .values((
            tasks::kind.eq("continuous_orders"),
            tasks::plugin_id.eq(plugin_id),
            tasks::state.eq("queued"),
            tasks::range_start.eq(Some(day_text(clickbank_today() - Duration::days(OVERLAP_DAYS)))),
            tasks::interval_minutes.eq(interval_minutes),
            tasks::next_run_at.eq(Some(now + Duration::minutes(i64::from(interval_minutes)))),
            tasks::created_at.eq(now),
            tasks::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(tasks::table
        .filter(tasks::plugin_id.eq(plugin_id))
        .filter(tasks::kind.eq("continuous_orders"))
        .select(tasks::id)
        .first(conn)?)
}

/// Admin actions on a task: `pause`, `resume`, `cancel`, `run_now`.
pub fn control(conn: &mut DbConn, actor: &Actor, id: i64, action: &str) -> Result<ImportTask, AppError> {
    conn.transaction(|conn| {
        let t = find(conn, id)?;
        let now = crate::domain::now();
        let (state, next) = match (action, t.state.as_str()) {
            ("pause", "queued" | "running") => ("paused", t.next_run_at),
            ("resume", "paused" | "failed") => ("queued", Some(now)),
            ("cancel", "queued" | "running" | "paused" | "failed") if t.kind == "initial_orders" => {
                ("cancelled", None)
            }
            ("run_now", "queued" | "running" | "failed") => ("queued", Some(now)),
            _ => {
                return Err(AppError::Validation(format!(
                    "A {} task that is {} cannot be {}.",
                    t.kind_label().to_lowercase(),
                    t.state,
                    action.replace('_', " ")
                )))
            }
        };
        diesel::update(tasks::table.find(id))
            .set((
                tasks::state.eq(state),
                tasks::next_run_at.eq(next),
                tasks::updated_at.eq(now),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            &format!("import.{action}"),
            &format!("task {id}"),
            json!({"before": t.state, "after": state}),
        )?;
        find(conn, id)
    })
}

/// Ids of tasks due now whose lease is free.
pub fn due(conn: &mut DbConn, limit: i64) -> Result<Vec<i64>, AppError> {
    let now = crate::domain::now();
    Ok(tasks::table
        .filter(tasks::state.eq_any(["queued", "running"]))
        .filter(tasks::next_run_at.le(now))
        .filter(tasks::locked_until.is_null().or(tasks::locked_until.lt(now)))
        .order(tasks::next_run_at.asc())
        .limit(limit)
        .select(tasks::id)
        .load(conn)?)
}

/// Claims `id` for `runner` when nobody holds it: one conditional UPDATE, atomic on both backends.
pub fn claim(conn: &mut DbConn, id: i64, runner: &str) -> Result<bool, AppError> {
    let now = crate::domain::now();
    let n = diesel::update(
        tasks::table
            .find(id)
            .filter(tasks::state.eq_any(["queued", "running"]))
            .filter(tasks::locked_until.is_null().or(tasks::locked_until.lt(now))),
    )
    .set((
        tasks::locked_by.eq(Some(runner)),
        tasks::locked_until.eq(Some(now + Duration::seconds(LEASE_SECONDS))),
        tasks::state.eq("running"),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunReport {
    pub claimed: bool,
    pub pages: u32,
    pub imported: i64,
    pub skipped: i64,
    /// The task has more to do right away (page budget used up).
    pub more: bool,
    /// Which process ran it (the lease holder).
    pub runner: String,
    /// The run's end state was written (false: the task was paused, cancelled or taken over
    /// meanwhile, and its state was left alone).
    pub finished: bool,
    pub outcome: String,
}

/// Where imports find ClickBank and the plugin keys.
#[derive(Clone)]
pub struct ImportContext {
    pub db: Database,
    pub secrets: SecretBox,
    pub api_base: String,
    /// Client-side limit (ClickBank allows about 10 requests/s per IP); 0 = none.
    pub requests_per_second: u32,
    pub continuous_interval_minutes: i32,
}

/// Claims and runs task `id` for up to `page_budget` pages.
pub async fn run_task(
    ctx: &ImportContext,
    id: i64,
    runner: &str,
    page_budget: u32,
) -> Result<RunReport, AppError> {
    let r = runner.to_string();
    let claimed = ctx.db.run(move |c| claim(c, id, &r)).await?;
    if !claimed {
        return Ok(RunReport::default());
    }
    let r = runner.to_string();
    let run_id = ctx
        .db
        .run(move |c| {
            diesel::insert_into(runs::table)
                .values((
                    runs::task_id.eq(id),
                    runs::runner.eq(&r),
                    runs::started_at.eq(crate::domain::now()),
                ))
                .execute(c)?;
            Ok(runs::table
                .filter(runs::task_id.eq(id))
                .order(runs::id.desc())
                .select(runs::id)
                .first::<i64>(c)?)
        })
        .await?;
    let mut report = RunReport {
        claimed: true,
        runner: runner.to_string(),
        ..Default::default()
    };
    let result = run_claimed(ctx, id, runner, page_budget, &mut report).await;
    let outcome = match &result {
        Ok(()) => report.outcome.clone(),
        Err(e) => format!("error: {e}"),
    };
    let (imported, skipped, pages) = (report.imported, report.skipped, report.pages as i32);
    let holder = runner.to_string();
    let o = outcome.clone();
    ctx.db
        .run(move |c| {
            diesel::update(runs::table.find(run_id))
                .set((
                    runs::finished_at.eq(Some(crate::domain::now())),
                    runs::pages.eq(pages),
                    runs::imported.eq(imported),
                    runs::skipped.eq(skipped),
                    runs::outcome.eq(Some(o)),
                ))
                .execute(c)?;
            // Release only our own lease: another process may hold it by now.
            diesel::update(tasks::table.find(id).filter(tasks::locked_by.eq(holder)))
                .set((
                    tasks::locked_until.eq(None::<NaiveDateTime>),
                    tasks::locked_by.eq(None::<String>),
                ))
                .execute(c)?;
            Ok(())
        })
        .await?;
    result.map(|()| report)
}

fn client(ctx: &ImportContext, plugin: &Plugin) -> Result<ClickBankClient, AppError> {
    let keys = plugins::keys(plugin, &ctx.secrets)?;
    let mut cfg = ClientConfig::new(keys.api_key)
        .with_base_url(&ctx.api_base)
        .with_dev_key(keys.dev_key);
    cfg.requests_per_second = ctx.requests_per_second;
    ClickBankClient::new(cfg).map_err(|e| AppError::Validation(format!("ClickBank client: {e}")))
}

async fn run_claimed(
    ctx: &ImportContext,
    id: i64,
    runner: &str,
    page_budget: u32,
    report: &mut RunReport,
) -> Result<(), AppError> {
    let (task, plugin) = ctx
        .db
        .run(move |c| {
            let t = find(c, id)?;
            let p = plugins::find(c, t.plugin_id)?;
            Ok((t, p))
        })
        .await?;
    if !plugin.active {
        return finish(
            ctx,
            id,
            "failed",
            Some(format!("plugin {} is deactivated", plugin.name)),
            None,
            report,
            "plugin deactivated",
        )
        .await;
    }
    let api = Arc::new(client(ctx, &plugin)?);
    if task.kind == "products" {
        let job = Actor {
            user_id: None,
            label: "import job".into(),
            ip: None,
        };
        // One call reads every product page: hold the lease long enough for it.
        let holder = report.runner.clone();
        ctx.db
            .run(move |c| {
                diesel::update(tasks::table.find(id).filter(tasks::locked_by.eq(holder)))
                    .set(tasks::locked_until.eq(Some(crate::domain::now() + Duration::minutes(30))))
                    .execute(c)?;
                Ok(())
            })
            .await?;
        let before = api.stats().requests;
        let result =
            crate::domain::catalog::import::import_products(&ctx.db, api.as_ref(), &plugin, &job).await;
        let used = (api.stats().requests - before) as i64;
        let pid = plugin.id;
        ctx.db.run(move |c| add_requests(c, pid, used)).await?;
        return match result {
            Ok(r) => {
                report.imported = (r.created + r.updated) as i64;
                report.skipped = r.unchanged as i64;
                let (imported, skipped) = (report.imported, report.skipped);
                ctx.db
                    .run(move |c| {
                        diesel::update(tasks::table.find(id))
                            .set((
                                tasks::windows_done.eq(1),
                                tasks::imported.eq(imported),
                                tasks::skipped.eq(skipped),
                            ))
                            .execute(c)?;
                        Ok(())
                    })
                    .await?;
                let outcome = format!("products: {}", r.summary());
                finish(ctx, id, "done", None, None, report, &outcome).await
            }
            Err(e) => finish(ctx, id, "failed", Some(e.to_string()), None, report, "failed").await,
        };
    }
    // A continuous task starts a new cycle: from its cursor (minus the overlap) to today.
    let mut task = task;
    if task.kind == "continuous_orders" && task.cursor_day.is_none() {
        let today = clickbank_today();
        let start = task
            .range_start
            .as_deref()
            .map(parse_day)
            .transpose()?
            .unwrap_or(today - Duration::days(OVERLAP_DAYS))
            .min(today);
        let windows = (today - start).num_days() as i32 + 1;
        let (s, e) = (day_text(start), day_text(today));
        task = ctx
            .db
            .run(move |c| {
                diesel::update(tasks::table.find(id))
                    .set((
                        tasks::range_start.eq(Some(&s)),
                        tasks::range_end.eq(Some(&e)),
                        tasks::cursor_day.eq(Some(&s)),
                        tasks::cursor_page.eq(1),
                        tasks::windows_total.eq(windows),
                        tasks::windows_done.eq(0),
                    ))
                    .execute(c)?;
                find(c, id)
            })
            .await?;
    }
    let end = parse_day(task.range_end.as_deref().unwrap_or_default())?;
    let mut day = parse_day(task.cursor_day.as_deref().unwrap_or_default())?;
    let mut page = task.cursor_page.max(1) as u32;
    let cutoff = task
        .ship_cutoff_days
        .map(|d| crate::domain::now() - Duration::days(i64::from(d)));
    // The next pages are fetched while the current ones are written (two cores: one parses
    // ClickBank's JSON, the other writes), then committed together with the cursor past them.
    let mut prefetched: Option<PageBatch> = None;
    // The records written last, freed while the next ones are written (see below).
    let mut written_records: Vec<PageRecord> = Vec::new();
    while day <= end {
        if report.pages >= page_budget {
            report.more = true;
            report.outcome = format!("paused after {} pages; continues at once", report.pages);
            let now = crate::domain::now();
            ctx.db
                .run(move |c| {
                    diesel::update(tasks::table.find(id))
                        .set((tasks::next_run_at.eq(Some(now)), tasks::last_run_at.eq(Some(now))))
                        .execute(c)?;
                    Ok(())
                })
                .await?;
            return Ok(());
        }
        // Stop when an account executive paused or cancelled the task meanwhile.
        let state = ctx.db.run(move |c| Ok(find(c, id)?.state)).await?;
        if state != "running" {
            report.outcome = format!("stopped: task {state}");
            return Ok(());
        }
        let room = (page_budget - report.pages).min(PAGES_PER_COMMIT);
        let mut batch = match prefetched.take() {
            Some(b) => b,
            None => fetch_pages(&api, &plugin, (day, page), room, end).await,
        };
        let pid = plugin.id;
        let used = batch.requests;
        ctx.db.run(move |c| add_requests(c, pid, used)).await?;
        if batch.pages > 0 {
            let p = plugin.clone();
            let runner = runner.to_string();
            let (pages, windows_done) = (batch.pages, batch.windows_done);
            let records = std::mem::take(&mut batch.records);
            let (at_day, at_page) = batch.next;
            let next = (at_day, at_page, windows_done);
            let write = ctx.db.run(move |c| {
                // First without a savepoint per record; if a record fails, that attempt is
                // rolled back whole and the pages applied again with one savepoint per
                // record, so the failing record is counted and the others kept.
                match commit_pages(c, &p, &records, cutoff, &runner, id, next, false) {
                    Err(PageFail::Record) => commit_pages(c, &p, &records, cutoff, &runner, id, next, true),
                    other => other,
                }
                .map_err(PageFail::into_app)
                // The records are freed beside the next write, not on this thread.
                .map(|counts| (counts, records))
            });
            let written_before = std::mem::take(&mut written_records);
            let room_after = (page_budget - report.pages - pages).min(PAGES_PER_COMMIT);
            let read_ahead = async {
                drop(written_before);
                if batch.failure.is_none() && room_after > 0 && at_day <= end {
                    Some(fetch_pages(&api, &plugin, (at_day, at_page), room_after, end).await)
                } else {
                    None
                }
            };
            let (written, mut ahead) = tokio::join!(write, read_ahead);
            // Requests read ahead count today even if those pages are never written.
            if let Some(used) = ahead.as_mut().map(|a| std::mem::take(&mut a.requests)) {
                ctx.db.run(move |c| add_requests(c, pid, used)).await?;
            }
            let ((imported, skipped), records) = written?;
            written_records = records;
            prefetched = ahead;
            report.pages += pages;
            report.imported += imported;
            report.skipped += skipped;
            (day, page) = (at_day, at_page);
        }
        if let Some(e) = batch.failure {
            return clickbank_failed(ctx, id, &task, e, report).await;
        }
    }
    // Every window done.
    if task.kind == "initial_orders" {
        let interval = ctx.continuous_interval_minutes;
        let pid = plugin.id;
        finish(ctx, id, "done", None, None, report, "done").await?;
        if report.finished {
            let cont = ctx.db.run(move |c| ensure_continuous(c, pid, interval)).await?;
            report.outcome =
                format!("done; continuous import (task {cont}) runs every {interval} minutes from now on");
        }
        Ok(())
    } else {
        let next = crate::domain::now() + Duration::minutes(i64::from(task.interval_minutes));
        let overlap_start = day_text(end - Duration::days(OVERLAP_DAYS));
        ctx.db
            .run(move |c| {
                diesel::update(tasks::table.find(id))
                    .set((
                        tasks::range_start.eq(Some(overlap_start)),
                        tasks::cursor_day.eq(None::<String>),
                    ))
                    .execute(c)?;
                Ok(())
            })
            .await?;
        report.outcome = format!("caught up; next run {}", next.format("%H:%M UTC"));
        let o = report.outcome.clone();
        finish(ctx, id, "queued", None, Some(next), report, &o).await
    }
}

/// Ends a run in `state`, recording the error (or clearing it) and the next run time.
async fn finish(
    ctx: &ImportContext,
    id: i64,
    state: &'static str,
    error: Option<String>,
    next: Option<NaiveDateTime>,
    report: &mut RunReport,
    outcome: &str,
) -> Result<(), AppError> {
    report.outcome = outcome.to_string();
    let runner = report.runner.clone();
    let keep_error = error.is_none() && state == "done";
    let written = ctx
        .db
        .run(move |c| {
            let now = crate::domain::now();
            let mine = tasks::table
                .find(id)
                .filter(tasks::locked_by.eq(runner))
                .filter(tasks::state.eq("running"));
            let n = diesel::update(mine.clone())
                .set((
                    tasks::state.eq(state),
                    tasks::next_run_at.eq(next),
                    tasks::last_run_at.eq(Some(now)),
                    tasks::updated_at.eq(now),
                ))
                .execute(c)?;
            // A finished import keeps the last record error for the merchant to read.
            if n == 1 && !keep_error {
                diesel::update(tasks::table.find(id))
                    .set(tasks::last_error.eq(error))
                    .execute(c)?;
            }
            Ok(n == 1)
        })
        .await?;
    report.finished = written;
    if !written {
        report.outcome = "stopped: the task was paused, cancelled or taken over meanwhile".into();
    }
    Ok(())
}

/// Pages fetched and not yet committed.
struct PageBatch {
    pages: u32,
    /// Day windows the pages completed.
    windows_done: i32,
    requests: i64,
    records: Vec<PageRecord>,
    /// The cursor (day, page) past the last page fetched.
    next: (NaiveDate, u32),
    /// ClickBank's error that stopped the fetching, if one did.
    failure: Option<ClickBankError>,
}

/// A fetched record, already turned into an event on the fetching side (the other core).
struct PageRecord {
    receipt: String,
    /// None for a test transaction the plugin leaves out; the reason when it cannot be read.
    event: Option<Result<OrderEvent, String>>,
    /// The event's key (see [`OrderEvent::key`]).
    key: Option<String>,
}

impl PageRecord {
    fn new(rec: &crate::clickbank::OrderRecord, plugin: &Plugin) -> Self {
        let event = (!rec.transaction_type.is_test() || plugin.include_test)
            .then(|| OrderEvent::from_record(rec).map_err(|e| e.to_string()));
        let key = match &event {
            Some(Ok(ev)) => Some(ev.key(plugin.id)),
            _ => None,
        };
        PageRecord {
            receipt: rec.receipt.clone(),
            event,
            key,
        }
    }
}

/// Fetches up to `room` pages from `from` on, window by window, through day `end`.
async fn fetch_pages(
    api: &ClickBankClient,
    plugin: &Plugin,
    from: (NaiveDate, u32),
    room: u32,
    end: NaiveDate,
) -> PageBatch {
    let mut b = PageBatch {
        pages: 0,
        windows_done: 0,
        requests: 0,
        records: Vec::new(),
        next: from,
        failure: None,
    };
    while b.pages < room && b.next.0 <= end {
        let (day, page) = b.next;
        let before = api.stats().requests;
        let fetched =
            crate::clickbank::ClickBankApi::orders_page(api, &OrdersQuery::between(day, day), page).await;
        b.requests += (api.stats().requests - before) as i64;
        match fetched {
            Ok(got) => {
                b.pages += 1;
                b.records
                    .extend(got.records.iter().map(|r| PageRecord::new(r, plugin)));
                if got.more {
                    b.next = (day, page + 1);
                } else {
                    b.next = (day + Duration::days(1), 1);
                    b.windows_done += 1;
                }
            }
            Err(e) => {
                b.failure = Some(e);
                break;
            }
        }
    }
    b
}

/// Why committing pages failed.
enum PageFail {
    /// A record could not be applied (only when applying without savepoints).
    Record,
    Other(AppError),
}

impl From<diesel::result::Error> for PageFail {
    fn from(e: diesel::result::Error) -> Self {
        PageFail::Other(e.into())
    }
}

impl From<AppError> for PageFail {
    fn from(e: AppError) -> Self {
        PageFail::Other(e)
    }
}

impl PageFail {
    fn into_app(self) -> AppError {
        match self {
            PageFail::Record => AppError::Internal("a record failed in the guarded attempt".into()),
            PageFail::Other(e) => e,
        }
    }
}

/// Applies fetched records and moves the cursor to `next` (day, page, windows completed) in
/// one transaction, as long as `runner` still holds the task. With `guarded`, each record has
/// its own savepoint and a failing one is counted as an error; without, the first failure
/// rolls everything back ([`PageFail::Record`]). Returns (imported, skipped).
#[allow(clippy::too_many_arguments)]
fn commit_pages(
    c: &mut DbConn,
    p: &Plugin,
    records: &[PageRecord],
    cutoff: Option<NaiveDateTime>,
    runner: &str,
    id: i64,
    next: (NaiveDate, u32, i32),
    guarded: bool,
) -> Result<(i64, i64), PageFail> {
    let (next_day, next_page, window_done) = next;
    c.transaction(|c| {
        let (mut imported, mut skipped, mut errors, mut last_error) = (0i64, 0i64, 0i64, None);
        let mut receipts = Vec::new();
        let mut lookups = LookupsAndWrites::default();
        if !guarded {
            // Which records were applied before, asked for all of them at once.
            let keys: Vec<String> = records.iter().filter_map(|r| r.key.clone()).collect();
            lookups.known_applied(c, &keys)?;
        }
        for rec in records {
            let applied = match &rec.event {
                None => {
                    skipped += 1;
                    continue;
                }
                Some(Err(e)) => {
                    // Unreadable: nothing was written for it, so nothing to take back.
                    errors += 1;
                    last_error = Some(format!("receipt {}: {e}", rec.receipt));
                    continue;
                }
                Some(Ok(ev)) if guarded => apply_with(c, p, ev, "import", &mut lookups),
                Some(Ok(ev)) => apply_unguarded(c, p, ev, "import", &mut lookups),
            };
            match applied {
                Ok(Outcome::Applied { .. } | Outcome::Pending) => imported += 1,
                Ok(Outcome::Duplicate | Outcome::Ignored(_)) => skipped += 1,
                Err(_) if !guarded => return Err(PageFail::Record),
                Err(e) => {
                    errors += 1;
                    last_error = Some(format!("receipt {}: {e}", rec.receipt));
                }
            }
            receipts.push(rec.receipt.clone());
        }
        lookups.flush(c)?;
        if let Some(cutoff) = cutoff {
            mark_shipped(c, p.id, &receipts, cutoff)?;
        }
        let now = crate::domain::now();
        let moved = diesel::update(
            tasks::table
                .find(id)
                .filter(tasks::locked_by.eq(runner))
                .filter(tasks::state.eq("running")),
        )
        .set((
            tasks::cursor_day.eq(Some(day_text(next_day))),
            tasks::cursor_page.eq(next_page as i32),
            tasks::windows_done.eq(tasks::windows_done + window_done),
            tasks::imported.eq(tasks::imported + imported),
            tasks::skipped.eq(tasks::skipped + skipped),
            tasks::errors.eq(tasks::errors + errors),
            tasks::locked_until.eq(Some(now + Duration::seconds(LEASE_SECONDS))),
            tasks::updated_at.eq(now),
        ))
        .execute(c)?;
        if moved != 1 {
            // Paused, cancelled, or our lease was taken over: these pages are not ours to commit.
            return Err(PageFail::Other(AppError::Conflict(
                "the task was paused, cancelled or taken over by another process".into(),
            )));
        }
        if let Some(e) = &last_error {
            // Kept until a later record fails: a clean page does not hide it.
            diesel::update(tasks::table.find(id))
                .set(tasks::last_error.eq(Some(e)))
                .execute(c)?;
        }
        Ok((imported, skipped))
    })
}

/// Bad credentials stop the task with a clear error (no crash loop); rate limits, 5xx and
/// timeouts (already retried by the client) put it back with a growing delay.
async fn clickbank_failed(
    ctx: &ImportContext,
    id: i64,
    task: &ImportTask,
    e: ClickBankError,
    report: &mut RunReport,
) -> Result<(), AppError> {
    let text = e.to_string();
    if matches!(e, ClickBankError::Forbidden { .. }) {
        let msg = format!(
            "ClickBank refused the request: {text}. Check the plugin's API key and its roles (order read), then resume."
        );
        return finish(
            ctx,
            id,
            "failed",
            Some(msg),
            None,
            report,
            "failed: ClickBank refused",
        )
        .await;
    }
    let minutes = 5i64 << task.errors.clamp(0, 4);
    let next = crate::domain::now() + Duration::minutes(minutes.min(60));
    let msg = format!(
        "ClickBank did not answer well ({text}); retrying at {} UTC",
        next.format("%H:%M")
    );
    ctx.db
        .run(move |c| {
            diesel::update(tasks::table.find(id))
                .set(tasks::errors.eq(tasks::errors + 1))
                .execute(c)?;
            Ok(())
        })
        .await?;
    finish(
        ctx,
        id,
        "queued",
        Some(msg),
        Some(next),
        report,
        "ClickBank error; retrying later",
    )
    .await
}

/// Physical items of this page's orders older than the cut-off are marked SHIPPED.
fn mark_shipped(
    conn: &mut DbConn,
    plugin_id: i64,
    receipts: &[String],
    cutoff: NaiveDateTime,
) -> Result<(), AppError> {
    if receipts.is_empty() {
        return Ok(());
    }
    let old_orders = orders::table
        .filter(orders::plugin_id.eq(plugin_id))
        .filter(orders::receipt.eq_any(receipts))
        .filter(orders::transaction_time.lt(cutoff))
        .select(orders::id);
    diesel::update(
        fulfillments::table
            .filter(fulfillments::status.eq("HOLD"))
            .filter(fulfillments::order_id.eq_any(old_orders)),
    )
    .set((
        fulfillments::status.eq("SHIPPED"),
        fulfillments::updated_at.eq(crate::domain::now()),
    ))
    .execute(conn)?;
    Ok(())
}

//! One run of a claimed import task: fetch and commit pages until the page budget, the end of
//! the window or ClickBank says stop, then end the run (`finish`) in the state it earned.

use std::sync::Arc;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::pages::{commit_pages, fetch_pages, PageBatch, PageCommit, PageFail, PageRecord, Savepoints};
use super::{
    claim, clickbank_today, day_text, ensure_continuous, find, parse_day, OVERLAP_DAYS, PAGES_PER_COMMIT,
};
use crate::clickbank::{ClickBankClient, ClickBankError};
use crate::db::models::{ImportTask, Plugin, TaskKind, TaskState};
use crate::db::schema::{import_task_runs as runs, import_tasks as tasks};
use crate::db::DbConn;
use crate::domain::clickbank_budget::{self, Purpose};
use crate::domain::context::JobContext;
use crate::domain::lease::{lease_mine, lease_release, lease_take, Lease};
use crate::domain::sync::reconcile::{self, schedule::AskedBy};
use crate::domain::{plugins, Actor};
use crate::error::AppError;

/// A product import reads every product page in one call: its lease lasts that long.
const PRODUCT_IMPORT_LEASE_SECONDS: i64 = 30 * 60;

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunReport {
    pub claimed: bool,
    pub pages: u32,
    pub imported: i64,
    pub skipped: i64,
    /// Records that landed on an order whose sale is not seen yet.
    pub awaiting_sale: i64,
    /// The task has more to do right away (page budget used up).
    pub more: bool,
    /// Which process ran it (the lease holder).
    pub runner: String,
    /// The run's row in the task's history (0 when nothing was claimed).
    pub run_id: i64,
    /// The run's end state was written (false: the task was paused, cancelled or taken over
    /// meanwhile, and its state was left alone).
    pub finished: bool,
    pub outcome: String,
}

/// What imports need: the shared job context and how often the continuous import runs.
#[derive(Clone)]
pub struct ImportContext {
    pub job: JobContext,
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
    let claimed = ctx.job.db.run(move |c| claim(c, id, &r)).await?;
    if !claimed {
        return Ok(RunReport::default());
    }
    let r = runner.to_string();
    let run_id = ctx
        .job
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
        run_id,
        ..Default::default()
    };
    let result = run_claimed(ctx, id, runner, page_budget, &mut report).await;
    if let Err(e) = &result {
        report.outcome = format!("error: {e}");
    }
    let holder = runner.to_string();
    let done = report.clone();
    ctx.job
        .db
        .run(move |c| {
            record_run(c, &done)?;
            // Release only our own lease: another process may hold it by now.
            diesel::update(tasks::table.find(id).filter(lease_mine!(tasks, holder)))
                .set(lease_release!(tasks))
                .execute(c)?;
            Ok(())
        })
        .await?;
    result.map(|()| report)
}

async fn run_claimed(
    ctx: &ImportContext,
    id: i64,
    runner: &str,
    page_budget: u32,
    report: &mut RunReport,
) -> Result<(), AppError> {
    let (task, plugin) = ctx
        .job
        .db
        .run(move |c| {
            let t = find(c, id)?;
            let p = plugins::find(c, t.plugin_id)?;
            Ok((t, p))
        })
        .await?;
    if !plugin.active {
        let error = format!("plugin {} is deactivated", plugin.name);
        return finish(ctx, id, End::failed(error, "plugin deactivated"), report).await;
    }
    let api = Arc::new(ctx.job.bulk_client(&plugin)?);
    if task.kind == TaskKind::Products {
        return run_products(ctx, id, &plugin, &api, report).await;
    }
    let task = if task.kind == TaskKind::ContinuousOrders && task.cursor_day.is_none() {
        start_cycle(ctx, &task).await?
    } else {
        task
    };
    let pages = PageRun {
        ctx,
        task: &task,
        plugin: &plugin,
        api,
        runner,
        page_budget,
    };
    match pages.read_windows(report).await? {
        Windows::Left => Ok(()),
        Windows::ClickBankFailed(e) => clickbank_failed(ctx, id, &task, e, report).await,
        Windows::AllRead => all_read(ctx, &task, report).await,
    }
}

/// A product import: one call reads every product page.
async fn run_products(
    ctx: &ImportContext,
    id: i64,
    plugin: &Plugin,
    api: &ClickBankClient,
    report: &mut RunReport,
) -> Result<(), AppError> {
    let job = Actor {
        user_id: None,
        label: "import job".into(),
        ip: None,
    };
    // Hold the lease long enough for the one call.
    let holder = report.runner.clone();
    ctx.job
        .db
        .run(move |c| {
            let long = Lease {
                runner: &holder,
                seconds: PRODUCT_IMPORT_LEASE_SECONDS,
            };
            diesel::update(tasks::table.find(id).filter(lease_mine!(tasks, &holder)))
                .set(lease_take!(tasks, long))
                .execute(c)?;
            Ok(())
        })
        .await?;
    let before = api.stats().requests;
    let result = crate::domain::catalog::import::import_products(&ctx.job.db, api, plugin, &job).await;
    let used = (api.stats().requests - before) as i64;
    let pid = plugin.id;
    ctx.job
        .db
        .run(move |c| clickbank_budget::add(c, pid, Purpose::Import, used))
        .await?;
    match result {
        Ok(r) => {
            report.imported = (r.created + r.updated) as i64;
            report.skipped = r.unchanged as i64;
            let (imported, skipped) = (report.imported, report.skipped);
            ctx.job
                .db
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
            finish(ctx, id, End::done(outcome), report).await
        }
        Err(e) => finish(ctx, id, End::failed(e.to_string(), "failed"), report).await,
    }
}

/// A continuous task starts a new cycle: from its cursor (minus the overlap) to today.
async fn start_cycle(ctx: &ImportContext, task: &ImportTask) -> Result<ImportTask, AppError> {
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
    let id = task.id;
    ctx.job
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
        .await
}

/// How reading the day windows stopped.
enum Windows {
    /// Every window of the range is read.
    AllRead,
    /// The run stopped with windows left (page budget used up, or staff paused or cancelled
    /// the task): `report.outcome` says which.
    Left,
    ClickBankFailed(ClickBankError),
}

/// Reading a task's order pages, window by window, within one run's page budget.
struct PageRun<'a> {
    ctx: &'a ImportContext,
    task: &'a ImportTask,
    plugin: &'a Plugin,
    api: Arc<ClickBankClient>,
    runner: &'a str,
    page_budget: u32,
}

impl PageRun<'_> {
    async fn read_windows(&self, report: &mut RunReport) -> Result<Windows, AppError> {
        let (ctx, id, plugin, api) = (self.ctx, self.task.id, self.plugin, &self.api);
        let page_budget = self.page_budget;
        let end = parse_day(self.task.range_end.as_deref().unwrap_or_default())?;
        let mut day = parse_day(self.task.cursor_day.as_deref().unwrap_or_default())?;
        let mut page = self.task.cursor_page.max(1) as u32;
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
                ctx.job
                    .db
                    .run(move |c| {
                        diesel::update(tasks::table.find(id))
                            .set((tasks::next_run_at.eq(Some(now)), tasks::last_run_at.eq(Some(now))))
                            .execute(c)?;
                        Ok(())
                    })
                    .await?;
                return Ok(Windows::Left);
            }
            // Stop when an account executive paused or cancelled the task meanwhile.
            let state = ctx.job.db.run(move |c| Ok(find(c, id)?.state)).await?;
            if state != TaskState::Running {
                report.outcome = format!("stopped: task {state}");
                return Ok(Windows::Left);
            }
            let room = (page_budget - report.pages).min(PAGES_PER_COMMIT);
            let mut batch = match prefetched.take() {
                Some(b) => b,
                None => fetch_pages(api, plugin, (day, page), room, end).await,
            };
            let pid = plugin.id;
            let used = batch.requests;
            ctx.job
                .db
                .run(move |c| clickbank_budget::add(c, pid, Purpose::Import, used))
                .await?;
            if batch.pages > 0 {
                let plugin_row = plugin.clone();
                let runner = self.runner.to_string();
                let (pages, windows_done) = (batch.pages, batch.windows_done);
                let records = std::mem::take(&mut batch.records);
                let (at_day, at_page) = batch.next;
                let write = ctx.job.db.run(move |c| {
                    let commit = PageCommit {
                        plugin: &plugin_row,
                        records: &records,
                        runner: &runner,
                        task_id: id,
                        next_day: at_day,
                        next_page: at_page,
                        windows_done,
                    };
                    // First without a savepoint per record; if a record fails, that attempt is
                    // rolled back whole and the pages applied again with one savepoint per
                    // record, so the failing record is counted and the others kept.
                    match commit_pages(c, &commit, Savepoints::None) {
                        Err(PageFail::Record) => commit_pages(c, &commit, Savepoints::PerRecord),
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
                        Some(fetch_pages(api, plugin, (at_day, at_page), room_after, end).await)
                    } else {
                        None
                    }
                };
                let (written, mut ahead) = tokio::join!(write, read_ahead);
                // Requests read ahead count today even if those pages are never written.
                if let Some(used) = ahead.as_mut().map(|a| std::mem::take(&mut a.requests)) {
                    ctx.job
                        .db
                        .run(move |c| clickbank_budget::add(c, pid, Purpose::Import, used))
                        .await?;
                }
                let (counted, records) = written?;
                written_records = records;
                prefetched = ahead;
                report.pages += pages;
                report.imported += counted.imported;
                report.skipped += counted.skipped;
                report.awaiting_sale += counted.awaiting;
                (day, page) = (at_day, at_page);
            }
            if let Some(e) = batch.failure {
                return Ok(Windows::ClickBankFailed(e));
            }
        }
        Ok(Windows::AllRead)
    }
}

/// Every window read: an initial import is done and starts the continuous one; a
/// continuous one waits for its next cycle, reading the last day again then.
async fn all_read(ctx: &ImportContext, task: &ImportTask, report: &mut RunReport) -> Result<(), AppError> {
    let (id, pid) = (task.id, task.plugin_id);
    if task.kind == TaskKind::InitialOrders {
        let interval = ctx.continuous_interval_minutes;
        finish(ctx, id, End::done("done"), report).await?;
        if report.finished {
            // Prove it at once: the last complete days of the import are reconciled now.
            let start = parse_day(task.range_start.as_deref().unwrap_or_default())?;
            let (first, last) = reconcile::nightly_window(start);
            if first <= last {
                ctx.job
                    .db
                    .run(move |c| {
                        reconcile::schedule::request(c, AskedBy::Job("initial import"), pid, first, last)
                            .map(|_| ())
                    })
                    .await?;
            }
            let cont = ctx
                .job
                .db
                .run(move |c| ensure_continuous(c, pid, interval))
                .await?;
            report.outcome =
                format!("done; continuous import (task {cont}) runs every {interval} minutes from now on");
        }
        return Ok(());
    }
    let end = parse_day(task.range_end.as_deref().unwrap_or_default())?;
    if task.kind == TaskKind::DayOrders {
        finish(ctx, id, End::done("done; the day is reconciled again"), report).await?;
        if report.finished {
            ctx.job
                .db
                .run(move |c| {
                    reconcile::schedule::request(c, AskedBy::Job("re-import"), pid, end, end).map(|_| ())
                })
                .await?;
        }
        return Ok(());
    }
    let next = crate::domain::now() + Duration::minutes(i64::from(task.interval_minutes));
    let overlap_start = day_text(end - Duration::days(OVERLAP_DAYS));
    ctx.job
        .db
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
    let outcome = format!("caught up; next run {}", next.format("%H:%M UTC"));
    finish(ctx, id, End::queued(next, None, outcome), report).await
}

/// How a run ends its task: the state it leaves it in, the error the task shows (`None` clears
/// it, except that a finished import keeps its last record error), when it runs again, and the
/// run's outcome line.
struct End {
    state: TaskState,
    error: Option<String>,
    next: Option<NaiveDateTime>,
    outcome: String,
}

impl End {
    fn done(outcome: impl Into<String>) -> End {
        End {
            state: TaskState::Done,
            error: None,
            next: None,
            outcome: outcome.into(),
        }
    }

    /// Stopped until staff resume it.
    fn failed(error: String, outcome: &str) -> End {
        End {
            state: TaskState::Failed,
            error: Some(error),
            next: None,
            outcome: outcome.into(),
        }
    }

    /// Runs again at `next`.
    fn queued(next: NaiveDateTime, error: Option<String>, outcome: impl Into<String>) -> End {
        End {
            state: TaskState::Queued,
            error,
            next: Some(next),
            outcome: outcome.into(),
        }
    }
}

/// Ends the run as `end` says, with the run's row, in one transaction (a page that shows the
/// task finished shows the run's outcome too), as long as this runner still holds the task.
async fn finish(ctx: &ImportContext, id: i64, end: End, report: &mut RunReport) -> Result<(), AppError> {
    report.outcome = end.outcome.clone();
    let runner = report.runner.clone();
    let done = report.clone();
    let written = ctx
        .job
        .db
        .run(move |c| {
            c.transaction(|c| {
                let now = crate::domain::now();
                let mine = tasks::table
                    .find(id)
                    .filter(lease_mine!(tasks, runner))
                    .filter(tasks::state.eq(TaskState::Running));
                let n = diesel::update(mine)
                    .set((
                        tasks::state.eq(end.state),
                        tasks::next_run_at.eq(end.next),
                        tasks::last_run_at.eq(Some(now)),
                        tasks::updated_at.eq(now),
                    ))
                    .execute(c)?;
                // A finished import keeps the last record error for the merchant to read.
                let keep_error = end.error.is_none() && end.state == TaskState::Done;
                if n == 1 && !keep_error {
                    diesel::update(tasks::table.find(id))
                        .set(tasks::last_error.eq(end.error))
                        .execute(c)?;
                }
                if n == 1 {
                    record_run(c, &done)?;
                }
                Ok(n == 1)
            })
        })
        .await?;
    report.finished = written;
    if !written {
        report.outcome = "stopped: the task was paused, cancelled or taken over meanwhile".into();
    }
    Ok(())
}

/// Writes what the run did on its row of the task's history.
fn record_run(c: &mut DbConn, report: &RunReport) -> Result<(), AppError> {
    diesel::update(runs::table.find(report.run_id))
        .set((
            runs::finished_at.eq(Some(crate::domain::now())),
            runs::pages.eq(report.pages as i32),
            runs::imported.eq(report.imported),
            runs::skipped.eq(report.skipped),
            runs::outcome.eq(Some(&report.outcome)),
        ))
        .execute(c)?;
    Ok(())
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
        return finish(ctx, id, End::failed(msg, "failed: ClickBank refused"), report).await;
    }
    let minutes = 5i64 << task.errors.clamp(0, 4);
    let next = crate::domain::now() + Duration::minutes(minutes.min(60));
    let msg = format!(
        "ClickBank did not answer well ({text}); retrying at {} UTC",
        next.format("%H:%M")
    );
    ctx.job
        .db
        .run(move |c| {
            diesel::update(tasks::table.find(id))
                .set(tasks::errors.eq(tasks::errors + 1))
                .execute(c)?;
            Ok(())
        })
        .await?;
    let end = End::queued(next, Some(msg), "ClickBank error; retrying later");
    finish(ctx, id, end, report).await
}

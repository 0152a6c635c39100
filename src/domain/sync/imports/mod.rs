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
//!
//! Here: the tasks (start, control, what is due, the claim) and the request count. `run`: one
//! run of a claimed task and how it ends. `pages`: fetching pages and committing them with the
//! cursor.

pub mod failed;
mod pages;
mod run;

pub use crate::domain::clickbank_budget::clickbank_today;
pub use run::{run_task, ImportContext, RunReport};

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use serde_json::json;

use crate::db::models::{ImportTask, ImportTaskRun, TaskAction, TaskKind, TaskState};
use crate::db::schema::{import_task_runs as runs, import_tasks as tasks};
use crate::db::DbConn;
use crate::domain::lease::{lease_free, lease_take, Lease};
use crate::domain::{audit, plugins, Actor};
use crate::error::AppError;

/// How long a claim lasts without renewal (renewed after every page).
pub const LEASE_SECONDS: i64 = 120;
/// Pages a run handles before it gives the scheduler back (it is due again at once).
pub const PAGES_PER_RUN: u32 = 96;
/// Pages fetched and then committed in one transaction (with the cursor past the last one).
/// One commit per page spent a sixth of an import writing the same index pages again.
pub const PAGES_PER_COMMIT: u32 = 48;
/// Days a continuous import reads again behind its cursor, for late ClickBank records.
pub const OVERLAP_DAYS: i64 = 1;

pub(crate) fn day_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub(crate) fn parse_day(s: &str) -> Result<NaiveDate, AppError> {
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

/// The plugin's newest initial order import that was not cancelled.
pub fn latest_initial(conn: &mut DbConn, plugin_id: i64) -> Result<Option<ImportTask>, AppError> {
    Ok(tasks::table
        .filter(tasks::plugin_id.eq(plugin_id))
        .filter(tasks::kind.eq(TaskKind::InitialOrders))
        .filter(tasks::state.ne(TaskState::Cancelled))
        .order(tasks::id.desc())
        .select(ImportTask::as_select())
        .first(conn)
        .optional()?)
}

pub fn runs_of(conn: &mut DbConn, task_id: i64, limit: i64) -> Result<Vec<ImportTaskRun>, AppError> {
    Ok(runs::table
        .filter(runs::task_id.eq(task_id))
        .order(runs::id.desc())
        .limit(limit)
        .select(ImportTaskRun::as_select())
        .load(conn)?)
}

/// Starts an initial import of `days_back` days (1..3650). With `ship_cutoff_days`, the
/// plugin's SHIPPED cut-off becomes that many days before now: an item ships if and only if
/// its own event (its sale or its rebill) is newer, so nothing older ships twice.
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
            .filter(tasks::kind.eq(TaskKind::InitialOrders))
            .filter(tasks::state.eq_any(TaskState::UNDER_WAY))
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
                tasks::kind.eq(TaskKind::InitialOrders),
                tasks::plugin_id.eq(plugin_id),
                tasks::state.eq(TaskState::Queued),
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
        if let Some(d) = ship_cutoff_days {
            diesel::update(crate::db::schema::plugins::table.find(plugin_id))
                .set(crate::db::schema::plugins::ship_cutoff_at.eq(Some(now - Duration::days(i64::from(d)))))
                .execute(conn)?;
        }
        let task = newest_task(conn, plugin_id)?;
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

/// Queues a re-import of ClickBank day `day` of the plugin ("Re-import this day" on
/// Reconciliation): a task of one day window read through the same code as every import, so
/// what is missing is applied and what is there is recognised by its event key. When it is
/// done the day is reconciled again. A re-import of that day already under way is returned.
pub fn start_day(
    conn: &mut DbConn,
    actor: &Actor,
    plugin_id: i64,
    day: NaiveDate,
) -> Result<ImportTask, AppError> {
    if day > clickbank_today() {
        return Err(AppError::Validation(format!(
            "{} has not begun in ClickBank's time yet.",
            day_text(day)
        )));
    }
    conn.transaction(|conn| {
        let plugin = plugins::find(conn, plugin_id)?;
        let d = day_text(day);
        let existing: Option<i64> = tasks::table
            .filter(tasks::plugin_id.eq(plugin_id))
            .filter(tasks::kind.eq(TaskKind::DayOrders))
            .filter(tasks::range_start.eq(&d))
            .filter(tasks::state.eq_any(TaskState::UNDER_WAY))
            .select(tasks::id)
            .first(conn)
            .optional()?;
        if let Some(id) = existing {
            return find(conn, id);
        }
        let now = crate::domain::now();
        diesel::insert_into(tasks::table)
            .values((
                tasks::kind.eq(TaskKind::DayOrders),
                tasks::plugin_id.eq(plugin_id),
                tasks::state.eq(TaskState::Queued),
                tasks::days_back.eq(1),
                tasks::range_start.eq(Some(&d)),
                tasks::range_end.eq(Some(&d)),
                tasks::cursor_day.eq(Some(&d)),
                tasks::cursor_page.eq(1),
                tasks::windows_total.eq(1),
                tasks::next_run_at.eq(Some(now)),
                tasks::created_at.eq(now),
                tasks::updated_at.eq(now),
            ))
            .execute(conn)?;
        let task = newest_task(conn, plugin_id)?;
        audit::record(
            conn,
            actor,
            "import.day.start",
            &plugin.name,
            json!({"task": task.id, "day": d}),
        )?;
        Ok(task)
    })
}

/// The plugin's newest task (the one just inserted, in the caller's transaction).
fn newest_task(conn: &mut DbConn, plugin_id: i64) -> Result<ImportTask, AppError> {
    Ok(tasks::table
        .filter(tasks::plugin_id.eq(plugin_id))
        .order(tasks::id.desc())
        .select(ImportTask::as_select())
        .first(conn)?)
}

/// Queues a product import of the plugin (a background task like the order imports).
pub fn start_products(conn: &mut DbConn, actor: &Actor, plugin_id: i64) -> Result<ImportTask, AppError> {
    conn.transaction(|conn| {
        let plugin = plugins::find(conn, plugin_id)?;
        let existing: Option<i64> = tasks::table
            .filter(tasks::plugin_id.eq(plugin_id))
            .filter(tasks::kind.eq(TaskKind::Products))
            .filter(tasks::state.eq_any(TaskState::CLAIMABLE))
            .select(tasks::id)
            .first(conn)
            .optional()?;
        if let Some(id) = existing {
            return find(conn, id);
        }
        let now = crate::domain::now();
        diesel::insert_into(tasks::table)
            .values((
                tasks::kind.eq(TaskKind::Products),
                tasks::plugin_id.eq(plugin_id),
                tasks::state.eq(TaskState::Queued),
                tasks::windows_total.eq(1),
                tasks::next_run_at.eq(Some(now)),
                tasks::created_at.eq(now),
                tasks::updated_at.eq(now),
            ))
            .execute(conn)?;
        let task = newest_task(conn, plugin_id)?;
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
        .filter(tasks::kind.eq(TaskKind::ContinuousOrders))
        .select(tasks::id)
        .first(conn)
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let now = crate::domain::now();
    diesel::insert_into(tasks::table)
        .values((
            tasks::kind.eq(TaskKind::ContinuousOrders),
            tasks::plugin_id.eq(plugin_id),
            tasks::state.eq(TaskState::Queued),
            tasks::range_start.eq(Some(day_text(clickbank_today() - Duration::days(OVERLAP_DAYS)))),
            tasks::interval_minutes.eq(interval_minutes),
            tasks::next_run_at.eq(Some(now + Duration::minutes(i64::from(interval_minutes)))),
            tasks::created_at.eq(now),
            tasks::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(tasks::table
        .filter(tasks::plugin_id.eq(plugin_id))
        .filter(tasks::kind.eq(TaskKind::ContinuousOrders))
        .select(tasks::id)
        .first(conn)?)
}

/// Staff actions on a task (see [`TaskAction::move_from`] for which apply when); `action` is
/// the text of the URL.
pub fn control(conn: &mut DbConn, actor: &Actor, id: i64, action: &str) -> Result<ImportTask, AppError> {
    let action = TaskAction::parse(action)
        .ok_or_else(|| AppError::Validation(format!("There is no import task action {action:?}.")))?;
    conn.transaction(|conn| {
        let t = find(conn, id)?;
        let now = crate::domain::now();
        let Some(state) = action.move_from(t.kind, t.state) else {
            return Err(AppError::Validation(format!(
                "A {} task that is {} cannot be {}.",
                t.kind_label().to_lowercase(),
                t.state,
                action.words()
            )));
        };
        let next = match action {
            TaskAction::Pause => t.next_run_at,
            TaskAction::Cancel => None,
            TaskAction::Resume | TaskAction::RunNow => Some(now),
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
            json!({"before": t.state.as_str(), "after": state.as_str()}),
        )?;
        find(conn, id)
    })
}

/// Ids of tasks due now whose lease is free.
pub fn due(conn: &mut DbConn, limit: i64) -> Result<Vec<i64>, AppError> {
    let now = crate::domain::now();
    Ok(tasks::table
        .filter(tasks::state.eq_any(TaskState::CLAIMABLE))
        .filter(tasks::next_run_at.le(now))
        .filter(lease_free!(tasks))
        .order(tasks::next_run_at.asc())
        .limit(limit)
        .select(tasks::id)
        .load(conn)?)
}

/// The lease a runner holds on a task.
pub fn lease(runner: &str) -> Lease<'_> {
    Lease {
        runner,
        seconds: LEASE_SECONDS,
    }
}

/// Claims `id` for `runner` when nobody holds it (see [`crate::domain::lease`]).
pub fn claim(conn: &mut DbConn, id: i64, runner: &str) -> Result<bool, AppError> {
    let n = diesel::update(
        tasks::table
            .find(id)
            .filter(tasks::state.eq_any(TaskState::CLAIMABLE))
            .filter(lease_free!(tasks)),
    )
    .set((
        lease_take!(tasks, lease(runner)),
        tasks::state.eq(TaskState::Running),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

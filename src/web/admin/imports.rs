//! Admin → Import tasks: every background ClickBank import with its state, progress, runs
//! and controls; the initial import form lives on the plugin page.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use crate::db::models::{ImportTask, ImportTaskRun};
use crate::domain::sync::imports::failed::{self, FailedRecord};
use crate::domain::sync::{imports, sale_lookups};
use crate::domain::{clickbank_budget, plugins};
use crate::error::AppError;
use crate::web::extract::{Admin, AdminForm};
use crate::web::page::PageCtx;
use crate::web::{redirect, render};
use crate::AppState;

#[derive(Template)]
#[template(path = "admin/import_tasks.html")]
struct TasksPage {
    ctx: PageCtx,
    tasks: Vec<(ImportTask, String)>,
}

pub async fn list(state: web::Data<AppState>, a: Admin) -> Result<HttpResponse, AppError> {
    let tasks = state.db.read(imports::list).await?;
    render(&TasksPage { ctx: a.0.ctx, tasks })
}

#[derive(Template)]
#[template(path = "admin/import_task.html")]
struct TaskPage {
    ctx: PageCtx,
    t: ImportTask,
    plugin: String,
    runs: Vec<ImportTaskRun>,
    requests_today: i64,
    waiting: sale_lookups::Waiting,
    failed: Vec<FailedRecord>,
    failed_total: i64,
}

pub async fn show(
    state: web::Data<AppState>,
    a: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (t, plugin, runs, requests_today, waiting, (failed, failed_total)) = state
        .db
        .read(move |c| {
            let t = imports::find(c, id)?;
            let p = plugins::find(c, t.plugin_id)?;
            let runs = imports::runs_of(c, id, 20)?;
            let req = clickbank_budget::today_usage(c, p.id)?.total;
            let waiting = sale_lookups::waiting(c, Some(p.id))?;
            let failed = failed::of_task(c, id, 100)?;
            Ok((t, p.name, runs, req, waiting, failed))
        })
        .await?;
    render(&TaskPage {
        ctx: a.0.ctx,
        t,
        plugin,
        runs,
        requests_today,
        waiting,
        failed,
        failed_total,
    })
}

/// What the progress bar polls.
pub async fn progress(
    state: web::Data<AppState>,
    _a: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let t = state.db.read(move |c| imports::find(c, id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "state": t.state.as_str(),
            "percent": t.percent(),
            "windows_done": t.windows_done,
            "windows_total": t.windows_total,
            "imported": t.imported,
            "skipped": t.skipped,
            "errors": t.errors,
            "awaiting_sale": t.awaiting_sale,
            "last_error": t.last_error,
            "cursor_day": t.cursor_day,
        })))
}

pub async fn control(
    state: web::Data<AppState>,
    a: Admin,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, action) = path.into_inner();
    if !matches!(action.as_str(), "pause" | "resume" | "cancel" | "run_now") {
        return Err(AppError::NotFound);
    }
    let actor = a.actor();
    let act = action.clone();
    let result = state.db.run(move |c| imports::control(c, &actor, id, &act)).await;
    state.wake_jobs.notify_one();
    a.flash_result(result, |t| format!("{}: {}.", t.kind_label(), t.state))?;
    Ok(redirect(&format!("/admin/import-tasks/{id}")))
}

/// Reprocesses a failed record of the task (`which` is its id), or all of them (`all`).
pub async fn reprocess_failed(
    state: web::Data<AppState>,
    a: Admin,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, which) = path.into_inner();
    let actor = a.actor();
    let message = if which == "all" {
        let (done, still, first) = state
            .db
            .run(move |c| failed::reprocess_all(c, &actor, id))
            .await?;
        match first {
            None => Ok(format!("{done} failed record(s) applied.")),
            Some(why) => Err(format!("{done} applied; {still} still fail. First: {why}")),
        }
    } else {
        let rid: i64 = which.parse().map_err(|_| AppError::NotFound)?;
        state
            .db
            .run(move |c| failed::reprocess(c, &actor, rid))
            .await?
            .map(|receipt| format!("Record {receipt} applied."))
            .map_err(|why| format!("Still failing: {why}"))
    };
    match message {
        Ok(m) => a.flash("ok", m),
        Err(m) => a.flash("error", m),
    }
    Ok(redirect(&format!("/admin/import-tasks/{id}#failed-records")))
}

#[derive(Deserialize)]
pub struct InitialForm {
    days_back: String,
    #[serde(default)]
    ship_cutoff_days: String,
}

/// Starts an initial order import for a plugin and shows its progress page.
pub async fn start_initial(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    AdminForm(a, form): AdminForm<InitialForm>,
) -> Result<HttpResponse, AppError> {
    let plugin_id = id.into_inner();
    let parse = |s: &str, what: &str| -> Result<Option<i32>, AppError> {
        match s.trim() {
            "" => Ok(None),
            v => v
                .parse::<i32>()
                .map(Some)
                .map_err(|_| AppError::Validation(format!("{what} must be a whole number of days."))),
        }
    };
    let result = async {
        let days = parse(&form.days_back, "Days back")?
            .ok_or_else(|| AppError::Validation("Say how many days back to import (1 to 3650).".into()))?;
        let cutoff = parse(&form.ship_cutoff_days, "The SHIPPED cut-off")?;
        let actor = a.actor();
        state
            .db
            .run(move |c| imports::start_initial(c, &actor, plugin_id, days, cutoff))
            .await
    }
    .await;
    match result {
        Ok(t) => {
            state.wake_jobs.notify_one();
            a.flash(
                "ok",
                "Initial import started. It runs in the background; you can leave this page.",
            );
            Ok(redirect(&format!("/admin/import-tasks/{}", t.id)))
        }
        Err(e) => {
            a.flash_error(e)?;
            Ok(redirect(&format!("/admin/plugins/{plugin_id}")))
        }
    }
}

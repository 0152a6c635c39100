//! Fulfillment → Export runs: each run with its items, shipments and failures; "Export now".

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::domain::fulfillment::bundle_window;
use crate::domain::fulfillment::export::{self, RunRow, ShipmentRow};
use crate::error::AppError;
use crate::web::extract::Staff;
use crate::web::page::PageCtx;
use crate::web::{redirect, render};
use crate::AppState;

#[derive(Template)]
#[template(path = "fulfillment/runs.html")]
struct RunsPage {
    ctx: PageCtx,
    runs: Vec<RunRow>,
    interval: i32,
}

pub async fn list(state: web::Data<AppState>, s: Staff) -> Result<HttpResponse, AppError> {
    let runs = state.db.read(|c| export::recent_runs(c, 200)).await?;
    render(&RunsPage {
        ctx: s.0.ctx,
        runs,
        interval: state.config.export_interval_minutes,
    })
}

#[derive(Template)]
#[template(path = "fulfillment/run.html")]
struct RunPage {
    ctx: PageCtx,
    run: RunRow,
    shipments: Vec<ShipmentRow>,
}

pub async fn show(
    state: web::Data<AppState>,
    s: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (run, shipments) = state
        .db
        .read(move |c| Ok((export::find_run(c, id)?, export::run_shipments(c, id)?)))
        .await?;
    render(&RunPage {
        ctx: s.0.ctx,
        run,
        shipments,
    })
}

#[derive(serde::Deserialize)]
pub struct WindowForm {
    #[serde(default)]
    hours: String,
}

/// CRM → Campaigns → a campaign: its fulfillment bundle window.
pub async fn bundle_window(
    state: web::Data<AppState>,
    s: Staff,
    id: web::Path<i64>,
    form: web::Form<WindowForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let actor = s.actor();
    let hours = form.into_inner().hours;
    let result = state
        .db
        .run(move |c| bundle_window::set(c, &actor, id, &hours))
        .await;
    s.flash_result(result, |h| format!("Bundle window set to {h} hours."))?;
    Ok(redirect(&format!("/crm/campaigns/{id}")))
}

/// Every real house is exported at the next scheduler tick (woken now).
pub async fn export_now(state: web::Data<AppState>, s: Staff) -> Result<HttpResponse, AppError> {
    let actor = s.actor();
    let n = state
        .db
        .run(move |c| {
            let n = export::request_now(c, None)?;
            crate::domain::audit::record(
                c,
                &actor,
                "fulfillment.export_now",
                "fulfillment_houses",
                serde_json::json!({"houses": n}),
            )?;
            Ok(n)
        })
        .await?;
    state.wake_jobs.notify_one();
    if state.config.jobs {
        s.flash(
            "ok",
            format!("Export of {n} house(s) starts now; reload this page to see the runs."),
        );
    } else {
        s.flash(
            "info",
            format!(
                "{n} house(s) marked for export; this process runs no jobs (--no-jobs), another one will."
            ),
        );
    }
    Ok(redirect("/fulfillment/runs"))
}

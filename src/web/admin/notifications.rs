//! Admin → Notifications: the INS inbox with filters, the decrypted payload, reprocessing.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::db::models::InboxStatus;
use crate::db::models::{InboundNotification, Plugin};
use crate::domain::plugins;
use crate::domain::sync::inbox::{self, InboxFilter};
use crate::domain::sync::sale_lookups;
use crate::error::AppError;
use crate::web::extract::Admin;
use crate::web::page::PageCtx;
use crate::web::{choice, redirect, render};
use crate::AppState;

#[derive(Deserialize, Default)]
pub struct InboxQuery {
    plugin: Option<String>,
    r#type: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<i64>,
}

fn opt_date(s: &Option<String>, what: &str) -> Result<Option<chrono::NaiveDate>, AppError> {
    match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| AppError::Validation(format!("The {what} date must look like 2026-01-31."))),
    }
}

#[derive(Template)]
#[template(path = "admin/notifications.html")]
struct InboxPage {
    ctx: PageCtx,
    rows: Vec<InboundNotification>,
    plugins: Vec<Plugin>,
    statuses: &'static [InboxStatus],
    plugin: String,
    kind: String,
    status: String,
    from: String,
    to: String,
    next: Option<String>,
    failed: i64,
    waiting: sale_lookups::Waiting,
}

pub async fn list(
    state: web::Data<AppState>,
    a: Admin,
    q: web::Query<InboxQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let filter = InboxFilter {
        plugin_id: q.plugin.as_deref().and_then(|p| p.parse().ok()),
        transaction_type: q.r#type.clone(),
        status: choice(q.status.as_deref().unwrap_or_default(), "notification status")?,
        from: opt_date(&q.from, "from")?,
        to: opt_date(&q.to, "to")?,
        before_id: q.before,
        limit: 50,
    };
    let f2 = filter.clone();
    let (rows, more, plugins, failed, waiting) = state
        .db
        .run(move |c| {
            let (rows, more) = inbox::list(c, &f2)?;
            let failed = inbox::list(
                c,
                &InboxFilter {
                    status: Some(InboxStatus::Failed),
                    limit: 1000,
                    ..Default::default()
                },
            )?
            .0
            .len() as i64;
            let waiting = sale_lookups::waiting(c, f2.plugin_id)?;
            Ok((rows, more, plugins::list(c)?, failed, waiting))
        })
        .await?;
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let next = match rows.last() {
        Some(last) if more => Some(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("plugin", &s(&q.plugin))
                .append_pair("type", &s(&q.r#type))
                .append_pair("status", &s(&q.status))
                .append_pair("from", &s(&q.from))
                .append_pair("to", &s(&q.to))
                .append_pair("before", &last.id.to_string())
                .finish(),
        ),
        _ => None,
    };
    render(&InboxPage {
        ctx: a.0.ctx,
        rows,
        plugins,
        statuses: InboxStatus::ALL,
        plugin: s(&q.plugin),
        kind: s(&q.r#type),
        status: s(&q.status),
        from: s(&q.from),
        to: s(&q.to),
        next,
        failed,
        waiting,
    })
}

#[derive(Template)]
#[template(path = "admin/notification.html")]
struct DetailPage {
    ctx: PageCtx,
    n: InboundNotification,
    /// The order and customer of the receipt, when the CRM knows them.
    known: Option<(i64, i64)>,
}

pub async fn show(
    state: web::Data<AppState>,
    a: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (n, known) = state
        .db
        .run(move |c| {
            let n = inbox::find(c, id)?;
            let known = match (n.plugin_id, n.receipt.as_deref()) {
                (Some(plugin), Some(receipt)) => {
                    crate::domain::orders::order_and_customer(c, plugin, receipt)?
                }
                _ => None,
            };
            Ok((n, known))
        })
        .await?;
    render(&DetailPage {
        ctx: a.0.ctx,
        n,
        known,
    })
}

pub async fn reprocess(
    state: web::Data<AppState>,
    a: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let secrets = state.secrets.clone();
    let status = state.db.run(move |c| inbox::process(c, &secrets, id)).await?;
    if status == InboxStatus::Failed {
        a.flash("error", "Reprocessed: it still fails. The reason is shown below.");
    } else {
        a.flash("ok", format!("Reprocessed: {status}."));
    }
    Ok(redirect(&format!("/admin/notifications/{id}")))
}

pub async fn reprocess_failed(state: web::Data<AppState>, a: Admin) -> Result<HttpResponse, AppError> {
    let secrets = state.secrets.clone();
    let (ok, still) = state
        .db
        .run(move |c| inbox::reprocess_failed(c, &secrets))
        .await?;
    a.flash(
        if still == 0 { "ok" } else { "error" },
        format!(
            "Reprocessed {} failed notifications: {ok} now applied, {still} still failing.",
            ok + still
        ),
    );
    Ok(redirect("/admin/notifications"))
}

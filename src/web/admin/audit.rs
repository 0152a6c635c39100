//! Admin → Audit log: newest first, filter by action and actor, keyset pages.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::db::models::AuditEntry;
use crate::domain::audit::{self, AuditFilter};
use crate::error::AppError;
use crate::web::extract::Admin;
use crate::web::page::PageCtx;
use crate::web::render;
use crate::AppState;

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    action: Option<String>,
    actor: Option<String>,
    before: Option<i64>,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    ctx: PageCtx,
    action: String,
    actor: String,
    entries: Vec<AuditEntry>,
    /// Query string of the next (older) page, when there is one.
    next: Option<String>,
}

pub async fn list(
    state: web::Data<AppState>,
    a: Admin,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let filter = AuditFilter {
        action: q.action.clone(),
        actor: q.actor.clone(),
        before_id: q.before,
    };
    let (entries, more) = state.db.run(move |conn| audit::list(conn, &filter)).await?;
    let action = q.action.unwrap_or_default();
    let actor = q.actor.unwrap_or_default();
    let next = match entries.last() {
        Some(last) if more => Some(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("action", &action)
                .append_pair("actor", &actor)
                .append_pair("before", &last.id.to_string())
                .finish(),
        ),
        _ => None,
    };
    render(&AuditPage {
        ctx: a.0.ctx,
        action,
        actor,
        entries,
        next,
    })
}

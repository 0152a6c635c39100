//! Admin → Audit log: newest first, filter by action and actor, keyset pages.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::domain::audit::{self, AuditFilter, AuditTarget, ReadableEntry};
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
    entries: Vec<Row>,
    /// Query string of the next (older) page, when there is one.
    next: Option<String>,
}

/// One entry of the page: the entry as people read it and where its target's page is.
struct Row {
    e: ReadableEntry,
    href: Option<String>,
}

/// The page of what an entry is about (plugins are named by name: `plugins` maps names to ids).
fn href_of(target: &AuditTarget, plugins: &[(String, i64)]) -> Option<String> {
    Some(match target {
        AuditTarget::Customer(id) => format!("/customers/{id}"),
        AuditTarget::Campaign(id) => format!("/crm/campaigns/{id}"),
        AuditTarget::House(id) => format!("/crm/fulfillment-houses/{id}"),
        AuditTarget::Product(id) => format!("/crm/products/{id}"),
        AuditTarget::ImportTask(id) => format!("/admin/import-tasks/{id}"),
        AuditTarget::Plugin(name) => {
            let id = plugins.iter().find(|(n, _)| n == name)?.1;
            format!("/admin/plugins/{id}")
        }
        AuditTarget::User => "/admin/users".into(),
        AuditTarget::ApiUser => "/admin/api-users".into(),
        AuditTarget::Receipt(r) => format!(
            "/customer-service?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("receipt", r)
                .finish()
        ),
        AuditTarget::Other => return None,
    })
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
    let (entries, more, plugins) = state
        .db
        .run(move |conn| {
            let (entries, more) = audit::list(conn, &filter)?;
            let plugins: Vec<(String, i64)> = crate::domain::plugins::list(conn)?
                .into_iter()
                .map(|p| (p.name, p.id))
                .collect();
            Ok((entries, more, plugins))
        })
        .await?;
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
    let entries = entries
        .into_iter()
        .map(|e| {
            let e = ReadableEntry::new(e);
            Row {
                href: href_of(&e.target, &plugins),
                e,
            }
        })
        .collect();
    render(&AuditPage {
        ctx: a.0.ctx,
        action,
        actor,
        entries,
        next,
    })
}

//! The audit log: who did what, when, from where. Written in the same transaction as the
//! change it describes.

use diesel::prelude::*;

use super::Actor;
use crate::db::models::{AuditEntry, NewAuditEntry};
use crate::db::schema::audit_log;
use crate::db::DbConn;
use crate::error::AppError;

/// Appends one entry. `detail` is a JSON object (before/after, reasons); never a secret.
pub fn record(
    conn: &mut DbConn,
    actor: &Actor,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    let detail = detail.to_string();
    diesel::insert_into(audit_log::table)
        .values(NewAuditEntry {
            at: super::now(),
            actor_user_id: actor.user_id,
            actor: &actor.label,
            action,
            target,
            detail: &detail,
            ip: actor.ip.as_deref(),
        })
        .execute(conn)?;
    Ok(())
}

/// Filters of the audit page.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    /// Action prefix, e.g. `login` or `user.`.
    pub action: Option<String>,
    /// Substring of the actor label (usually an email).
    pub actor: Option<String>,
    /// Show entries with an id below this one (keyset paging, newest first).
    pub before_id: Option<i64>,
}

pub const PAGE_SIZE: i64 = 50;

/// One page of entries, newest first, and whether more follow.
pub fn list(conn: &mut DbConn, filter: &AuditFilter) -> Result<(Vec<AuditEntry>, bool), AppError> {
    let mut q = audit_log::table.select(AuditEntry::as_select()).into_boxed();
    if let Some(a) = filter.action.as_deref().filter(|a| !a.is_empty()) {
        q = q.filter(
            audit_log::action
                .like(format!("{}%", escape_like(a)))
                .escape('\\'),
        );
    }
    if let Some(a) = filter.actor.as_deref().filter(|a| !a.is_empty()) {
        q = q.filter(
            audit_log::actor
                .like(format!("%{}%", escape_like(a)))
                .escape('\\'),
        );
    }
    if let Some(id) = filter.before_id {
        q = q.filter(audit_log::id.lt(id));
    }
    let mut rows: Vec<AuditEntry> = q.order(audit_log::id.desc()).limit(PAGE_SIZE + 1).load(conn)?;
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    Ok((rows, more))
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `\` as the escape character.
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

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

/// What an entry is about, read from its target and detail, so the page can link it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditTarget {
    Customer(i64),
    Campaign(i64),
    House(i64),
    Product(i64),
    ImportTask(i64),
    /// A plugin by its name (plugin and import actions name their plugin).
    Plugin(String),
    User,
    ApiUser,
    /// A ClickBank receipt (a reprocessed import record).
    Receipt(String),
    Other,
}

/// One field an entry changed: `field: old → new`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub field: String,
    pub old: String,
    pub new: String,
}

/// An entry as people read it: its target, what changed (from the detail's `before` and
/// `after`) and the rest of the detail as key and value.
#[derive(Debug, Clone)]
pub struct ReadableEntry {
    pub entry: AuditEntry,
    pub target: AuditTarget,
    pub changes: Vec<Change>,
    pub facts: Vec<(String, String)>,
}

impl ReadableEntry {
    pub fn new(entry: AuditEntry) -> Self {
        let detail: serde_json::Value =
            serde_json::from_str(&entry.detail).unwrap_or(serde_json::Value::Null);
        let target = target_of(&entry.action, &entry.target, &detail);
        let mut changes = Vec::new();
        let mut facts = Vec::new();
        match detail {
            serde_json::Value::Object(mut map) => {
                let before = map.remove("before");
                let after = map.remove("after");
                if before.is_some() || after.is_some() {
                    changes = diff(&entry.action, before, after);
                }
                facts = map.into_iter().map(|(k, v)| (k, value_text(&v))).collect();
            }
            serde_json::Value::Null => {}
            other => facts.push(("detail".into(), value_text(&other))),
        }
        ReadableEntry {
            entry,
            target,
            changes,
            facts,
        }
    }
}

fn number_after(text: &str, prefix: &str) -> Option<i64> {
    text.strip_prefix(prefix)?.trim().parse().ok()
}

fn target_of(action: &str, target: &str, detail: &serde_json::Value) -> AuditTarget {
    let id_in = |key: &str| detail.get(key).and_then(serde_json::Value::as_i64);
    if let Some(id) = number_after(target, "customer:") {
        return AuditTarget::Customer(id);
    }
    if let Some(id) = number_after(target, "campaign:").or_else(|| id_in("campaign_id")) {
        return AuditTarget::Campaign(id);
    }
    if let Some(id) = number_after(target, "fulfillment_house:") {
        return AuditTarget::House(id);
    }
    if let Some(id) = number_after(target, "task ").or_else(|| id_in("task")) {
        return AuditTarget::ImportTask(id);
    }
    if let Some(id) = id_in("product_id") {
        return AuditTarget::Product(id);
    }
    let family = action.split('.').next().unwrap_or("");
    match family {
        "import" if action == "import.record.reprocess" => AuditTarget::Receipt(target.to_string()),
        "plugin" | "import" | "product" => AuditTarget::Plugin(target.to_string()),
        "user" | "setup" => AuditTarget::User,
        "api_user" => AuditTarget::ApiUser,
        _ => AuditTarget::Other,
    }
}

/// `before`/`after` as the fields that differ; two plain values are one field named after the
/// action (`user.role`: role).
fn diff(action: &str, before: Option<serde_json::Value>, after: Option<serde_json::Value>) -> Vec<Change> {
    use serde_json::Value;
    let before = before.unwrap_or(Value::Null);
    let after = after.unwrap_or(Value::Null);
    match (&before, &after) {
        (Value::Object(_), _) | (_, Value::Object(_)) => {
            let empty = serde_json::Map::new();
            let b = before.as_object().unwrap_or(&empty);
            let a = after.as_object().unwrap_or(&empty);
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter_map(|k| {
                    let (old, new) = (b.get(k).unwrap_or(&Value::Null), a.get(k).unwrap_or(&Value::Null));
                    (old != new).then(|| Change {
                        field: k.replace('_', " "),
                        old: value_text(old),
                        new: value_text(new),
                    })
                })
                .collect()
        }
        _ => {
            let field = match action.rsplit('.').next().unwrap_or(action) {
                "rename" => "name".to_string(),
                other => other.replace('_', " "),
            };
            vec![Change {
                field,
                old: value_text(&before),
                new: value_text(&after),
            }]
        }
    }
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "—".into(),
        serde_json::Value::Bool(true) => "yes".into(),
        serde_json::Value::Bool(false) => "no".into(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str, target: &str, detail: serde_json::Value) -> ReadableEntry {
        ReadableEntry::new(AuditEntry {
            id: 1,
            at: chrono::NaiveDateTime::default(),
            actor_user_id: None,
            actor: "a@example.com".into(),
            action: action.into(),
            target: target.into(),
            detail: detail.to_string(),
            ip: None,
        })
    }

    #[test]
    fn before_and_after_read_as_the_fields_that_changed() {
        let e = entry(
            "product.update",
            "SKU MUG (Mug)",
            serde_json::json!({"product_id": 4, "before": {"title": "Mug", "shippable": false, "cost": 100},
                               "after": {"title": "Mug", "shippable": true, "cost": 250}}),
        );
        assert_eq!(e.target, AuditTarget::Product(4));
        let lines: Vec<String> = e
            .changes
            .iter()
            .map(|c| format!("{}: {} → {}", c.field, c.old, c.new))
            .collect();
        assert_eq!(lines, ["cost: 100 → 250", "shippable: no → yes"]);
        assert_eq!(e.facts, [("product_id".to_string(), "4".to_string())]);
        let role = entry(
            "user.role",
            "x@example.com",
            serde_json::json!({"before": "staff", "after": "admin"}),
        );
        assert_eq!(role.changes[0].field, "role");
        assert_eq!(
            (role.changes[0].old.as_str(), role.changes[0].new.as_str()),
            ("staff", "admin")
        );
        assert_eq!(role.target, AuditTarget::User);
    }

    #[test]
    fn targets_are_read_from_the_target_and_the_detail() {
        assert_eq!(
            entry("customer.note", "customer:56", serde_json::json!({})).target,
            AuditTarget::Customer(56)
        );
        assert_eq!(
            entry("import.pause", "task 7", serde_json::json!({})).target,
            AuditTarget::ImportTask(7)
        );
        assert_eq!(
            entry("plugin.update", "ClickBank", serde_json::json!({})).target,
            AuditTarget::Plugin("ClickBank".into())
        );
        assert_eq!(
            entry("campaign.create", "X_USD", serde_json::json!({"campaign_id": 3})).target,
            AuditTarget::Campaign(3)
        );
        assert_eq!(
            entry("login", "a@example.com", serde_json::json!({})).target,
            AuditTarget::Other
        );
    }
}

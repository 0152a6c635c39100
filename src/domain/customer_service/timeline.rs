//! The profile's timeline: one list of what ClickBank sent, what staff did (the audit log in
//! words), notes and abandoned carts, newest first by ClickBank's (or the action's) time.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::requests;
use crate::db::schema::{audit_log, partials};
use crate::db::DbConn;
use crate::error::AppError;

/// One line of the timeline.
#[derive(Debug, Clone)]
pub struct TimelineEntry {
    pub at: NaiveDateTime,
    /// `event` (from ClickBank), `staff` (an action), `note`, `cart` (abandoned cart).
    pub kind: &'static str,
    pub who: String,
    pub text: String,
}

/// The staff actions on customer `customer_id` (from the audit log) and the abandoned carts
/// of their email in their ClickBank account.
pub fn staff_and_carts(
    conn: &mut DbConn,
    customer_id: i64,
    (plugin_id, email): (i64, &str),
) -> Result<Vec<TimelineEntry>, AppError> {
    let mut out = Vec::new();
    let staff: Vec<(NaiveDateTime, String, String, String)> = audit_log::table
        .filter(audit_log::target.eq(format!("customer:{customer_id}")))
        .select((
            audit_log::at,
            audit_log::actor,
            audit_log::action,
            audit_log::detail,
        ))
        .load(conn)?;
    out.extend(staff.into_iter().map(|(at, who, action, detail)| TimelineEntry {
        at,
        kind: "staff",
        who,
        text: staff_text(&action, &detail),
    }));

    let carts: Vec<(NaiveDateTime, Option<String>, Option<i64>)> = partials::table
        .filter(partials::plugin_id.eq(plugin_id))
        .filter(partials::email.eq(email))
        .select((
            partials::event_time,
            partials::item_no,
            partials::converted_order_id,
        ))
        .load(conn)?;
    out.extend(carts.into_iter().map(|(at, item, converted)| TimelineEntry {
        at,
        kind: "cart",
        who: "ClickBank".into(),
        text: format!(
            "Abandoned cart{}{}",
            item.map(|i| format!(" ({i})")).unwrap_or_default(),
            if converted.is_some() { ", later bought" } else { "" }
        ),
    }));
    Ok(out)
}

/// A staff action of the audit log in words.
fn staff_text(action: &str, detail: &str) -> String {
    let d: serde_json::Value = serde_json::from_str(detail).unwrap_or_default();
    let name = action.strip_prefix("customer.").unwrap_or(action);
    let what = match name {
        "note" => return "Added a note".into(),
        "shipping_address" => return address_text(&d),
        _ => match requests::Action::parse(name) {
            Some(a) => a.label().to_string(),
            // An action this version has no words for: its name, readable.
            None => {
                let mut s = name.replace(['.', '_'], " ");
                if let Some(first) = s.get(..1) {
                    s = first.to_uppercase() + &s[1..];
                }
                s
            }
        },
    };
    let outcome = d["outcome"].as_str().unwrap_or("");
    let mut text = format!("{what}: {outcome}");
    if let Some(t) = d["ticket"].as_str() {
        text.push_str(&format!(" (ticket {t})"));
    }
    if let Some(e) = d["error"].as_str() {
        text.push_str(&format!(" — ClickBank said: {e}"));
    }
    if let Some(s) = d["detail"]["summary"].as_str() {
        text.push_str(&format!(" — {s}"));
    }
    text
}

/// A shipping address change in words: where to, how many items took it.
fn address_text(d: &serde_json::Value) -> String {
    let a = &d["after"];
    let part = |k: &str| a[k].as_str().unwrap_or("").trim().to_string();
    let place: Vec<String> = ["address1", "city", "postal_code", "country"]
        .iter()
        .map(|k| part(k))
        .filter(|p| !p.is_empty())
        .collect();
    let via = match d["via"].as_str() {
        Some("csv file") => " (from an addresses file)",
        _ => "",
    };
    let items = d["items_updated"].as_i64().unwrap_or(0);
    let kept = d["items_at_a_house"].as_i64().unwrap_or(0);
    let mut text = format!("Shipping address changed to {}{via}", place.join(", "));
    if items > 0 {
        text.push_str(&format!("; {items} item(s) not yet at a house took it"));
    }
    if kept > 0 {
        text.push_str(&format!("; {kept} already at a house keep the old one"));
    }
    text
}

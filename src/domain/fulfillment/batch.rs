//! Batch updates on selected items or on everything matching a filter: change the house or
//! the status. A batch is checked whole first: when any item may not make the move, nothing
//! changes and the message counts the items in the way by status. Audited.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::houses;
use super::Status;
use crate::db::schema::{fulfillments, shipments};
use crate::db::DbConn;
use crate::domain::fulfillment::ShipmentStatus;
use crate::domain::{audit, Actor};
use crate::error::AppError;

/// Rows per `IN (...)` list.
pub(crate) const CHUNK: usize = 500;

/// What a batch does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Move to another house (items not at a house yet: HOLD, FAILED, RECYCLED, CANCELLED).
    House(i64),
    /// Change the status along the transition table.
    Status(Status),
}

/// Statuses whose items may change house: none of them is at a house.
pub const HOUSE_MOVABLE: [Status; 4] = [Status::Hold, Status::Failed, Status::Recycled, Status::Cancelled];

impl Action {
    pub fn parse(kind: &str, house: &str, status: &str) -> Result<Action, AppError> {
        match kind.trim() {
            "house" => house.trim().parse().map(Action::House).map_err(|_| {
                AppError::Validation("Choose the fulfillment house to move the items to.".into())
            }),
            "status" => {
                if status.trim().is_empty() {
                    return Err(AppError::Validation("Choose the new status.".into()));
                }
                Status::parse(status).map(Action::Status)
            }
            _ => Err(AppError::Validation(
                "Choose what to change: the fulfillment house or the status.".into(),
            )),
        }
    }

    fn allows(self, from: Status) -> bool {
        match self {
            Action::House(_) => HOUSE_MOVABLE.contains(&from),
            Action::Status(to) => from.can_move_to(to),
        }
    }
}

/// What a batch would do.
#[derive(Debug, Clone, Default)]
pub struct Preview {
    pub count: usize,
    /// Items that may not make the move, by status.
    pub blocked: BTreeMap<String, usize>,
    pub description: String,
}

impl Preview {
    pub fn is_ok(&self) -> bool {
        self.blocked.is_empty() && self.count > 0
    }

    pub fn blocked_text(&self) -> String {
        self.blocked
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Of `ids`, the items of a shipment an export is sending right now: they are left alone
/// until the export records the house's answer.
pub(crate) fn sending_ids(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<i64>, AppError> {
    let sending: Vec<String> = shipments::table
        .filter(shipments::status.eq(ShipmentStatus::Sending))
        .select(shipments::shipment_id)
        .load(conn)?;
    if sending.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for chunk in sending.chunks(CHUNK) {
        let found: Vec<i64> = fulfillments::table
            .filter(fulfillments::id.eq_any(ids))
            .filter(fulfillments::shipment_id.eq_any(chunk))
            .select(fulfillments::id)
            .load(conn)?;
        out.extend(found);
    }
    Ok(out)
}

fn statuses_of(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<(i64, String)>, AppError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(i64, String)> = fulfillments::table
            .filter(fulfillments::id.eq_any(chunk))
            .select((fulfillments::id, fulfillments::status))
            .load(conn)?;
        let sending = sending_ids(conn, chunk)?;
        out.extend(rows.into_iter().map(|(id, s)| {
            if sending.contains(&id) {
                (id, format!("{s} being sent to the house"))
            } else {
                (id, s)
            }
        }));
    }
    Ok(out)
}

fn describe(conn: &mut DbConn, action: Action) -> Result<String, AppError> {
    Ok(match action {
        Action::House(h) => match houses::find(conn, h) {
            Ok(house) => format!("move to the house {}", house.name),
            Err(AppError::NotFound) => {
                return Err(AppError::Validation(
                    "That fulfillment house does not exist.".into(),
                ))
            }
            Err(e) => return Err(e),
        },
        Action::Status(s) => format!("set the status to {s}"),
    })
}

/// Counts what `action` on `ids` would change and what stands in the way.
pub fn preview(conn: &mut DbConn, ids: &[i64], action: Action) -> Result<Preview, AppError> {
    let description = describe(conn, action)?;
    let rows = statuses_of(conn, ids)?;
    if rows.len() != ids.len() {
        return Err(AppError::Validation(
            "Some selected items no longer exist; reload the page.".into(),
        ));
    }
    let mut blocked = BTreeMap::new();
    for (_, s) in &rows {
        let ok = Status::parse(s).map(|st| action.allows(st)).unwrap_or(false);
        if !ok {
            *blocked.entry(s.clone()).or_insert(0) += 1;
        }
    }
    Ok(Preview {
        count: rows.len(),
        blocked,
        description,
    })
}

/// Applies `action` to every item of `ids` in one transaction, or to none. `scope` says in
/// words what was chosen (for the audit log). Returns how many items changed.
pub fn apply(
    conn: &mut DbConn,
    actor: &Actor,
    ids: &[i64],
    action: Action,
    scope: &str,
) -> Result<usize, AppError> {
    if ids.is_empty() {
        return Err(AppError::Validation(
            "No item is selected and none matches the filter.".into(),
        ));
    }
    conn.transaction(|conn| {
        let p = preview(conn, ids, action)?;
        if !p.blocked.is_empty() {
            return Err(AppError::Validation(format!(
                "Nothing was changed: {} of the {} items cannot {} ({}). Narrow the filter or the selection.",
                p.blocked.values().sum::<usize>(),
                p.count,
                p.description,
                p.blocked_text()
            )));
        }
        let now = crate::domain::now();
        let mut changed = 0;
        for chunk in ids.chunks(CHUNK) {
            let sending = sending_ids(conn, chunk)?;
            changed += match action {
                Action::House(h) => {
                    let moved = diesel::update(
                        fulfillments::table
                            .filter(fulfillments::id.eq_any(chunk))
                            .filter(
                                fulfillments::status
                                    .eq_any([Status::Hold.as_str(), Status::Cancelled.as_str()]),
                            )
                            .filter(fulfillments::id.ne_all(&sending)),
                    )
                    .set((fulfillments::house_id.eq(h), fulfillments::updated_at.eq(now)))
                    .execute(conn)?;
                    // A failed export sent to another house starts again from HOLD.
                    moved
                        + diesel::update(
                            fulfillments::table
                                .filter(fulfillments::id.eq_any(chunk))
                                .filter(
                                    fulfillments::status
                                        .eq_any([Status::Failed.as_str(), Status::Recycled.as_str()]),
                                )
                                .filter(fulfillments::id.ne_all(&sending)),
                        )
                        .set((
                            fulfillments::house_id.eq(h),
                            fulfillments::status.eq(Status::Hold.as_str()),
                            fulfillments::attempts.eq(0),
                            fulfillments::last_error.eq(None::<String>),
                            fulfillments::updated_at.eq(now),
                        ))
                        .execute(conn)?
                }
                Action::Status(to) => set_status(conn, chunk, to, now)?,
            };
        }
        if changed != ids.len() {
            return Err(AppError::Conflict(
                "Some items changed while the batch ran; nothing was changed. Reload and try again.".into(),
            ));
        }
        audit::record(
            conn,
            actor,
            "fulfillment.batch",
            "fulfillments",
            serde_json::json!({
                "action": p.description,
                "scope": scope,
                "items": changed,
                "ids": ids.iter().take(100).collect::<Vec<_>>(),
            }),
        )?;
        Ok(changed)
    })
}

/// Moves `ids` to `to` where the transition table allows it; returns the rows changed.
/// Back to HOLD clears the export attempts (an item that was at a house keeps its shipment
/// id, so its next export is a reship under a suffixed id).
pub(crate) fn set_status(
    conn: &mut DbConn,
    ids: &[i64],
    to: Status,
    now: chrono::NaiveDateTime,
) -> Result<usize, AppError> {
    let sources = Status::sources_of(to);
    let sending = sending_ids(conn, ids)?;
    let q = fulfillments::table
        .filter(fulfillments::id.eq_any(ids))
        .filter(fulfillments::status.eq_any(sources))
        .filter(fulfillments::id.ne_all(&sending));
    Ok(match to {
        Status::Hold => diesel::update(q)
            .set((
                fulfillments::status.eq(to.as_str()),
                fulfillments::attempts.eq(0),
                fulfillments::last_error.eq(None::<String>),
                fulfillments::updated_at.eq(now),
            ))
            .execute(conn)?,
        Status::Shipped => {
            let n = diesel::update(q)
                .set((
                    fulfillments::status.eq(to.as_str()),
                    fulfillments::updated_at.eq(now),
                ))
                .execute(conn)?;
            diesel::update(
                fulfillments::table
                    .filter(fulfillments::id.eq_any(ids))
                    .filter(fulfillments::ship_date.is_null()),
            )
            .set(fulfillments::ship_date.eq(Some(now.date())))
            .execute(conn)?;
            n
        }
        _ => diesel::update(q)
            .set((
                fulfillments::status.eq(to.as_str()),
                fulfillments::updated_at.eq(now),
            ))
            .execute(conn)?,
    })
}

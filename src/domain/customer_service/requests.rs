//! Requests staff send to ClickBank from a customer's profile, and their life: `sending`
//! while ClickBank is being asked, `open` while a refund or cancel ticket waits for ClickBank
//! to complete it, `done` when it did (or when a subscription change was accepted), `failed`
//! with ClickBank's words when it refused.
//!
//! One rule lives here: at most one request of a kind is in flight per order (refund) or per
//! purchase (cancel; pause/resume/next bill date). The `open_key` column is unique while a
//! request holds it, so two clicks, two tabs or two portal processes cannot open two tickets.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::Value;

use crate::db::schema::service_requests;
use crate::db::text::text_enum;
use crate::db::DbConn;
use crate::domain::{audit, is_unique_violation, Actor};
use crate::error::AppError;

/// A request still `sending` after this long was interrupted (the portal stopped while
/// ClickBank was being asked): the next attempt finds out what ClickBank has and frees it.
/// Far above the longest call (a 30 s write, then a ticket lookup with read retries), so a
/// slow answer is never overtaken.
pub const STALE_AFTER_SECS: i64 = 600;

text_enum! {
    /// What staff asked ClickBank for.
    pub enum Action {
        Refund = "refund",
        Cancel = "cancel",
        Pause = "pause",
        Resume = "resume",
        ChangeDate = "change_date",
        /// The customer's shipping address sent to a subscription (`changeAddress`).
        ChangeAddress = "change_address",
    }
}

text_enum! {
    /// Where a request is in its life (see the module's comment).
    pub enum RequestStatus {
        Sending = "sending",
        Open = "open",
        Done = "done",
        /// ClickBank closed the ticket without completing it.
        Closed = "closed",
        Failed = "failed",
    }
}

impl RequestStatus {
    /// Still holding its key: being sent, or a ticket ClickBank has yet to complete.
    pub const LIVE: [RequestStatus; 2] = [RequestStatus::Sending, RequestStatus::Open];
}

impl Action {
    /// Refund and cancel open a ticket that ClickBank completes later; the others are
    /// answered at once.
    /// The action in words (the profile, its timeline).
    pub fn label(self) -> &'static str {
        match self {
            Action::Refund => "Refund",
            Action::Cancel => "Cancellation",
            Action::Pause => "Pause",
            Action::Resume => "Resume",
            Action::ChangeDate => "Next bill date change",
            Action::ChangeAddress => "Address change",
        }
    }

    pub fn opens_ticket(self) -> bool {
        matches!(self, Action::Refund | Action::Cancel)
    }

    /// The key held while the request is in flight or its ticket is open.
    pub fn open_key(self, order_id: i64, purchase_id: Option<i64>) -> String {
        match (self, purchase_id) {
            (Action::Refund, _) | (_, None) => format!("order:{order_id}:{}", self.as_str()),
            (Action::Cancel, Some(p)) => format!("purchase:{p}:cancel"),
            (Action::ChangeAddress, Some(p)) => format!("purchase:{p}:address"),
            (_, Some(p)) => format!("purchase:{p}:change"),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = service_requests)]
pub struct ServiceRequest {
    pub id: i64,
    pub plugin_id: i64,
    pub customer_id: i64,
    pub order_id: i64,
    pub purchase_id: Option<i64>,
    pub action: Action,
    pub detail: String,
    pub status: RequestStatus,
    pub ticket_id: Option<String>,
    pub error: Option<String>,
    pub open_key: Option<String>,
    pub requested_by: Option<i64>,
    pub requested_by_label: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
}

impl ServiceRequest {
    pub fn is_live(&self) -> bool {
        RequestStatus::LIVE.contains(&self.status)
    }

    /// A ticket ClickBank has yet to complete (staff may ask ClickBank about it).
    pub fn is_open(&self) -> bool {
        self.status == RequestStatus::Open
    }

    pub fn is_cancel(&self) -> bool {
        self.action == Action::Cancel
    }

    pub fn is_failed(&self) -> bool {
        self.status == RequestStatus::Failed
    }

    /// An address that did not reach ClickBank (the profile offers to send it again).
    pub fn is_failed_address_change(&self) -> bool {
        self.action == Action::ChangeAddress && self.is_failed()
    }

    pub fn is_stale(&self, now: NaiveDateTime) -> bool {
        self.status == RequestStatus::Sending && (now - self.updated_at).num_seconds() >= STALE_AFTER_SECS
    }

    pub fn detail_json(&self) -> Value {
        serde_json::from_str(&self.detail).unwrap_or(Value::Null)
    }

    /// What the profile says about it, e.g. "Refund requested (ticket 123)".
    pub fn summary(&self) -> String {
        let what = self.action.label();
        let ticket = self
            .ticket_id
            .as_deref()
            .map(|t| format!(" (ticket {t})"))
            .unwrap_or_default();
        match self.status {
            RequestStatus::Sending => format!("{what} being sent to ClickBank"),
            RequestStatus::Open => format!("{what} requested{ticket}"),
            RequestStatus::Done if self.action.opens_ticket() => {
                format!("{what} completed by ClickBank{ticket}")
            }
            RequestStatus::Done => format!("{what} accepted by ClickBank"),
            RequestStatus::Closed => format!("{what} ticket{ticket} closed at ClickBank without completing"),
            RequestStatus::Failed => format!(
                "{what} refused: {}",
                self.error.as_deref().unwrap_or("no reason given")
            ),
        }
    }
}

/// A request about to be sent.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub plugin_id: i64,
    pub customer_id: i64,
    pub order_id: i64,
    pub purchase_id: Option<i64>,
    pub action: Action,
    pub detail: Value,
    pub actor: Actor,
}

/// The outcome of [`begin`].
#[derive(Debug)]
pub enum Begun {
    /// The key was free: this request now holds it.
    Started(i64),
    /// Another request holds the key.
    Busy(Box<ServiceRequest>),
}

/// Records the request as `sending` and takes its key, or names the request that holds it.
pub fn begin(conn: &mut DbConn, r: &NewRequest) -> Result<Begun, AppError> {
    let key = r.action.open_key(r.order_id, r.purchase_id);
    let now = crate::domain::now();
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(service_requests::table)
            .values((
                service_requests::plugin_id.eq(r.plugin_id),
                service_requests::customer_id.eq(r.customer_id),
                service_requests::order_id.eq(r.order_id),
                service_requests::purchase_id.eq(r.purchase_id),
                service_requests::action.eq(r.action),
                service_requests::detail.eq(r.detail.to_string()),
                service_requests::status.eq(RequestStatus::Sending),
                service_requests::open_key.eq(&key),
                service_requests::requested_by.eq(r.actor.user_id),
                service_requests::requested_by_label.eq(&r.actor.label),
                service_requests::created_at.eq(now),
                service_requests::updated_at.eq(now),
            ))
            .returning(service_requests::id)
            .get_result::<i64>(conn)
    });
    match inserted {
        Ok(id) => Ok(Begun::Started(id)),
        Err(e) if is_unique_violation(&e) => {
            let holder = service_requests::table
                .filter(service_requests::open_key.eq(&key))
                .select(ServiceRequest::as_select())
                .first(conn)
                .optional()?;
            match holder {
                Some(h) => Ok(Begun::Busy(Box::new(h))),
                // Released between our insert and our read: the caller may simply retry.
                None => Err(AppError::Conflict(
                    "Another request just finished; please try again.".into(),
                )),
            }
        }
        Err(e) => Err(e.into()),
    }
}

pub fn find(conn: &mut DbConn, id: i64) -> Result<ServiceRequest, AppError> {
    service_requests::table
        .find(id)
        .select(ServiceRequest::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)
}

fn audit_outcome(
    conn: &mut DbConn,
    actor: &Actor,
    req: &ServiceRequest,
    outcome: &str,
) -> Result<(), AppError> {
    audit::record(
        conn,
        actor,
        &format!("customer.{}", req.action),
        &format!("customer:{}", req.customer_id),
        serde_json::json!({
            "request": req.id,
            "order": req.order_id,
            "purchase": req.purchase_id,
            "outcome": outcome,
            "ticket": req.ticket_id,
            "error": req.error,
            "detail": req.detail_json(),
        }),
    )
}

/// ClickBank opened the ticket: the request stays open (and keeps its key) until the RFND or
/// CANCEL-REBILL arrives.
pub fn opened(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    ticket_id: &str,
) -> Result<ServiceRequest, AppError> {
    conn.transaction(|conn| {
        let n = diesel::update(
            service_requests::table
                .find(id)
                .filter(service_requests::status.eq(RequestStatus::Sending)),
        )
        .set((
            service_requests::status.eq(RequestStatus::Open),
            service_requests::ticket_id.eq(Some(ticket_id)),
            service_requests::updated_at.eq(crate::domain::now()),
        ))
        .execute(conn)?;
        if n == 0 {
            // Settled meanwhile (its RFND already arrived): keep the ticket number only.
            diesel::update(service_requests::table.find(id))
                .set(service_requests::ticket_id.eq(Some(ticket_id)))
                .execute(conn)?;
        }
        let req = find(conn, id)?;
        audit_outcome(conn, actor, &req, "ticket opened")?;
        Ok(req)
    })
}

/// ClickBank accepted a change at once. `after` runs in the same transaction (the purchase's
/// new dates) and returns what changed, for the audit log.
pub fn answered<F>(conn: &mut DbConn, actor: &Actor, id: i64, after: F) -> Result<ServiceRequest, AppError>
where
    F: FnOnce(&mut DbConn) -> Result<Value, AppError>,
{
    conn.transaction(|conn| {
        let changed = after(conn)?;
        let now = crate::domain::now();
        let req = find(conn, id)?;
        let mut detail = req.detail_json();
        if let Some(obj) = detail.as_object_mut() {
            obj.insert("after".into(), changed);
        }
        diesel::update(service_requests::table.find(id))
            .set((
                service_requests::status.eq(RequestStatus::Done),
                service_requests::open_key.eq(None::<String>),
                service_requests::detail.eq(detail.to_string()),
                service_requests::updated_at.eq(now),
                service_requests::closed_at.eq(Some(now)),
            ))
            .execute(conn)?;
        let req = find(conn, id)?;
        audit_outcome(conn, actor, &req, "accepted")?;
        Ok(req)
    })
}

/// ClickBank refused (or could not be asked): the key is released, the reason kept verbatim.
pub fn failed(conn: &mut DbConn, actor: &Actor, id: i64, error: &str) -> Result<ServiceRequest, AppError> {
    conn.transaction(|conn| {
        let now = crate::domain::now();
        // Only a request still in flight fails; one its RFND already completed stays done.
        diesel::update(
            service_requests::table
                .find(id)
                .filter(service_requests::status.eq_any(RequestStatus::LIVE)),
        )
        .set((
            service_requests::status.eq(RequestStatus::Failed),
            service_requests::error.eq(Some(error)),
            service_requests::open_key.eq(None::<String>),
            service_requests::updated_at.eq(now),
            service_requests::closed_at.eq(Some(now)),
        ))
        .execute(conn)?;
        let req = find(conn, id)?;
        audit_outcome(conn, actor, &req, "refused")?;
        Ok(req)
    })
}

/// ClickBank closed the ticket without the RFND / CANCEL-REBILL arriving (a vendor or
/// ClickBank closed it): the request is over and its key free for a new one.
pub fn closed_at_clickbank(conn: &mut DbConn, actor: &Actor, id: i64) -> Result<ServiceRequest, AppError> {
    conn.transaction(|conn| {
        let now = crate::domain::now();
        diesel::update(
            service_requests::table
                .find(id)
                .filter(service_requests::status.eq(RequestStatus::Open)),
        )
        .set((
            service_requests::status.eq(RequestStatus::Closed),
            service_requests::open_key.eq(None::<String>),
            service_requests::updated_at.eq(now),
            service_requests::closed_at.eq(Some(now)),
        ))
        .execute(conn)?;
        let req = find(conn, id)?;
        audit_outcome(conn, actor, &req, "ticket closed at ClickBank")?;
        Ok(req)
    })
}

/// An RFND / chargeback or a CANCEL-REBILL arrived (by INS or import): the refund and cancel
/// requests it answers are done. Called by `orders::apply` in the event's transaction.
pub fn settled_by_event(
    conn: &mut DbConn,
    order_id: i64,
    actions: &[Action],
    purchase_ids: Option<&[i64]>,
) -> Result<usize, AppError> {
    // Most events find no request: a lookup that stays prepared comes first.
    let any_open: i64 = crate::db::on_backend!(conn, |c| service_requests::table
        .filter(service_requests::order_id.eq(order_id))
        .filter(service_requests::open_key.is_not_null())
        .count()
        .get_result(c))?;
    if any_open == 0 {
        return Ok(0);
    }
    let now = crate::domain::now();
    let mut q = diesel::update(service_requests::table)
        .filter(service_requests::order_id.eq(order_id))
        .filter(service_requests::action.eq_any(actions.to_vec()))
        .filter(service_requests::status.eq_any(RequestStatus::LIVE))
        .into_boxed();
    if let Some(ids) = purchase_ids {
        q = q.filter(service_requests::purchase_id.eq_any(ids.to_vec()));
    }
    Ok(q.set((
        service_requests::status.eq(RequestStatus::Done),
        service_requests::open_key.eq(None::<String>),
        service_requests::updated_at.eq(now),
        service_requests::closed_at.eq(Some(now)),
    ))
    .execute(conn)?)
}

/// Every request made for a customer, newest first.
pub fn for_customer(conn: &mut DbConn, customer_id: i64) -> Result<Vec<ServiceRequest>, AppError> {
    Ok(service_requests::table
        .filter(service_requests::customer_id.eq(customer_id))
        .select(ServiceRequest::as_select())
        .order(service_requests::id.desc())
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_per_order_and_purchase() {
        assert_eq!(Action::Refund.open_key(7, Some(9)), "order:7:refund");
        assert_eq!(Action::Cancel.open_key(7, Some(9)), "purchase:9:cancel");
        assert_eq!(Action::Pause.open_key(7, Some(9)), "purchase:9:change");
        assert_eq!(Action::ChangeDate.open_key(7, Some(9)), "purchase:9:change");
        assert_eq!(Action::ChangeAddress.open_key(7, Some(9)), "purchase:9:address");
        assert!(Action::Refund.opens_ticket() && !Action::Pause.opens_ticket());
    }
}

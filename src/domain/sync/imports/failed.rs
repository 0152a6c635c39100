//! Records that failed during an import, kept like a failed Instant Notification: what
//! ClickBank sent (the event as the portal read it, or ClickBank's record itself when it could
//! not be read), the reason, and how often it failed. Listed on the import task's page and
//! reprocessed from there, one or all, after a fix; a record read again (the continuous
//! import's overlap) updates its row rather than adding one.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde_json::json;

use crate::clickbank::{OrderRecord, TransactionType};
use crate::db::schema::failed_records as failed;
use crate::db::DbConn;
use crate::domain::orders::{self, OrderEvent};
use crate::domain::{audit, plugins, Actor};
use crate::error::AppError;

/// What a failed record holds.
pub(super) enum Kept<'a> {
    /// The event as read from ClickBank's record; applying it failed.
    Event(&'a OrderEvent),
    /// ClickBank's record, which could not be read into an event.
    Record(&'a OrderRecord),
}

impl Kept<'_> {
    fn identity(&self) -> (&str, &TransactionType, DateTime<Utc>) {
        match self {
            Kept::Event(e) => (e.receipt.as_str(), &e.kind, e.time),
            Kept::Record(r) => (r.receipt.as_str(), &r.transaction_type, r.transaction_time),
        }
    }

    fn payload(&self) -> Result<(&'static str, String), AppError> {
        let text = match self {
            Kept::Event(e) => serde_json::to_string(e),
            Kept::Record(r) => serde_json::to_string(r),
        };
        let kind = match self {
            Kept::Event(_) => "event",
            Kept::Record(_) => "record",
        };
        text.map(|t| (kind, t))
            .map_err(|e| AppError::Internal(format!("a failed record cannot be kept: {e}")))
    }
}

/// One kept record, as the task page lists it.
#[derive(Debug, Clone, Queryable)]
pub struct FailedRecord {
    pub id: i64,
    pub receipt: String,
    pub transaction_type: String,
    pub transaction_time: NaiveDateTime,
    pub error: String,
    pub attempts: i32,
    pub updated_at: NaiveDateTime,
}

/// Keeps (or updates) the failed record of plugin `plugin_id` read by task `task_id`.
pub(super) fn keep(
    conn: &mut DbConn,
    plugin_id: i64,
    task_id: i64,
    kept: Kept<'_>,
    error: &str,
) -> Result<(), AppError> {
    let (receipt, kind, time) = kept.identity();
    let key = format!("{receipt}|{kind}|{}", time.format("%Y-%m-%dT%H:%M:%SZ"));
    let (payload_kind, payload) = kept.payload()?;
    let now = crate::domain::now();
    let again = diesel::update(
        failed::table
            .filter(failed::plugin_id.eq(plugin_id))
            .filter(failed::record_key.eq(&key)),
    )
    .set((
        failed::task_id.eq(Some(task_id)),
        failed::payload_kind.eq(payload_kind),
        failed::payload.eq(&payload),
        failed::error.eq(error),
        failed::attempts.eq(failed::attempts + 1),
        failed::updated_at.eq(now),
    ))
    .execute(conn)?;
    if again == 0 {
        diesel::insert_into(failed::table)
            .values((
                failed::plugin_id.eq(plugin_id),
                failed::task_id.eq(Some(task_id)),
                failed::record_key.eq(&key),
                failed::receipt.eq(receipt),
                failed::transaction_type.eq(kind.as_str()),
                failed::transaction_time.eq(time.naive_utc()),
                failed::payload_kind.eq(payload_kind),
                failed::payload.eq(&payload),
                failed::error.eq(error),
                failed::created_at.eq(now),
                failed::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The failed records of task `task_id`, newest first.
pub fn of_task(conn: &mut DbConn, task_id: i64, limit: i64) -> Result<(Vec<FailedRecord>, i64), AppError> {
    let rows = failed::table
        .filter(failed::task_id.eq(Some(task_id)))
        .order(failed::id.desc())
        .limit(limit)
        .select((
            failed::id,
            failed::receipt,
            failed::transaction_type,
            failed::transaction_time,
            failed::error,
            failed::attempts,
            failed::updated_at,
        ))
        .load(conn)?;
    let total = failed::table
        .filter(failed::task_id.eq(Some(task_id)))
        .count()
        .get_result(conn)?;
    Ok((rows, total))
}

/// Applies failed record `id` again, through the same code as the import. Applied (or seen
/// already): the row goes. Failing again: the row keeps the new reason, which is returned.
pub fn reprocess(conn: &mut DbConn, actor: &Actor, id: i64) -> Result<Result<String, String>, AppError> {
    type Row = (i64, String, String, String);
    let (plugin_id, receipt, kind, payload): Row = failed::table
        .find(id)
        .select((
            failed::plugin_id,
            failed::receipt,
            failed::payload_kind,
            failed::payload,
        ))
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)?;
    let plugin = plugins::find(conn, plugin_id)?;
    let event = match kind.as_str() {
        "event" => serde_json::from_str::<OrderEvent>(&payload).map_err(|e| e.to_string()),
        _ => serde_json::from_str::<OrderRecord>(&payload)
            .map_err(|e| e.to_string())
            .and_then(|r| OrderEvent::from_record(&r).map_err(|e| e.to_string())),
    };
    let applied = event.and_then(|ev| orders::apply(conn, &plugin, &ev, "import").map_err(|e| e.to_string()));
    match applied {
        Ok(_) => {
            conn.transaction(|c| {
                diesel::delete(failed::table.find(id)).execute(c)?;
                audit::record(
                    c,
                    actor,
                    "import.record.reprocess",
                    &receipt,
                    json!({"failed_record": id}),
                )
            })?;
            Ok(Ok(receipt))
        }
        Err(why) => {
            diesel::update(failed::table.find(id))
                .set((
                    failed::error.eq(&why),
                    failed::attempts.eq(failed::attempts + 1),
                    failed::updated_at.eq(crate::domain::now()),
                ))
                .execute(conn)?;
            Ok(Err(format!("{receipt}: {why}")))
        }
    }
}

/// Reprocesses every failed record of task `task_id`: (applied, still failing, the first
/// reason of those that still fail).
pub fn reprocess_all(
    conn: &mut DbConn,
    actor: &Actor,
    task_id: i64,
) -> Result<(usize, usize, Option<String>), AppError> {
    let ids: Vec<i64> = failed::table
        .filter(failed::task_id.eq(Some(task_id)))
        .order(failed::id.asc())
        .select(failed::id)
        .load(conn)?;
    let (mut done, mut still, mut first) = (0, 0, None);
    for id in ids {
        match reprocess(conn, actor, id)? {
            Ok(_) => done += 1,
            Err(why) => {
                still += 1;
                first.get_or_insert(why);
            }
        }
    }
    Ok((done, still, first))
}

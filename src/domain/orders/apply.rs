//! The engine: one event applied in its transaction, whichever channel brought it, its key
//! checked first (a key seen again changes nothing). An event for a receipt the CRM has not
//! seen builds its order at once (see `sale::order_from_event`); events parked by earlier
//! versions (`pending_events`) are applied right after their SALE, or by the look-up job.

use diesel::prelude::*;

use super::changes::{partial, rebill, refund, set_purchases, subscription_change};
use super::event::{OrderEvent, Outcome};
use super::existing::{find_order, OrderRow};
use super::sale::{order_from_event, sale, Sold};
use super::writes::LookupsAndWrites;
use crate::clickbank::TransactionType;
use crate::db::models::Plugin;
use crate::db::models::{InboxStatus, PurchaseStatus};
use crate::db::schema::{inbound_notifications, pending_events};
use crate::db::{on_backend, DbConn};
use crate::domain::customer_service::requests;
use crate::error::AppError;

/// Applies `ev` for `plugin` in one transaction. `source` is `ins` or `import`.
pub fn apply(conn: &mut DbConn, plugin: &Plugin, ev: &OrderEvent, source: &str) -> Result<Outcome, AppError> {
    apply_with(conn, plugin, ev, source, &mut LookupsAndWrites::default())
}

/// [`apply`] sharing `lookups` with the other events of the caller's transaction.
pub fn apply_with(
    conn: &mut DbConn,
    plugin: &Plugin,
    ev: &OrderEvent,
    source: &str,
    lookups: &mut LookupsAndWrites,
) -> Result<Outcome, AppError> {
    let r = conn.transaction(|conn| {
        let outcome = apply_unguarded(conn, plugin, ev, source, lookups)?;
        lookups.flush(conn)?;
        Ok(outcome)
    });
    if r.is_err() {
        *lookups = LookupsAndWrites::default();
    }
    r
}

/// [`apply_with`] without a savepoint of its own: for a caller that applies many events in
/// one transaction and, when one fails, rolls the whole transaction back and applies them
/// again one savepoint each (the import, see `imports`). A savepoint per event costs an
/// import more than a tenth of its time; failures are rare. The caller calls
/// [`LookupsAndWrites::flush`] before it commits.
pub fn apply_unguarded(
    conn: &mut DbConn,
    plugin: &Plugin,
    ev: &OrderEvent,
    source: &str,
    lk: &mut LookupsAndWrites,
) -> Result<Outcome, AppError> {
    if let DbConn::Postgres(pg) = conn {
        // Events of one receipt take turns across processes, so a refund parked while its sale
        // is being inserted elsewhere cannot be missed by both.
        let base = ev.receipt.split_once('-').map_or(ev.receipt.as_str(), |(b, _)| b);
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind::<diesel::sql_types::Text, _>(format!("{}|{}", plugin.id, base))
            .execute(pg)?;
    }
    let key = ev.key(plugin.id);
    if lk.is_applied(conn, &key)? {
        return Ok(Outcome::Duplicate);
    }
    if ev.kind == TransactionType::Test {
        return Ok(Outcome::Ignored(
            "ClickBank test notification (the Test URL button): logged only".into(),
        ));
    }
    let test = ev.kind.is_test();
    if test && !plugin.include_test {
        return Ok(Outcome::Ignored(
            "test transaction: this plugin does not include test transactions".into(),
        ));
    }
    let outcome = match ev.kind.live() {
        TransactionType::Sale => match sale(conn, plugin, ev, test, source, lk)? {
            Sold::Existing(order_id) | Sold::Completed(order_id) => Outcome::Applied {
                order_id: Some(order_id),
            },
            Sold::New(order_id) => {
                release_waiting(conn, plugin, &ev.receipt, source, lk)?;
                Outcome::Applied {
                    order_id: Some(order_id),
                }
            }
        },
        TransactionType::Bill => with_order(conn, plugin, ev, lk, |conn, order, lk| {
            rebill(conn, order, ev, source, lk)
        })?,
        TransactionType::Rfnd | TransactionType::Cgbk | TransactionType::Insf => {
            with_order(conn, plugin, ev, lk, |conn, order, lk| {
                refund(conn, order, ev, source, lk)
            })?
        }
        TransactionType::CancelRebill => with_order(conn, plugin, ev, lk, |conn, order, _| {
            let ids = set_purchases(conn, order, ev, PurchaseStatus::Cancelled)?;
            requests::settled_by_event(conn, order.id, &[requests::Action::Cancel], Some(&ids))?;
            Ok(())
        })?,
        TransactionType::UncancelRebill => with_order(conn, plugin, ev, lk, |conn, order, _| {
            set_purchases(conn, order, ev, PurchaseStatus::Active).map(|_| ())
        })?,
        TransactionType::SubscriptionChg => with_order(conn, plugin, ev, lk, |conn, order, _| {
            subscription_change(conn, order, ev)
        })?,
        TransactionType::AbandonedOrder => partial(conn, plugin, ev)?,
        other => Outcome::Ignored(format!("{other} notifications are logged only")),
    };
    match &outcome {
        Outcome::Applied { order_id } => lk.mark_applied(key, plugin.id, *order_id),
        Outcome::SaleNotSeen { order_id } => lk.mark_applied(key, plugin.id, Some(*order_id)),
        Outcome::Duplicate | Outcome::Ignored(_) => {}
    }
    Ok(outcome)
}

/// Runs `f` on the event's order; when the CRM has not seen the receipt, the order is built
/// from the event first (its sale is then looked up in the background).
fn with_order<F>(
    conn: &mut DbConn,
    plugin: &Plugin,
    ev: &OrderEvent,
    lk: &mut LookupsAndWrites,
    f: F,
) -> Result<Outcome, AppError>
where
    F: FnOnce(&mut DbConn, &OrderRow, &mut LookupsAndWrites) -> Result<(), AppError>,
{
    let order = match find_order(conn, plugin.id, &ev.receipt)? {
        Some(order) => order,
        None => order_from_event(conn, plugin, ev, lk)?,
    };
    f(conn, &order, lk)?;
    Ok(if order.sale_seen {
        Outcome::Applied {
            order_id: Some(order.id),
        }
    } else {
        Outcome::SaleNotSeen { order_id: order.id }
    })
}

/// Applies events that were waiting for this receipt, oldest first.
fn apply_waiting(
    conn: &mut DbConn,
    plugin: &Plugin,
    receipt: &str,
    source: &str,
    lk: &mut LookupsAndWrites,
) -> Result<usize, AppError> {
    let waiting: Vec<(i64, String)> = on_backend!(conn, |c| pending_events::table
        .filter(pending_events::plugin_id.eq(plugin.id))
        .filter(pending_events::receipt.eq(receipt))
        .order(pending_events::id.asc())
        .select((pending_events::id, pending_events::payload))
        .load(c))?;
    let n = waiting.len();
    for (id, payload) in waiting {
        diesel::delete(pending_events::table.find(id)).execute(conn)?;
        let ev: OrderEvent = serde_json::from_str(&payload)
            .map_err(|e| AppError::Internal(format!("a waiting event cannot be read: {e}")))?;
        apply_unguarded(conn, plugin, &ev, source, lk)?;
    }
    Ok(n)
}

/// After a new sale: the events that waited for its receipt are applied, and the deliveries
/// that brought them are processed with it, whichever channel brought the sale.
fn release_waiting(
    conn: &mut DbConn,
    plugin: &Plugin,
    receipt: &str,
    source: &str,
    lk: &mut LookupsAndWrites,
) -> Result<(), AppError> {
    if apply_waiting(conn, plugin, receipt, source, lk)? > 0 {
        diesel::update(
            inbound_notifications::table
                .filter(inbound_notifications::plugin_id.eq(plugin.id))
                .filter(inbound_notifications::receipt.eq(receipt))
                .filter(inbound_notifications::status.eq(InboxStatus::Waiting)),
        )
        .set((
            inbound_notifications::status.eq(InboxStatus::Processed),
            inbound_notifications::error.eq(None::<String>),
        ))
        .execute(conn)?;
    }
    Ok(())
}

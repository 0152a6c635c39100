//! What the events after a sale change: rebills, refunds and chargebacks, cancellations and
//! their undoing, subscription changes, and abandoned carts (which need no order).

use diesel::prelude::*;

use super::event::{OrderEvent, Outcome};
use super::existing::OrderRow;
use super::writes::LookupsAndWrites;
use crate::db::models::Plugin;
use crate::db::models::{OrderStatus, PurchaseStatus};
use crate::db::schema::{fulfillments, order_items, orders, partials, purchases};
use crate::db::statements::{kept_update, Stamp};
use crate::db::{on_backend, DbConn};
use crate::domain::{customer_service::requests, fulfillment};
use crate::error::AppError;

/// Purchases of the order, narrowed to the event's items when it names any.
pub(super) fn purchase_ids(
    conn: &mut DbConn,
    order: &OrderRow,
    ev: &OrderEvent,
) -> Result<Vec<i64>, AppError> {
    // All of the order's purchases (a few at most) by one statement that stays prepared,
    // narrowed here rather than by an `IN` list SQLite would compile each time.
    let all: Vec<(i64, String)> = on_backend!(conn, |c| purchases::table
        .inner_join(order_items::table)
        .filter(purchases::order_id.eq(order.id))
        .select((purchases::id, order_items::item_no))
        .order(purchases::id.asc())
        .load(c))?;
    let named = |item_no: &str| ev.items.iter().any(|i| i.item_no == item_no);
    let narrow = ev.items.iter().any(|i| !i.item_no.is_empty());
    Ok(all
        .into_iter()
        .filter(|(_, item_no)| !narrow || named(item_no))
        .map(|(id, _)| id)
        .collect())
}

/// A BILL: the rebill's money, the next cycle and bill date of the purchases it names, and
/// a new fulfillment item for each that ships.
pub(super) fn rebill(
    conn: &mut DbConn,
    order: &OrderRow,
    ev: &OrderEvent,
    source: &str,
    lk: &mut LookupsAndWrites,
) -> Result<(), AppError> {
    let (now, time) = (lk.now(), Stamp::new(ev.time.naive_utc()));
    lk.add_transaction(order.id, ev, &time, ev.total_minor, source);
    let next = ev
        .items
        .iter()
        .find_map(|i| i.next_payment)
        .map(|t| Stamp::new(t.naive_utc()));
    for id in purchase_ids(conn, order, ev)? {
        let cycle = (
            purchases::billing_cycle.eq(purchases::billing_cycle + 1),
            purchases::status.eq(PurchaseStatus::Active),
            purchases::updated_at.eq(&now),
        );
        let by_id = purchases::id.eq(id);
        on_backend!(conn, |c| match &next {
            Some(next) => kept_update!(
                purchases::table,
                by_id,
                (cycle, purchases::next_bill_date.eq(Some(next)))
            )
            .execute(c),
            None => kept_update!(purchases::table, by_id, cycle).execute(c),
        })?;
        // A rebilled physical subscription ships again: a new item for the new cycle.
        fulfillment::rebill_item(conn, id, ev.customer.ship_to(), &time, &now)?;
    }
    Ok(())
}

/// An RFND, CGBK or INSF: the money back (the rest of the order when the event says no
/// amount); a full refund cancels what has not gone to a house yet and the subscriptions.
pub(super) fn refund(
    conn: &mut DbConn,
    order: &OrderRow,
    ev: &OrderEvent,
    source: &str,
    lk: &mut LookupsAndWrites,
) -> Result<(), AppError> {
    let amount = if ev.total_minor == 0 {
        order.total_minor - order.refunded_minor
    } else {
        ev.total_minor
    };
    lk.add_transaction(order.id, ev, &Stamp::new(ev.time.naive_utc()), amount, source);
    let refunded = order.refunded_minor + amount;
    let full = refunded >= order.total_minor;
    let money = (
        orders::refunded_minor.eq(refunded),
        orders::updated_at.eq(lk.now()),
    );
    let by_id = orders::id.eq(order.id);
    on_backend!(conn, |c| if full {
        kept_update!(
            orders::table,
            by_id,
            (money, orders::status.eq(OrderStatus::Refunded))
        )
        .execute(c)
    } else {
        kept_update!(orders::table, by_id, money).execute(c)
    })?;
    if full {
        // Nothing refunded ships: items not at a house yet (on hold, or waiting for an export
        // retry) are cancelled.
        diesel::update(
            fulfillments::table
                .filter(fulfillments::order_id.eq(order.id))
                .filter(fulfillments::status.eq_any(fulfillment::CANCEL_ON_REFUND)),
        )
        .set((
            fulfillments::status.eq(fulfillment::Status::Cancelled.as_str()),
            fulfillments::updated_at.eq(crate::domain::now()),
        ))
        .execute(conn)?;
    }
    // ClickBank stops future billing of a refunded or charged-back recurring item.
    set_purchases(conn, order, ev, PurchaseStatus::Cancelled)?;
    // The refund (and any cancellation) staff requested for this order is now complete.
    requests::settled_by_event(
        conn,
        order.id,
        &[requests::Action::Refund, requests::Action::Cancel],
        None,
    )?;
    Ok(())
}

/// Sets the status of the purchases the event names (cancelled at the event's time when
/// CANCELLED), and ends any request pending on them.
pub(super) fn set_purchases(
    conn: &mut DbConn,
    order: &OrderRow,
    ev: &OrderEvent,
    status: PurchaseStatus,
) -> Result<(), AppError> {
    let cancelled_at = (status == PurchaseStatus::Cancelled).then(|| ev.time.naive_utc());
    for id in purchase_ids(conn, order, ev)? {
        let changes = (
            purchases::status.eq(status),
            purchases::cancelled_at.eq(cancelled_at),
            purchases::pending_request.eq(None::<String>),
            purchases::updated_at.eq(crate::domain::now()),
        );
        let by_id = purchases::id.eq(id);
        on_backend!(conn, |c| kept_update!(purchases::table, by_id, changes)
            .execute(c))?;
    }
    Ok(())
}

/// A SUBSCRIPTION-CHG: each named item's next bill date and rebill amount.
pub(super) fn subscription_change(
    conn: &mut DbConn,
    order: &OrderRow,
    ev: &OrderEvent,
) -> Result<(), AppError> {
    for item in &ev.items {
        let one = OrderEvent {
            items: vec![item.clone()],
            ..ev.clone()
        };
        for id in purchase_ids(conn, order, &one)? {
            diesel::update(purchases::table.find(id))
                .set((
                    purchases::next_bill_date.eq(item.next_payment.map(|t| t.naive_utc())),
                    purchases::rebill_amount_minor.eq(item.rebill_amount_minor),
                    purchases::updated_at.eq(crate::domain::now()),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// An ABANDONED_ORDER: the cart, kept for follow-up (it needs no order).
pub(super) fn partial(conn: &mut DbConn, plugin: &Plugin, ev: &OrderEvent) -> Result<Outcome, AppError> {
    if ev.customer.email.is_empty() {
        return Ok(Outcome::Ignored("abandoned order without an email".into()));
    }
    diesel::insert_into(partials::table)
        .values((
            partials::plugin_id.eq(plugin.id),
            partials::email.eq(&ev.customer.email),
            partials::first_name.eq(&ev.customer.first_name),
            partials::last_name.eq(&ev.customer.last_name),
            partials::phone.eq(&ev.customer.phone),
            partials::country.eq(&ev.customer.billing.country),
            partials::item_no.eq(ev.items.first().map(|i| i.item_no.clone())),
            partials::event_time.eq(ev.time.naive_utc()),
            partials::created_at.eq(crate::domain::now()),
        ))
        .execute(conn)?;
    Ok(Outcome::Applied { order_id: None })
}

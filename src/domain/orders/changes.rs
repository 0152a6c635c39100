//! What the events after a sale change: rebills, refunds and chargebacks, cancellations and
//! their undoing, subscription changes, and abandoned carts (which need no order).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::event::{OrderEvent, Outcome};
use super::existing::OrderRow;
use super::writes::LookupsAndWrites;
use crate::db::models::Plugin;
use crate::db::models::{OrderStatus, PurchaseStatus};
use crate::db::schema::{order_items, orders, partials, purchases};
use crate::db::statements::{kept_update, Stamp};
use crate::db::{on_backend, DbConn};
use crate::domain::{customer_service::requests, fulfillment};
use crate::error::AppError;

/// A purchase an event may change, with the ClickBank time (and type rank) of the events that
/// last set its state and its schedule.
pub(super) struct PurchaseRow {
    pub(super) id: i64,
    item_no: String,
    cycle: i32,
    /// Of the event that last set the status (and cancellation).
    state: (Option<NaiveDateTime>, i32),
    /// Of the event that last set the next bill date (and rebill amount).
    schedule: (Option<NaiveDateTime>, i32),
}

/// Whether `ev` is not older than the event stamped `stamp` (ClickBank's time; for equal
/// times, the type's rank). An older event is recorded (its transaction, the timeline) but
/// does not overwrite what a newer one set.
fn not_older(ev: &OrderEvent, stamp: (Option<NaiveDateTime>, i32)) -> bool {
    match stamp {
        (None, _) => true,
        (Some(at), rank) => ev.stamp() >= (at, rank),
    }
}

impl PurchaseRow {
    /// The status `ev` sets here and its stamp: `own` at the event's time, or the state
    /// ClickBank's orders list showed when the record was read, stamped with the reading time,
    /// when that is newer; None when a newer event set the status already.
    fn state_from(
        &self,
        ev: &OrderEvent,
        own: PurchaseStatus,
    ) -> Option<(PurchaseStatus, (NaiveDateTime, i32))> {
        let newer = |stamp: (NaiveDateTime, i32)| match self.state {
            (None, _) => true,
            (Some(at), rank) => stamp >= (at, rank),
        };
        ev.read_state(&self.item_no)
            .filter(|(_, stamp)| newer(*stamp))
            .or_else(|| newer(ev.stamp()).then(|| (own, ev.stamp())))
    }

    /// Whether `ev` may set this purchase's next bill date and rebill amount.
    fn newer_schedule(&self, ev: &OrderEvent) -> bool {
        not_older(ev, self.schedule)
    }
}

/// Purchases of the order, narrowed to the event's items when it names any.
pub(super) fn purchases_of(
    conn: &mut DbConn,
    order: &OrderRow,
    ev: &OrderEvent,
) -> Result<Vec<PurchaseRow>, AppError> {
    // All of the order's purchases (a few at most) by one statement that stays prepared,
    // narrowed here rather than by an `IN` list SQLite would compile each time.
    type Row = (
        i64,
        String,
        i32,
        Option<NaiveDateTime>,
        i32,
        Option<NaiveDateTime>,
        i32,
    );
    let all: Vec<Row> = on_backend!(conn, |c| purchases::table
        .inner_join(order_items::table)
        .filter(purchases::order_id.eq(order.id))
        .select((
            purchases::id,
            order_items::item_no,
            purchases::billing_cycle,
            purchases::state_at,
            purchases::state_rank,
            purchases::schedule_at,
            purchases::schedule_rank,
        ))
        .order(purchases::id.asc())
        .load(c))?;
    let named = |item_no: &str| ev.items.iter().any(|i| i.item_no == item_no);
    let narrow = ev.items.iter().any(|i| !i.item_no.is_empty());
    Ok(all
        .into_iter()
        .filter(|(_, item_no, ..)| !narrow || named(item_no))
        .map(
            |(id, item_no, cycle, at, rank, sched_at, sched_rank)| PurchaseRow {
                id,
                item_no,
                cycle,
                state: (at, rank),
                schedule: (sched_at, sched_rank),
            },
        )
        .collect())
}

/// A BILL: the rebill's money, the purchases' cycle (ClickBank's count of payments
/// processed, never lowered), their state and their next bill date where the rebill is the
/// newest event to set them, and a new fulfillment item for the rebill's cycle of each that
/// ships.
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
    let (state_at, state_rank) = ev.stamp();
    for p in purchases_of(conn, order, ev)? {
        let set_state = p.state_from(ev, PurchaseStatus::Active);
        let processed = ev
            .items
            .iter()
            .find(|i| i.item_no == p.item_no)
            .and_then(|i| i.payments_processed);
        // The rebill's own cycle: ClickBank's count when it sends one, else the next.
        let cycle = processed.unwrap_or(p.cycle + 1).max(2);
        let counted = (
            purchases::billing_cycle.eq(cycle.max(p.cycle)),
            purchases::updated_at.eq(&now),
        );
        let (status, (at, rank)) = set_state.unwrap_or((PurchaseStatus::Active, ev.stamp()));
        let state = (
            purchases::status.eq(status),
            purchases::cancelled_at.eq((status == PurchaseStatus::Cancelled).then_some(at)),
            purchases::state_at.eq(Some(at)),
            purchases::state_rank.eq(rank),
        );
        let schedule = next.as_ref().filter(|_| p.newer_schedule(ev)).map(|next| {
            (
                purchases::next_bill_date.eq(Some(next)),
                purchases::schedule_at.eq(Some(state_at)),
                purchases::schedule_rank.eq(state_rank),
            )
        });
        let by_id = purchases::id.eq(p.id);
        on_backend!(conn, |c| match (schedule, set_state.is_some()) {
            (Some(schedule), true) => {
                kept_update!(purchases::table, by_id, (counted, state, schedule)).execute(c)
            }
            (Some(schedule), false) => {
                kept_update!(purchases::table, by_id, (counted, schedule)).execute(c)
            }
            (None, true) => kept_update!(purchases::table, by_id, (counted, state)).execute(c),
            (None, false) => kept_update!(purchases::table, by_id, counted).execute(c),
        })?;
        // A rebilled physical subscription ships again: a new item for the rebill's cycle.
        fulfillment::rebill_item(conn, p.id, cycle, ev.customer.ship_to(), &time, &now)?;
    }
    Ok(())
}

/// An RFND, CGBK or INSF: the money back (the rest of the order when the event says no
/// amount); a full refund cancels what has not gone to a house yet and the subscriptions.
/// On an order whose sale is not seen yet the money is kept and the refund is full only once
/// the sale is added (see `sale`).
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
    let full = order.sale_seen && refunded >= order.total_minor;
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
        fulfillment::cancel_unsent(conn, order.id)?;
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
/// CANCELLED; a record read from the orders list sets the state its line showed then, see
/// `PurchaseRow::state_from`) where the event is the newest to set it, and ends any request pending on
/// them; gives the ids of the purchases it names.
pub(super) fn set_purchases(
    conn: &mut DbConn,
    order: &OrderRow,
    ev: &OrderEvent,
    status: PurchaseStatus,
) -> Result<Vec<i64>, AppError> {
    let mut ids = Vec::new();
    for p in purchases_of(conn, order, ev)? {
        ids.push(p.id);
        let Some((status, (state_at, state_rank))) = p.state_from(ev, status) else {
            continue;
        };
        let cancelled_at = (status == PurchaseStatus::Cancelled).then_some(state_at);
        let changes = (
            purchases::status.eq(status),
            purchases::cancelled_at.eq(cancelled_at),
            purchases::pending_request.eq(None::<String>),
            purchases::updated_at.eq(crate::domain::now()),
            purchases::state_at.eq(Some(state_at)),
            purchases::state_rank.eq(state_rank),
        );
        let by_id = purchases::id.eq(p.id);
        on_backend!(conn, |c| kept_update!(purchases::table, by_id, changes)
            .execute(c))?;
    }
    Ok(ids)
}

/// A SUBSCRIPTION-CHG: each named item's next bill date and rebill amount, where the change
/// is the newest event of that purchase.
pub(super) fn subscription_change(
    conn: &mut DbConn,
    order: &OrderRow,
    ev: &OrderEvent,
) -> Result<(), AppError> {
    let (state_at, state_rank) = ev.stamp();
    for item in &ev.items {
        let one = OrderEvent {
            items: vec![item.clone()],
            ..ev.clone()
        };
        for p in purchases_of(conn, order, &one)? {
            if !p.newer_schedule(ev) {
                continue;
            }
            diesel::update(purchases::table.find(p.id))
                .set((
                    purchases::next_bill_date.eq(item.next_payment.map(|t| t.naive_utc())),
                    purchases::rebill_amount_minor.eq(item.rebill_amount_minor),
                    purchases::updated_at.eq(crate::domain::now()),
                    purchases::schedule_at.eq(Some(state_at)),
                    purchases::schedule_rank.eq(state_rank),
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
            partials::phone_digits_rev.eq(crate::domain::phone::digits_reversed(&ev.customer.phone)),
            partials::country.eq(&ev.customer.billing.country),
            partials::item_no.eq(ev.items.first().map(|i| i.item_no.clone())),
            partials::item_title.eq(ev.items.first().map(|i| i.title.clone())),
            partials::item_count.eq(i32::try_from(ev.items.len()).unwrap_or(i32::MAX)),
            partials::event_time.eq(ev.time.naive_utc()),
            partials::created_at.eq(crate::domain::now()),
        ))
        .execute(conn)?;
    Ok(Outcome::Applied { order_id: None })
}

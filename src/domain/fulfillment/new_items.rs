//! The items events create: the state a new item starts in (one rule for sales and rebills,
//! whichever event built the order and whenever it arrives), the rebill's new item, and what
//! a full refund cancels.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{ShipTo, Status, CANCEL_ON_REFUND};
use crate::db::models::{HouseKind, OrderStatus};
use crate::db::statements::Stamp;
use crate::db::{on_backend, DbConn};
use crate::error::AppError;

/// What decides the state a new item starts in.
#[derive(Debug, Clone, Copy)]
pub struct NewItem<'a> {
    /// The plugin lets ClickBank ship and the product is on the ClickBank house.
    pub from_clickbank: bool,
    /// The time of the item's own event (its sale or its rebill).
    pub event_time: NaiveDateTime,
    /// The plugin's SHIPPED cut-off.
    pub cutoff: Option<NaiveDateTime>,
    /// Its order is refunded in full.
    pub order_refunded: bool,
    pub ship_to: &'a ShipTo,
}

/// The state a new item starts in. It is SHIPPED when ClickBank ships it or when its own
/// event is older than the plugin's SHIPPED cut-off, so nothing older ships twice; else
/// CANCELLED when its order is refunded in full (as the refund would have cancelled it had
/// the item come first); else NEEDS_ADDRESS when a house could not ship to its address; else
/// HOLD.
pub fn start_status(item: NewItem<'_>) -> Status {
    if item.from_clickbank || item.cutoff.is_some_and(|c| item.event_time < c) {
        Status::Shipped
    } else if item.order_refunded {
        Status::Cancelled
    } else if !super::address::is_complete(item.ship_to) {
        Status::NeedsAddress
    } else {
        Status::Hold
    }
}

/// A full refund or chargeback of order `order_id`: its items not at a house yet (on hold,
/// waiting for an address or for an export retry) are cancelled: nothing refunded ships.
pub fn cancel_unsent(conn: &mut DbConn, order_id: i64) -> Result<(), AppError> {
    use crate::db::schema::fulfillments;
    diesel::update(
        fulfillments::table
            .filter(fulfillments::order_id.eq(order_id))
            .filter(fulfillments::status.eq_any(CANCEL_ON_REFUND)),
    )
    .set((
        fulfillments::status.eq(Status::Cancelled.as_str()),
        fulfillments::updated_at.eq(crate::domain::now()),
    ))
    .execute(conn)?;
    Ok(())
}

/// After a rebill of purchase `purchase_id`: a new item for billing cycle `cycle` when the
/// line item ships, on the product's house, starting as [`start_status`] says. The address is
/// `ship_to` (the event's), else the first cycle's when the event has no street. Idempotent:
/// one item per (line item, cycle). The item is created at `time`, the rebill's transaction
/// time (product delays and bundle windows count from it), whenever the event arrives; it is
/// updated at `now`, the caller's transaction time.
pub fn rebill_item(
    conn: &mut DbConn,
    purchase_id: i64,
    cycle: i32,
    mut ship_to: ShipTo,
    time: &Stamp,
    now: &Stamp,
) -> Result<(), AppError> {
    use crate::db::schema::{
        fulfillment_houses, fulfillments, order_items, orders, plugins, products, purchases,
    };
    // Run on the backend's own connection: a rebill of every subscription comes here.
    type Row = (
        i64,
        i64,
        bool,
        i64,
        bool,
        HouseKind,
        Option<NaiveDateTime>,
        OrderStatus,
    );
    let (order_id, item_id, shippable, house, plugin_ships, house_kind, cutoff, order_status): Row =
        on_backend!(conn, |c| purchases::table
            .inner_join(order_items::table.inner_join(products::table.inner_join(fulfillment_houses::table)))
            .inner_join(orders::table.on(orders::id.eq(purchases::order_id)))
            .inner_join(plugins::table.on(plugins::id.eq(orders::plugin_id)))
            .filter(purchases::id.eq(purchase_id))
            .select((
                purchases::order_id,
                purchases::order_item_id,
                order_items::shippable,
                products::fulfillment_house_id,
                plugins::clickbank_ships,
                fulfillment_houses::kind,
                plugins::ship_cutoff_at,
                orders::status,
            ))
            .get_result(c))?;
    if !shippable {
        return Ok(());
    }
    if ship_to.address1.trim().is_empty() {
        let first: Option<Option<String>> = on_backend!(conn, |c| fulfillments::table
            .filter(fulfillments::order_item_id.eq(item_id))
            .order(fulfillments::cycle.asc())
            .select(fulfillments::ship_to)
            .first(c)
            .optional())?;
        if let Some(s) = first.flatten().as_deref().and_then(ShipTo::from_json) {
            ship_to = s;
        }
    }
    let status = start_status(NewItem {
        from_clickbank: plugin_ships && house_kind == HouseKind::ClickBank,
        event_time: time.time(),
        cutoff,
        order_refunded: order_status == OrderStatus::Refunded,
        ship_to: &ship_to,
    })
    .as_str();
    // The same cycle's item may exist already (the event seen again by another channel).
    let row = (
        fulfillments::order_id.eq(order_id),
        fulfillments::order_item_id.eq(item_id),
        fulfillments::cycle.eq(cycle),
        fulfillments::house_id.eq(house),
        fulfillments::status.eq(status),
        fulfillments::ship_to.eq(Some(ship_to.to_json())),
        fulfillments::created_at.eq(time),
        fulfillments::updated_at.eq(now),
    );
    let insert = diesel::insert_into(fulfillments::table)
        .values(row)
        .on_conflict_do_nothing();
    on_backend!(conn, |c| crate::db::statements::kept!(insert).execute(c))?;
    Ok(())
}

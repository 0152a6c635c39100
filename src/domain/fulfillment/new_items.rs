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

/// The state a new item starts in. It is SHIPPED when ClickBank ships it (the plugin lets
/// ClickBank ship and the product is on the ClickBank house) or when its own event (its sale
/// or its rebill) is older than the plugin's SHIPPED cut-off, so nothing older ships twice;
/// else CANCELLED when its order is refunded in full (as the refund would have cancelled it
/// had the item come first); else HOLD.
pub fn start_status(
    from_clickbank: bool,
    event_time: NaiveDateTime,
    cutoff: Option<NaiveDateTime>,
    order_refunded: bool,
) -> Status {
    if from_clickbank || cutoff.is_some_and(|c| event_time < c) {
        Status::Shipped
    } else if order_refunded {
        Status::Cancelled
    } else {
        Status::Hold
    }
}

/// A full refund or chargeback of order `order_id`: its items not at a house yet (on hold,
/// or waiting for an export retry) are cancelled: nothing refunded ships.
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
    let status = start_status(
        plugin_ships && house_kind == HouseKind::ClickBank,
        time.time(),
        cutoff,
        order_status == OrderStatus::Refunded,
    )
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

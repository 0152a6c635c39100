//! The order an event is about, found by its receipt.

use diesel::prelude::*;

use crate::db::schema::orders;
use crate::db::{on_backend, DbConn};
use crate::error::AppError;

/// The order's id, the money a refund needs, and whether its sale is seen.
#[derive(Queryable, Debug, Clone)]
pub(super) struct OrderRow {
    pub(super) id: i64,
    pub(super) receipt: String,
    pub(super) total_minor: i64,
    pub(super) refunded_minor: i64,
    /// False for an order built from a later event, until its SALE is added.
    pub(super) sale_seen: bool,
}

/// The order of `receipt`, or of the original receipt a rebill's receipt extends.
pub(super) fn find_order(
    conn: &mut DbConn,
    plugin_id: i64,
    receipt: &str,
) -> Result<Option<OrderRow>, AppError> {
    let q = |conn: &mut DbConn, r: &str| -> QueryResult<Option<OrderRow>> {
        on_backend!(conn, |c| orders::table
            .filter(orders::plugin_id.eq(plugin_id))
            .filter(orders::receipt.eq(r))
            .select((
                orders::id,
                orders::receipt,
                orders::total_minor,
                orders::refunded_minor,
                orders::sale_seen,
            ))
            .get_result(c)
            .optional())
    };
    if let Some(o) = q(conn, receipt)? {
        return Ok(Some(o));
    }
    // Rebill receipts may carry a suffix after the original receipt (`ABCD1234-B01`).
    match receipt.split_once('-') {
        Some((base, _)) if !base.is_empty() => Ok(q(conn, base)?),
        _ => Ok(None),
    }
}

/// Where the CRM keeps `receipt`'s order (a rebill's suffixed receipt included): the order
/// and its customer, for pages that link to them; None when the CRM does not know it.
pub fn order_and_customer(
    conn: &mut DbConn,
    plugin_id: i64,
    receipt: &str,
) -> Result<Option<(i64, i64)>, AppError> {
    let Some(order) = find_order(conn, plugin_id, receipt)? else {
        return Ok(None);
    };
    let customer: i64 = orders::table
        .find(order.id)
        .select(orders::customer_id)
        .first(conn)?;
    Ok(Some((order.id, customer)))
}

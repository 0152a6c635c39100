//! A SALE: the order, its line items, their subscriptions and fulfillment items, the sale's
//! money transaction, and the buyer's abandoned carts marked converted. The events that waited
//! for this order are the caller's to apply (see `apply`).

use diesel::prelude::*;

use super::event::{EventCustomer, EventItem, OrderEvent};
use super::existing::find_order;
use super::writes::LookupsAndWrites;
use crate::db::models::Plugin;
use crate::db::models::{OrderStatus, PurchaseStatus};
use crate::db::schema::{customers, fulfillments, order_items, orders, partials, purchases};
use crate::db::statements::{insert_id, kept_update, Stamp};
use crate::db::{on_backend, DbConn};
use crate::error::AppError;

/// What a SALE found or made.
pub(super) enum Sold {
    /// The order existed already: the same sale from the other channel (or with another
    /// time stamp).
    Existing(i64),
    /// The order was made now.
    New(i64),
}

/// Applies a SALE (live or test) for `plugin`.
pub(super) fn sale(
    conn: &mut DbConn,
    plugin: &Plugin,
    ev: &OrderEvent,
    test: bool,
    source: &str,
    lk: &mut LookupsAndWrites,
) -> Result<Sold, AppError> {
    if let Some(existing) = find_order(conn, plugin.id, &ev.receipt)?.filter(|_| !ev.receipt.contains('-')) {
        return Ok(Sold::Existing(existing.id));
    }
    let campaign = lk.campaign(conn, plugin, &ev.currency, test)?;
    let now = lk.now();
    let customer = customer_id(conn, plugin, &ev.customer, &now)?;
    let time = Stamp::new(ev.time.naive_utc());
    let order = NewOrder {
        campaign,
        customer,
        time: &time,
        now: &now,
    };
    let order_id = insert_order(conn, plugin, ev, &order)?;
    let dummy_house = lk.house(conn)?;
    for item in &ev.items {
        let (product_id, house) = lk.product(conn, plugin, item, &ev.currency)?;
        let line = NewLine {
            order_id,
            product_id,
            ships_from_clickbank: plugin.clickbank_ships && house == dummy_house,
            house,
        };
        insert_line(conn, ev, item, &order, &line)?;
    }
    lk.add_transaction(order_id, ev, &time, ev.total_minor, source);
    convert_carts(conn, plugin, ev, &time, order_id)?;
    Ok(Sold::New(order_id))
}

/// What the rows of a new order share.
struct NewOrder<'a> {
    campaign: i64,
    customer: i64,
    /// The sale's transaction time.
    time: &'a Stamp,
    /// The caller's transaction time.
    now: &'a Stamp,
}

/// Where one line item of a new order goes.
struct NewLine {
    order_id: i64,
    product_id: i64,
    house: i64,
    /// The plugin lets ClickBank ship and the product is on the ClickBank house: the item is
    /// SHIPPED at once.
    ships_from_clickbank: bool,
}

fn insert_order(conn: &mut DbConn, plugin: &Plugin, ev: &OrderEvent, o: &NewOrder) -> Result<i64, AppError> {
    let (t, now) = (o.time, o.now);
    Ok(insert_id!(
        conn,
        diesel::insert_into(orders::table).values((
            orders::plugin_id.eq(plugin.id),
            orders::campaign_id.eq(o.campaign),
            orders::customer_id.eq(o.customer),
            orders::receipt.eq(&ev.receipt),
            orders::parent_receipt.eq(&ev.parent_receipt),
            orders::order_type.eq(&ev.kind),
            orders::status.eq(OrderStatus::Complete),
            orders::affiliate.eq(&ev.affiliate),
            orders::payment_method.eq(&ev.payment_method),
            orders::currency.eq(&ev.currency),
            orders::total_minor.eq(ev.total_minor),
            orders::tax_minor.eq(ev.tax_minor),
            orders::shipping_minor.eq(ev.shipping_minor),
            orders::refunded_minor.eq(0i64),
            orders::transaction_time.eq(t),
            orders::created_at.eq(now),
            orders::updated_at.eq(now),
        )),
        orders::id
    )?
    .ok_or_else(|| AppError::Internal(format!("order {} was not inserted", ev.receipt)))?)
}

/// One line item of a new order, with its subscription when it recurs and its fulfillment
/// item when it ships.
fn insert_line(
    conn: &mut DbConn,
    ev: &OrderEvent,
    item: &EventItem,
    o: &NewOrder,
    line: &NewLine,
) -> Result<(), AppError> {
    let (order_id, product_id, now) = (line.order_id, line.product_id, o.now);
    let item_id = insert_id!(
        conn,
        diesel::insert_into(order_items::table).values((
            order_items::order_id.eq(order_id),
            order_items::product_id.eq(product_id),
            order_items::item_no.eq(&item.item_no),
            order_items::title.eq(&item.title),
            order_items::line_item_type.eq(&item.line_item_type),
            order_items::quantity.eq(item.quantity),
            order_items::amount_minor.eq(item.amount_minor),
            order_items::shippable.eq(item.shippable),
            order_items::recurring.eq(item.recurring),
        )),
        order_items::id
    )?
    .ok_or_else(|| AppError::Internal(format!("an item of order {} was not inserted", ev.receipt)))?;
    if item.recurring {
        let status = if item.amount_minor == 0 {
            PurchaseStatus::Trial
        } else {
            PurchaseStatus::Active
        };
        on_backend!(conn, |c| diesel::insert_into(purchases::table)
            .values((
                purchases::order_id.eq(order_id),
                purchases::order_item_id.eq(item_id),
                purchases::customer_id.eq(o.customer),
                purchases::product_id.eq(product_id),
                purchases::status.eq(status),
                purchases::billing_cycle.eq(item.payments_processed.unwrap_or(1).max(1)),
                purchases::rebill_amount_minor.eq(item.rebill_amount_minor),
                purchases::frequency.eq(&item.frequency),
                purchases::next_bill_date.eq(item.next_payment.map(|t| Stamp::new(t.naive_utc()))),
                purchases::created_at.eq(now),
                purchases::updated_at.eq(now),
            ))
            .execute(c))?;
    }
    if item.shippable {
        let status = if line.ships_from_clickbank {
            crate::domain::fulfillment::Status::Shipped
        } else {
            crate::domain::fulfillment::Status::Hold
        }
        .as_str();
        on_backend!(conn, |c| diesel::insert_into(fulfillments::table)
            .values((
                fulfillments::order_id.eq(order_id),
                fulfillments::order_item_id.eq(item_id),
                fulfillments::cycle.eq(1),
                fulfillments::house_id.eq(line.house),
                fulfillments::status.eq(status),
                fulfillments::ship_to.eq(Some(ev.customer.ship_to().to_json())),
                fulfillments::created_at.eq(now),
                fulfillments::updated_at.eq(now),
            ))
            .execute(c))?;
    }
    Ok(())
}

/// An abandoned cart of the same buyer, from before the sale, is now converted.
fn convert_carts(
    conn: &mut DbConn,
    plugin: &Plugin,
    ev: &OrderEvent,
    time: &Stamp,
    order_id: i64,
) -> Result<(), AppError> {
    // Looked up first: a SELECT stays prepared between events, an UPDATE is compiled each
    // time, and most buyers have no cart.
    let carts: Vec<i64> = on_backend!(conn, |c| partials::table
        .filter(partials::plugin_id.eq(plugin.id))
        .filter(partials::email.eq(&ev.customer.email))
        .filter(partials::converted_order_id.is_null())
        .filter(partials::event_time.le(time))
        .select(partials::id)
        .load(c))?;
    if !carts.is_empty() {
        diesel::update(partials::table.filter(partials::id.eq_any(carts)))
            .set(partials::converted_order_id.eq(Some(order_id)))
            .execute(conn)?;
    }
    Ok(())
}

/// The buyer's customer id (by plugin and email), created or brought up to date.
fn customer_id(conn: &mut DbConn, plugin: &Plugin, c: &EventCustomer, now: &Stamp) -> Result<i64, AppError> {
    if c.email.is_empty() {
        return Err(AppError::Validation("the event has no customer email".into()));
    }
    let find = |conn: &mut DbConn| -> QueryResult<Option<(i64, String, String)>> {
        on_backend!(conn, |k| customers::table
            .filter(customers::plugin_id.eq(plugin.id))
            .filter(customers::email.eq(&c.email))
            .select((customers::id, customers::first_name, customers::last_name))
            .get_result(k)
            .optional())
    };
    let existing = find(conn)?;
    let values = (
        customers::first_name.eq(&c.first_name),
        customers::last_name.eq(&c.last_name),
        customers::phone.eq(&c.phone),
        customers::bill_address1.eq(&c.billing.address1),
        customers::bill_address2.eq(&c.billing.address2),
        customers::bill_city.eq(&c.billing.city),
        customers::bill_state.eq(&c.billing.state),
        customers::bill_postal_code.eq(&c.billing.postal_code),
        customers::bill_country.eq(&c.billing.country),
        customers::ship_first_name.eq(&c.ship_first_name),
        customers::ship_last_name.eq(&c.ship_last_name),
        customers::ship_address1.eq(&c.shipping.address1),
        customers::ship_address2.eq(&c.shipping.address2),
        customers::ship_city.eq(&c.shipping.city),
        customers::ship_state.eq(&c.shipping.state),
        customers::ship_postal_code.eq(&c.shipping.postal_code),
        customers::ship_country.eq(&c.shipping.country),
    );
    if let Some((id, first, last)) = existing {
        // Newer data wins, but an event that lacks a field (the orders list has no street)
        // never blanks what an earlier one gave. Unchanged names are not written again (a
        // returning buyer's next order, most of an import).
        if !c.billing.address1.is_empty() || !c.first_name.is_empty() {
            if !c.billing.address1.is_empty() {
                let by_id = customers::id.eq(id);
                on_backend!(conn, |k| kept_update!(
                    customers::table,
                    by_id,
                    (values, customers::updated_at.eq(now))
                )
                .execute(k))?;
            } else if (first.as_str(), last.as_str()) != (c.first_name.as_str(), c.last_name.as_str()) {
                let name = (
                    customers::first_name.eq(&c.first_name),
                    customers::last_name.eq(&c.last_name),
                    customers::updated_at.eq(now),
                );
                let by_id = customers::id.eq(id);
                on_backend!(conn, |k| kept_update!(customers::table, by_id, name).execute(k))?;
            }
        }
        return Ok(id);
    }
    // Another process may insert the same buyer meanwhile: theirs is kept and found below.
    let inserted = insert_id!(
        conn,
        diesel::insert_into(customers::table)
            .values((
                customers::plugin_id.eq(plugin.id),
                customers::email.eq(&c.email),
                values,
                customers::created_at.eq(now),
                customers::updated_at.eq(now),
            ))
            .on_conflict_do_nothing(),
        customers::id
    )?;
    match inserted {
        Some(id) => Ok(id),
        None => find(conn)?
            .map(|(id, _, _)| id)
            .ok_or_else(|| AppError::Internal(format!("customer {} could not be created", c.email))),
    }
}

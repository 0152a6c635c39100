//! A SALE: the order, its line items, their subscriptions and fulfillment items, the sale's
//! money transaction, and the buyer's abandoned carts marked converted. The events that waited
//! for this order are the caller's to apply (see `apply`).

use diesel::prelude::*;

use super::event::{EventCustomer, EventItem, OrderEvent};
use super::existing::{find_order, OrderRow};
use super::writes::LookupsAndWrites;
use crate::clickbank::TransactionType;
use crate::db::models::Plugin;
use crate::db::models::{OrderStatus, PurchaseStatus, ShipRow, SHIP_COLUMNS};
use crate::db::schema::{customers, fulfillments, order_items, orders, partials, purchases, sale_lookups};
use crate::db::statements::{insert_id, kept_update, Stamp};
use crate::db::{on_backend, DbConn};
use crate::domain::fulfillment::{self, address, ShipTo};
use crate::error::AppError;

/// What a SALE found or made.
pub(super) enum Sold {
    /// The order and its sale existed already: the same sale from the other channel (or
    /// with another time stamp).
    Existing(i64),
    /// The order was made now.
    New(i64),
    /// The order existed, built from a later event; its sale is added now.
    Completed(i64),
}

/// Applies a SALE (live or test) for `plugin`: a new order, or the sale of an order a later
/// event built (see [`order_from_event`]), through the same rows.
pub(super) fn sale(
    conn: &mut DbConn,
    plugin: &Plugin,
    ev: &OrderEvent,
    test: bool,
    source: &str,
    lk: &mut LookupsAndWrites,
) -> Result<Sold, AppError> {
    let existing = find_order(conn, plugin.id, &ev.receipt)?
        .filter(|o| !ev.receipt.contains('-') || o.receipt == ev.receipt);
    if let Some(o) = &existing {
        if o.sale_seen {
            return Ok(Sold::Existing(o.id));
        }
    }
    let (order, stored) = NewOrder::of(conn, plugin, ev, test, lk)?;
    // The event's address; the one the customer has when the event lacks a street (the
    // orders list has none).
    let sent = ev.customer.ship_to();
    let ship_to = match stored {
        Some(s) if !address::is_complete(&sent) && address::is_complete(&s) => s,
        _ => sent,
    };
    let (order_id, refunded) = match &existing {
        Some(o) => {
            let refunded = o.refunded_minor >= ev.total_minor && o.refunded_minor > 0;
            complete_order(conn, ev, &order, o.id, refunded)?;
            (o.id, refunded)
        }
        None => (insert_order(conn, plugin, ev, &order, Seen::Sale)?, false),
    };
    let lines = Lines {
        order: &order,
        order_id,
        ship: Ship::Yes { refunded },
        some_exist: existing.is_some(),
        ship_to: &ship_to,
    };
    add_lines(conn, plugin, ev, &lines, lk)?;
    lk.add_transaction(order_id, ev, &order.time, ev.total_minor, source);
    convert_carts(conn, plugin, ev, &order.time, order_id)?;
    match existing {
        Some(_) => {
            if refunded {
                crate::domain::fulfillment::cancel_unsent(conn, order_id)?;
            }
            diesel::delete(sale_lookups::table.filter(sale_lookups::order_id.eq(order_id))).execute(conn)?;
            Ok(Sold::Completed(order_id))
        }
        None => Ok(Sold::New(order_id)),
    }
}

/// The order of an event that came before its SALE (a rebill, refund or cancellation of a
/// sale older than the import's window or the plugin's connection), built from the event
/// itself: its customer, its line items with their subscriptions (cycle, rebill amount and
/// next bill date as ClickBank sent them), marked "sale not seen yet" with no money of its
/// own until the sale is added. A look-up of the original is queued with the transaction's
/// other rows.
pub(super) fn order_from_event(
    conn: &mut DbConn,
    plugin: &Plugin,
    ev: &OrderEvent,
    lk: &mut LookupsAndWrites,
) -> Result<OrderRow, AppError> {
    let (order, _) = NewOrder::of(conn, plugin, ev, ev.kind.is_test(), lk)?;
    let id = insert_order(conn, plugin, ev, &order, Seen::Not)?;
    let lines = Lines {
        order: &order,
        order_id: id,
        ship: Ship::No,
        some_exist: false,
        ship_to: &ShipTo::default(),
    };
    add_lines(conn, plugin, ev, &lines, lk)?;
    let mut skus: Vec<&str> = ev.items.iter().map(|i| i.item_no.as_str()).collect();
    skus.sort_unstable();
    skus.dedup();
    lk.queue_sale_lookup(plugin.id, id, ev.base_receipt(), &skus.join("+"));
    Ok(OrderRow {
        id,
        receipt: ev.base_receipt().to_string(),
        total_minor: 0,
        refunded_minor: 0,
        sale_seen: false,
    })
}

/// What the rows of a new order share.
struct NewOrder {
    campaign: i64,
    customer: i64,
    /// The event's transaction time.
    time: Stamp,
    /// The caller's transaction time.
    now: Stamp,
}

impl NewOrder {
    /// The campaign and customer of `ev`'s order (the customer created or brought up to date),
    /// and the shipping address a returning customer had.
    fn of(
        conn: &mut DbConn,
        plugin: &Plugin,
        ev: &OrderEvent,
        test: bool,
        lk: &mut LookupsAndWrites,
    ) -> Result<(NewOrder, Option<ShipTo>), AppError> {
        let campaign = lk.campaign(conn, plugin, &ev.currency, test)?;
        let now = lk.now();
        let (customer, stored) = customer_id(conn, plugin, &ev.customer, &now)?;
        let order = NewOrder {
            campaign,
            customer,
            time: Stamp::new(ev.time.naive_utc()),
            now,
        };
        Ok((order, stored))
    }
}

/// Whether the order is made by its sale or by a later event.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    Sale,
    Not,
}

/// Whether the lines' items are made now (by their sale), and whether the order is refunded
/// in full already (a refund that came before the sale).
#[derive(Clone, Copy)]
enum Ship {
    Yes { refunded: bool },
    No,
}

/// The lines an event adds to an order.
struct Lines<'a> {
    order: &'a NewOrder,
    order_id: i64,
    ship: Ship,
    /// The order has lines already (built by a later event).
    some_exist: bool,
    /// Where its items ship.
    ship_to: &'a ShipTo,
}

/// Where one line item of a new order goes.
struct NewLine {
    order_id: i64,
    product_id: i64,
    house: i64,
    /// The plugin lets ClickBank ship and the product is on the ClickBank house: the item is
    /// SHIPPED at once.
    ships_from_clickbank: bool,
    /// The product's pricing has trial days: a sale of it starts a trial.
    has_trial: bool,
}

fn insert_order(
    conn: &mut DbConn,
    plugin: &Plugin,
    ev: &OrderEvent,
    o: &NewOrder,
    seen: Seen,
) -> Result<i64, AppError> {
    let (t, now) = (&o.time, &o.now);
    // An order built from a later event has no money of its own until its sale is added.
    let money = |m: i64| if seen == Seen::Sale { m } else { 0 };
    Ok(insert_id!(
        conn,
        diesel::insert_into(orders::table).values((
            orders::plugin_id.eq(plugin.id),
            orders::campaign_id.eq(o.campaign),
            orders::customer_id.eq(o.customer),
            orders::receipt.eq(ev.base_receipt()),
            orders::parent_receipt.eq(&ev.parent_receipt),
            orders::order_type.eq(&ev.kind),
            orders::status.eq(OrderStatus::Complete),
            orders::affiliate.eq(&ev.affiliate),
            orders::payment_method.eq(&ev.payment_method),
            orders::currency.eq(&ev.currency),
            orders::total_minor.eq(money(ev.total_minor)),
            orders::tax_minor.eq(money(ev.tax_minor)),
            orders::shipping_minor.eq(money(ev.shipping_minor)),
            orders::refunded_minor.eq(0i64),
            orders::transaction_time.eq(t),
            orders::created_at.eq(now),
            orders::updated_at.eq(now),
            orders::sale_seen.eq(seen == Seen::Sale),
        )),
        orders::id
    )?
    .ok_or_else(|| AppError::Internal(format!("order {} was not inserted", ev.receipt)))?)
}

/// The sale of an order a later event built: its money, type and time, and its status
/// (refunded when the refunds that came first cover it).
fn complete_order(
    conn: &mut DbConn,
    ev: &OrderEvent,
    o: &NewOrder,
    order_id: i64,
    refunded: bool,
) -> Result<(), AppError> {
    let status = if refunded {
        OrderStatus::Refunded
    } else {
        OrderStatus::Complete
    };
    diesel::update(orders::table.find(order_id))
        .set((
            orders::sale_seen.eq(true),
            orders::campaign_id.eq(o.campaign),
            orders::customer_id.eq(o.customer),
            orders::parent_receipt.eq(&ev.parent_receipt),
            orders::order_type.eq(&ev.kind),
            orders::status.eq(status),
            orders::affiliate.eq(&ev.affiliate),
            orders::payment_method.eq(&ev.payment_method),
            orders::total_minor.eq(ev.total_minor),
            orders::tax_minor.eq(ev.tax_minor),
            orders::shipping_minor.eq(ev.shipping_minor),
            orders::transaction_time.eq(o.time.time()),
            orders::updated_at.eq(o.now.time()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The event's line items on order `order_id`: each a line with its subscription when it
/// recurs and, when `ship` says so, its first item when it ships. A line the order has
/// already (built by a later event: same SKU and line item type) is not made again, but gets
/// its first item now.
fn add_lines(
    conn: &mut DbConn,
    plugin: &Plugin,
    ev: &OrderEvent,
    lines: &Lines,
    lk: &mut LookupsAndWrites,
) -> Result<(), AppError> {
    let (order, order_id, ship) = (lines.order, lines.order_id, lines.ship);
    let mut have: Vec<(i64, String, String)> = if lines.some_exist {
        on_backend!(conn, |c| order_items::table
            .filter(order_items::order_id.eq(order_id))
            .select((order_items::id, order_items::item_no, order_items::line_item_type))
            .order(order_items::id.asc())
            .load(c))?
    } else {
        Vec::new()
    };
    let dummy_house = lk.house(conn)?;
    for item in &ev.items {
        let placed = lk.product(conn, plugin, item, &ev.currency)?;
        let line = NewLine {
            order_id,
            product_id: placed.id,
            ships_from_clickbank: plugin.clickbank_ships && placed.house == dummy_house,
            house: placed.house,
            has_trial: placed.has_trial,
        };
        let known = have
            .iter()
            .position(|(_, no, kind)| *no == item.item_no && *kind == item.line_item_type);
        let item_id = match known {
            Some(i) => {
                // A line a later event built: the sale says what was bought and paid.
                let id = have.swap_remove(i).0;
                diesel::update(order_items::table.find(id))
                    .set((
                        order_items::title.eq(&item.title),
                        order_items::quantity.eq(item.quantity),
                        order_items::amount_minor.eq(item.amount_minor),
                    ))
                    .execute(conn)?;
                id
            }
            None => insert_line(conn, ev, item, order, &line)?,
        };
        if let Ship::Yes { refunded } = ship {
            if item.shippable {
                first_item(
                    conn,
                    plugin,
                    ev,
                    &line,
                    item_id,
                    refunded,
                    (lines.ship_to, &order.now),
                )?;
            }
        }
    }
    Ok(())
}

/// One line item of an order, with its subscription when it recurs; gives its id.
fn insert_line(
    conn: &mut DbConn,
    ev: &OrderEvent,
    item: &EventItem,
    o: &NewOrder,
    line: &NewLine,
) -> Result<i64, AppError> {
    let (order_id, product_id, now) = (line.order_id, line.product_id, &o.now);
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
        // A trial: the first payment of a product whose pricing has trial days (or a free
        // first payment), until the first rebill.
        let trial = line.has_trial || item.amount_minor == 0;
        let own = if trial && ev.kind.live() == TransactionType::Sale {
            PurchaseStatus::Trial
        } else {
            PurchaseStatus::Active
        };
        // The sale stamps the state it sets; a later event that built the order leaves the
        // state to its own change. A record read from the orders list sets the state its line
        // showed then, stamped with the reading time. The schedule is stamped by whichever
        // sets it.
        let stamp = ev.stamp();
        let (status, state) = match ev.read_state(&item.item_no) {
            // The list says ACTIVE for a trial too.
            Some((PurchaseStatus::Active, read)) => (own, Some(read)),
            Some((status, read)) => (status, Some(read)),
            None => (own, (ev.kind.live() == TransactionType::Sale).then_some(stamp)),
        };
        let cancelled_at = state.filter(|_| status == PurchaseStatus::Cancelled).map(|s| s.0);
        let schedule = item.next_payment.map(|_| stamp);
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
                purchases::cancelled_at.eq(cancelled_at),
                purchases::state_at.eq(state.map(|s| s.0)),
                purchases::state_rank.eq(state.map_or(0, |s| s.1)),
                purchases::schedule_at.eq(schedule.map(|s| s.0)),
                purchases::schedule_rank.eq(schedule.map_or(0, |s| s.1)),
            ))
            .execute(c))?;
    }
    Ok(item_id)
}

/// The first-cycle item of a line that ships, made by its sale.
fn first_item(
    conn: &mut DbConn,
    plugin: &Plugin,
    ev: &OrderEvent,
    line: &NewLine,
    item_id: i64,
    refunded: bool,
    (ship_to, now): (&ShipTo, &Stamp),
) -> Result<(), AppError> {
    let status = fulfillment::start_status(fulfillment::NewItem {
        from_clickbank: line.ships_from_clickbank,
        event_time: ev.time.naive_utc(),
        cutoff: plugin.ship_cutoff_at,
        order_refunded: refunded,
        ship_to,
    })
    .as_str();
    on_backend!(conn, |c| diesel::insert_into(fulfillments::table)
        .values((
            fulfillments::order_id.eq(line.order_id),
            fulfillments::order_item_id.eq(item_id),
            fulfillments::cycle.eq(1),
            fulfillments::house_id.eq(line.house),
            fulfillments::status.eq(status),
            fulfillments::ship_to.eq(Some(ship_to.to_json())),
            fulfillments::created_at.eq(now),
            fulfillments::updated_at.eq(now),
        ))
        .execute(c))?;
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

/// The buyer's customer id (by plugin and email), created or brought up to date, and the
/// shipping address a returning buyer had before this event. A complete address this event
/// brings goes to the buyer's items that waited for one.
fn customer_id(
    conn: &mut DbConn,
    plugin: &Plugin,
    c: &EventCustomer,
    now: &Stamp,
) -> Result<(i64, Option<ShipTo>), AppError> {
    if c.email.is_empty() {
        return Err(AppError::Validation("the event has no customer email".into()));
    }
    let find = |conn: &mut DbConn| -> QueryResult<Option<(i64, String, String, ShipRow)>> {
        on_backend!(conn, |k| customers::table
            .filter(customers::plugin_id.eq(plugin.id))
            .filter(customers::email.eq(&c.email))
            .select((
                customers::id,
                customers::first_name,
                customers::last_name,
                SHIP_COLUMNS,
            ))
            .get_result(k)
            .optional())
    };
    let existing = find(conn)?;
    let phone_digits = crate::domain::phone::digits_reversed(&c.phone);
    let values = (
        customers::first_name.eq(&c.first_name),
        customers::last_name.eq(&c.last_name),
        customers::phone.eq(&c.phone),
        customers::phone_digits_rev.eq(&phone_digits),
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
    if let Some((id, first, last, ship)) = existing {
        let (first_name, last_name, address1, address2, city, state, postal_code, country) = ship;
        let stored = ShipTo {
            name: ShipTo::name_of((&first_name, &last_name), (&first, &last)),
            address1,
            address2,
            city,
            state,
            postal_code,
            country,
        };
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
                // Items wait for an address only while the customer has no complete one (a new
                // item takes the stored address), so buyers whose address is known cost no
                // look-up here. Items staff must address otherwise: the profile's edit.
                let sent = c.ship_to();
                if address::is_complete(&sent) && !address::is_complete(&stored) {
                    address::readdress(conn, id, &sent, address::Only::Waiting)?;
                }
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
        return Ok((id, Some(stored)));
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
        Some(id) => Ok((id, None)),
        None => find(conn)?
            .map(|(id, ..)| (id, None))
            .ok_or_else(|| AppError::Internal(format!("customer {} could not be created", c.email))),
    }
}

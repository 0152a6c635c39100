//! What a run sends: interrupted shipments marked for a human, failed ones retried, due HOLD
//! items bundled (customer, address, window) or sent alone as reships, and every item claimed
//! under its one shipment id before anything is sent.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::wire::{OutCustomer, OutItem, OutShipment};
use super::{INTERRUPTED, IN_FLIGHT, SENDING_STATUSES};
use crate::db::models::OrderStatus;
use crate::db::schema::{campaigns, customers, fulfillments, order_items, orders, products, shipments};
use crate::db::DbConn;
use crate::domain::fulfillment::batch::CHUNK;
use crate::domain::fulfillment::ShipmentStatus;
use crate::domain::fulfillment::Status;
use crate::domain::fulfillment::{address_key, ShipTo, MAX_BUNDLE_WINDOW_HOURS};
use crate::error::AppError;

/// One HOLD or retried item with what a house needs.
#[derive(Debug, Clone, Queryable)]
struct DueItem {
    id: i64,
    shipment_id: Option<String>,
    ship_to: Option<String>,
    receipt: String,
    order_time: NaiveDateTime,
    customer_id: i64,
    window_hours: i32,
    delay_hours: i32,
    sku: String,
    title: String,
    quantity: i32,
    first_name: String,
    last_name: String,
    email: String,
    phone: String,
    ship_first_name: String,
    ship_last_name: String,
    ship_address1: String,
    ship_address2: String,
    ship_city: String,
    ship_state: String,
    ship_postal_code: String,
    ship_country: String,
    cycle: i32,
    created_at: NaiveDateTime,
}

impl DueItem {
    /// When the item came to be: the order's time, or the rebill's for later cycles of a
    /// subscription. Delays and bundle windows count from here.
    fn time(&self) -> NaiveDateTime {
        if self.cycle > 1 {
            self.created_at
        } else {
            self.order_time
        }
    }

    fn ship_to(&self) -> ShipTo {
        if let Some(s) = self.ship_to.as_deref().and_then(ShipTo::from_json) {
            return s;
        }
        // Items from before addresses were kept per item: the customer's address.
        ShipTo {
            name: ShipTo::name_of(
                (&self.ship_first_name, &self.ship_last_name),
                (&self.first_name, &self.last_name),
            ),
            address1: self.ship_address1.clone(),
            address2: self.ship_address2.clone(),
            city: self.ship_city.clone(),
            state: self.ship_state.clone(),
            postal_code: self.ship_postal_code.clone(),
            country: self.ship_country.clone(),
        }
    }

    fn out_item(&self) -> OutItem {
        OutItem {
            client_fulfillment_id: self.id,
            order_id: self.receipt.clone(),
            sku: self.sku.clone(),
            title: self.title.clone(),
            quantity: self.quantity,
        }
    }

    fn customer(&self) -> OutCustomer {
        OutCustomer {
            name: format!("{} {}", self.first_name, self.last_name)
                .trim()
                .to_string(),
            email: self.email.clone(),
            phone: self.phone.clone(),
        }
    }
}

macro_rules! due_query {
    () => {
        fulfillments::table
            .inner_join(
                orders::table
                    .inner_join(customers::table)
                    .inner_join(campaigns::table),
            )
            .inner_join(order_items::table.inner_join(products::table))
            .select((
                fulfillments::id,
                fulfillments::shipment_id,
                fulfillments::ship_to,
                orders::receipt,
                orders::transaction_time,
                orders::customer_id,
                campaigns::bundle_window_hours,
                products::delay_hours,
                order_items::item_no,
                order_items::title,
                order_items::quantity,
                customers::first_name,
                customers::last_name,
                customers::email,
                customers::phone,
                customers::ship_first_name,
                customers::ship_last_name,
                customers::ship_address1,
                customers::ship_address2,
                customers::ship_city,
                customers::ship_state,
                customers::ship_postal_code,
                customers::ship_country,
                fulfillments::cycle,
                fulfillments::created_at,
            ))
    };
}

/// The base of a shipment id (without a reship suffix).
fn base_id(id: &str) -> &str {
    match id.rfind("-R") {
        Some(i) if id[i + 2..].chars().all(|c| c.is_ascii_digit()) && i + 2 < id.len() => &id[..i],
        _ => id,
    }
}

/// Picks and claims what this run sends (in the caller's transaction).
pub(super) fn prepare(
    conn: &mut DbConn,
    house: i64,
    run_id: i64,
    now: NaiveDateTime,
) -> Result<Vec<OutShipment>, AppError> {
    let mut out = Vec::new();

    // 0. A run that stopped between sending and recording (a crash) left shipments
    //    "sending": the house may have them. Never send them again by ourselves. Only runs
    //    whose lease expired are stuck: this run holds the house's lease, and a live run renews
    //    its lease after every batch, so any other run of this house still "sending" lost it.
    let stuck: Vec<String> = shipments::table
        .filter(shipments::house_id.eq(house))
        .filter(shipments::status.eq(ShipmentStatus::Sending))
        .filter(shipments::run_id.ne(run_id))
        .select(shipments::shipment_id)
        .load(conn)?;
    for chunk in stuck.chunks(CHUNK) {
        diesel::update(
            fulfillments::table
                .filter(fulfillments::shipment_id.eq_any(chunk))
                .filter(fulfillments::status.eq_any(SENDING_STATUSES)),
        )
        .set((
            fulfillments::status.eq(Status::Failed.as_str()),
            fulfillments::attempts.eq(2),
            fulfillments::last_error.eq(Some(INTERRUPTED)),
            fulfillments::updated_at.eq(now),
        ))
        .execute(conn)?;
        diesel::update(shipments::table.filter(shipments::shipment_id.eq_any(chunk)))
            .set((
                shipments::status.eq(ShipmentStatus::Interrupted),
                shipments::error.eq(Some(INTERRUPTED)),
                shipments::updated_at.eq(now),
            ))
            .execute(conn)?;
    }

    // 1. Shipments that failed once go again, same id, their items RECYCLED.
    let failed: Vec<String> = shipments::table
        .filter(shipments::house_id.eq(house))
        .filter(shipments::status.eq(ShipmentStatus::Failed))
        .filter(shipments::attempts.eq(1))
        .select(shipments::shipment_id)
        .load(conn)?;
    for sid in failed {
        let items: Vec<DueItem> = due_query!()
            .filter(fulfillments::shipment_id.eq(&sid))
            .filter(fulfillments::status.eq(Status::Failed.as_str()))
            .filter(fulfillments::house_id.eq(house))
            .order(fulfillments::id.asc())
            .load(conn)?;
        if items.is_empty() {
            // A human moved or cancelled its items: nothing to retry.
            diesel::update(shipments::table.filter(shipments::shipment_id.eq(&sid)))
                .set((
                    shipments::status.eq(ShipmentStatus::Superseded),
                    shipments::updated_at.eq(now),
                ))
                .execute(conn)?;
            continue;
        }
        let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
        diesel::update(fulfillments::table.filter(fulfillments::id.eq_any(&ids)))
            .set((
                fulfillments::status.eq(Status::Recycled.as_str()),
                fulfillments::export_run_id.eq(Some(run_id)),
                fulfillments::updated_at.eq(now),
            ))
            .execute(conn)?;
        diesel::update(shipments::table.filter(shipments::shipment_id.eq(&sid)))
            .set((
                shipments::status.eq(ShipmentStatus::Sending),
                shipments::attempts.eq(2),
                shipments::run_id.eq(run_id),
                shipments::items.eq(ids.len() as i32),
                shipments::updated_at.eq(now),
            ))
            .execute(conn)?;
        out.push(shipment(sid, false, true, &items));
    }

    // 2. HOLD items whose delay has passed, never of a refunded order.
    let hold: Vec<DueItem> = due_query!()
        .filter(fulfillments::house_id.eq(house))
        .filter(fulfillments::status.eq(Status::Hold.as_str()))
        .filter(orders::status.ne(OrderStatus::Refunded))
        .order((orders::transaction_time.asc(), fulfillments::id.asc()))
        .load(conn)?;
    let due: Vec<DueItem> = hold
        .into_iter()
        .filter(|i| i.time() + chrono::Duration::hours(i64::from(i.delay_hours.max(0))) <= now)
        .collect();

    // 3. Bundles: reships alone per former shipment; the rest by customer, address, window.
    let mut reships: BTreeMap<String, Vec<DueItem>> = BTreeMap::new();
    let mut groups: HashMap<(i64, String), Vec<DueItem>> = HashMap::new();
    let mut group_order: Vec<(i64, String)> = Vec::new();
    let mut due = due;
    due.sort_by_key(|i| (i.time(), i.id));
    for item in due {
        if let Some(prev) = item.shipment_id.clone() {
            reships.entry(base_id(&prev).to_string()).or_default().push(item);
        } else {
            let key = (item.customer_id, address_key(&item.ship_to()));
            let entry = groups.entry(key.clone()).or_default();
            if entry.is_empty() {
                group_order.push(key);
            }
            entry.push(item);
        }
    }
    let mut planned: Vec<(String, bool, Vec<DueItem>)> = Vec::new();
    for key in group_order {
        let items = groups.remove(&key).unwrap_or_default();
        let mut bundle: Vec<DueItem> = Vec::new();
        let mut end = now;
        for item in items {
            if !bundle.is_empty() && item.time() > end {
                let b = std::mem::take(&mut bundle);
                planned.push((format!("{}-{}", b[0].receipt, b[0].id), false, b));
            }
            if bundle.is_empty() {
                let window = item.window_hours.clamp(0, MAX_BUNDLE_WINDOW_HOURS);
                end = item.time() + chrono::Duration::hours(i64::from(window));
            }
            bundle.push(item);
        }
        if !bundle.is_empty() {
            planned.push((format!("{}-{}", bundle[0].receipt, bundle[0].id), false, bundle));
        }
    }
    for (base, items) in reships {
        let pattern = format!("{}-R%", crate::domain::audit::escape_like(&base));
        let earlier: i64 = shipments::table
            .filter(shipments::shipment_id.like(pattern).escape('\\'))
            .count()
            .get_result(conn)?;
        planned.push((format!("{base}-R{}", earlier + 1), true, items));
    }

    // 4. Claim: each item gets its one shipment id before anything is sent.
    let mut rows = Vec::with_capacity(planned.len());
    for (sid, _, items) in &planned {
        rows.push((
            shipments::shipment_id.eq(sid.clone()),
            shipments::house_id.eq(house),
            shipments::run_id.eq(run_id),
            shipments::customer_id.eq(items[0].customer_id),
            shipments::items.eq(items.len() as i32),
            shipments::status.eq(ShipmentStatus::Sending),
            shipments::attempts.eq(1),
            shipments::created_at.eq(now),
            shipments::updated_at.eq(now),
        ));
    }
    // One row at a time: batch inserts are not available through the multi-backend connection.
    for row in rows {
        diesel::insert_into(shipments::table).values(row).execute(conn)?;
    }
    for (sid, reship, items) in planned {
        let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
        let n = diesel::update(
            fulfillments::table
                .filter(fulfillments::id.eq_any(&ids))
                .filter(fulfillments::status.eq(Status::Hold.as_str())),
        )
        .set((
            fulfillments::status.eq(IN_FLIGHT),
            fulfillments::shipment_id.eq(Some(&sid)),
            fulfillments::export_run_id.eq(Some(run_id)),
            fulfillments::updated_at.eq(now),
        ))
        .execute(conn)?;
        if n != ids.len() {
            return Err(AppError::Conflict(format!(
                "items of shipment {sid} changed while the export was prepared; the run starts again later"
            )));
        }
        out.push(shipment(sid, reship, false, &items));
    }
    Ok(out)
}

fn shipment(shipment_id: String, reship: bool, retry: bool, items: &[DueItem]) -> OutShipment {
    let first = &items[0];
    OutShipment {
        shipment_id,
        reship,
        retry,
        customer: first.customer(),
        ship_to: first.ship_to(),
        items: items.iter().map(DueItem::out_item).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::base_id;

    #[test]
    fn reship_suffixes_come_off_the_base() {
        assert_eq!(base_id("ABC123-42"), "ABC123-42");
        assert_eq!(base_id("ABC123-42-R1"), "ABC123-42");
        assert_eq!(base_id("ABC123-42-R12"), "ABC123-42");
        assert_eq!(base_id("AB-RX"), "AB-RX");
        assert_eq!(base_id("AB-R"), "AB-R");
    }
}

//! Recording a run: each shipment's outcome on it and its items (accepted: PENDING; failed:
//! FAILED, or CANCELLED when the order was refunded meanwhile), and the run's summary.

use std::collections::HashMap;

use diesel::prelude::*;

use super::wire::{OutShipment, Sent};
use super::{RunSummary, REFUNDED_IN_FLIGHT, SENDING_STATUSES};
use crate::db::models::OrderStatus;
use crate::db::schema::{fulfillment_export_runs as runs, fulfillments, orders, shipments};
use crate::db::DbConn;
use crate::domain::fulfillment::batch::CHUNK;
use crate::domain::fulfillment::ShipmentStatus;
use crate::domain::fulfillment::Status;
use crate::error::AppError;

/// Stores the outcome of every shipment and finishes the run.
pub(super) fn record(
    conn: &mut DbConn,
    house: i64,
    run_id: i64,
    out: &[OutShipment],
    results: &HashMap<String, Sent>,
) -> Result<RunSummary, AppError> {
    let now = crate::domain::now();
    let mut ok_ids: Vec<&str> = Vec::new();
    let (mut items, mut failures, mut first_error) = (0i32, 0i32, None::<String>);
    let mut refunded_in_flight = 0i32;
    for s in out {
        items += s.items.len() as i32;
        let sent = results
            .get(&s.shipment_id)
            .cloned()
            .unwrap_or_else(|| Sent::Failed("no answer for this shipment".into()));
        match sent {
            Sent::Accepted { house_ref } => {
                ok_ids.push(&s.shipment_id);
                if house_ref.is_some() {
                    diesel::update(shipments::table.filter(shipments::shipment_id.eq(&s.shipment_id)))
                        .set(shipments::house_ref.eq(house_ref))
                        .execute(conn)?;
                }
            }
            Sent::Failed(why) => {
                failures += 1;
                first_error.get_or_insert_with(|| why.clone());
                let attempts = if s.retry { 2 } else { 1 };
                diesel::update(
                    shipments::table
                        .filter(shipments::shipment_id.eq(&s.shipment_id))
                        .filter(shipments::status.eq(ShipmentStatus::Sending)),
                )
                .set((
                    shipments::status.eq(ShipmentStatus::Failed),
                    shipments::error.eq(Some(&why)),
                    shipments::updated_at.eq(now),
                ))
                .execute(conn)?;
                // Nothing reached the house: items of an order refunded meanwhile are cancelled
                // now, as the refund would have done.
                let refunded = orders::table
                    .filter(orders::status.eq(OrderStatus::Refunded))
                    .select(orders::id);
                diesel::update(
                    fulfillments::table
                        .filter(fulfillments::shipment_id.eq(&s.shipment_id))
                        .filter(fulfillments::export_run_id.eq(run_id))
                        .filter(fulfillments::status.eq_any(SENDING_STATUSES))
                        .filter(fulfillments::order_id.eq_any(refunded)),
                )
                .set((
                    fulfillments::status.eq(Status::Cancelled.as_str()),
                    fulfillments::last_error.eq(Some(&why)),
                    fulfillments::updated_at.eq(now),
                ))
                .execute(conn)?;
                diesel::update(
                    fulfillments::table
                        .filter(fulfillments::shipment_id.eq(&s.shipment_id))
                        .filter(fulfillments::export_run_id.eq(run_id))
                        .filter(fulfillments::status.eq_any(SENDING_STATUSES)),
                )
                .set((
                    fulfillments::status.eq(Status::Failed.as_str()),
                    fulfillments::attempts.eq(attempts),
                    fulfillments::last_error.eq(Some(&why)),
                    fulfillments::updated_at.eq(now),
                ))
                .execute(conn)?;
            }
        }
    }
    for chunk in ok_ids.chunks(CHUNK) {
        diesel::update(
            shipments::table
                .filter(shipments::shipment_id.eq_any(chunk))
                .filter(shipments::status.eq(ShipmentStatus::Sending)),
        )
        .set((
            shipments::status.eq(ShipmentStatus::Sent),
            shipments::updated_at.eq(now),
        ))
        .execute(conn)?;
        diesel::update(
            fulfillments::table
                .filter(fulfillments::shipment_id.eq_any(chunk))
                .filter(fulfillments::export_run_id.eq(run_id))
                .filter(fulfillments::status.eq_any(SENDING_STATUSES)),
        )
        .set((
            fulfillments::status.eq(Status::Pending.as_str()),
            fulfillments::exported_at.eq(Some(now)),
            fulfillments::last_error.eq(None::<String>),
            fulfillments::updated_at.eq(now),
        ))
        .execute(conn)?;
        // The house has them, but the order was fully refunded while they were being sent:
        // flag them for a human (the run says so too).
        let refunded = orders::table
            .filter(orders::status.eq(OrderStatus::Refunded))
            .select(orders::id);
        refunded_in_flight += diesel::update(
            fulfillments::table
                .filter(fulfillments::shipment_id.eq_any(chunk))
                .filter(fulfillments::export_run_id.eq(run_id))
                .filter(fulfillments::status.eq(Status::Pending.as_str()))
                .filter(fulfillments::order_id.eq_any(refunded)),
        )
        .set(fulfillments::last_error.eq(Some(REFUNDED_IN_FLIGHT)))
        .execute(conn)? as i32;
    }
    if refunded_in_flight > 0 {
        first_error = Some(format!(
            "{refunded_in_flight} item(s) reached the house although their order was refunded while \
             they were being sent: ask the house to stop them (their items say so){}",
            first_error.map(|e| format!("; {e}")).unwrap_or_default()
        ));
    }
    // Items of this house that wait for an address are never sent: the run says so rather
    // than "ok".
    let waiting: i64 = fulfillments::table
        .filter(fulfillments::house_id.eq(house))
        .filter(fulfillments::status.eq(Status::NeedsAddress.as_str()))
        .count()
        .get_result(conn)?;
    if waiting > 0 {
        first_error = Some(format!(
            "{waiting} item(s) for this house wait for a shipping address and were not sent \
             (Fulfillment, status NEEDS_ADDRESS){}",
            first_error.map(|e| format!("; {e}")).unwrap_or_default()
        ));
    }
    let count = out.len() as i32;
    let outcome = if count == 0 {
        "nothing to export"
    } else if refunded_in_flight > 0 || waiting > 0 {
        "needs attention"
    } else if failures == 0 {
        "ok"
    } else if failures == count {
        "failed"
    } else {
        "partly failed"
    };
    diesel::update(runs::table.find(run_id))
        .set((
            runs::finished_at.eq(Some(now)),
            runs::items.eq(items),
            runs::shipments.eq(count),
            runs::failures.eq(failures),
            runs::outcome.eq(Some(outcome)),
            runs::error.eq(first_error),
        ))
        .execute(conn)?;
    Ok(RunSummary {
        run_id,
        house_id: house,
        items,
        shipments: count,
        failures,
        outcome: outcome.to_string(),
    })
}

//! The customer's saved shipping address sent to ClickBank (`changeAddress`) for their
//! running subscriptions that ship, so the next rebills ClickBank reports carry it. One
//! request per receipt (ClickBank keeps one address per receipt), recorded like every
//! action: a failure is kept with ClickBank's words and the address can be sent again; the
//! address saved in the CRM stays whatever ClickBank answers.

use diesel::prelude::*;
use serde_json::json;

use super::clickbank_calls::Change;
use super::sending::send_change;
use super::{load, ServiceContext};
use crate::clickbank::AddressChange;
use crate::db::models::PurchaseStatus;
use crate::db::schema::{order_items, purchases};
use crate::db::DbConn;
use crate::domain::customer_service::customers::{self, PurchaseRow};
use crate::domain::customer_service::requests::{Action, NewRequest, ServiceRequest};
use crate::domain::Actor;
use crate::error::AppError;

/// The customer's running subscriptions of items that ship, one per receipt (the oldest).
pub fn subscriptions_that_ship(conn: &mut DbConn, customer_id: i64) -> Result<Vec<PurchaseRow>, AppError> {
    let mut rows: Vec<PurchaseRow> = customers::purchase_rows!()
        .filter(purchases::customer_id.eq(customer_id))
        .filter(purchases::status.eq_any(PurchaseStatus::RUNNING))
        .filter(order_items::shippable.eq(true))
        .select(PurchaseRow::as_select())
        .order(purchases::id.asc())
        .load(conn)?;
    let mut seen = std::collections::HashSet::new();
    rows.retain(|p| seen.insert(p.receipt.clone()));
    Ok(rows)
}

/// What one receipt's request came to.
#[derive(Debug)]
pub struct AddressSent {
    pub receipt: String,
    /// The recorded request (accepted, or failed with ClickBank's words), or why nothing was
    /// sent (another request of the purchase in flight, ClickBank not reachable).
    pub outcome: Result<ServiceRequest, AppError>,
}

impl AddressSent {
    pub fn accepted(&self) -> bool {
        self.outcome.as_ref().is_ok_and(|r| !r.is_failed())
    }

    /// "sent to ClickBank for R" or what went wrong.
    pub fn text(&self) -> String {
        match &self.outcome {
            Ok(r) if r.is_failed() => format!(
                "{}: ClickBank refused: {}",
                self.receipt,
                r.error.as_deref().unwrap_or("no reason given")
            ),
            Ok(_) => format!("{}: accepted by ClickBank", self.receipt),
            Err(e) => format!("{}: not sent: {e}", self.receipt),
        }
    }
}

/// Sends customer `customer_id`'s saved shipping address to ClickBank for each receipt of
/// [`subscriptions_that_ship`].
pub async fn send_address(
    ctx: &ServiceContext,
    actor: &Actor,
    customer_id: i64,
) -> Result<Vec<AddressSent>, AppError> {
    let (c, subs) = load(&ctx.db, move |conn| {
        Ok((
            customers::find(conn, customer_id)?,
            subscriptions_that_ship(conn, customer_id)?,
        ))
    })
    .await?;
    if subs.is_empty() {
        return Err(AppError::Validation(
            "This customer has no active subscription that ships: nothing was sent to ClickBank.".into(),
        ));
    }
    let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let change = AddressChange {
        address1: c.ship_address1.clone(),
        city: c.ship_city.clone(),
        country_code: c.ship_country.clone(),
        first_name: opt(&c.ship_first_name),
        last_name: opt(&c.ship_last_name),
        address2: opt(&c.ship_address2),
        county: None,
        province: opt(&c.ship_state),
        postal_code: opt(&c.ship_postal_code),
    };
    let sent = json!({
        "first_name": c.ship_first_name, "last_name": c.ship_last_name,
        "address1": c.ship_address1, "address2": c.ship_address2, "city": c.ship_city,
        "state": c.ship_state, "postal_code": c.ship_postal_code, "country": c.ship_country,
    });
    let mut out = Vec::with_capacity(subs.len());
    for p in subs {
        let new = NewRequest {
            plugin_id: p.plugin_id,
            customer_id,
            order_id: p.order_id,
            purchase_id: Some(p.id),
            action: Action::ChangeAddress,
            detail: json!({ "summary": format!("shipping address of {}", p.receipt), "sku": p.sku, "address": sent }),
            actor: actor.clone(),
        };
        let after = sent.clone();
        let outcome = send_change(
            ctx,
            &p,
            new,
            Change::Address(Box::new(change.clone())),
            move |_| Ok(json!({ "address": after })),
        )
        .await;
        out.push(AddressSent {
            receipt: p.receipt.clone(),
            outcome,
        });
    }
    Ok(out)
}

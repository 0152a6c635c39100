//! The merchant's edits of a product: every field checked first (all problems in one
//! message), then one audited update.

use diesel::prelude::*;
use serde_json::json;

use super::list::find;
use super::{FULFILLMENT_TYPES, MAX_DELAY_HOURS, MAX_DESCRIPTION_CHARS};
use crate::clickbank::parse_minor;
use crate::db::models::Product;
use crate::db::schema::{fulfillment_houses, products};
use crate::db::DbConn;
use crate::domain::{audit, Actor};
use crate::error::AppError;

/// The edit form as typed. The SKU and title are not part of it: they are ClickBank's.
#[derive(Debug, Clone, Default)]
pub struct ProductEdit {
    /// Empty: follow ClickBank's price again.
    pub msrp: String,
    /// Empty: no cost.
    pub cost: String,
    pub description: String,
    pub shippable: bool,
    pub fulfillment_house_id: String,
    pub fulfillment_type: String,
    pub delay_hours: String,
}

impl ProductEdit {
    /// The form pre-filled with the product as stored.
    pub fn from_product(p: &Product) -> Self {
        ProductEdit {
            msrp: p.msrp_text(),
            cost: p.cost_text(),
            description: p.description.clone(),
            shippable: p.shippable,
            fulfillment_house_id: p.fulfillment_house_id.to_string(),
            fulfillment_type: p.fulfillment_type.clone(),
            delay_hours: p.delay_hours.to_string(),
        }
    }
}

/// A checked edit.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ValidEdit {
    msrp: Option<i64>,
    cost: Option<i64>,
    description: String,
    shippable: bool,
    house_id: i64,
    fulfillment_type: String,
    delay_hours: i32,
}

fn money_field(label: &str, text: &str, currency: &str, errors: &mut Vec<String>) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match parse_minor(text, currency) {
        Ok(m) if m < 0 => {
            errors.push(format!("{label} cannot be negative."));
            None
        }
        Ok(m) => Some(m),
        Err(e) => {
            errors.push(format!(
                "{label}: {e}. Type an amount in {currency} such as 12.34."
            ));
            None
        }
    }
}

fn validate(conn: &mut DbConn, p: &Product, form: &ProductEdit) -> Result<ValidEdit, AppError> {
    let mut errors = Vec::new();
    let currency = p.currency_code();
    let msrp = money_field("MSRP", &form.msrp, currency, &mut errors);
    let cost = money_field("Product cost", &form.cost, currency, &mut errors);
    let description = form.description.trim().replace("\r\n", "\n");
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        errors.push(format!(
            "The description is too long (at most {MAX_DESCRIPTION_CHARS} characters)."
        ));
    }
    let house_id = match form.fulfillment_house_id.trim().parse::<i64>() {
        Ok(id) => {
            let exists: i64 = fulfillment_houses::table.find(id).count().get_result(conn)?;
            if exists == 0 {
                errors.push("Choose a fulfillment house from the list.".into());
            }
            id
        }
        Err(_) => {
            errors.push("Choose a fulfillment house from the list.".into());
            0
        }
    };
    let fulfillment_type = form.fulfillment_type.trim().to_string();
    if !FULFILLMENT_TYPES.iter().any(|t| t.value == fulfillment_type) {
        errors.push("Choose a fulfillment type from the list.".into());
    }
    let delay_hours = match form.delay_hours.trim() {
        "" => 0,
        t => match t.parse::<i32>() {
            Ok(h) if (0..=MAX_DELAY_HOURS).contains(&h) => h,
            _ => {
                errors.push(format!(
                    "The fulfillment delay is a whole number of hours from 0 to {MAX_DELAY_HOURS} (30 days)."
                ));
                0
            }
        },
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors.join(" ")));
    }
    Ok(ValidEdit {
        msrp,
        cost,
        description,
        shippable: form.shippable,
        house_id,
        fulfillment_type,
        delay_hours,
    })
}

fn audit_view(p: &Product) -> serde_json::Value {
    json!({"msrp": p.msrp_text(), "msrp_by_merchant": p.msrp_by_merchant, "cost": p.cost_text(),
           "description": p.description, "shippable": p.shippable, "fulfillment_house_id": p.fulfillment_house_id,
           "fulfillment_type": p.fulfillment_type, "delay_hours": p.delay_hours})
}

/// Saves the merchant's edit of product `id`: every field checked first (all problems in
/// one message), then one update, audited as `product.update` with before and after.
/// Imports never overwrite these fields afterwards; a changed MSRP stays the merchant's
/// until they clear the field.
pub fn update(conn: &mut DbConn, actor: &Actor, id: i64, form: &ProductEdit) -> Result<Product, AppError> {
    conn.transaction(|conn| {
        let before = find(conn, id)?;
        let v = validate(conn, &before, form)?;
        let (msrp, msrp_by_merchant) = match v.msrp {
            None => (before.msrp_minor, false),
            Some(m) if !before.msrp_by_merchant && Some(m) == before.msrp_minor => (Some(m), false),
            Some(m) => (Some(m), true),
        };
        diesel::update(products::table.find(id))
            .set((
                products::msrp_minor.eq(msrp),
                products::msrp_by_merchant.eq(msrp_by_merchant),
                products::cost_minor.eq(v.cost),
                products::description.eq(&v.description),
                products::shippable.eq(v.shippable),
                products::fulfillment_house_id.eq(v.house_id),
                products::fulfillment_type.eq(&v.fulfillment_type),
                products::delay_hours.eq(v.delay_hours),
                products::merchant_edited.eq(true),
                products::updated_at.eq(crate::domain::now()),
            ))
            .execute(conn)?;
        let after = find(conn, id)?;
        audit::record(
            conn,
            actor,
            "product.update",
            &format!("SKU {} ({})", after.sku, after.title),
            json!({"product_id": id, "before": audit_view(&before), "after": audit_view(&after)}),
        )?;
        Ok(after)
    })
}

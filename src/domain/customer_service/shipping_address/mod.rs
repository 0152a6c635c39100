//! Staff correct a customer's shipping address (ClickBank's orders list carries no street or
//! city). The customer's row takes it, and so does every item of theirs not at a house yet;
//! items that waited for an address move to HOLD for the next export. Items already at a house keep the address
//! they were sent with, and the answer says how many. Audited with the address before and
//! after.
//!
//! One rule for every way in: [`validate`] checks, [`write`] saves. The profile form uses
//! [`save`]; `from_csv` reads a file of addresses (the Fulfillment page's upload) and saves
//! each through [`write`]; `waiting` writes the customers that wait for an address as such a
//! file.

pub mod from_csv;
pub mod waiting;

use diesel::prelude::*;
use serde_json::json;

use crate::db::models::{ShipRow, SHIP_COLUMNS};
use crate::db::schema::customers;
use crate::db::DbConn;
use crate::domain::fulfillment::address::{self, Only, Readdressed};
use crate::domain::fulfillment::ShipTo;
use crate::domain::{audit, Actor};
use crate::error::AppError;

/// The shipping address as staff enter it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct AddressForm {
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub address1: String,
    #[serde(default)]
    pub address2: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub country: String,
}

impl AddressForm {
    fn trimmed(&self) -> AddressForm {
        let t = |s: &str| s.trim().to_string();
        AddressForm {
            first_name: t(&self.first_name),
            last_name: t(&self.last_name),
            address1: t(&self.address1),
            address2: t(&self.address2),
            city: t(&self.city),
            state: t(&self.state),
            postal_code: t(&self.postal_code),
            country: t(&self.country).to_ascii_uppercase(),
        }
    }

    fn ship_to(&self) -> ShipTo {
        ShipTo {
            name: format!("{} {}", self.first_name, self.last_name)
                .trim()
                .to_string(),
            address1: self.address1.clone(),
            address2: self.address2.clone(),
            city: self.city.clone(),
            state: self.state.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country.clone(),
        }
    }
}

/// An address a house can ship to, trimmed (the country in capitals): only [`validate`]
/// makes one, so every way in (the profile, a CSV file of addresses) passes the one rule.
#[derive(Debug, Clone)]
pub struct ValidAddress {
    form: AddressForm,
    ship_to: ShipTo,
}

impl ValidAddress {
    pub fn form(&self) -> &AddressForm {
        &self.form
    }
}

/// Checks an address as staff typed it: a two-letter country, and what a house needs
/// (`address::missing`). The error says what is wrong.
pub fn validate(form: &AddressForm) -> Result<ValidAddress, AppError> {
    let f = form.trimmed();
    if f.country.len() != 2 || !f.country.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(AppError::Validation(
            "The country is its two-letter code (US, GB, HK, ...).".into(),
        ));
    }
    let ship_to = f.ship_to();
    let lacking = address::missing(&ship_to);
    if !lacking.is_empty() {
        return Err(AppError::Validation(format!(
            "A house cannot ship to this address: it has no {}.",
            lacking.join(", no ")
        )));
    }
    Ok(ValidAddress { form: f, ship_to })
}

/// Where an address change came from (kept in the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Profile,
    CsvFile,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Profile => "profile",
            Source::CsvFile => "csv file",
        }
    }
}

/// Saves customer `id`'s shipping address and gives it to their items not at a house yet.
/// An address a house could not ship to is refused with what it lacks.
pub fn save(conn: &mut DbConn, actor: &Actor, id: i64, form: &AddressForm) -> Result<Readdressed, AppError> {
    let valid = validate(form)?;
    write(conn, actor, id, &valid, Source::Profile)
}

/// Writes a checked address to customer `id` and their items not at a house yet, audited
/// with the address before and after; in a transaction of its own (a savepoint inside the
/// caller's).
pub fn write(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    valid: &ValidAddress,
    source: Source,
) -> Result<Readdressed, AppError> {
    let f = &valid.form;
    conn.transaction(|c| {
        let before: ShipRow = customers::table
            .find(id)
            .select(SHIP_COLUMNS)
            .first(c)
            .optional()?
            .ok_or(AppError::NotFound)?;
        diesel::update(customers::table.find(id))
            .set((
                customers::ship_first_name.eq(&f.first_name),
                customers::ship_last_name.eq(&f.last_name),
                customers::ship_address1.eq(&f.address1),
                customers::ship_address2.eq(&f.address2),
                customers::ship_city.eq(&f.city),
                customers::ship_state.eq(&f.state),
                customers::ship_postal_code.eq(&f.postal_code),
                customers::ship_country.eq(&f.country),
                customers::updated_at.eq(crate::domain::now()),
            ))
            .execute(c)?;
        let done = address::readdress(c, id, &valid.ship_to, Only::NotAtAHouse)?;
        let (b_first, b_last, b1, b2, b_city, b_state, b_postal, b_country) = before;
        audit::record(
            c,
            actor,
            "customer.shipping_address",
            &format!("customer:{id}"),
            json!({
                "via": source.as_str(),
                "before": {"first_name": b_first, "last_name": b_last, "address1": b1, "address2": b2,
                           "city": b_city, "state": b_state, "postal_code": b_postal, "country": b_country},
                "after": {"first_name": f.first_name, "last_name": f.last_name, "address1": f.address1,
                          "address2": f.address2, "city": f.city, "state": f.state,
                          "postal_code": f.postal_code, "country": f.country},
                "items_updated": done.updated,
                "items_released": done.released,
                "items_at_a_house": done.at_a_house,
            }),
        )?;
        Ok(done)
    })
}

/// What staff are told after [`save`].
pub fn summary(done: &Readdressed) -> String {
    let mut s = format!(
        "Shipping address saved. {} item{} not at a house yet took it",
        done.updated,
        if done.updated == 1 { "" } else { "s" }
    );
    if done.released > 0 {
        s.push_str(&format!(
            " ({} that waited for an address {} now on HOLD for the next export)",
            done.released,
            if done.released == 1 { "is" } else { "are" }
        ));
    }
    s.push('.');
    if done.at_a_house > 0 {
        s.push_str(&format!(
            " {} item{} already at a house keep{} the address {} sent with: ask the house to change it.",
            done.at_a_house,
            if done.at_a_house == 1 { "" } else { "s" },
            if done.at_a_house == 1 { "s" } else { "" },
            if done.at_a_house == 1 {
                "it was"
            } else {
                "they were"
            }
        ));
    }
    s
}

//! Whether an item can go to a house: a shipping address with a street, a city and, in a
//! country that uses them, a postal code. An item without one waits as NEEDS_ADDRESS (never
//! sent, never silently "ok" in a run) until a later event of its customer brings the
//! address or staff enter it on the customer's profile; the address then goes to every item
//! of that customer not yet at a house.

use diesel::prelude::*;

use super::{ShipTo, Status};
use crate::db::schema::{fulfillments, orders};
use crate::db::{on_backend, DbConn};
use crate::error::AppError;

/// Countries (ISO 3166-1 alpha-2) whose addresses have no postal code. The one table of
/// this rule: Hong Kong and the UAE among them.
pub const NO_POSTAL_CODE: &[&str] = &[
    "AE", "AG", "AO", "AW", "BF", "BI", "BJ", "BO", "BS", "BW", "BZ", "CD", "CF", "CG", "CI", "CK", "CM",
    "DJ", "DM", "ER", "FJ", "GA", "GD", "GH", "GM", "GQ", "GY", "HK", "KI", "KM", "KN", "KP", "LC", "ML",
    "MO", "MR", "MW", "NR", "NU", "QA", "RW", "SB", "SC", "SL", "SO", "SR", "ST", "SY", "TD", "TG", "TK",
    "TL", "TO", "TT", "TV", "UG", "VU", "YE", "ZW",
];

/// What the address lacks for a house to ship it ("street", "city", "postal code"), or
/// nothing.
pub fn missing(a: &ShipTo) -> Vec<&'static str> {
    let mut out = Vec::new();
    if a.address1.trim().is_empty() {
        out.push("street");
    }
    if a.city.trim().is_empty() {
        out.push("city");
    }
    let country = a.country.trim().to_ascii_uppercase();
    if a.postal_code.trim().is_empty() && !NO_POSTAL_CODE.contains(&country.as_str()) {
        out.push("postal code");
    }
    out
}

/// Whether a house can ship to `a`.
pub fn is_complete(a: &ShipTo) -> bool {
    missing(a).is_empty()
}

/// Statuses of items not at a house yet: an address change reaches them.
pub const NOT_AT_A_HOUSE: &[&str] = &[
    Status::NeedsAddress.as_str(),
    Status::Hold.as_str(),
    Status::Failed.as_str(),
    Status::Recycled.as_str(),
];

/// How many items wait for an address.
pub fn waiting_count(conn: &mut DbConn) -> Result<i64, AppError> {
    Ok(fulfillments::table
        .filter(fulfillments::status.eq(Status::NeedsAddress.as_str()))
        .count()
        .get_result(conn)?)
}

/// What an address change did: items that got it, and items at a house that keep theirs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Readdressed {
    pub updated: usize,
    pub released: usize,
    pub at_a_house: usize,
}

/// Which items an address goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Only {
    /// Those that wait for an address (a later event's address never overrides one staff
    /// entered on items on hold).
    Waiting,
    /// Every item not at a house yet (staff entered it).
    NotAtAHouse,
}

/// Gives `ship_to` to the items of customer `customer_id` that `only` names; those that
/// waited for an address go on hold when it is complete.
pub fn readdress(
    conn: &mut DbConn,
    customer_id: i64,
    ship_to: &ShipTo,
    only: Only,
) -> Result<Readdressed, AppError> {
    let only_waiting = only == Only::Waiting;
    let statuses: &[&str] = if only_waiting {
        &NOT_AT_A_HOUSE[..1]
    } else {
        NOT_AT_A_HOUSE
    };
    let of_customer = orders::table
        .filter(orders::customer_id.eq(customer_id))
        .select(orders::id);
    let items: Vec<(i64, String)> = on_backend!(conn, |c| fulfillments::table
        .filter(fulfillments::order_id.eq_any(of_customer))
        .filter(fulfillments::status.eq_any(statuses))
        .select((fulfillments::id, fulfillments::status))
        .load(c))?;
    let mut done = Readdressed::default();
    if items.is_empty() && only_waiting {
        return Ok(done);
    }
    let complete = is_complete(ship_to);
    let json = ship_to.to_json();
    let now = crate::domain::now();
    for (id, status) in &items {
        let waiting = status == Status::NeedsAddress.as_str();
        let next = if waiting && complete {
            done.released += 1;
            Status::Hold.as_str()
        } else {
            status.as_str()
        };
        diesel::update(fulfillments::table.find(id))
            .set((
                fulfillments::ship_to.eq(Some(&json)),
                fulfillments::status.eq(next),
                fulfillments::updated_at.eq(now),
            ))
            .execute(conn)?;
        done.updated += 1;
    }
    if !only_waiting {
        let at_house = orders::table
            .filter(orders::customer_id.eq(customer_id))
            .select(orders::id);
        done.at_a_house = fulfillments::table
            .filter(fulfillments::order_id.eq_any(at_house))
            .filter(fulfillments::status.eq_any([Status::Pending.as_str(), Status::PendingShipment.as_str()]))
            .count()
            .get_result::<i64>(conn)? as usize;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(street: &str, city: &str, postal: &str, country: &str) -> ShipTo {
        ShipTo {
            address1: street.into(),
            city: city.into(),
            postal_code: postal.into(),
            country: country.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_house_needs_a_street_a_city_and_a_postal_code_where_the_country_has_them() {
        assert!(is_complete(&at("1 Main St", "Springfield", "62701", "US")));
        assert_eq!(missing(&at("", "", "62701", "US")), ["street", "city"]);
        assert_eq!(missing(&at("1 Main St", "Austin", "", "US")), ["postal code"]);
        assert!(is_complete(&at("1 Queen's Rd", "Hong Kong", "", "HK")));
        assert!(is_complete(&at("Villa 4, Street 12", "Dubai", "", "ae")));
        assert_eq!(missing(&at("  ", "Dubai", "", "AE")), ["street"]);
    }
}

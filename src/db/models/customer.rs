//! A customer's shipping name and address columns, read together wherever an address is
//! built from the customer's row.

use crate::db::schema::customers;

/// The columns, in this order: first and last name, street lines, city, state, postal code,
/// country.
pub type ShipColumns = (
    customers::ship_first_name,
    customers::ship_last_name,
    customers::ship_address1,
    customers::ship_address2,
    customers::ship_city,
    customers::ship_state,
    customers::ship_postal_code,
    customers::ship_country,
);

pub const SHIP_COLUMNS: ShipColumns = (
    customers::ship_first_name,
    customers::ship_last_name,
    customers::ship_address1,
    customers::ship_address2,
    customers::ship_city,
    customers::ship_state,
    customers::ship_postal_code,
    customers::ship_country,
);

/// What [`SHIP_COLUMNS`] read.
pub type ShipRow = (String, String, String, String, String, String, String, String);

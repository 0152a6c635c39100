//! The customers whose items wait for an address, as a file of addresses staff can fill in
//! and upload back ([`super::from_csv`]): one row per customer, with one of their waiting
//! orders' receipt and what the CRM has of their address (the names from the customer and
//! the country from the billing address when the shipping ones are empty). Cells are
//! written by `fulfillment::write_csv_record`, so no value becomes a spreadsheet formula.

use std::collections::HashSet;

use diesel::prelude::*;

use super::from_csv::ADDRESS_HEADER;
use crate::db::models::{ShipRow, SHIP_COLUMNS};
use crate::db::schema::{customers, fulfillments, orders};
use crate::db::DbConn;
use crate::domain::fulfillment::{write_csv_record, Status};
use crate::error::AppError;

/// Queries take this many customers at a time.
const CHUNK: usize = 500;

/// The file, header first (only the header when nobody waits: a blank template).
pub fn waiting_csv(conn: &mut DbConn) -> Result<Vec<u8>, AppError> {
    let waiting: Vec<(i64, String)> = fulfillments::table
        .inner_join(orders::table)
        .filter(fulfillments::status.eq(Status::NeedsAddress.as_str()))
        .select((orders::customer_id, orders::receipt))
        .order((orders::customer_id.asc(), orders::id.asc()))
        .load(conn)?;
    let mut seen = HashSet::new();
    let firsts: Vec<(i64, String)> = waiting.into_iter().filter(|(c, _)| seen.insert(*c)).collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| AppError::Internal(format!("writing the waiting customers' file: {e}"));
    w.write_record(ADDRESS_HEADER.split(',')).map_err(fail)?;
    for chunk in firsts.chunks(CHUNK) {
        let ids: Vec<i64> = chunk.iter().map(|(c, _)| *c).collect();
        type Row = (i64, String, String, String, String, ShipRow);
        let rows: Vec<Row> = customers::table
            .filter(customers::id.eq_any(&ids))
            .select((
                customers::id,
                customers::email,
                customers::first_name,
                customers::last_name,
                customers::bill_country,
                SHIP_COLUMNS,
            ))
            .load(conn)?;
        for (id, receipt) in chunk {
            let Some((_, email, first, last, bill_country, ship)) = rows.iter().find(|r| r.0 == *id) else {
                continue;
            };
            let (s_first, s_last, a1, a2, city, state, postal, country) = ship;
            let or = |a: &'_ String, b: &'_ String| if a.is_empty() { b.clone() } else { a.clone() };
            // People open this file in spreadsheets: names and addresses from ClickBank are
            // written so that none can become a formula (as the list export does).
            write_csv_record(
                &mut w,
                [
                    receipt.as_str(),
                    email,
                    &or(s_first, first),
                    &or(s_last, last),
                    a1,
                    a2,
                    city,
                    state,
                    postal,
                    &or(country, bill_country),
                ],
            )
            .map_err(fail)?;
        }
    }
    w.into_inner()
        .map_err(|e| AppError::Internal(format!("writing the waiting customers' file: {e}")))
}

//! A CSV file of shipping addresses (uploaded on the Fulfillment page), all or nothing like
//! the tracking files (`fulfillment::csv_import`, whose reading helpers this uses).
//!
//! Header line required; names are matched in any case and order, spaces and `_` ignored:
//! `receipt,email,firstName,lastName,address1,address2,city,state,postalCode,country`.
//! A row names its customer by `receipt` (any ClickBank receipt of theirs) or `email` (or
//! both, which must agree); `address1`, `city`, `postalCode` and `country` (two letters) are
//! required columns, the other columns may be left out (the customer keeps what they have).
//! Every row is checked by the profile's rule ([`super::validate`]), against the database,
//! and against the other rows (the same customer twice with different addresses); any bad
//! row means nothing is applied and every bad line is named. Otherwise each customer's
//! address is saved by [`super::write`], the profile's code, in one transaction.

use std::collections::HashMap;

use diesel::prelude::*;

use super::{validate, write, AddressForm, Source, ValidAddress};
use crate::db::models::{ShipRow, SHIP_COLUMNS};
use crate::db::schema::{customers, orders};
use crate::db::DbConn;
use crate::domain::fulfillment::address::Readdressed;
use crate::domain::fulfillment::csv_import::{
    header_key, prepared, reader, record_line, rows_for, unreadable, LineError, Rejected,
};
use crate::domain::{audit, Actor};
use crate::error::AppError;

/// The columns, as the page shows them and the waiting customers' file has them.
pub const ADDRESS_HEADER: &str =
    "receipt,email,firstName,lastName,address1,address2,city,state,postalCode,country";

/// Columns a file must have (besides `receipt` or `email`).
const REQUIRED: [Col; 4] = [Col::Address1, Col::City, Col::PostalCode, Col::Country];

/// Queries take this many keys at a time.
const CHUNK: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Receipt,
    Email,
    FirstName,
    LastName,
    Address1,
    Address2,
    City,
    State,
    PostalCode,
    Country,
}

impl Col {
    const ALL: [Col; 10] = [
        Col::Receipt,
        Col::Email,
        Col::FirstName,
        Col::LastName,
        Col::Address1,
        Col::Address2,
        Col::City,
        Col::State,
        Col::PostalCode,
        Col::Country,
    ];

    /// The column a header name means (after `header_key`), aliases included.
    fn of(key: &str) -> Option<Col> {
        Some(match key {
            "receipt" | "orderid" => Col::Receipt,
            "email" | "customeremail" => Col::Email,
            "firstname" => Col::FirstName,
            "lastname" => Col::LastName,
            "address1" | "street" => Col::Address1,
            "address2" | "street2" => Col::Address2,
            "city" => Col::City,
            "state" | "province" => Col::State,
            "postalcode" | "zip" | "zipcode" | "postcode" => Col::PostalCode,
            "country" | "countrycode" => Col::Country,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Col::Receipt => "receipt",
            Col::Email => "email",
            Col::FirstName => "firstName",
            Col::LastName => "lastName",
            Col::Address1 => "address1",
            Col::Address2 => "address2",
            Col::City => "city",
            Col::State => "state",
            Col::PostalCode => "postalCode",
            Col::Country => "country",
        }
    }
}

/// One row as read: who, and the address (fields of columns the file lacks are empty and
/// filled from the customer before the check).
#[derive(Debug, Clone)]
struct Row {
    line: u64,
    receipt: Box<str>,
    email: Box<str>,
    form: AddressForm,
}

/// A file read but not yet compared with the database (parsed before the writer turn).
pub struct ParsedAddresses {
    rows: Vec<Row>,
    /// Optional columns the file has (the others keep the customer's values).
    has: Vec<Col>,
    errors: Vec<LineError>,
}

/// What an applied file did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressReport {
    pub rows: usize,
    pub customers: usize,
    /// Rows that repeat another row's customer and address exactly.
    pub repeated: usize,
    pub items: Readdressed,
}

fn bad_header(detail: &str) -> Rejected {
    Rejected {
        errors: vec![LineError {
            line: 1,
            message: format!(
                "{detail} The first line must be a header with the columns {ADDRESS_HEADER} \
                 (receipt or email, address1, city, postalCode and country are required)."
            ),
        }],
    }
}

/// Reads the file: `Err` when it cannot be a file of addresses at all (its header).
pub fn parse_file(bytes: &[u8]) -> Result<ParsedAddresses, Rejected> {
    let bytes = prepared(bytes);
    let bytes: &[u8] = &bytes;
    let mut rdr = reader(bytes);
    let headers = rdr
        .headers()
        .map_err(|_| bad_header("The header line cannot be read."))?
        .clone();
    let mut at: Vec<(Col, usize)> = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let Some(col) = Col::of(&header_key(h)) else {
            if h.contains(';') {
                return Err(bad_header(
                    "The columns are separated by semicolons (;), as some spreadsheets save CSV: save it with commas \
                     (Excel: Save As, \"CSV UTF-8 (comma delimited)\").",
                ));
            }
            return Err(bad_header(&format!("Unknown column {h:?}.")));
        };
        if at.iter().any(|(c, _)| *c == col) {
            return Err(bad_header(&format!("The column {} is there twice.", col.name())));
        }
        at.push((col, i));
    }
    let pos = |c: Col| at.iter().find(|(k, _)| *k == c).map(|(_, i)| *i);
    if pos(Col::Receipt).is_none() && pos(Col::Email).is_none() {
        return Err(bad_header("The file needs a receipt or an email column."));
    }
    if let Some(c) = REQUIRED.iter().find(|c| pos(**c).is_none()) {
        return Err(bad_header(&format!("The column {} is missing.", c.name())));
    }
    let mut rows = rows_for(bytes);
    let mut errors = Vec::new();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(unreadable(&e));
                continue;
            }
        };
        if rec.iter().all(|f| f.is_empty()) {
            continue;
        }
        let line = record_line(&rec);
        let get = |c: Col| pos(c).and_then(|i| rec.get(i)).unwrap_or("").to_string();
        let (receipt, email) = (get(Col::Receipt), get(Col::Email).to_lowercase());
        if receipt.is_empty() && email.is_empty() {
            errors.push(LineError {
                line,
                message: "no receipt and no email: the row must name its customer".into(),
            });
            continue;
        }
        rows.push(Row {
            line,
            receipt: receipt.into(),
            email: email.into(),
            form: AddressForm {
                first_name: get(Col::FirstName),
                last_name: get(Col::LastName),
                address1: get(Col::Address1),
                address2: get(Col::Address2),
                city: get(Col::City),
                state: get(Col::State),
                postal_code: get(Col::PostalCode),
                country: get(Col::Country),
            },
        });
    }
    rows.shrink_to_fit();
    let has = Col::ALL.iter().copied().filter(|c| pos(*c).is_some()).collect();
    Ok(ParsedAddresses { rows, has, errors })
}

/// Customer ids by key (receipt or email): several when plugins share it.
type Found = HashMap<String, Vec<i64>>;

fn by_receipt(conn: &mut DbConn, keys: &[&str]) -> Result<Found, AppError> {
    let mut out: Found = HashMap::new();
    for chunk in keys.chunks(CHUNK) {
        let rows: Vec<(String, i64)> = orders::table
            .filter(crate::domain::orders_of_any_plugin())
            .filter(orders::receipt.eq_any(chunk))
            .select((orders::receipt, orders::customer_id))
            .distinct()
            .load(conn)?;
        for (k, id) in rows {
            out.entry(k).or_default().push(id);
        }
    }
    Ok(out)
}

fn by_email(conn: &mut DbConn, keys: &[&str]) -> Result<Found, AppError> {
    use crate::db::schema::plugins;
    let mut out: Found = HashMap::new();
    for chunk in keys.chunks(CHUNK) {
        let rows: Vec<(String, i64)> = customers::table
            .filter(customers::plugin_id.eq_any(plugins::table.select(plugins::id)))
            .filter(customers::email.eq_any(chunk))
            .select((customers::email, customers::id))
            .load(conn)?;
        for (k, id) in rows {
            out.entry(k).or_default().push(id);
        }
    }
    Ok(out)
}

/// (email, shipping address) of these customers.
fn current(conn: &mut DbConn, ids: &[i64]) -> Result<HashMap<i64, (String, ShipRow)>, AppError> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(i64, String, ShipRow)> = customers::table
            .filter(customers::id.eq_any(chunk))
            .select((customers::id, customers::email, SHIP_COLUMNS))
            .load(conn)?;
        out.extend(rows.into_iter().map(|(id, e, s)| (id, (e, s))));
    }
    Ok(out)
}

fn sorted_keys<'a>(rows: &'a [Row], key: impl Fn(&'a Row) -> &'a str) -> Vec<&'a str> {
    let mut v: Vec<&str> = rows.iter().map(key).filter(|k| !k.is_empty()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The one customer `key` names, or why not.
fn one(found: &Found, key: &str, what: &str) -> Result<i64, String> {
    match found.get(key).map(Vec::as_slice) {
        Some([id]) => Ok(*id),
        Some([_, _, ..]) => Err(format!(
            "{what} {key} is ambiguous: customers of several ClickBank accounts have it"
        )),
        _ if what == "receipt" => Err(format!(
            "unknown receipt {key}: no order has this ClickBank receipt"
        )),
        _ => Err(format!("unknown customer {key}: no customer has this email")),
    }
}

/// Checks every row; (customer, address) to save when all are good, else every bad line.
fn check(
    parsed: &ParsedAddresses,
    receipts: &Found,
    emails: &Found,
    now: &HashMap<i64, (String, ShipRow)>,
) -> (Vec<(i64, ValidAddress)>, usize, Vec<LineError>) {
    let mut errors = Vec::new();
    let mut changes: Vec<(i64, ValidAddress)> = Vec::new();
    let mut seen: HashMap<i64, (u64, usize)> = HashMap::new();
    let mut repeated = 0;
    for row in &parsed.rows {
        let mut bad = |m: String| {
            errors.push(LineError {
                line: row.line,
                message: m,
            })
        };
        let by_r = (!row.receipt.is_empty()).then(|| one(receipts, &row.receipt, "receipt"));
        let by_e = (!row.email.is_empty()).then(|| one(emails, &row.email, "email"));
        let id = match (by_r, by_e) {
            (Some(Err(m)), _) | (_, Some(Err(m))) => {
                bad(m);
                continue;
            }
            (Some(Ok(a)), Some(Ok(b))) if a != b => {
                let of = now.get(&a).map(|(e, _)| e.as_str()).unwrap_or("another customer");
                bad(format!(
                    "receipt {} is an order of {of}, not of {}",
                    row.receipt, row.email
                ));
                continue;
            }
            (Some(Ok(a)), _) | (None, Some(Ok(a))) => a,
            (None, None) => continue,
        };
        let Some((email, ship)) = now.get(&id) else {
            bad(format!("customer {id} is gone"));
            continue;
        };
        let mut form = row.form.clone();
        let (first, last, _, a2, _, state, _, _) = ship;
        for (col, field, kept) in [
            (Col::FirstName, &mut form.first_name, first),
            (Col::LastName, &mut form.last_name, last),
            (Col::Address2, &mut form.address2, a2),
            (Col::State, &mut form.state, state),
        ] {
            if !parsed.has.contains(&col) {
                field.clone_from(kept);
            }
        }
        let valid = match validate(&form) {
            Ok(v) => v,
            Err(e) => {
                bad(format!("{email}: {e}"));
                continue;
            }
        };
        match seen.get(&id) {
            Some(&(_, at)) if changes[at].1.form() == valid.form() => repeated += 1,
            Some(&(first_line, _)) => bad(format!(
                "customer {email} is given another address on line {first_line}"
            )),
            None => {
                seen.insert(id, (row.line, changes.len()));
                changes.push((id, valid));
            }
        }
    }
    (changes, repeated, errors)
}

/// Checks a parsed file against the database and applies it, all or nothing:
/// `Ok(Err(rejected))` names every bad line (nothing applied).
pub fn apply(
    conn: &mut DbConn,
    actor: &Actor,
    parsed: ParsedAddresses,
) -> Result<Result<AddressReport, Rejected>, AppError> {
    if parsed.rows.is_empty() && parsed.errors.is_empty() {
        return Ok(Err(Rejected {
            errors: vec![LineError {
                line: 2,
                message: "the file has no addresses (only its header)".into(),
            }],
        }));
    }
    conn.transaction(|conn| {
        let receipts = by_receipt(conn, &sorted_keys(&parsed.rows, |r| &r.receipt))?;
        let emails = by_email(conn, &sorted_keys(&parsed.rows, |r| &r.email))?;
        let mut ids: Vec<i64> = receipts
            .values()
            .chain(emails.values())
            .flatten()
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let now = current(conn, &ids)?;
        let (changes, repeated, found) = check(&parsed, &receipts, &emails, &now);
        let mut errors = parsed.errors.clone();
        errors.extend(found);
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.line);
            return Ok(Err(Rejected { errors }));
        }
        let mut report = AddressReport {
            rows: parsed.rows.len(),
            customers: changes.len(),
            repeated,
            items: Readdressed::default(),
        };
        for (id, valid) in &changes {
            let done = write(conn, actor, *id, valid, Source::CsvFile)?;
            report.items.updated += done.updated;
            report.items.released += done.released;
            report.items.at_a_house += done.at_a_house;
        }
        audit::record(
            conn,
            actor,
            "fulfillment.address_import",
            "customers",
            serde_json::json!({"rows": report.rows, "customers": report.customers, "repeated": repeated,
                               "items_updated": report.items.updated, "items_released": report.items.released,
                               "items_at_a_house": report.items.at_a_house}),
        )?;
        Ok(Ok(report))
    })
}

/// What staff are told after [`apply`].
pub fn report_text(r: &AddressReport) -> String {
    let d = &r.items;
    let mut t = format!(
        "Imported the address file: {} row(s), {} customer(s) updated; {} item(s) not at a house yet took the new address",
        r.rows, r.customers, d.updated
    );
    if d.released > 0 {
        t.push_str(&format!(
            " ({} that waited for an address now on HOLD for the next export)",
            d.released
        ));
    }
    t.push('.');
    if d.at_a_house > 0 {
        t.push_str(&format!(
            " {} item(s) already at a house keep the address they were sent with: ask the house to change it.",
            d.at_a_house
        ));
    }
    if r.repeated > 0 {
        t.push_str(&format!(" {} repeated row(s) were counted once.", r.repeated));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_in_any_case_order_and_spelling() {
        let f = parse_file(
            "\u{feff}Country,Postal Code,CITY,Street,E-mail,Notes\r\nus,62701,Springfield,1 Main St,a@x.com,\r\n"
                .as_bytes(),
        );
        // "Notes" is not a column we know: the header is refused on line 1, naming it.
        let refused = f.err().unwrap().errors;
        assert_eq!(refused[0].line, 1);
        assert!(
            refused[0].message.contains("Unknown column \"Notes\""),
            "{refused:?}"
        );
        let f = parse_file(
            "\u{feff}Country, Postal Code ,CITY,Street,E-mail\r\nus,62701, Springfield , \"1 Main St, Apt 2\" ,A@X.COM\r\n"
                .as_bytes(),
        )
        .unwrap_or_else(|r| panic!("{:?}", r.errors));
        assert!(f.errors.is_empty());
        let r = &f.rows[0];
        assert_eq!(
            (&*r.email, r.form.address1.as_str()),
            ("a@x.com", "1 Main St, Apt 2")
        );
        assert_eq!(
            (r.form.city.as_str(), r.form.postal_code.as_str()),
            ("Springfield", "62701")
        );
        assert!(!f.has.contains(&Col::FirstName));
    }

    #[test]
    fn a_header_without_an_identity_or_a_required_column_is_refused() {
        for h in [
            "address1,city,postalCode,country",
            "email,address1,city,country",
            "email,email,address1,city,postalCode,country",
        ] {
            let r = parse_file(format!("{h}\n").as_bytes()).err().unwrap();
            assert_eq!(r.errors.len(), 1, "{h}");
            assert_eq!(r.errors[0].line, 1);
        }
        let f = parse_file(b"email,address1,city,postalCode,country\n,1 St,X,1,US\n")
            .ok()
            .unwrap();
        assert_eq!(f.errors[0].line, 2);
    }
}

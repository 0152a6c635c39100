//! The abandoned-cart (partials) list of the search: the same filters as orders where a cart
//! has them, on the same keyset pages; and the whole list of a filter as a CSV file.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{clean, paginate, towards_older, Cursor, Direction, Page, SearchFilter, PAGE_SIZE};
use crate::db::schema::{campaigns, partials};
use crate::db::DbConn;
use crate::domain::audit::escape_like;
use crate::domain::fulfillment::write_csv_record;
use crate::domain::lower;
use crate::error::AppError;

/// One abandoned cart of the results.
#[derive(Debug, Clone, Queryable)]
pub struct PartialHit {
    pub id: i64,
    pub event_time: NaiveDateTime,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    pub country: String,
    /// The first line item's SKU and title, when ClickBank sent line items (it usually
    /// does not for an abandoned order).
    pub item_no: Option<String>,
    pub item_title: Option<String>,
    /// How many line items ClickBank sent.
    pub item_count: i32,
    pub converted_order_id: Option<i64>,
}

impl PartialHit {
    /// What the buyer was buying, in words: "Title (SKU)", "+ N more" when the cart held
    /// more; None when ClickBank sent no line items.
    pub fn item(&self) -> Option<String> {
        let sku = self.item_no.as_deref()?;
        let mut s = match self.item_title.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => format!("{t} ({sku})"),
            None => sku.to_string(),
        };
        if self.item_count > 1 {
            s.push_str(&format!(" + {} more", self.item_count - 1));
        }
        Some(s)
    }
}

/// The cell of a cart without line items.
pub const ITEM_NOT_SENT: &str = "not sent by ClickBank";

/// One page of abandoned carts. The campaign narrows to its ClickBank account (a cart has no
/// currency yet); email, name, phone and dates apply as for orders.
pub fn partials_page(
    conn: &mut DbConn,
    f: &SearchFilter,
    cursor: Option<Cursor>,
    dir: Direction,
) -> Result<Page<PartialHit>, AppError> {
    let rows = partial_rows(conn, f, cursor, dir, PAGE_SIZE + 1)?;
    Ok(paginate(rows, cursor, dir, |h| Cursor {
        time: h.event_time,
        id: h.id,
    }))
}

/// Rows the CSV file reads at a time.
const CSV_CHUNK: i64 = 1000;

/// The CSV header of [`partials_csv`].
pub const CARTS_CSV_HEADER: [&str; 8] = [
    "date_utc",
    "email",
    "first_name",
    "last_name",
    "phone",
    "country",
    "item",
    "bought_later",
];

/// Every abandoned cart of the filter (not only a page), in the list's order, as CSV. Cells
/// go through `fulfillment::write_csv_record`: a name from ClickBank never becomes a formula.
pub fn partials_csv(conn: &mut DbConn, f: &SearchFilter) -> Result<Vec<u8>, AppError> {
    let fail = |e: csv::Error| AppError::Internal(format!("writing the abandoned carts file: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CARTS_CSV_HEADER).map_err(fail)?;
    let mut cursor = None;
    loop {
        let rows = partial_rows(conn, f, cursor, Direction::After, CSV_CHUNK)?;
        for h in &rows {
            let time = h.event_time.format("%Y-%m-%d %H:%M:%S").to_string();
            let item = h.item().unwrap_or_else(|| ITEM_NOT_SENT.to_string());
            let bought = if h.converted_order_id.is_some() { "yes" } else { "" };
            write_csv_record(
                &mut w,
                [
                    &time,
                    &h.email,
                    &h.first_name,
                    &h.last_name,
                    &h.phone,
                    &h.country,
                    &item,
                    bought,
                ],
            )
            .map_err(fail)?;
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == CSV_CHUNK => {
                cursor = Some(Cursor {
                    time: last.event_time,
                    id: last.id,
                })
            }
            _ => break,
        }
    }
    w.into_inner()
        .map_err(|e| AppError::Internal(format!("writing the abandoned carts file: {e}")))
}

/// Up to `limit` carts of the filter just past `cursor`, in the reading direction.
fn partial_rows(
    conn: &mut DbConn,
    f: &SearchFilter,
    cursor: Option<Cursor>,
    dir: Direction,
    limit: i64,
) -> Result<Vec<PartialHit>, AppError> {
    let mut q = partials::table
        .select((
            partials::id,
            partials::event_time,
            partials::email,
            partials::first_name,
            partials::last_name,
            partials::phone,
            partials::country,
            partials::item_no,
            partials::item_title,
            partials::item_count,
            partials::converted_order_id,
        ))
        .into_boxed();
    if let Some(c) = f.campaign_id {
        let plugin = campaigns::table
            .find(c)
            .select(campaigns::plugin_id.assume_not_null());
        q = q.filter(partials::plugin_id.eq_any(plugin));
    }
    if let Some(e) = clean(&f.email).map(|e| e.to_lowercase()) {
        q = q.filter(partials::email.like(format!("{}%", escape_like(&e))).escape('\\'));
    }
    if let Some(n) = clean(&f.name).map(|n| n.to_lowercase()) {
        for w in n.split_whitespace() {
            let p = format!("{}%", escape_like(w));
            q = q.filter(
                lower(partials::first_name)
                    .like(p.clone())
                    .escape('\\')
                    .or(lower(partials::last_name).like(p).escape('\\')),
            );
        }
    }
    if let Some(p) = clean(&f.phone) {
        let rev = crate::domain::phone::search_prefix(&p)?;
        q = q.filter(partials::phone_digits_rev.like(format!("{rev}%")));
    }
    if let Some(t) = f.from {
        q = q.filter(partials::event_time.ge(t));
    }
    if let Some(t) = f.until {
        q = q.filter(partials::event_time.lt(t));
    }
    q = keyset!(
        q,
        partials::event_time,
        partials::id,
        cursor,
        towards_older(f.oldest_first, dir)
    );
    Ok(q.limit(limit).load(conn)?)
}

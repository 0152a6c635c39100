//! The abandoned-cart (partials) list of the search: the same filters as orders where a cart
//! has them, on the same keyset pages.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{clean, paginate, towards_older, Cursor, Direction, Page, SearchFilter, PAGE_SIZE};
use crate::db::schema::{campaigns, partials};
use crate::db::DbConn;
use crate::domain::audit::escape_like;
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
    pub item_no: Option<String>,
    pub converted_order_id: Option<i64>,
}

/// One page of abandoned carts. The campaign narrows to its ClickBank account (a cart has no
/// currency yet); email, name, phone and dates apply as for orders.
pub fn partials_page(
    conn: &mut DbConn,
    f: &SearchFilter,
    cursor: Option<Cursor>,
    dir: Direction,
) -> Result<Page<PartialHit>, AppError> {
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
        q = q.filter(partials::phone.like(format!("{}%", escape_like(&p))).escape('\\'));
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
    let rows: Vec<PartialHit> = q.limit(PAGE_SIZE + 1).load(conn)?;
    Ok(paginate(rows, cursor, dir, |h| Cursor {
        time: h.event_time,
        id: h.id,
    }))
}

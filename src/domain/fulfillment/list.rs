//! Customer → Fulfillment: the filter, keyset pages of items with their order and customer,
//! the ids a batch update on "everything matching" touches, and the CSV export of a list
//! (which the tracking import reads back).

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::{Status, PAGE_SIZE};
use crate::db::schema::{campaigns, customers, fulfillment_houses, fulfillments, order_items, orders};
use crate::db::DbConn;
use crate::error::AppError;

/// What the list shows; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub status: Option<Status>,
    pub house_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub product_id: Option<i64>,
    /// Order dates, inclusive, as days in [`Filter::tz`].
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// The ClickBank receipt.
    pub receipt: Option<String>,
    /// The portal's time zone (`MERCHANT_CRM_TIME_ZONE`) the dates are days of; UTC when none.
    pub tz: Option<chrono_tz::Tz>,
}

impl Filter {
    /// The same filter with its dates read as days in `tz`.
    pub fn in_zone(mut self, tz: chrono_tz::Tz) -> Self {
        self.tz = Some(tz);
        self
    }

    /// When day `d` starts, in UTC (the database's times), for the filter's zone.
    pub fn day_start(&self, d: NaiveDate) -> NaiveDateTime {
        crate::domain::day_start_utc(self.tz.unwrap_or(chrono_tz::UTC), d)
    }

    /// From the text of a form or query string; bad values are reported, not ignored.
    #[allow(clippy::too_many_arguments)]
    pub fn parse(
        status: &str,
        house: &str,
        campaign: &str,
        product: &str,
        from: &str,
        to: &str,
        receipt: &str,
    ) -> Result<Filter, AppError> {
        fn id(name: &str, v: &str) -> Result<Option<i64>, AppError> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            v.parse()
                .map(Some)
                .map_err(|_| AppError::Validation(format!("The {name} filter is not a valid choice.")))
        }
        fn date(name: &str, v: &str) -> Result<Option<NaiveDate>, AppError> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| AppError::Validation(format!("The {name} date must look like 2026-11-25.")))
        }
        let status = match status.trim() {
            "" => None,
            s => Some(Status::parse(s)?),
        };
        let receipt = Some(receipt.trim().to_string()).filter(|r| !r.is_empty());
        Ok(Filter {
            status,
            house_id: id("house", house)?,
            campaign_id: id("campaign", campaign)?,
            product_id: id("product", product)?,
            from: date("from", from)?,
            to: date("to", to)?,
            receipt,
            tz: None,
        })
    }

    /// The filter as query-string pairs (links, hidden fields, the CSV export link).
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        if let Some(s) = self.status {
            p.push(("status", s.as_str().to_string()));
        }
        if let Some(v) = self.house_id {
            p.push(("house", v.to_string()));
        }
        if let Some(v) = self.campaign_id {
            p.push(("campaign", v.to_string()));
        }
        if let Some(v) = self.product_id {
            p.push(("product", v.to_string()));
        }
        if let Some(v) = self.from {
            p.push(("from", v.to_string()));
        }
        if let Some(v) = self.to {
            p.push(("to", v.to_string()));
        }
        if let Some(v) = &self.receipt {
            p.push(("receipt", v.clone()));
        }
        p
    }

    pub fn query_string(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.pairs() {
            s.append_pair(k, &v);
        }
        s.finish()
    }

    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }
}

macro_rules! filtered {
    ($q:expr, $f:expr) => {{
        let f: &Filter = $f;
        let mut q = $q;
        if let Some(s) = f.status {
            q = q.filter(fulfillments::status.eq(s.as_str()));
        }
        if let Some(h) = f.house_id {
            q = q.filter(fulfillments::house_id.eq(h));
        }
        if let Some(c) = f.campaign_id {
            q = q.filter(orders::campaign_id.eq(c));
        }
        if let Some(p) = f.product_id {
            q = q.filter(order_items::product_id.eq(p));
        }
        if let Some(d) = f.from {
            q = q.filter(orders::transaction_time.ge(f.day_start(d)));
        }
        if let Some(d) = f.to {
            let next = f.day_start(d.succ_opt().unwrap_or(d));
            q = q.filter(orders::transaction_time.lt(next));
        }
        if let Some(r) = &f.receipt {
            q = q
                .filter(crate::domain::orders_of_any_plugin())
                .filter(orders::receipt.eq(r.clone()));
        }
        q
    }};
}

/// One item with its order and customer.
#[derive(Debug, Clone, Queryable)]
pub struct ItemRow {
    pub id: i64,
    pub status: String,
    pub house_id: i64,
    pub house: String,
    pub shipment_id: Option<String>,
    pub tracking_number: Option<String>,
    pub carrier: Option<String>,
    pub method: Option<String>,
    pub ship_date: Option<NaiveDate>,
    pub rma_number: Option<String>,
    pub last_error: Option<String>,
    pub ship_to: Option<String>,
    pub ship_notice_at: Option<NaiveDateTime>,
    pub order_id: i64,
    pub plugin_id: i64,
    pub receipt: String,
    pub order_time: NaiveDateTime,
    pub campaign: String,
    pub customer_id: i64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub sku: String,
    pub title: String,
    pub quantity: i32,
}

impl ItemRow {
    pub fn customer_name(&self) -> String {
        let n = format!("{} {}", self.first_name, self.last_name);
        let n = n.trim();
        if n.is_empty() {
            self.email.clone()
        } else {
            n.to_string()
        }
    }

    pub fn ship_to_line(&self) -> String {
        self.ship_to
            .as_deref()
            .and_then(super::ShipTo::from_json)
            .map(|s| s.one_line())
            .unwrap_or_default()
    }

    /// What a house would need that the item's address lacks ("street, city"), for an item
    /// waiting for an address; empty otherwise.
    pub fn address_missing(&self) -> String {
        if self.status != super::Status::NeedsAddress.as_str() {
            return String::new();
        }
        let to = self
            .ship_to
            .as_deref()
            .and_then(super::ShipTo::from_json)
            .unwrap_or_default();
        super::address::missing(&to).join(", ")
    }

    pub fn text(v: &Option<String>) -> &str {
        v.as_deref().unwrap_or("")
    }

    /// ClickBank can be told the tracking of this item (it has one and was not told yet).
    pub fn can_send_ship_notice(&self) -> bool {
        self.tracking_number.as_deref().is_some_and(|t| !t.is_empty()) && self.ship_notice_at.is_none()
    }
}

macro_rules! item_query {
    () => {
        fulfillments::table
            .inner_join(
                orders::table
                    .inner_join(customers::table)
                    .inner_join(campaigns::table),
            )
            .inner_join(order_items::table)
            .inner_join(fulfillment_houses::table)
    };
}

macro_rules! item_columns {
    () => {
        (
            fulfillments::id,
            fulfillments::status,
            fulfillments::house_id,
            fulfillment_houses::name,
            fulfillments::shipment_id,
            fulfillments::tracking_number,
            fulfillments::carrier,
            fulfillments::method,
            fulfillments::ship_date,
            fulfillments::rma_number,
            fulfillments::last_error,
            fulfillments::ship_to,
            fulfillments::ship_notice_at,
            orders::id,
            orders::plugin_id,
            orders::receipt,
            orders::transaction_time,
            campaigns::name,
            customers::id,
            customers::first_name,
            customers::last_name,
            customers::email,
            order_items::item_no,
            order_items::title,
            order_items::quantity,
        )
    };
}

/// One page of the list, newest first; `before` is the last id of the previous page.
pub struct ItemPage {
    pub rows: Vec<ItemRow>,
    /// Items matching the filter, all pages.
    pub total: i64,
    /// The `before` of the next page, when there is one.
    pub next_before: Option<i64>,
}

pub fn page(conn: &mut DbConn, filter: &Filter, before: Option<i64>) -> Result<ItemPage, AppError> {
    let total: i64 = filtered!(
        fulfillments::table
            .inner_join(orders::table)
            .inner_join(order_items::table)
            .into_boxed(),
        filter
    )
    .count()
    .get_result(conn)?;
    let mut q = filtered!(item_query!().into_boxed(), filter);
    if let Some(b) = before {
        q = q.filter(fulfillments::id.lt(b));
    }
    let rows: Vec<ItemRow> = q
        .select(item_columns!())
        .order(fulfillments::id.desc())
        .limit(PAGE_SIZE + 1)
        .load(conn)?;
    let mut rows = rows;
    let next_before = if rows.len() as i64 > PAGE_SIZE {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok(ItemPage {
        rows,
        total,
        next_before,
    })
}

/// Every item matching `filter` (for the CSV export), newest first.
pub fn all(conn: &mut DbConn, filter: &Filter) -> Result<Vec<ItemRow>, AppError> {
    Ok(filtered!(item_query!().into_boxed(), filter)
        .select(item_columns!())
        .order(fulfillments::id.desc())
        .load(conn)?)
}

/// One item with its order and customer.
pub fn item(conn: &mut DbConn, id: i64) -> Result<ItemRow, AppError> {
    Ok(item_query!()
        .filter(fulfillments::id.eq(id))
        .select(item_columns!())
        .first(conn)?)
}

/// The ids of every item matching `filter`.
pub fn matching_ids(conn: &mut DbConn, filter: &Filter) -> Result<Vec<i64>, AppError> {
    Ok(filtered!(
        fulfillments::table
            .inner_join(orders::table)
            .inner_join(order_items::table)
            .into_boxed(),
        filter
    )
    .select(fulfillments::id)
    .order(fulfillments::id.asc())
    .load(conn)?)
}

/// The header of the exported list: the tracking import's columns first, so a filled-in
/// file goes straight back into the import; the rest is for reading and is ignored there.
pub const EXPORT_HEADER: [&str; 14] = [
    "orderId",
    "clientFulfillmentId",
    "trackingNumber",
    "carrier",
    "method",
    "status",
    "house",
    "sku",
    "title",
    "quantity",
    "customer",
    "email",
    "shipTo",
    "orderDate",
];

/// The CSV file of `rows`.
pub fn to_csv(rows: &[ItemRow]) -> Result<Vec<u8>, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| AppError::Internal(format!("cannot write the CSV: {e}"));
    w.write_record(EXPORT_HEADER).map_err(err)?;
    for r in rows {
        super::write_csv_record(
            &mut w,
            [
                r.receipt.as_str(),
                &r.id.to_string(),
                ItemRow::text(&r.tracking_number),
                ItemRow::text(&r.carrier),
                ItemRow::text(&r.method),
                &r.status,
                &r.house,
                &r.sku,
                &r.title,
                &r.quantity.to_string(),
                &r.customer_name(),
                &r.email,
                &r.ship_to_line(),
                &r.order_time.format("%Y-%m-%d %H:%M:%S").to_string(),
            ],
        )
        .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| AppError::Internal(format!("cannot write the CSV: {e}")))
}

/// Choices for the filter form.
pub struct Choices {
    pub houses: Vec<(i64, String)>,
    pub campaigns: Vec<(i64, String)>,
    pub products: Vec<(i64, String)>,
}

pub fn choices(conn: &mut DbConn) -> Result<Choices, AppError> {
    use crate::db::schema::products;
    Ok(Choices {
        houses: fulfillment_houses::table
            .select((fulfillment_houses::id, fulfillment_houses::name))
            .order(fulfillment_houses::name.asc())
            .load(conn)?,
        campaigns: campaigns::table
            .select((campaigns::id, campaigns::name))
            .order(campaigns::name.asc())
            .load(conn)?,
        products: products::table
            .select((products::id, products::title))
            .order(products::title.asc())
            .load(conn)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_days_of_the_portal_time_zone() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let utc = Filter::default();
        assert_eq!(utc.day_start(d).to_string(), "2026-11-25 00:00:00");
        let la = Filter::default().in_zone(chrono_tz::America::Los_Angeles);
        assert_eq!(la.day_start(d).to_string(), "2026-11-25 08:00:00");
    }
}

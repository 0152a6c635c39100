//! Where an event's order goes: its campaign, and the product (and house) of each sold item,
//! both created on first sight (an order can arrive before the catalog import). The rules of
//! where ClickBank products live are the catalog's.

use diesel::prelude::*;

use super::event::EventItem;
use crate::db::models::Plugin;
use crate::db::schema::{campaigns, products};
use crate::db::DbConn;
use crate::domain::catalog;
use crate::domain::insert_ignoring_duplicate;
use crate::error::AppError;

/// The campaign of the plugin's orders in `currency` (its test twin when `test`), created on
/// first use as `<PluginName>_<CUR>` with its name locked.
pub(super) fn campaign_id(
    conn: &mut DbConn,
    plugin: &Plugin,
    currency: &str,
    test: bool,
) -> Result<i64, AppError> {
    let find = |conn: &mut DbConn| -> QueryResult<Option<i64>> {
        campaigns::table
            .filter(campaigns::plugin_id.eq(plugin.id))
            .filter(campaigns::currency.eq(currency))
            .filter(campaigns::is_test.eq(test))
            .select(campaigns::id)
            .first(conn)
            .optional()
    };
    if let Some(id) = find(conn)? {
        return Ok(id);
    }
    let name = format!("{}_{}{}", plugin.name, currency, if test { "_TEST" } else { "" });
    insert_ignoring_duplicate(conn, |c| {
        diesel::insert_into(campaigns::table)
            .values((
                campaigns::plugin_id.eq(plugin.id),
                campaigns::currency.eq(currency),
                campaigns::is_test.eq(test),
                campaigns::name.eq(&name),
                campaigns::name_locked.eq(true),
                campaigns::created_at.eq(crate::domain::now()),
            ))
            .execute(c)
    })?;
    find(conn)?
        .ok_or_else(|| AppError::Internal(format!("campaign {name} could not be created (name taken?)")))
}

/// (product id, its fulfillment house) for a sold item, creating the product on first
/// sight (an order can arrive before the catalog import).
/// The product an event's line is filed under: its id, its house, and whether its ClickBank
/// pricing has trial days (its first payment is then a trial).
#[derive(Debug, Clone, Copy)]
pub struct Placed {
    pub id: i64,
    pub house: i64,
    pub has_trial: bool,
}

pub fn product_for(
    conn: &mut DbConn,
    plugin: &Plugin,
    item: &EventItem,
    currency: &str,
) -> Result<Placed, AppError> {
    let cat = catalog::import_category_id(conn, plugin)?;
    let find = |conn: &mut DbConn| -> QueryResult<Option<Placed>> {
        products::table
            .filter(products::category_id.eq(cat))
            .filter(products::sku.eq(&item.item_no))
            .select((products::id, products::fulfillment_house_id, products::trial_days))
            .first::<(i64, i64, i32)>(conn)
            .optional()
            .map(|p| {
                p.map(|(id, house, trial_days)| Placed {
                    id,
                    house,
                    has_trial: trial_days > 0,
                })
            })
    };
    if let Some(p) = find(conn)? {
        return Ok(p);
    }
    let house = catalog::clickbank_house_id(conn)?;
    let now = crate::domain::now();
    let title = if item.title.is_empty() {
        format!("ClickBank product {}", item.item_no)
    } else {
        item.title.clone()
    };
    insert_ignoring_duplicate(conn, |c| {
        diesel::insert_into(products::table)
            .values((
                products::category_id.eq(cat),
                products::sku.eq(&item.item_no),
                products::title.eq(&title),
                products::currency.eq(currency),
                products::msrp_minor.eq(Some(item.amount_minor)),
                products::shippable.eq(item.shippable),
                products::recurring.eq(item.recurring),
                products::rebill_frequency.eq(&item.frequency),
                products::fulfillment_house_id.eq(house),
                products::created_at.eq(now),
                products::updated_at.eq(now),
            ))
            .execute(c)
    })?;
    find(conn)?.ok_or_else(|| AppError::Internal(format!("product {} could not be created", item.item_no)))
}

//! Campaigns: every order is filed under one. ClickBank imports create one per plugin and
//! currency (`ClickBank_USD`), with a locked name; merchants can add their own campaigns and
//! rename those. Each campaign lists its products as offers or upsales, in funnel order.
//!
//! Line items ClickBank marks `UPSELL` or `BUMP` count as upsales of the order's campaign.

use std::collections::HashMap;

use diesel::prelude::*;
use serde_json::json;

use super::{audit, is_unique_violation, Actor};
use crate::db::models::{Campaign, CampaignProduct, Product};
use crate::db::schema::{campaign_products, campaigns, order_items, orders, plugins, products};
use crate::db::DbConn;
use crate::error::AppError;

/// ClickBank line item types that count as upsales.
pub const UPSALE_LINE_TYPES: &[&str] = &["UPSELL", "BUMP"];

/// Longest campaign name.
pub const MAX_NAME_CHARS: usize = 80;

/// Why imported campaigns keep their name (shown on the form).
pub const LOCKED_REASON: &str = "This campaign was created by the ClickBank import: its name is the plugin name and the \
     currency (like ClickBank_USD), so everyone finds the same orders under the same name. It cannot be renamed.";

/// How a product sits in a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferKind {
    /// Sold on the order form.
    Offer,
    /// Offered after the first purchase (upsell, bump).
    Upsale,
}

impl OfferKind {
    pub fn parse(s: &str) -> Result<Self, AppError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "offer" => Ok(OfferKind::Offer),
            "upsale" => Ok(OfferKind::Upsale),
            _ => Err(AppError::Validation("Choose Offer or Upsale.".into())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OfferKind::Offer => "offer",
            OfferKind::Upsale => "upsale",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OfferKind::Offer => "Offer",
            OfferKind::Upsale => "Upsale",
        }
    }
}

/// A campaign with its counts, for the list.
#[derive(Debug, Clone)]
pub struct CampaignSummary {
    pub campaign: Campaign,
    /// The plugin that created it, for imported campaigns.
    pub plugin: Option<String>,
    pub orders: i64,
    /// Line items of type UPSELL or BUMP in its orders.
    pub upsales: i64,
    /// Products set up as offers or upsales.
    pub products: i64,
}

fn counts_by_campaign(rows: Vec<(i64, i64)>) -> HashMap<i64, i64> {
    rows.into_iter().collect()
}

/// Every campaign by name with its counts: one grouped query per count, not one per row.
pub fn list(conn: &mut DbConn) -> Result<Vec<CampaignSummary>, AppError> {
    let rows: Vec<(Campaign, Option<String>)> = campaigns::table
        .left_join(plugins::table)
        .select((Campaign::as_select(), plugins::name.nullable()))
        .order((campaigns::name.asc(), campaigns::id.asc()))
        .load(conn)?;
    let orders = counts_by_campaign(
        orders::table
            .group_by(orders::campaign_id)
            .select((orders::campaign_id, diesel::dsl::count_star()))
            .load(conn)?,
    );
    let upsales = counts_by_campaign(
        order_items::table
            .inner_join(orders::table)
            .filter(order_items::line_item_type.eq_any(UPSALE_LINE_TYPES))
            .group_by(orders::campaign_id)
            .select((orders::campaign_id, diesel::dsl::count_star()))
            .load(conn)?,
    );
    let linked = counts_by_campaign(
        campaign_products::table
            .group_by(campaign_products::campaign_id)
            .select((campaign_products::campaign_id, diesel::dsl::count_star()))
            .load(conn)?,
    );
    Ok(rows
        .into_iter()
        .map(|(c, plugin)| CampaignSummary {
            orders: orders.get(&c.id).copied().unwrap_or(0),
            upsales: upsales.get(&c.id).copied().unwrap_or(0),
            products: linked.get(&c.id).copied().unwrap_or(0),
            plugin,
            campaign: c,
        })
        .collect())
}

/// One campaign with its counts.
pub fn summary(conn: &mut DbConn, id: i64) -> Result<CampaignSummary, AppError> {
    let (campaign, plugin): (Campaign, Option<String>) = campaigns::table
        .find(id)
        .left_join(plugins::table)
        .select((Campaign::as_select(), plugins::name.nullable()))
        .first(conn)?;
    let orders: i64 = orders::table
        .filter(orders::campaign_id.eq(id))
        .count()
        .get_result(conn)?;
    let upsales: i64 = order_items::table
        .inner_join(orders::table)
        .filter(orders::campaign_id.eq(id))
        .filter(order_items::line_item_type.eq_any(UPSALE_LINE_TYPES))
        .count()
        .get_result(conn)?;
    let products: i64 = campaign_products::table
        .filter(campaign_products::campaign_id.eq(id))
        .count()
        .get_result(conn)?;
    Ok(CampaignSummary {
        campaign,
        plugin,
        orders,
        upsales,
        products,
    })
}

pub fn find(conn: &mut DbConn, id: i64) -> Result<Campaign, AppError> {
    Ok(campaigns::table
        .find(id)
        .select(Campaign::as_select())
        .first(conn)?)
}

fn clean_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::Validation("The campaign needs a name.".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::Validation(format!(
            "A campaign name is one line of at most {MAX_NAME_CHARS} characters."
        )));
    }
    Ok(name.to_string())
}

fn clean_currency(currency: &str) -> Result<String, AppError> {
    let c = currency.trim().to_ascii_uppercase();
    if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()) {
        Ok(c)
    } else {
        Err(AppError::Validation(
            "The currency is a three-letter ISO code such as USD or EUR.".into(),
        ))
    }
}

fn name_taken(name: &str) -> AppError {
    AppError::Conflict(format!(
        "A campaign named {name} already exists: choose another name."
    ))
}

/// A merchant's own campaign (not tied to a plugin, name editable).
pub fn create(conn: &mut DbConn, actor: &Actor, name: &str, currency: &str) -> Result<Campaign, AppError> {
    let name = clean_name(name)?;
    let currency = clean_currency(currency)?;
    conn.transaction(|conn| {
        let inserted = conn.transaction(|c| {
            diesel::insert_into(campaigns::table)
                .values((
                    campaigns::currency.eq(&currency),
                    campaigns::is_test.eq(false),
                    campaigns::name.eq(&name),
                    campaigns::name_locked.eq(false),
                    campaigns::created_at.eq(super::now()),
                ))
                .execute(c)
        });
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(name_taken(&name)),
            Err(e) => return Err(e.into()),
        }
        let c: Campaign = campaigns::table
            .filter(campaigns::name.eq(&name))
            .select(Campaign::as_select())
            .first(conn)?;
        audit::record(
            conn,
            actor,
            "campaign.create",
            &c.name,
            json!({"campaign_id": c.id, "currency": c.currency}),
        )?;
        Ok(c)
    })
}

/// Renames a campaign. Imported ClickBank campaigns (`name_locked`) are refused with
/// [`LOCKED_REASON`].
pub fn rename(conn: &mut DbConn, actor: &Actor, id: i64, name: &str) -> Result<Campaign, AppError> {
    conn.transaction(|conn| {
        let before = find(conn, id)?;
        if before.name_locked {
            return Err(AppError::Validation(LOCKED_REASON.into()));
        }
        let name = clean_name(name)?;
        if name == before.name {
            return Ok(before);
        }
        let updated = conn.transaction(|c| {
            diesel::update(campaigns::table.find(id))
                .set(campaigns::name.eq(&name))
                .execute(c)
        });
        match updated {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(name_taken(&name)),
            Err(e) => return Err(e.into()),
        }
        audit::record(
            conn,
            actor,
            "campaign.rename",
            &name,
            json!({"campaign_id": id, "before": before.name, "after": name}),
        )?;
        find(conn, id)
    })
}

// ----- campaign products -----

/// A product of a campaign with what the page shows of it.
#[derive(Debug, Clone)]
pub struct CampaignProductRow {
    pub link: CampaignProduct,
    pub product: Product,
}

impl CampaignProductRow {
    pub fn kind(&self) -> OfferKind {
        if self.link.kind == "upsale" {
            OfferKind::Upsale
        } else {
            OfferKind::Offer
        }
    }
}

/// The campaign's offers then its upsales, each in funnel order.
pub fn products_of(conn: &mut DbConn, campaign_id: i64) -> Result<Vec<CampaignProductRow>, AppError> {
    let rows: Vec<(CampaignProduct, Product)> = campaign_products::table
        .inner_join(products::table)
        .filter(campaign_products::campaign_id.eq(campaign_id))
        .select((CampaignProduct::as_select(), Product::as_select()))
        .order((
            campaign_products::kind.asc(),
            campaign_products::position.asc(),
            campaign_products::id.asc(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(link, product)| CampaignProductRow { link, product })
        .collect())
}

fn link_of(conn: &mut DbConn, campaign_id: i64, link_id: i64) -> Result<CampaignProduct, AppError> {
    Ok(campaign_products::table
        .find(link_id)
        .filter(campaign_products::campaign_id.eq(campaign_id))
        .select(CampaignProduct::as_select())
        .first(conn)?)
}

/// Adds a product to the end of the campaign's offers or upsales.
pub fn add_product(
    conn: &mut DbConn,
    actor: &Actor,
    campaign_id: i64,
    product_id: i64,
    kind: OfferKind,
) -> Result<(), AppError> {
    conn.transaction(|conn| {
        let c = find(conn, campaign_id)?;
        let product: Product = products::table
            .find(product_id)
            .select(Product::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::Validation("Choose a product from the list.".into()))?;
        let last: Option<i32> = campaign_products::table
            .filter(campaign_products::campaign_id.eq(campaign_id))
            .filter(campaign_products::kind.eq(kind.as_str()))
            .select(diesel::dsl::max(campaign_products::position))
            .first(conn)?;
        let inserted = conn.transaction(|c| {
            diesel::insert_into(campaign_products::table)
                .values((
                    campaign_products::campaign_id.eq(campaign_id),
                    campaign_products::product_id.eq(product_id),
                    campaign_products::kind.eq(kind.as_str()),
                    campaign_products::position.eq(last.unwrap_or(0) + 1),
                    campaign_products::created_at.eq(super::now()),
                ))
                .execute(c)
        });
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(AppError::Conflict(format!(
                    "SKU {} is already in {}: remove it first to change how it is sold.",
                    product.sku, c.name
                )))
            }
            Err(e) => return Err(e.into()),
        }
        audit::record(
            conn,
            actor,
            "campaign.product_add",
            &c.name,
            json!({"campaign_id": campaign_id, "product_id": product_id, "sku": product.sku, "kind": kind.as_str()}),
        )
    })
}

/// Moves a campaign product one place up (earlier) or down among products of its kind.
/// At either end nothing changes.
pub fn move_product(
    conn: &mut DbConn,
    actor: &Actor,
    campaign_id: i64,
    link_id: i64,
    up: bool,
) -> Result<(), AppError> {
    conn.transaction(|conn| {
        let link = link_of(conn, campaign_id, link_id)?;
        let siblings = campaign_products::table
            .filter(campaign_products::campaign_id.eq(campaign_id))
            .filter(campaign_products::kind.eq(&link.kind))
            .filter(campaign_products::id.ne(link.id))
            .select(CampaignProduct::as_select())
            .into_boxed();
        let neighbour: Option<CampaignProduct> = if up {
            siblings
                .filter(
                    campaign_products::position.lt(link.position).or(campaign_products::position
                        .eq(link.position)
                        .and(campaign_products::id.lt(link.id))),
                )
                .order((campaign_products::position.desc(), campaign_products::id.desc()))
                .first(conn)
                .optional()?
        } else {
            siblings
                .filter(
                    campaign_products::position.gt(link.position).or(campaign_products::position
                        .eq(link.position)
                        .and(campaign_products::id.gt(link.id))),
                )
                .order((campaign_products::position.asc(), campaign_products::id.asc()))
                .first(conn)
                .optional()?
        };
        let Some(other) = neighbour else {
            return Ok(());
        };
        // Distinct positions even if two were equal, so the swap always changes the order.
        let (mine, theirs) = if other.position == link.position {
            if up {
                (link.position, link.position + 1)
            } else {
                (link.position + 1, link.position)
            }
        } else {
            (other.position, link.position)
        };
        diesel::update(campaign_products::table.find(link.id))
            .set(campaign_products::position.eq(mine))
            .execute(conn)?;
        diesel::update(campaign_products::table.find(other.id))
            .set(campaign_products::position.eq(theirs))
            .execute(conn)?;
        let c = find(conn, campaign_id)?;
        audit::record(
            conn,
            actor,
            "campaign.product_move",
            &c.name,
            json!({"campaign_id": campaign_id, "product_id": link.product_id, "direction": if up { "up" } else { "down" }}),
        )
    })
}

/// Removes a product from a campaign (its orders are not touched).
pub fn remove_product(
    conn: &mut DbConn,
    actor: &Actor,
    campaign_id: i64,
    link_id: i64,
) -> Result<(), AppError> {
    conn.transaction(|conn| {
        let link = link_of(conn, campaign_id, link_id)?;
        diesel::delete(campaign_products::table.find(link.id)).execute(conn)?;
        let c = find(conn, campaign_id)?;
        audit::record(
            conn,
            actor,
            "campaign.product_remove",
            &c.name,
            json!({"campaign_id": campaign_id, "product_id": link.product_id, "kind": link.kind}),
        )
    })
}

/// Products to offer in the "add" form: those not yet in the campaign, by title.
pub fn addable_products(conn: &mut DbConn, campaign_id: i64) -> Result<Vec<Product>, AppError> {
    let linked = campaign_products::table
        .filter(campaign_products::campaign_id.eq(campaign_id))
        .select(campaign_products::product_id);
    Ok(products::table
        .filter(products::id.ne_all(linked))
        .select(Product::as_select())
        .order((products::title.asc(), products::id.asc()))
        .load(conn)?)
}

//! The catalog import: every product of a plugin's site from ClickBank's products list,
//! upserted into the plugin's import category (see [`catalog`](super) for who owns which field).

use diesel::prelude::*;
use serde_json::json;

use super::{clickbank_house_id, import_category_id, import_category_name};
use crate::clickbank::{self, ClickBankApi, ProductsQuery};
use crate::db::models::{Plugin, Product};
use crate::db::schema::products;
use crate::db::{Database, DbConn};
use crate::domain::insert_ignoring_duplicate;
use crate::domain::{audit, Actor};
use crate::error::AppError;
use serde::Serialize;

/// What one import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProductImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Products left out or imported without a price, with the reason.
    pub warnings: Vec<String>,
}

impl ProductImportReport {
    /// One line for a flash message or a job's last result.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} created, {} updated, {} unchanged",
            self.created, self.updated, self.unchanged
        );
        if !self.warnings.is_empty() {
            s.push_str(&format!(
                "; {} warning(s): {}",
                self.warnings.len(),
                self.warnings.join("; ")
            ));
        }
        s
    }
}

/// What the import takes from one ClickBank product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedProduct {
    pub sku: String,
    pub title: String,
    pub description: String,
    /// (currency, price in minor units) of the product's first pricing: the product's own
    /// currency, as ClickBank lists it first.
    pub price: Option<(String, i64)>,
    pub shippable: bool,
    pub recurring: bool,
    /// ClickBank's spelling (MONTHLY, ...), from the first recurring pricing.
    pub rebill_frequency: Option<String>,
    /// Trial days of the first recurring pricing (0: none).
    pub trial_days: i32,
}

impl ImportedProduct {
    /// Reads a ClickBank product. `Err` is a reason to skip it; a price that cannot be read
    /// exactly leaves the price out and adds a warning.
    pub fn from_clickbank(p: &clickbank::Product, warnings: &mut Vec<String>) -> Option<Self> {
        let sku = p.sku.trim().to_string();
        if sku.is_empty() {
            warnings.push("a product without a SKU was skipped".into());
            return None;
        }
        let title = p
            .title
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("ClickBank product {sku}"));
        let price = match p.initial_price() {
            Some((currency, amount)) => {
                let currency = currency.trim().to_ascii_uppercase();
                match amount.to_minor(&currency) {
                    Ok(m) if m >= 0 => Some((currency, m)),
                    Ok(_) => {
                        warnings.push(format!("SKU {sku}: negative price ignored"));
                        None
                    }
                    Err(e) => {
                        warnings.push(format!("SKU {sku}: price not imported ({e})"));
                        None
                    }
                }
            }
            None => None,
        };
        Some(ImportedProduct {
            title,
            description: p.description.as_deref().unwrap_or("").trim().to_string(),
            price,
            shippable: p.is_physical(),
            recurring: p.is_recurring(),
            rebill_frequency: p.rebill_frequency().map(|f| f.to_string()),
            trial_days: p.trial_days().min(3650) as i32,
            sku,
        })
    }
}

/// Reads every product of the plugin's `site` from ClickBank's products list (all pages)
/// and upserts them into the plugin's import category (see the module notes for which
/// fields an import may change). One transaction; audited as `product.import` with `actor`.
pub async fn import_products(
    db: &Database,
    api: &dyn ClickBankApi,
    plugin: &Plugin,
    actor: &Actor,
) -> Result<ProductImportReport, AppError> {
    let list = clickbank::fetch_all_products(api, &ProductsQuery::site(&plugin.site))
        .await
        .map_err(|e| {
            AppError::Validation(format!(
                "Could not read the products of {} from ClickBank: {e}",
                plugin.site
            ))
        })?;
    let mut warnings = Vec::new();
    let incoming: Vec<ImportedProduct> = list
        .iter()
        .filter_map(|p| ImportedProduct::from_clickbank(p, &mut warnings))
        .collect();
    let (plugin, actor) = (plugin.clone(), actor.clone());
    db.run(move |conn| store_import(conn, &actor, &plugin, &incoming, warnings))
        .await
}

/// The database half of [`import_products`].
pub fn store_import(
    conn: &mut DbConn,
    actor: &Actor,
    plugin: &Plugin,
    incoming: &[ImportedProduct],
    warnings: Vec<String>,
) -> Result<ProductImportReport, AppError> {
    conn.transaction(|conn| {
        let cat = import_category_id(conn, plugin)?;
        let house = clickbank_house_id(conn)?;
        let mut report = ProductImportReport {
            warnings,
            ..Default::default()
        };
        let mut changed = Vec::new();
        for p in incoming {
            let existing = find_in_category(conn, cat, &p.sku)?;
            let existing = match existing {
                Some(row) => Some(row),
                None => {
                    let now = crate::domain::now();
                    let (currency, msrp) = p.price.clone().unzip();
                    let mut inserted = false;
                    insert_ignoring_duplicate(conn, |c| {
                        let n = diesel::insert_into(products::table)
                            .values((
                                products::category_id.eq(cat),
                                products::sku.eq(&p.sku),
                                products::title.eq(&p.title),
                                products::currency.eq(currency),
                                products::msrp_minor.eq(msrp),
                                products::description.eq(&p.description),
                                products::shippable.eq(p.shippable),
                                products::recurring.eq(p.recurring),
                                products::rebill_frequency.eq(&p.rebill_frequency),
                                products::trial_days.eq(p.trial_days),
                                products::fulfillment_house_id.eq(house),
                                products::created_at.eq(now),
                                products::updated_at.eq(now),
                            ))
                            .execute(c)?;
                        inserted = n > 0;
                        Ok(n)
                    })?;
                    if inserted {
                        report.created += 1;
                        None
                    } else {
                        // A sale created it meanwhile: update it like any other.
                        find_in_category(conn, cat, &p.sku)?
                    }
                }
            };
            let Some(row) = existing else { continue };
            let fields = sync_from_clickbank(conn, &row, p)?;
            if fields.is_empty() {
                report.unchanged += 1;
            } else {
                report.updated += 1;
                if changed.len() < 100 {
                    changed.push(json!({"sku": p.sku, "fields": fields}));
                }
            }
        }
        audit::record(
            conn,
            actor,
            "product.import",
            &plugin.name,
            json!({"site": plugin.site, "category": import_category_name(plugin),
                   "created": report.created, "updated": report.updated, "unchanged": report.unchanged,
                   "changed": changed, "warnings": report.warnings}),
        )?;
        Ok(report)
    })
}

fn find_in_category(conn: &mut DbConn, cat: i64, sku: &str) -> Result<Option<Product>, AppError> {
    Ok(products::table
        .filter(products::category_id.eq(cat))
        .filter(products::sku.eq(sku))
        .select(Product::as_select())
        .first(conn)
        .optional()?)
}

/// Brings the ClickBank-owned fields of `row` up to date; returns the names of the fields
/// that changed (none: nothing written).
fn sync_from_clickbank(
    conn: &mut DbConn,
    row: &Product,
    p: &ImportedProduct,
) -> Result<Vec<&'static str>, AppError> {
    let mut fields = Vec::new();
    if row.title != p.title {
        fields.push("title");
    }
    if row.recurring != p.recurring {
        fields.push("recurring");
    }
    if p.rebill_frequency.is_some() && row.rebill_frequency != p.rebill_frequency {
        fields.push("rebill frequency");
    }
    if row.trial_days != p.trial_days {
        fields.push("trial days");
    }
    let (currency, msrp) = match &p.price {
        Some((c, m)) if !row.msrp_by_merchant => (Some(c.clone()), Some(*m)),
        _ => (row.currency.clone(), row.msrp_minor),
    };
    if currency != row.currency {
        fields.push("currency");
    }
    if msrp != row.msrp_minor {
        fields.push("msrp");
    }
    let (description, shippable) = if row.merchant_edited {
        (row.description.clone(), row.shippable)
    } else {
        (p.description.clone(), p.shippable)
    };
    if description != row.description {
        fields.push("description");
    }
    if shippable != row.shippable {
        fields.push("shippable");
    }
    if !fields.is_empty() {
        diesel::update(products::table.find(row.id))
            .set((
                products::title.eq(&p.title),
                products::recurring.eq(p.recurring),
                products::rebill_frequency.eq(p.rebill_frequency.as_ref().or(row.rebill_frequency.as_ref())),
                products::trial_days.eq(p.trial_days),
                products::currency.eq(currency),
                products::msrp_minor.eq(msrp),
                products::description.eq(description),
                products::shippable.eq(shippable),
                products::updated_at.eq(crate::domain::now()),
            ))
            .execute(conn)?;
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cb_product(json: &str) -> clickbank::Product {
        serde_json::from_str(json).expect("product json")
    }

    #[test]
    fn imported_product_takes_the_first_pricing_exactly() {
        let p = cb_product(
            r#"{"@sku":" 13 ","title":"Maple Tea","physical":"true","digitalRecurring":"false",
                "pricings":{"pricing":[{"@currency":"CAD","standard":{"price":{"native_price":"24.99","usd":"18.40"}}},
                                       {"@currency":"USD","standard":{"price":{"native_price":"35.00","usd":"35.00"}}}]}}"#,
        );
        let mut w = Vec::new();
        let i = ImportedProduct::from_clickbank(&p, &mut w).unwrap();
        assert_eq!(i.sku, "13");
        assert_eq!(i.price, Some(("CAD".into(), 2499)));
        assert!(i.shippable && !i.recurring);
        assert!(w.is_empty());
    }

    #[test]
    fn unreadable_prices_and_missing_titles_are_reported_not_fatal() {
        let p = cb_product(
            r#"{"@sku":"X1","pricings":{"pricing":{"@currency":"USD","standard":{"price":{"native_price":"1.999"}}}}}"#,
        );
        let mut w = Vec::new();
        let i = ImportedProduct::from_clickbank(&p, &mut w).unwrap();
        assert_eq!(i.title, "ClickBank product X1");
        assert_eq!(i.price, None);
        assert_eq!(w.len(), 1, "{w:?}");
        let mut blank = cb_product(r#"{"@sku":"Y"}"#);
        blank.sku = "  ".into();
        assert!(ImportedProduct::from_clickbank(&blank, &mut w).is_none());
        assert_eq!(w.len(), 2);
    }
}

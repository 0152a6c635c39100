//! Products: the one place that decides where ClickBank products live (the import category
//! and the dummy `ClickBank` house), the catalog import from ClickBank's products list, the
//! CRM list and the merchant's edits.
//!
//! Who owns which field:
//! - ClickBank owns the SKU (never changed by the portal), the title and `recurring`: every
//!   import brings them up to date.
//! - The MSRP (and its currency) follows ClickBank's price until the merchant changes it on
//!   the edit page (`msrp_by_merchant`); clearing the field hands it back to ClickBank.
//! - The merchant owns cost, description, shippable, fulfillment house, fulfillment type and
//!   delay. Imports fill description and shippable from ClickBank only while the merchant has
//!   never saved the product (`merchant_edited`), and never touch the others.

use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use super::{audit, insert_ignoring_duplicate, lower, Actor};
use crate::clickbank::{self, format_minor, parse_minor, ClickBankApi, ProductsQuery};
use crate::db::models::{FulfillmentHouse, Plugin, Product, ProductCategory};
use crate::db::schema::{fulfillment_houses, product_categories, products};
use crate::db::{Database, DbConn};
use crate::error::AppError;

/// The category every plugin without `unique_products` shares.
pub const SHARED_IMPORT_CATEGORY: &str = "ClickBank Imports";

/// Fulfillment types a product can have: (stored value, label).
pub const FULFILLMENT_TYPES: &[(&str, &str)] = &[
    ("standard", "Standard: ships once per order, after the delay"),
    ("each_rebill", "Subscription: ships again with every rebill"),
    ("manual", "Manual: held until staff release it"),
];

/// Longest fulfillment delay the merchant can set (30 days).
pub const MAX_DELAY_HOURS: i32 = 720;

/// Longest description kept.
pub const MAX_DESCRIPTION_CHARS: usize = 5000;

/// Products per page of the CRM list.
pub const PAGE_SIZE: i64 = 50;

impl Product {
    /// The product's currency (USD when ClickBank never said).
    pub fn currency_code(&self) -> &str {
        self.currency.as_deref().unwrap_or("USD")
    }

    /// The MSRP as decimal text (`"12.34"`), empty when unknown.
    pub fn msrp_text(&self) -> String {
        self.msrp_minor
            .map(|m| format_minor(m, self.currency_code()))
            .unwrap_or_default()
    }

    /// The product cost as decimal text, empty when not set.
    pub fn cost_text(&self) -> String {
        self.cost_minor
            .map(|m| format_minor(m, self.currency_code()))
            .unwrap_or_default()
    }

    /// The label of the fulfillment type.
    pub fn fulfillment_type_label(&self) -> &str {
        FULFILLMENT_TYPES
            .iter()
            .find(|(v, _)| *v == self.fulfillment_type)
            .map(|(_, l)| *l)
            .unwrap_or(self.fulfillment_type.as_str())
    }
}

// ----- where ClickBank products live -----

/// The category name a plugin's imported products get.
pub fn import_category_name(plugin: &Plugin) -> String {
    if !plugin.unique_products {
        return SHARED_IMPORT_CATEGORY.to_string();
    }
    let own = format!("{} Imports", plugin.name);
    if own.eq_ignore_ascii_case(SHARED_IMPORT_CATEGORY) {
        // A unique-products plugin named "ClickBank" must not land in the shared category.
        format!("{own} ({})", plugin.site)
    } else {
        own
    }
}

/// The category new products of this plugin land in, created on first use:
/// `ClickBank Imports`, or the plugin's own category when it has `unique_products`.
pub fn import_category_id(conn: &mut DbConn, plugin: &Plugin) -> Result<i64, AppError> {
    let owner = plugin.unique_products.then_some(plugin.id);
    let name = import_category_name(plugin);
    let find = |conn: &mut DbConn| -> QueryResult<Option<i64>> {
        let q = product_categories::table
            .select(product_categories::id)
            .into_boxed();
        let q = match owner {
            Some(id) => q.filter(product_categories::plugin_id.eq(id)),
            None => q
                .filter(product_categories::name.eq(SHARED_IMPORT_CATEGORY))
                .filter(product_categories::plugin_id.is_null()),
        };
        q.order(product_categories::id.asc()).first(conn).optional()
    };
    if let Some(id) = find(conn)? {
        return Ok(id);
    }
    insert_ignoring_duplicate(conn, |c| {
        diesel::insert_into(product_categories::table)
            .values((
                product_categories::name.eq(&name),
                product_categories::plugin_id.eq(owner),
                product_categories::created_at.eq(super::now()),
            ))
            .execute(c)
    })?;
    find(conn)?.ok_or_else(|| AppError::Internal(format!("category {name} could not be created")))
}

/// The dummy house: ClickBank ships, never exported. New products start there.
pub fn clickbank_house_id(conn: &mut DbConn) -> Result<i64, AppError> {
    Ok(fulfillment_houses::table
        .filter(fulfillment_houses::kind.eq("clickbank"))
        .select(fulfillment_houses::id)
        .order(fulfillment_houses::id.asc())
        .first(conn)?)
}

// ----- the catalog import -----

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
                    let now = super::now();
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
                products::currency.eq(currency),
                products::msrp_minor.eq(msrp),
                products::description.eq(description),
                products::shippable.eq(shippable),
                products::updated_at.eq(super::now()),
            ))
            .execute(conn)?;
    }
    Ok(fields)
}

// ----- the CRM list -----

/// Filters of CRM → Products.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    /// Part of the title or SKU, any case.
    pub search: Option<String>,
    pub category_id: Option<i64>,
    /// 1-based.
    pub page: i64,
}

/// A product with the names the list shows.
#[derive(Debug, Clone)]
pub struct ProductListRow {
    pub product: Product,
    pub category: String,
    pub house: String,
}

/// One page of the list.
#[derive(Debug, Clone)]
pub struct ProductListPage {
    pub rows: Vec<ProductListRow>,
    /// Products matching the filter, all pages.
    pub total: i64,
    pub page: i64,
    pub pages: i64,
}

macro_rules! filtered {
    ($q:expr, $filter:expr) => {{
        let mut q = $q;
        if let Some(s) = $filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let pattern = format!("%{}%", audit::escape_like(&s.to_lowercase()));
            q = q.filter(
                lower(products::title)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(products::sku).like(pattern).escape('\\')),
            );
        }
        if let Some(c) = $filter.category_id {
            q = q.filter(products::category_id.eq(c));
        }
        q
    }};
}

/// Products matching `filter`, by title, one page.
pub fn list(conn: &mut DbConn, filter: &ProductFilter) -> Result<ProductListPage, AppError> {
    let total: i64 = filtered!(products::table.into_boxed(), filter)
        .count()
        .get_result(conn)?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = filter.page.clamp(1, pages);
    let rows: Vec<(Product, String, String)> = filtered!(
        products::table
            .inner_join(product_categories::table)
            .inner_join(fulfillment_houses::table)
            .into_boxed(),
        filter
    )
    .select((
        Product::as_select(),
        product_categories::name,
        fulfillment_houses::name,
    ))
    .order((products::title.asc(), products::id.asc()))
    .limit(PAGE_SIZE)
    .offset((page - 1) * PAGE_SIZE)
    .load(conn)?;
    Ok(ProductListPage {
        rows: rows
            .into_iter()
            .map(|(product, category, house)| ProductListRow {
                product,
                category,
                house,
            })
            .collect(),
        total,
        page,
        pages,
    })
}

pub fn categories(conn: &mut DbConn) -> Result<Vec<ProductCategory>, AppError> {
    Ok(product_categories::table
        .select(ProductCategory::as_select())
        .order(product_categories::name.asc())
        .load(conn)?)
}

pub fn houses(conn: &mut DbConn) -> Result<Vec<FulfillmentHouse>, AppError> {
    Ok(fulfillment_houses::table
        .select(FulfillmentHouse::as_select())
        .order((
            fulfillment_houses::kind.ne("clickbank"),
            fulfillment_houses::name.asc(),
        ))
        .load(conn)?)
}

pub fn find(conn: &mut DbConn, id: i64) -> Result<Product, AppError> {
    Ok(products::table
        .find(id)
        .select(Product::as_select())
        .first(conn)?)
}

/// A product with its category name, for the edit page.
pub fn find_with_category(conn: &mut DbConn, id: i64) -> Result<(Product, String), AppError> {
    Ok(products::table
        .find(id)
        .inner_join(product_categories::table)
        .select((Product::as_select(), product_categories::name))
        .first(conn)?)
}

// ----- the merchant's edits -----

/// The edit form as typed. The SKU and title are not part of it: they are ClickBank's.
#[derive(Debug, Clone, Default)]
pub struct ProductEdit {
    /// Empty: follow ClickBank's price again.
    pub msrp: String,
    /// Empty: no cost.
    pub cost: String,
    pub description: String,
    pub shippable: bool,
    pub fulfillment_house_id: String,
    pub fulfillment_type: String,
    pub delay_hours: String,
}

impl ProductEdit {
    /// The form pre-filled with the product as stored.
    pub fn from_product(p: &Product) -> Self {
        ProductEdit {
            msrp: p.msrp_text(),
            cost: p.cost_text(),
            description: p.description.clone(),
            shippable: p.shippable,
            fulfillment_house_id: p.fulfillment_house_id.to_string(),
            fulfillment_type: p.fulfillment_type.clone(),
            delay_hours: p.delay_hours.to_string(),
        }
    }
}

/// A checked edit.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ValidEdit {
    msrp: Option<i64>,
    cost: Option<i64>,
    description: String,
    shippable: bool,
    house_id: i64,
    fulfillment_type: String,
    delay_hours: i32,
}

fn money_field(label: &str, text: &str, currency: &str, errors: &mut Vec<String>) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match parse_minor(text, currency) {
        Ok(m) if m < 0 => {
            errors.push(format!("{label} cannot be negative."));
            None
        }
        Ok(m) => Some(m),
        Err(e) => {
            errors.push(format!(
                "{label}: {e}. Type an amount in {currency} such as 12.34."
            ));
            None
        }
    }
}

fn validate(conn: &mut DbConn, p: &Product, form: &ProductEdit) -> Result<ValidEdit, AppError> {
    let mut errors = Vec::new();
    let currency = p.currency_code();
    let msrp = money_field("MSRP", &form.msrp, currency, &mut errors);
    let cost = money_field("Product cost", &form.cost, currency, &mut errors);
    let description = form.description.trim().replace("\r\n", "\n");
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        errors.push(format!(
            "The description is too long (at most {MAX_DESCRIPTION_CHARS} characters)."
        ));
    }
    let house_id = match form.fulfillment_house_id.trim().parse::<i64>() {
        Ok(id) => {
            let exists: i64 = fulfillment_houses::table.find(id).count().get_result(conn)?;
            if exists == 0 {
                errors.push("Choose a fulfillment house from the list.".into());
            }
            id
        }
        Err(_) => {
            errors.push("Choose a fulfillment house from the list.".into());
            0
        }
    };
    let fulfillment_type = form.fulfillment_type.trim().to_string();
    if !FULFILLMENT_TYPES.iter().any(|(v, _)| *v == fulfillment_type) {
        errors.push("Choose a fulfillment type from the list.".into());
    }
    let delay_hours = match form.delay_hours.trim() {
        "" => 0,
        t => match t.parse::<i32>() {
            Ok(h) if (0..=MAX_DELAY_HOURS).contains(&h) => h,
            _ => {
                errors.push(format!(
                    "The fulfillment delay is a whole number of hours from 0 to {MAX_DELAY_HOURS} (30 days)."
                ));
                0
            }
        },
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors.join(" ")));
    }
    Ok(ValidEdit {
        msrp,
        cost,
        description,
        shippable: form.shippable,
        house_id,
        fulfillment_type,
        delay_hours,
    })
}

fn audit_view(p: &Product) -> serde_json::Value {
    json!({"msrp": p.msrp_text(), "msrp_by_merchant": p.msrp_by_merchant, "cost": p.cost_text(),
           "description": p.description, "shippable": p.shippable, "fulfillment_house_id": p.fulfillment_house_id,
           "fulfillment_type": p.fulfillment_type, "delay_hours": p.delay_hours})
}

/// Saves the merchant's edit of product `id`: every field checked first (all problems in
/// one message), then one update, audited as `product.update` with before and after.
/// Imports never overwrite these fields afterwards; a changed MSRP stays the merchant's
/// until they clear the field.
pub fn update(conn: &mut DbConn, actor: &Actor, id: i64, form: &ProductEdit) -> Result<Product, AppError> {
    conn.transaction(|conn| {
        let before = find(conn, id)?;
        let v = validate(conn, &before, form)?;
        let (msrp, msrp_by_merchant) = match v.msrp {
            None => (before.msrp_minor, false),
            Some(m) if !before.msrp_by_merchant && Some(m) == before.msrp_minor => (Some(m), false),
            Some(m) => (Some(m), true),
        };
        diesel::update(products::table.find(id))
            .set((
                products::msrp_minor.eq(msrp),
                products::msrp_by_merchant.eq(msrp_by_merchant),
                products::cost_minor.eq(v.cost),
                products::description.eq(&v.description),
                products::shippable.eq(v.shippable),
                products::fulfillment_house_id.eq(v.house_id),
                products::fulfillment_type.eq(&v.fulfillment_type),
                products::delay_hours.eq(v.delay_hours),
                products::merchant_edited.eq(true),
                products::updated_at.eq(super::now()),
            ))
            .execute(conn)?;
        let after = find(conn, id)?;
        audit::record(
            conn,
            actor,
            "product.update",
            &format!("SKU {} ({})", after.sku, after.title),
            json!({"product_id": id, "before": audit_view(&before), "after": audit_view(&after)}),
        )?;
        Ok(after)
    })
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

    #[test]
    fn a_unique_plugin_named_clickbank_gets_its_own_category() {
        let mut p = Plugin {
            id: 1,
            kind: "clickbank".into(),
            name: "ClickBank".into(),
            site: "SHOP".into(),
            dev_key_enc: None,
            api_key_enc: String::new(),
            secret_key_enc: None,
            include_test: false,
            send_confirmations: false,
            unique_products: false,
            clickbank_ships: false,
            active: true,
            last_connected_at: None,
            created_at: chrono::NaiveDateTime::default(),
            updated_at: chrono::NaiveDateTime::default(),
        };
        assert_eq!(import_category_name(&p), "ClickBank Imports");
        p.unique_products = true;
        assert_eq!(import_category_name(&p), "ClickBank Imports (SHOP)");
        p.name = "Second".into();
        assert_eq!(import_category_name(&p), "Second Imports");
    }
}

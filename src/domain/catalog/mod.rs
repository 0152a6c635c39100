//! Products: the one place that decides where ClickBank products live (the import category
//! and the dummy `ClickBank` house), the catalog import from ClickBank's products list, the
//! CRM list and the merchant's edits.
//!
//! Here: where ClickBank products live. `import`: the catalog import. `list`: CRM → Products.
//! `edit`: the merchant's edits.
//!
//! Who owns which field:
//! - ClickBank owns the SKU (never changed by the portal), the title and `recurring`: every
//!   import brings them up to date.
//! - The MSRP (and its currency) follows ClickBank's price until the merchant changes it on
//!   the edit page (`msrp_by_merchant`); clearing the field hands it back to ClickBank.
//! - The merchant owns cost, description, shippable, fulfillment house, fulfillment type and
//!   delay. Imports fill description and shippable from ClickBank only while the merchant has
//!   never saved the product (`merchant_edited`), and never touch the others.

pub mod edit;
pub mod import;
pub mod list;

use diesel::prelude::*;

use crate::clickbank::format_minor;
use crate::db::models::{HouseKind, Plugin, Product};
use crate::db::schema::{fulfillment_houses, product_categories};
use crate::db::DbConn;
use crate::domain::insert_ignoring_duplicate;
use crate::error::AppError;

/// The category every plugin without `unique_products` shares.
pub const SHARED_IMPORT_CATEGORY: &str = "ClickBank Imports";

/// A fulfillment type a product can have: its stored value, its name, and in one line what
/// fulfillment does with it (the product page shows the line; keep it true to
/// `fulfillment::new_items`, which makes the items).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FulfillmentType {
    pub value: &'static str,
    pub label: &'static str,
    pub does: &'static str,
}

/// Fulfillment types a product can have. Fulfillment does not tell them apart yet: a shippable
/// line gets an item at its sale and another at every rebill of its subscription, each
/// exported once the product's delay has passed, whatever the type says.
pub const FULFILLMENT_TYPES: &[FulfillmentType] = &[
    FulfillmentType {
        value: "standard",
        label: "Standard",
        does: "An item at the sale, and another at every rebill of a subscription; each goes to the house once the delay has passed.",
    },
    FulfillmentType {
        value: "each_rebill",
        label: "Every rebill",
        does: "Ships as Standard does today: the sale and every rebill of the subscription each get an item.",
    },
    FulfillmentType {
        value: "manual",
        label: "Manual",
        does: "Noted on the product only: its items still go to the house after the delay (set a long delay to hold them longer).",
    },
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
            .find(|t| t.value == self.fulfillment_type)
            .map(|t| t.label)
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
                product_categories::created_at.eq(crate::domain::now()),
            ))
            .execute(c)
    })?;
    find(conn)?.ok_or_else(|| AppError::Internal(format!("category {name} could not be created")))
}

/// The dummy house: ClickBank ships, never exported. New products start there.
pub fn clickbank_house_id(conn: &mut DbConn) -> Result<i64, AppError> {
    Ok(fulfillment_houses::table
        .filter(fulfillment_houses::kind.eq(HouseKind::ClickBank))
        .select(fulfillment_houses::id)
        .order(fulfillment_houses::id.asc())
        .first(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ship_cutoff_at: None,
            lookup_budget: 5000,
        };
        assert_eq!(import_category_name(&p), "ClickBank Imports");
        p.unique_products = true;
        assert_eq!(import_category_name(&p), "ClickBank Imports (SHOP)");
        p.name = "Second".into();
        assert_eq!(import_category_name(&p), "Second Imports");
    }
}

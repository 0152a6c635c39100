//! CRM → Products: the filtered list, one page at a time, and what its forms choose from.

use diesel::prelude::*;

use super::PAGE_SIZE;
use crate::db::models::{FulfillmentHouse, HouseKind, Product, ProductCategory};
use crate::db::schema::{fulfillment_houses, product_categories, products};
use crate::db::DbConn;
use crate::domain::{audit, lower};
use crate::error::AppError;

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
            fulfillment_houses::kind.ne(HouseKind::ClickBank),
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

//! CRM → Products: the list with search and category filter, and the edit page. The SKU is
//! shown read-only and never read from a form.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::db::models::{FulfillmentHouse, Product, ProductCategory};
use crate::domain::catalog::edit::{self, ProductEdit};
use crate::domain::catalog::list::{self, ProductFilter, ProductListPage};
use crate::domain::catalog::{FulfillmentType, FULFILLMENT_TYPES, MAX_DELAY_HOURS};
use crate::error::AppError;
use crate::web::extract::Staff;
use crate::web::page::PageCtx;
use crate::web::{redirect, render, render_status};
use crate::AppState;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    category: Option<String>,
    page: Option<String>,
}

#[derive(Template)]
#[template(path = "crm/products.html")]
struct ProductsPage {
    ctx: PageCtx,
    q: String,
    category: Option<i64>,
    categories: Vec<ProductCategory>,
    list: ProductListPage,
    prev: Option<String>,
    next: Option<String>,
}

impl ProductsPage {
    fn is_category(&self, id: &i64) -> bool {
        self.category == Some(*id)
    }
}

fn page_link(q: &str, category: Option<i64>, page: i64) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    if !q.is_empty() {
        s.append_pair("q", q);
    }
    if let Some(c) = category {
        s.append_pair("category", &c.to_string());
    }
    s.append_pair("page", &page.to_string());
    format!("/crm/products?{}", s.finish())
}

pub async fn list(
    state: web::Data<AppState>,
    s: Staff,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let search = q.q.unwrap_or_default().trim().to_string();
    let category = q.category.as_deref().and_then(|c| c.trim().parse::<i64>().ok());
    let filter = ProductFilter {
        search: Some(search.clone()).filter(|s| !s.is_empty()),
        category_id: category,
        page: q.page.as_deref().and_then(|p| p.trim().parse().ok()).unwrap_or(1),
    };
    let (list, categories) = state
        .db
        .run(move |c| Ok((list::list(c, &filter)?, list::categories(c)?)))
        .await?;
    let prev = (list.page > 1).then(|| page_link(&search, category, list.page - 1));
    let next = (list.page < list.pages).then(|| page_link(&search, category, list.page + 1));
    render(&ProductsPage {
        ctx: s.0.ctx,
        q: search,
        category,
        categories,
        list,
        prev,
        next,
    })
}

#[derive(Template)]
#[template(path = "crm/product.html")]
struct ProductPage {
    ctx: PageCtx,
    p: Product,
    category: String,
    houses: Vec<FulfillmentHouse>,
    form: ProductEdit,
    types: &'static [FulfillmentType],
    max_delay: i32,
    error: Option<String>,
}

async fn product_page(
    state: &AppState,
    ctx: PageCtx,
    id: i64,
    form: Option<ProductEdit>,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let ((p, category), houses) = state
        .db
        .run(move |c| Ok((list::find_with_category(c, id)?, list::houses(c)?)))
        .await?;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render_status(
        &ProductPage {
            ctx,
            form: form.unwrap_or_else(|| ProductEdit::from_product(&p)),
            p,
            category,
            houses,
            types: FULFILLMENT_TYPES,
            max_delay: MAX_DELAY_HOURS,
            error,
        },
        status,
    )
}

pub async fn show(
    state: web::Data<AppState>,
    s: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    product_page(&state, s.0.ctx, id.into_inner(), None, None).await
}

/// The edit form. There is deliberately no `sku` (nor title) field: a posted one is ignored.
#[derive(Deserialize, Default)]
pub struct EditForm {
    #[serde(default)]
    msrp: String,
    #[serde(default)]
    cost: String,
    #[serde(default)]
    description: String,
    shippable: Option<String>,
    #[serde(default)]
    fulfillment_house_id: String,
    #[serde(default)]
    fulfillment_type: String,
    #[serde(default)]
    delay_hours: String,
}

pub async fn update(
    state: web::Data<AppState>,
    s: Staff,
    id: web::Path<i64>,
    form: web::Form<EditForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let f = form.into_inner();
    let edit = ProductEdit {
        msrp: f.msrp,
        cost: f.cost,
        description: f.description,
        shippable: f.shippable.is_some(),
        fulfillment_house_id: f.fulfillment_house_id,
        fulfillment_type: f.fulfillment_type,
        delay_hours: f.delay_hours,
    };
    let (actor, input) = (s.actor(), edit.clone());
    match state.db.run(move |c| edit::update(c, &actor, id, &input)).await {
        Ok(p) => {
            s.flash("ok", format!("Saved SKU {} ({}).", p.sku, p.title));
            Ok(redirect(&format!("/crm/products/{id}")))
        }
        Err(AppError::Validation(e)) => product_page(&state, s.0.ctx, id, Some(edit), Some(e)).await,
        Err(e) => Err(e),
    }
}

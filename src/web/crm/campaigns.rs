//! CRM → Campaigns: every campaign with its orders and upsales counts, new campaigns,
//! renaming (refused for imported ClickBank campaigns, with the reason on the form), and
//! the campaign's offers and upsales (add, reorder, remove).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::db::models::Product;
use crate::domain::campaigns::{self, CampaignProductRow, CampaignSummary, OfferKind, LOCKED_REASON};
use crate::error::AppError;
use crate::web::extract::Staff;
use crate::web::page::PageCtx;
use crate::web::{redirect, render_status};
use crate::AppState;

#[derive(Deserialize, Default)]
pub struct NewCampaignForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    currency: String,
}

#[derive(Template)]
#[template(path = "crm/campaigns.html")]
struct CampaignsPage {
    ctx: PageCtx,
    campaigns: Vec<CampaignSummary>,
    form: NewCampaignForm,
    error: Option<String>,
}

async fn campaigns_page(
    state: &AppState,
    ctx: PageCtx,
    form: NewCampaignForm,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let campaigns = state.db.run(campaigns::list).await?;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render_status(
        &CampaignsPage {
            ctx,
            campaigns,
            form,
            error,
        },
        status,
    )
}

pub async fn list(state: web::Data<AppState>, s: Staff) -> Result<HttpResponse, AppError> {
    let form = NewCampaignForm {
        currency: "USD".into(),
        ..Default::default()
    };
    campaigns_page(&state, s.0.ctx, form, None).await
}

pub async fn create(
    state: web::Data<AppState>,
    s: Staff,
    form: web::Form<NewCampaignForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let (actor, name, currency) = (s.actor(), form.name.clone(), form.currency.clone());
    match state
        .db
        .run(move |c| campaigns::create(c, &actor, &name, &currency))
        .await
    {
        Ok(c) => {
            s.flash("ok", format!("Campaign {} created.", c.name));
            Ok(redirect(&format!("/crm/campaigns/{}", c.id)))
        }
        Err(e) if e.is_user_fixable() => campaigns_page(&state, s.0.ctx, form, Some(e.to_string())).await,
        Err(e) => Err(e),
    }
}

/// Offers or upsales of a campaign, in funnel order.
struct Section {
    title: &'static str,
    id: &'static str,
    rows: Vec<CampaignProductRow>,
}

#[derive(Template)]
#[template(path = "crm/campaign.html")]
struct CampaignPage {
    ctx: PageCtx,
    c: CampaignSummary,
    sections: Vec<Section>,
    addable: Vec<Product>,
    name: String,
    locked_reason: &'static str,
    error: Option<String>,
}

async fn campaign_page(
    state: &AppState,
    ctx: PageCtx,
    id: i64,
    name: Option<String>,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let (c, linked, addable) = state
        .db
        .run(move |conn| {
            Ok((
                campaigns::summary(conn, id)?,
                campaigns::products_of(conn, id)?,
                campaigns::addable_products(conn, id)?,
            ))
        })
        .await?;
    let (upsales, offers): (Vec<_>, Vec<_>) = linked.into_iter().partition(|r| r.kind() == OfferKind::Upsale);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render_status(
        &CampaignPage {
            ctx,
            name: name.unwrap_or_else(|| c.campaign.name.clone()),
            c,
            sections: vec![
                Section {
                    title: "Offers",
                    id: "offers",
                    rows: offers,
                },
                Section {
                    title: "Upsales",
                    id: "upsales",
                    rows: upsales,
                },
            ],
            addable,
            locked_reason: LOCKED_REASON,
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
    campaign_page(&state, s.0.ctx, id.into_inner(), None, None).await
}

#[derive(Deserialize, Default)]
pub struct RenameForm {
    #[serde(default)]
    name: String,
}

pub async fn rename(
    state: web::Data<AppState>,
    s: Staff,
    id: web::Path<i64>,
    form: web::Form<RenameForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let name = form.into_inner().name;
    let (actor, typed) = (s.actor(), name.clone());
    match state
        .db
        .run(move |c| campaigns::rename(c, &actor, id, &typed))
        .await
    {
        Ok(c) => {
            s.flash("ok", format!("Campaign renamed to {}.", c.name));
            Ok(redirect(&format!("/crm/campaigns/{id}")))
        }
        Err(e) if e.is_user_fixable() => {
            campaign_page(&state, s.0.ctx, id, Some(name), Some(e.to_string())).await
        }
        Err(e) => Err(e),
    }
}

/// Small forms (add, move, remove) answer with a flash and go back to the campaign.
fn back(s: &Staff, id: i64, result: Result<String, AppError>) -> Result<HttpResponse, AppError> {
    match result {
        Ok(msg) => s.flash("ok", msg),
        Err(e) => s.flash_error(e)?,
    }
    Ok(redirect(&format!("/crm/campaigns/{id}")))
}

#[derive(Deserialize, Default)]
pub struct AddForm {
    #[serde(default)]
    product_id: String,
    #[serde(default)]
    kind: String,
}

pub async fn add_product(
    state: web::Data<AppState>,
    s: Staff,
    id: web::Path<i64>,
    form: web::Form<AddForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let form = form.into_inner();
    let actor = s.actor();
    let result = async {
        let product_id: i64 = form
            .product_id
            .trim()
            .parse()
            .map_err(|_| AppError::Validation("Choose a product from the list.".into()))?;
        let kind = OfferKind::parse(&form.kind)?;
        state
            .db
            .run(move |c| campaigns::add_product(c, &actor, id, product_id, kind))
            .await?;
        Ok(format!("Product added as {}.", kind.label()))
    }
    .await;
    back(&s, id, result)
}

#[derive(Deserialize, Default)]
pub struct MoveForm {
    #[serde(default)]
    direction: String,
}

pub async fn move_product(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(i64, i64)>,
    form: web::Form<MoveForm>,
) -> Result<HttpResponse, AppError> {
    let (id, link) = path.into_inner();
    let actor = s.actor();
    let result = async {
        let up = match form.direction.as_str() {
            "up" => true,
            "down" => false,
            _ => return Err(AppError::Validation("Move up or down.".into())),
        };
        state
            .db
            .run(move |c| campaigns::move_product(c, &actor, id, link, up))
            .await?;
        Ok("Order saved.".to_string())
    }
    .await;
    back(&s, id, result)
}

pub async fn remove_product(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (id, link) = path.into_inner();
    let actor = s.actor();
    let result = state
        .db
        .run(move |c| campaigns::remove_product(c, &actor, id, link))
        .await
        .map(|_| "Product removed from the campaign.".to_string());
    back(&s, id, result)
}

//! CRM → Fulfillment houses: the list, a form for a new house, the edit page and "Assign to
//! all products". Merchant staff may look (they run fulfillment); adding, editing and
//! assigning are for account executives, because a house's endpoint or folder decides where
//! customers' addresses and the house's keys go. Keys are write-only.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::domain::fulfillment::houses::{self, House, HouseInput, HouseKind};
use crate::error::AppError;
use crate::web::extract::{Admin, AdminForm, Staff};
use crate::web::page::PageCtx;
use crate::web::{redirect, render_status};
use crate::AppState;

#[derive(Deserialize, Default, Clone)]
pub struct HouseForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    endpoint: String,
    #[serde(default)]
    api_key: String,
    #[serde(default)]
    signing_secret: String,
    #[serde(default)]
    csv_folder: String,
    active: Option<String>,
}

impl HouseForm {
    fn input(&self) -> HouseInput {
        HouseInput {
            name: self.name.clone(),
            kind: self.kind.clone(),
            endpoint: self.endpoint.clone(),
            api_key: self.api_key.clone(),
            signing_secret: self.signing_secret.clone(),
            csv_folder: self.csv_folder.clone(),
            active: self.active.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "fulfillment/houses.html")]
struct HousesPage {
    ctx: PageCtx,
    houses: Vec<House>,
    kinds: Vec<(&'static str, &'static str)>,
    form: HouseForm,
    error: Option<String>,
    export_root: String,
}

async fn houses_page(
    state: &AppState,
    ctx: PageCtx,
    form: HouseForm,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let list = state.db.read(houses::list).await?;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render_status(
        &HousesPage {
            ctx,
            houses: list,
            kinds: HouseKind::CHOICES
                .iter()
                .map(|k| (k.as_str(), k.label()))
                .collect(),
            form,
            error,
            export_root: state.config.export_root.display().to_string(),
        },
        status,
    )
}

pub async fn list(state: web::Data<AppState>, s: Staff) -> Result<HttpResponse, AppError> {
    let form = HouseForm {
        kind: HouseKind::HttpJson.as_str().into(),
        active: Some("on".into()),
        ..Default::default()
    };
    houses_page(&state, s.0.ctx, form, None).await
}

pub async fn create(
    state: web::Data<AppState>,
    AdminForm(s, form): AdminForm<HouseForm>,
) -> Result<HttpResponse, AppError> {
    let mut f = form.into_inner();
    let (actor, input, st) = (s.actor(), f.input(), state.clone());
    match state
        .db
        .run(move |c| houses::create(c, &st.secrets, &actor, &input, &st.config.export_root))
        .await
    {
        Ok(h) => {
            s.flash("ok", format!("Fulfillment house {} added.", h.name));
            Ok(redirect(&format!("/crm/fulfillment-houses/{}", h.id)))
        }
        Err(e) if e.is_user_fixable() => {
            // Secrets are never sent back to the browser.
            f.api_key.clear();
            f.signing_secret.clear();
            houses_page(&state, s.0.ctx, f, Some(e.to_string())).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "fulfillment/house.html")]
struct HousePage {
    ctx: PageCtx,
    h: House,
    form: HouseForm,
    error: Option<String>,
}

async fn house_page(
    state: &AppState,
    ctx: PageCtx,
    id: i64,
    form: Option<HouseForm>,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let h = state.db.read(move |c| houses::find(c, id)).await?;
    let form = form.unwrap_or_else(|| HouseForm {
        name: h.name.clone(),
        kind: h.kind.as_str().to_string(),
        endpoint: h.endpoint.clone(),
        csv_folder: h.csv_folder.clone(),
        active: h.active.then(|| "on".to_string()),
        ..Default::default()
    });
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render_status(&HousePage { ctx, h, form, error }, status)
}

pub async fn show(
    state: web::Data<AppState>,
    s: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    house_page(&state, s.0.ctx, id.into_inner(), None, None).await
}

pub async fn update(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    AdminForm(s, form): AdminForm<HouseForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let mut f = form.into_inner();
    let (actor, input, st) = (s.actor(), f.input(), state.clone());
    match state
        .db
        .run(move |c| houses::update(c, &st.secrets, &actor, id, &input, &st.config.export_root))
        .await
    {
        Ok(h) => {
            s.flash("ok", format!("Saved {}.", h.name));
            Ok(redirect(&format!("/crm/fulfillment-houses/{id}")))
        }
        Err(e) if e.is_user_fixable() => {
            f.api_key.clear();
            f.signing_secret.clear();
            house_page(&state, s.0.ctx, id, Some(f), Some(e.to_string())).await
        }
        Err(e) => Err(e),
    }
}

pub async fn assign_all(
    state: web::Data<AppState>,
    s: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let actor = s.actor();
    let result = state
        .db
        .run(move |c| houses::assign_to_all_products(c, &actor, id))
        .await;
    s.flash_result(result, |n| {
        format!("{n} product(s) now ship from this house (new orders; move existing items with a batch update on the Fulfillment page).")
    })?;
    Ok(redirect(&format!("/crm/fulfillment-houses/{id}")))
}

//! `/customers/{id}`: everything about one customer, and the notes form.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use crate::clickbank::requests::reasons;
use crate::clickbank::rules;
use crate::domain::customer_service::customers::{self, Profile, PurchaseView};
use crate::domain::customer_service::shipping_address;
use crate::error::AppError;
use crate::web::extract::Staff;
use crate::web::page::PageCtx;
use crate::web::{redirect, render};
use crate::AppState;

#[derive(Template)]
#[template(path = "customers/profile.html")]
struct ProfilePage {
    ctx: PageCtx,
    p: Profile,
    cancel_reasons: &'static [(&'static str, &'static str)],
    /// ClickBank's tomorrow: the earliest next bill date.
    tomorrow: String,
    /// The latest restart date a pause allows.
    pause_last: String,
}

impl ProfilePage {
    /// The first restart date a pause allows: the day of the next payment.
    fn pause_first(&self, pv: &PurchaseView) -> String {
        pv.purchase
            .next_bill_date
            .map(|d| rules::today(d.and_utc()).to_string())
            .unwrap_or_default()
    }
    fn money(&self, minor: &i64, currency: &str) -> String {
        crate::clickbank::format_minor(*minor, currency)
    }
    /// A subscription date as ClickBank's (US Pacific) calendar day, the day its rules use.
    fn day(&self, t: &Option<chrono::NaiveDateTime>) -> String {
        t.map(|t| rules::today(t.and_utc()).to_string())
            .unwrap_or_else(|| "—".into())
    }
}

pub async fn show(
    state: web::Data<AppState>,
    s: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let p = state.db.read(move |c| customers::profile(c, id)).await?;
    let today = rules::today(Utc::now());
    render(&ProfilePage {
        ctx: s.0.ctx,
        p,
        cancel_reasons: reasons::CANCEL_CHOICES,
        tomorrow: (today + chrono::Duration::days(1)).to_string(),
        pause_last: rules::pause_window(today, today).1.to_string(),
    })
}

#[derive(Deserialize, Default)]
pub struct NoteForm {
    #[serde(default)]
    body: String,
}

/// Staff save the customer's shipping address; their items not at a house yet take it.
pub async fn save_shipping_address(
    state: web::Data<AppState>,
    s: Staff,
    id: web::Path<i64>,
    form: web::Form<shipping_address::AddressForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let actor = s.actor();
    let form = form.into_inner();
    let result = state
        .db
        .run(move |c| shipping_address::save(c, &actor, id, &form))
        .await;
    s.flash_result(result, |done| shipping_address::summary(&done))?;
    Ok(redirect(&format!("/customers/{id}#shipping-address")))
}

pub async fn add_note(
    state: web::Data<AppState>,
    s: Staff,
    id: web::Path<i64>,
    form: web::Form<NoteForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let actor = s.actor();
    let body = form.into_inner().body;
    let result = state
        .db
        .run(move |c| customers::add_note(c, &actor, id, &body))
        .await;
    s.flash_result(result, |_| "Note added.".into())?;
    Ok(redirect(&format!("/customers/{id}#notes")))
}

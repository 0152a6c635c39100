//! `/customers/{id}`: everything about one customer, the notes form and the Edit shipping
//! address form (which can send the address to ClickBank too).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use crate::clickbank::rules;
use crate::domain::customer_service::actions;
use crate::domain::customer_service::customers::{self, Customer, Profile, PurchaseView};
use crate::domain::customer_service::reason_labels::{self, ReasonChoice, ReasonKind};
use crate::domain::customer_service::shipping_address::{self, AddressForm};
use crate::error::AppError;
use crate::web::extract::{Signed, Staff};
use crate::web::page::PageCtx;
use crate::web::{redirect, render, render_status};
use crate::AppState;

#[derive(Template)]
#[template(path = "customers/profile.html")]
struct ProfilePage {
    ctx: PageCtx,
    p: Profile,
    cancel_reasons: Vec<ReasonChoice>,
    /// ClickBank's tomorrow: the earliest next bill date.
    tomorrow: String,
    /// The latest restart date a pause allows.
    pause_last: String,
    /// The Edit shipping address form: the saved address, or what staff typed when it was
    /// refused (with `address_error`).
    address: AddressForm,
    address_error: Option<String>,
    /// The customer has running subscriptions that ship: the form offers to send the address
    /// to ClickBank too.
    subscriptions_that_ship: usize,
    send_checked: bool,
}

impl ProfilePage {
    /// The first restart date a pause allows: the day of the next payment.
    fn pause_first(&self, pv: &PurchaseView) -> String {
        pv.purchase
            .next_bill_date
            .map(|d| rules::today(d.and_utc()).to_string())
            .unwrap_or_default()
    }
    /// A subscription date as ClickBank's (US Pacific) calendar day, the day its rules use.
    fn day(&self, t: &Option<chrono::NaiveDateTime>) -> String {
        t.map(|t| rules::today(t.and_utc()).to_string())
            .unwrap_or_else(|| "—".into())
    }
}

/// The address form as the saved address fills it.
fn saved_address(c: &Customer) -> AddressForm {
    AddressForm {
        first_name: c.ship_first_name.clone(),
        last_name: c.ship_last_name.clone(),
        address1: c.ship_address1.clone(),
        address2: c.ship_address2.clone(),
        city: c.ship_city.clone(),
        state: c.ship_state.clone(),
        postal_code: c.ship_postal_code.clone(),
        country: c.ship_country.clone(),
    }
}

/// What the address form shows when it is sent back refused.
struct Typed {
    form: AddressForm,
    error: String,
    send: bool,
}

async fn page(
    state: &AppState,
    ctx: PageCtx,
    id: i64,
    typed: Option<Typed>,
) -> Result<ProfilePage, AppError> {
    let (p, ships, cancel_reasons) = state
        .db
        .read(move |c| {
            Ok((
                customers::profile(c, id)?,
                actions::subscriptions_that_ship(c, id)?.len(),
                reason_labels::choices(c, ReasonKind::Cancel)?,
            ))
        })
        .await?;
    let today = rules::today(Utc::now());
    let (address, address_error, send_checked) = match typed {
        Some(t) => (t.form, Some(t.error), t.send),
        None => (saved_address(&p.customer), None, false),
    };
    Ok(ProfilePage {
        ctx,
        p,
        cancel_reasons,
        tomorrow: (today + chrono::Duration::days(1)).to_string(),
        pause_last: rules::pause_window(today, today).1.to_string(),
        address,
        address_error,
        subscriptions_that_ship: ships,
        send_checked,
    })
}

pub async fn show(
    state: web::Data<AppState>,
    s: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    render(&page(&state, s.0.ctx, id.into_inner(), None).await?)
}

/// The Edit shipping address form: the address, and whether to send it to ClickBank for the
/// customer's subscriptions too.
#[derive(Deserialize)]
pub struct ShippingForm {
    #[serde(flatten)]
    address: AddressForm,
    #[serde(default)]
    send_to_clickbank: String,
}

/// Staff save the customer's shipping address; their items not at a house yet take it. A
/// refused address shows the form again as typed, with the reason. When asked, the saved
/// address then goes to ClickBank for each running subscription that ships; a ClickBank
/// failure leaves the saved address as it is and is shown (and kept in the requests).
pub async fn save_shipping_address(
    state: web::Data<AppState>,
    s: Staff,
    id: web::Path<i64>,
    form: web::Form<ShippingForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let actor = s.actor();
    let ShippingForm {
        address,
        send_to_clickbank,
    } = form.into_inner();
    let send = !send_to_clickbank.is_empty();
    let typed = address.clone();
    let result = state
        .db
        .run(move |c| shipping_address::save(c, &actor, id, &address))
        .await;
    match result {
        Ok(done) => s.flash("ok", shipping_address::summary(&done)),
        Err(e) if e.is_user_fixable() => {
            let typed = Typed {
                form: typed,
                error: e.to_string(),
                send,
            };
            let ctx = s.0.ctx;
            return render_status(
                &page(&state, ctx, id, Some(typed)).await?,
                StatusCode::BAD_REQUEST,
            );
        }
        Err(e) => return Err(e),
    }
    if send {
        send_to_clickbank_and_tell(&state, &s, id).await?;
    }
    Ok(redirect(&format!("/customers/{id}#shipping-address")))
}

/// Sends the saved address to ClickBank again (after a failure).
pub async fn send_shipping_address(
    state: web::Data<AppState>,
    s: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    send_to_clickbank_and_tell(&state, &s, id).await?;
    Ok(redirect(&format!("/customers/{id}#tickets")))
}

async fn send_to_clickbank_and_tell(state: &AppState, s: &Signed, id: i64) -> Result<(), AppError> {
    match actions::send_address(&state.service_context(), &s.actor(), id).await {
        Ok(sent) => {
            for a in &sent {
                let kind = if a.accepted() { "ok" } else { "error" };
                s.flash(kind, format!("Shipping address to ClickBank, {}", a.text()));
            }
            Ok(())
        }
        Err(e) => s.flash_error(e),
    }
}

#[derive(Deserialize, Default)]
pub struct NoteForm {
    #[serde(default)]
    body: String,
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

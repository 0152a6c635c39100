//! The actions on a customer's orders and purchases: ClickBank refund (form, preview,
//! confirm), cancel, pause, resume and next-bill-date changes. Each answers with a flash on
//! the profile: success at once, or ClickBank's own words.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::parse_day;
use crate::domain::customer_service::actions::{self, RefundInput, RefundPreview, ValidRefund};
use crate::domain::customer_service::customers::{OrderItemView, OrderRowView};
use crate::domain::customer_service::reason_labels::{self, ReasonChoice, ReasonKind};
use crate::domain::customer_service::requests::ServiceRequest;
use crate::error::AppError;
use crate::web::extract::{Signed, Staff};
use crate::web::page::PageCtx;
use crate::web::{redirect, render};
use crate::AppState;

#[derive(Deserialize, Default)]
pub struct RefundQuery {
    #[serde(flatten)]
    input: RefundInput,
    #[serde(default)]
    preview: String,
}

#[derive(Template)]
#[template(path = "customers/refund.html")]
struct RefundPage {
    ctx: PageCtx,
    customer_id: i64,
    order: OrderRowView,
    items: Vec<OrderItemView>,
    input: RefundInput,
    reasons: Vec<ReasonChoice>,
    preview: Option<(ValidRefund, RefundPreview)>,
    error: Option<String>,
}

impl RefundPage {
    fn reason_label(&self) -> &str {
        self.reasons
            .iter()
            .find(|r| r.code == self.input.reason)
            .map_or(self.input.reason.as_str(), |r| r.label.as_str())
    }
}

/// The order must belong to the customer in the path.
fn check_owner(order: &OrderRowView, customer_id: i64) -> Result<(), AppError> {
    if order.customer_id != customer_id {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// The refund form; with `preview=1`, the form checked and ClickBank's refund amounts.
pub async fn refund_form(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(i64, i64)>,
    q: web::Query<RefundQuery>,
) -> Result<HttpResponse, AppError> {
    let (customer_id, order_id) = path.into_inner();
    let q = q.into_inner();
    let ctx = state.service_context();
    let (order, items) = actions::order_with_items(&ctx, order_id).await?;
    check_owner(&order, customer_id)?;
    let (preview, error) = if q.preview.is_empty() {
        (None, None)
    } else {
        match actions::refund_preview(&ctx, order_id, &q.input).await {
            Ok(p) => (Some(p), None),
            Err(e) if e.is_user_fixable() => (None, Some(e.to_string())),
            Err(e) => return Err(e),
        }
    };
    let reasons = state
        .db
        .read(|c| reason_labels::choices(c, ReasonKind::Refund))
        .await?;
    let mut input = q.input;
    if input.refund_type.is_empty() {
        input.refund_type = "FULL".into();
    }
    render(&RefundPage {
        ctx: s.0.ctx,
        customer_id,
        order,
        items,
        input,
        reasons,
        preview,
        error,
    })
}

/// Flashes the outcome of a request and returns to the profile.
fn answer(
    s: &Signed,
    customer_id: i64,
    anchor: &str,
    result: Result<ServiceRequest, AppError>,
    ok: impl FnOnce(&ServiceRequest) -> String,
) -> Result<HttpResponse, AppError> {
    // Shown beside the order or subscription acted on (where the page lands) and at the top.
    match result {
        Ok(r) if r.is_failed() => s.flash_at(
            "error",
            format!(
                "ClickBank refused: {}",
                r.error.as_deref().unwrap_or("no reason given")
            ),
            anchor,
        ),
        Ok(r) => s.flash_at("ok", ok(&r), anchor),
        Err(e) if e.is_user_fixable() => s.flash_at("error", e.to_string(), anchor),
        Err(e) => return Err(e),
    }
    Ok(redirect(&format!("/customers/{customer_id}#{anchor}")))
}

pub async fn refund(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(i64, i64)>,
    form: web::Form<RefundInput>,
) -> Result<HttpResponse, AppError> {
    let (customer_id, order_id) = path.into_inner();
    let ctx = state.service_context();
    let (order, _) = actions::order_with_items(&ctx, order_id).await?;
    check_owner(&order, customer_id)?;
    let result = actions::request_refund(&ctx, &s.actor(), order_id, &form).await;
    answer(&s, customer_id, &format!("order-{order_id}"), result, |r| {
        format!(
            "Refund requested from ClickBank (ticket {}). It shows on the order when ClickBank completes it, which can take hours.",
            r.ticket_id.as_deref().unwrap_or("?")
        )
    })
}

async fn purchase_of(state: &AppState, customer_id: i64, purchase_id: i64) -> Result<(), AppError> {
    let p = state
        .db
        .read(move |c| crate::domain::customer_service::customers::purchase(c, purchase_id))
        .await?;
    if p.customer_id != customer_id {
        return Err(AppError::NotFound);
    }
    Ok(())
}

#[derive(Deserialize, Default)]
pub struct CancelForm {
    #[serde(default)]
    reason: String,
}

pub async fn cancel(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(i64, i64)>,
    form: web::Form<CancelForm>,
) -> Result<HttpResponse, AppError> {
    let (customer_id, purchase_id) = path.into_inner();
    purchase_of(&state, customer_id, purchase_id).await?;
    let ctx = state.service_context();
    let result = actions::request_cancel(&ctx, &s.actor(), purchase_id, &form.reason).await;
    answer(&s, customer_id, &format!("purchase-{purchase_id}"), result, |r| {
        format!(
            "Cancellation requested from ClickBank (ticket {}). ClickBank confirms it within 24 hours; billing stops then.",
            r.ticket_id.as_deref().unwrap_or("?")
        )
    })
}

#[derive(Deserialize, Default)]
pub struct DateForm {
    #[serde(default)]
    date: String,
}

fn required_day(field: &str, text: &str) -> Result<chrono::NaiveDate, AppError> {
    parse_day(field, text)?.ok_or_else(|| AppError::Validation(format!("{field}: choose a date.")))
}

/// The purchase actions that take a date: which one, and the flash on success.
#[derive(Clone, Copy)]
enum DateAction {
    Pause,
    Resume,
    NextBillDate,
}

async fn date_action(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(i64, i64)>,
    form: web::Form<DateForm>,
    action: DateAction,
) -> Result<HttpResponse, AppError> {
    let (customer_id, purchase_id) = path.into_inner();
    purchase_of(&state, customer_id, purchase_id).await?;
    let ctx = state.service_context();
    let actor = s.actor();
    let text = form.date.trim().to_string();
    let result = async {
        match action {
            DateAction::Pause => {
                let day = required_day("Restart date", &text)?;
                actions::pause(&ctx, &actor, purchase_id, day).await
            }
            DateAction::Resume => {
                let day = parse_day("Restart date", &text)?;
                actions::resume(&ctx, &actor, purchase_id, day).await
            }
            DateAction::NextBillDate => {
                let day = required_day("Next bill date", &text)?;
                actions::change_date(&ctx, &actor, purchase_id, day).await
            }
        }
    }
    .await;
    answer(
        &s,
        customer_id,
        &format!("purchase-{purchase_id}"),
        result,
        |_| match action {
            DateAction::Pause => format!("Subscription paused: billing restarts on {text}."),
            DateAction::Resume => "Subscription resumed.".to_string(),
            DateAction::NextBillDate => format!("Next bill date changed to {text}."),
        },
    )
}

pub async fn pause(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(i64, i64)>,
    form: web::Form<DateForm>,
) -> Result<HttpResponse, AppError> {
    date_action(state, s, path, form, DateAction::Pause).await
}

pub async fn resume(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(i64, i64)>,
    form: web::Form<DateForm>,
) -> Result<HttpResponse, AppError> {
    date_action(state, s, path, form, DateAction::Resume).await
}

pub async fn next_bill_date(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(i64, i64)>,
    form: web::Form<DateForm>,
) -> Result<HttpResponse, AppError> {
    date_action(state, s, path, form, DateAction::NextBillDate).await
}

/// "Check with ClickBank" on an open request.
pub async fn check_request(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (customer_id, request_id) = path.into_inner();
    let owner = state
        .db
        .read(move |c| crate::domain::customer_service::requests::find(c, request_id))
        .await?;
    if owner.customer_id != customer_id {
        return Err(AppError::NotFound);
    }
    let ctx = state.service_context();
    let result = actions::check_ticket(&ctx, &s.actor(), request_id).await;
    answer(&s, customer_id, "tickets", result, |r| match r.status.as_str() {
        "closed" => format!("{} — you can ask again.", r.summary()),
        _ => format!("{} — still open at ClickBank.", r.summary()),
    })
}

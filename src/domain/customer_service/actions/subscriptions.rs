//! A subscription's changes: cancel (a cancel ticket), and pause, resume and next-bill-date
//! changes (answered at once), each checked against ClickBank's rules before it is sent, and
//! the purchase's dates and status brought in line with what ClickBank accepted.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde_json::{json, Value};

use super::clickbank_calls::Change;
use super::sending::{send_change, send_ticket};
use super::{load, ServiceContext};
use crate::clickbank::requests::reasons;
use crate::clickbank::{rules, TicketRequest};
use crate::db::models::PurchaseStatus;
use crate::db::schema::purchases;
use crate::db::DbConn;
use crate::domain::customer_service::customers::{self, PurchaseRow};
use crate::domain::customer_service::reason_labels::{self, ReasonKind};
use crate::domain::customer_service::requests::{Action, NewRequest, ServiceRequest};
use crate::domain::Actor;
use crate::error::AppError;

async fn purchase(ctx: &ServiceContext, purchase_id: i64) -> Result<PurchaseRow, AppError> {
    load(&ctx.db, move |c| customers::purchase(c, purchase_id)).await
}

fn purchase_state(p: &PurchaseRow) -> Value {
    json!({
        "status": p.status,
        "next_bill_date": p.next_bill_date.map(|d| d.to_string()),
        "paused_until": p.paused_until.map(|d| d.to_string()),
        "cancelled_at": p.cancelled_at.map(|d| d.to_string()),
    })
}

fn request_for(p: &PurchaseRow, action: Action, actor: &Actor, mut detail: Value) -> NewRequest {
    if let Some(o) = detail.as_object_mut() {
        o.insert("before".into(), purchase_state(p));
        o.insert("sku".into(), json!(p.sku));
    }
    NewRequest {
        plugin_id: p.plugin_id,
        customer_id: p.customer_id,
        order_id: p.order_id,
        purchase_id: Some(p.id),
        action,
        detail,
        actor: actor.clone(),
    }
}

/// Asks ClickBank to stop a subscription's future billing (a cancel ticket).
pub async fn request_cancel(
    ctx: &ServiceContext,
    actor: &Actor,
    purchase_id: i64,
    reason: &str,
) -> Result<ServiceRequest, AppError> {
    let p = purchase(ctx, purchase_id).await?;
    if !p.is_running() {
        return Err(AppError::Validation(format!(
            "This subscription is {}; only an active one can be cancelled.",
            p.status.as_str().to_lowercase()
        )));
    }
    if !reasons::CANCEL_CODES.contains(&reason) {
        return Err(AppError::Validation("Choose a cancellation reason.".into()));
    }
    let code = reason.to_string();
    let reason_label = load(&ctx.db, move |c| {
        reason_labels::label(c, ReasonKind::Cancel, &code)
    })
    .await?;
    let ticket = TicketRequest::cancel(reason).with_sku(p.sku.clone());
    let new = request_for(
        &p,
        Action::Cancel,
        actor,
        json!({ "summary": format!("cancel {}", p.sku), "reason": reason, "reason_label": reason_label }),
    );
    send_ticket(ctx, new, p.receipt.clone(), ticket).await
}

fn utc(t: chrono::NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// Pauses billing until `restart` (ClickBank: not before the next payment, at most 60 days).
pub async fn pause(
    ctx: &ServiceContext,
    actor: &Actor,
    purchase_id: i64,
    restart: NaiveDate,
) -> Result<ServiceRequest, AppError> {
    let p = purchase(ctx, purchase_id).await?;
    if !p.is_running() || p.is_paused(crate::domain::now()) {
        return Err(AppError::Validation(
            "Only an active, unpaused subscription can be paused.".into(),
        ));
    }
    let next = p
        .next_bill_date
        .map(utc)
        .ok_or_else(|| AppError::Validation("This subscription has no scheduled payment to pause.".into()))?;
    rules::check_pause(restart, rules::today(next), rules::today(Utc::now()))
        .map_err(|m| AppError::Validation(format!("Pause: {m}.")))?;
    let new_time = rules::at_same_time_of_day(restart, Some(next)).naive_utc();
    let new = request_for(
        &p,
        Action::Pause,
        actor,
        json!({ "summary": format!("pause until {restart}"), "restart_date": restart.to_string() }),
    );
    let id = p.id;
    send_change(ctx, &p, new, Change::Pause(restart), move |c| {
        set_dates(c, id, Some(new_time), Some(new_time))?;
        Ok(json!({ "next_bill_date": new_time.to_string(), "paused_until": new_time.to_string() }))
    })
    .await
}

/// Moves the next payment to `date` (a future day).
pub async fn change_date(
    ctx: &ServiceContext,
    actor: &Actor,
    purchase_id: i64,
    date: NaiveDate,
) -> Result<ServiceRequest, AppError> {
    let p = purchase(ctx, purchase_id).await?;
    if !p.is_running() {
        return Err(AppError::Validation(
            "Only an active subscription has a next bill date to change.".into(),
        ));
    }
    rules::check_change_date(date, rules::today(Utc::now()))
        .map_err(|m| AppError::Validation(format!("Next bill date: {m}.")))?;
    change_to(
        ctx,
        actor,
        &p,
        date,
        Action::ChangeDate,
        format!("next bill date {date}"),
    )
    .await
}

async fn change_to(
    ctx: &ServiceContext,
    actor: &Actor,
    p: &PurchaseRow,
    date: NaiveDate,
    action: Action,
    summary: String,
) -> Result<ServiceRequest, AppError> {
    let new_time = rules::at_same_time_of_day(date, p.next_bill_date.map(utc)).naive_utc();
    let new = request_for(
        p,
        action,
        actor,
        json!({ "summary": summary, "date": date.to_string() }),
    );
    let id = p.id;
    send_change(ctx, p, new, Change::NextBill(date), move |c| {
        set_dates(c, id, Some(new_time), None)?;
        Ok(json!({ "next_bill_date": new_time.to_string(), "paused_until": null }))
    })
    .await
}

/// Resumes a subscription: a cancelled one through `reinstate` (within 60 days of the
/// cancellation), a paused one early through `changeDate` to `date`.
pub async fn resume(
    ctx: &ServiceContext,
    actor: &Actor,
    purchase_id: i64,
    date: Option<NaiveDate>,
) -> Result<ServiceRequest, AppError> {
    let p = purchase(ctx, purchase_id).await?;
    let now = crate::domain::now();
    if p.is_paused(now) {
        let date =
            date.ok_or_else(|| AppError::Validation("Choose the day billing should restart.".into()))?;
        rules::check_change_date(date, rules::today(Utc::now()))
            .map_err(|m| AppError::Validation(format!("Resume: {m}.")))?;
        if let Some(until) = p.paused_until {
            if date >= rules::today(utc(until)) {
                return Err(AppError::Validation(format!(
                    "Resume early means a day before the planned restart ({}).",
                    rules::today(utc(until))
                )));
            }
        }
        return change_to(ctx, actor, &p, date, Action::Resume, format!("resume on {date}")).await;
    }
    if p.status != PurchaseStatus::Cancelled {
        return Err(AppError::Validation(
            "Only a paused or cancelled subscription can be resumed.".into(),
        ));
    }
    rules::check_reinstate(p.cancelled_at.map(utc), Utc::now())
        .map_err(|m| AppError::Validation(format!("Resume: {m}.")))?;
    let new = request_for(&p, Action::Resume, actor, json!({ "summary": "reinstate" }));
    let id = p.id;
    send_change(ctx, &p, new, Change::Reinstate, move |c| {
        diesel::update(purchases::table.find(id))
            .set((
                purchases::status.eq(PurchaseStatus::Active),
                purchases::cancelled_at.eq(None::<chrono::NaiveDateTime>),
                purchases::updated_at.eq(crate::domain::now()),
            ))
            .execute(c)?;
        Ok(json!({ "status": PurchaseStatus::Active.as_str() }))
    })
    .await
}

fn set_dates(
    c: &mut DbConn,
    id: i64,
    next: Option<chrono::NaiveDateTime>,
    paused_until: Option<chrono::NaiveDateTime>,
) -> Result<(), AppError> {
    diesel::update(purchases::table.find(id))
        .set((
            purchases::next_bill_date.eq(next),
            purchases::paused_until.eq(paused_until),
            purchases::updated_at.eq(crate::domain::now()),
        ))
        .execute(c)?;
    Ok(())
}

//! What staff ask ClickBank for from a customer's profile: refunds (with ClickBank's preview
//! of what the customer gets back), cancellations, pause, resume and next-bill-date changes.
//!
//! Every action checks ClickBank's rules first (so the form answers without a round trip),
//! takes the request's key (`requests::begin`, so a double click never sends twice),
//! calls ClickBank, then records ClickBank's answer verbatim and writes the audit log.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde_json::{json, Value};
use std::sync::Arc;

use super::customers::{self, OrderItemView, OrderRowView, PurchaseRow};
use super::requests::{self, Action, Begun, NewRequest, ServiceRequest};
use crate::clickbank::requests::reasons;
use crate::clickbank::rules;
use crate::clickbank::{
    format_minor, parse_minor, Amount, ClickBankApi, ClickBankError, RefundKind, TicketRequest, TicketType,
};
use crate::db::schema::purchases;
use crate::db::{Database, DbConn};
use crate::domain::{plugins, Actor};
use crate::error::AppError;
use crate::secrets::SecretBox;

/// What the actions need: the database and a way to reach the plugin's ClickBank account.
#[derive(Clone)]
pub struct ServiceContext {
    pub db: Database,
    pub secrets: SecretBox,
    pub api_base: String,
}

impl ServiceContext {
    async fn api(&self, plugin_id: i64) -> Result<Arc<dyn ClickBankApi>, AppError> {
        let secrets = self.secrets.clone();
        let keys = self
            .db
            .read(move |c| {
                let p = plugins::find(c, plugin_id)?;
                plugins::keys(&p, &secrets)
            })
            .await?;
        plugins::client_for(&keys, &self.api_base)
    }
}

/// The refund form as typed.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct RefundInput {
    /// `FULL`, `PARTIAL_PERCENT` or `PARTIAL_AMOUNT`.
    #[serde(default)]
    pub refund_type: String,
    /// Percent (1..80) or amount in the order's currency.
    #[serde(default)]
    pub amount: String,
    #[serde(default)]
    pub reason: String,
    /// One line item of a multi-item order, or empty for the whole order.
    #[serde(default)]
    pub sku: String,
    #[serde(default)]
    pub comment: String,
}

/// A refund that passed our checks.
#[derive(Debug, Clone)]
pub struct ValidRefund {
    pub kind: RefundKind,
    pub reason: String,
    pub sku: Option<String>,
    pub comment: Option<String>,
    /// "Full refund", "25% refund", "10.00 USD refund".
    pub summary: String,
}

impl ValidRefund {
    fn ticket(&self) -> TicketRequest {
        let mut t = TicketRequest::refund(self.kind.clone(), self.reason.clone());
        t.sku = self.sku.clone();
        t.comment = self.comment.clone();
        t
    }
}

/// Checks the refund form against the order before anything is sent.
pub fn validate_refund(
    order: &OrderRowView,
    items: &[OrderItemView],
    input: &RefundInput,
) -> Result<ValidRefund, AppError> {
    let bad = |m: String| Err(AppError::Validation(m));
    if order.refundable_minor() == 0 {
        return bad(format!(
            "Order {} has been refunded in full already.",
            order.receipt
        ));
    }
    if !reasons::REFUND_CHOICES.iter().any(|(c, _)| *c == input.reason) {
        return bad("Choose a refund reason.".into());
    }
    let sku = Some(input.sku.trim().to_string()).filter(|s| !s.is_empty());
    if let Some(s) = &sku {
        if !items.iter().any(|i| i.item_no.eq_ignore_ascii_case(s)) {
            return bad(format!("Order {} has no item {s}.", order.receipt));
        }
    }
    let amount = input.amount.trim();
    let (kind, summary) = match input.refund_type.as_str() {
        "FULL" => (RefundKind::Full, "Full refund".to_string()),
        "PARTIAL_PERCENT" => {
            let pct: u8 = amount
                .trim_end_matches('%')
                .trim()
                .parse()
                .ok()
                .filter(|p| (1..=80).contains(p))
                .ok_or_else(|| {
                    AppError::Validation("A partial refund percentage is a whole number from 1 to 80.".into())
                })?;
            (RefundKind::PartialPercent(pct), format!("{pct}% refund"))
        }
        "PARTIAL_AMOUNT" => {
            let minor = parse_minor(amount, &order.currency).map_err(|e| {
                AppError::Validation(format!("The amount is not a {} amount: {e}.", order.currency))
            })?;
            if minor <= 0 {
                return bad("A partial refund amount must be more than zero.".into());
            }
            if minor > order.refundable_minor() {
                return bad(format!(
                    "At most {} {} can still be refunded on this order.",
                    order.refundable(),
                    order.currency
                ));
            }
            let a = Amount::from_minor(minor, &order.currency);
            let summary = format!("{} {} refund", a.as_str(), order.currency);
            (RefundKind::PartialAmount(a), summary)
        }
        _ => return bad("Choose full, partial amount or partial percent.".into()),
    };
    let comment = Some(input.comment.trim().to_string()).filter(|c| !c.is_empty());
    Ok(ValidRefund {
        kind,
        reason: input.reason.clone(),
        sku,
        comment,
        summary,
    })
}

/// What ClickBank says the customer would get back.
#[derive(Debug, Clone)]
pub struct RefundPreview {
    pub currency: String,
    pub subtotal: String,
    pub tax: String,
    pub shipping: String,
    pub total: String,
}

/// ClickBank's own words for a refusal (its plain-text body), or our description of the
/// failure when there was no answer.
fn clickbank_words(e: &ClickBankError) -> String {
    match e {
        ClickBankError::Forbidden { text }
        | ClickBankError::BadRequest { text }
        | ClickBankError::RateLimited { text } => text.trim().to_string(),
        other => other.to_string(),
    }
}

/// True when ClickBank may have acted without us hearing the answer.
fn answer_lost(e: &ClickBankError) -> bool {
    matches!(
        e,
        ClickBankError::Timeout | ClickBankError::Connection { .. } | ClickBankError::Status { .. }
    )
}

async fn load<T, F>(db: &Database, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
{
    db.read(f).await
}

/// The order and its items.
pub async fn order_with_items(
    ctx: &ServiceContext,
    order_id: i64,
) -> Result<(OrderRowView, Vec<OrderItemView>), AppError> {
    load(&ctx.db, move |c| {
        let o = customers::order(c, order_id)?;
        let items = customers::items_of(c, &[order_id])?;
        Ok((o, items))
    })
    .await
}

/// Validates the form and asks ClickBank what the refund would pay back.
pub async fn refund_preview(
    ctx: &ServiceContext,
    order_id: i64,
    input: &RefundInput,
) -> Result<(ValidRefund, RefundPreview), AppError> {
    let (order, items) = order_with_items(ctx, order_id).await?;
    let valid = validate_refund(&order, &items, input)?;
    let api = ctx.api(order.plugin_id).await?;
    let amounts = api
        .refund_amounts(&order.receipt, &valid.kind, valid.sku.as_deref())
        .await
        .map_err(|e| AppError::Validation(format!("ClickBank: {}", clickbank_words(&e))))?;
    let currency = amounts.currency.clone().unwrap_or_else(|| order.currency.clone());
    let show = |a: &Option<Amount>| {
        a.as_ref()
            .and_then(|a| a.to_minor(&currency).ok())
            .map(|m| format_minor(m, &currency))
            .unwrap_or_else(|| format_minor(0, &currency))
    };
    Ok((
        valid,
        RefundPreview {
            subtotal: show(&amounts.subtotal),
            tax: show(&amounts.tax_amount),
            shipping: show(&amounts.shipping_amount),
            total: show(&amounts.total_amount),
            currency,
        },
    ))
}

fn busy(holder: &ServiceRequest) -> AppError {
    AppError::Conflict(format!(
        "{} — nothing new was sent to ClickBank.",
        holder.summary()
    ))
}

async fn try_begin(ctx: &ServiceContext, new: NewRequest) -> Result<Begun, AppError> {
    ctx.db.run(move |c| requests::begin(c, &new)).await
}

/// Holds the request's key. A request that a stopped portal left `sending` is settled first:
/// adopted when ClickBank has its ticket, failed otherwise.
async fn begin(
    ctx: &ServiceContext,
    api: &dyn ClickBankApi,
    new: &NewRequest,
    receipt: &str,
) -> Result<i64, AppError> {
    let holder = match try_begin(ctx, new.clone()).await? {
        Begun::Started(id) => return Ok(id),
        Begun::Busy(holder) => *holder,
    };
    if !holder.is_stale(crate::domain::now()) {
        return Err(busy(&holder));
    }
    let adopt = if new.action.opens_ticket() {
        open_ticket_of(api, receipt, new.action).await
    } else {
        None
    };
    let (id, who) = (holder.id, new.actor.clone());
    let settled = ctx
        .db
        .run(move |c| match adopt {
            Some(ticket) => requests::opened(c, &who, id, &ticket),
            None => requests::failed(
                c,
                &who,
                id,
                "The portal stopped before ClickBank answered, and ClickBank has no open ticket for it.",
            ),
        })
        .await?;
    if settled.is_live() {
        return Err(busy(&settled));
    }
    match try_begin(ctx, new.clone()).await? {
        Begun::Started(id) => Ok(id),
        Begun::Busy(h) => Err(busy(&h)),
    }
}

/// An open ticket of the action's type on `receipt`, if ClickBank has one.
async fn open_ticket_of(api: &dyn ClickBankApi, receipt: &str, action: Action) -> Option<String> {
    let want = match action {
        Action::Refund => TicketType::Refund,
        _ => TicketType::Cancel,
    };
    api.tickets_for_receipt(receipt)
        .await
        .ok()?
        .into_iter()
        .find(|t| t.is_open() && t.ticket_type.as_ref() == Some(&want))
        .map(|t| t.ticket_id)
}

/// Opens a refund or cancel ticket and records the answer.
async fn send_ticket(
    ctx: &ServiceContext,
    new: NewRequest,
    receipt: String,
    ticket: TicketRequest,
) -> Result<ServiceRequest, AppError> {
    let api = ctx.api(new.plugin_id).await?;
    let action = new.action;
    let id = begin(ctx, api.as_ref(), &new, &receipt).await?;
    let result = api.create_ticket(&receipt, &ticket).await;
    let outcome: Result<String, String> = match result {
        Ok(t) => Ok(t.ticket_id),
        Err(e) if answer_lost(&e) => match open_ticket_of(api.as_ref(), &receipt, action).await {
            Some(t) => Ok(t),
            None => Err(clickbank_words(&e)),
        },
        Err(e) => Err(clickbank_words(&e)),
    };
    let who = new.actor;
    ctx.db
        .run(move |c| match outcome {
            Ok(ticket) => requests::opened(c, &who, id, &ticket),
            Err(words) => requests::failed(c, &who, id, &words),
        })
        .await
}

/// Asks ClickBank to refund (all or part of) an order.
pub async fn request_refund(
    ctx: &ServiceContext,
    actor: &Actor,
    order_id: i64,
    input: &RefundInput,
) -> Result<ServiceRequest, AppError> {
    let (order, items) = order_with_items(ctx, order_id).await?;
    let valid = validate_refund(&order, &items, input)?;
    let detail = json!({
        "summary": valid.summary,
        "refund_type": input.refund_type,
        "amount": input.amount.trim(),
        "reason": valid.reason,
        "reason_label": reasons::label(&valid.reason),
        "sku": valid.sku,
        "before": { "refunded": order.refunded(), "status": order.status_label() },
    });
    let new = NewRequest {
        plugin_id: order.plugin_id,
        customer_id: order.customer_id,
        order_id: order.id,
        purchase_id: None,
        action: Action::Refund,
        detail,
        actor: actor.clone(),
    };
    send_ticket(ctx, new, order.receipt.clone(), valid.ticket()).await
}

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
            p.status.to_lowercase()
        )));
    }
    if !reasons::CANCEL_CHOICES.iter().any(|(c, _)| *c == reason) {
        return Err(AppError::Validation("Choose a cancellation reason.".into()));
    }
    let ticket = TicketRequest::cancel(reason).with_sku(p.sku.clone());
    let new = request_for(
        &p,
        Action::Cancel,
        actor,
        json!({ "summary": format!("cancel {}", p.sku), "reason": reason, "reason_label": reasons::label(reason) }),
    );
    send_ticket(ctx, new, p.receipt.clone(), ticket).await
}

fn utc(t: chrono::NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// A subscription change ClickBank answers at once.
#[derive(Debug, Clone, Copy)]
enum Change {
    Pause(NaiveDate),
    NextBill(NaiveDate),
    Reinstate,
}

async fn call_change(
    api: &dyn ClickBankApi,
    receipt: &str,
    sku: &str,
    change: Change,
) -> Result<(), ClickBankError> {
    match change {
        Change::Pause(d) => api.pause(receipt, Some(sku), d).await,
        Change::NextBill(d) => api.change_date(receipt, Some(sku), d).await,
        Change::Reinstate => api.reinstate(receipt, Some(sku)).await,
    }
}

/// Sends a change, then stores what changed (`after`) with ClickBank's acceptance.
async fn send_change<A>(
    ctx: &ServiceContext,
    p: &PurchaseRow,
    new: NewRequest,
    change: Change,
    after: A,
) -> Result<ServiceRequest, AppError>
where
    A: FnOnce(&mut DbConn) -> Result<Value, AppError> + Send + 'static,
{
    let api = ctx.api(new.plugin_id).await?;
    let id = begin(ctx, api.as_ref(), &new, &p.receipt).await?;
    let result = call_change(api.as_ref(), &p.receipt, &p.sku, change).await;
    let who = new.actor;
    ctx.db
        .run(move |c| match result {
            Ok(()) => requests::answered(c, &who, id, after),
            Err(e) => requests::failed(c, &who, id, &clickbank_words(&e)),
        })
        .await
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
    if p.status != "CANCELLED" {
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
                purchases::status.eq("ACTIVE"),
                purchases::cancelled_at.eq(None::<chrono::NaiveDateTime>),
                purchases::updated_at.eq(crate::domain::now()),
            ))
            .execute(c)?;
        Ok(json!({ "status": "ACTIVE" }))
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

/// Asks ClickBank about an open request's ticket. A ticket ClickBank closed without the RFND
/// or CANCEL-REBILL arriving frees the request (staff can then ask again); an open one stays.
pub async fn check_ticket(
    ctx: &ServiceContext,
    actor: &Actor,
    request_id: i64,
) -> Result<ServiceRequest, AppError> {
    let req = load(&ctx.db, move |c| requests::find(c, request_id)).await?;
    let ticket_id = match (&req.ticket_id, req.status.as_str()) {
        (Some(t), "open") => t.clone(),
        _ => return Ok(req),
    };
    let api = ctx.api(req.plugin_id).await?;
    let ticket = api
        .ticket(&ticket_id)
        .await
        .map_err(|e| AppError::Validation(format!("ClickBank: {}", clickbank_words(&e))))?;
    if ticket.is_open() {
        return Ok(req);
    }
    let who = actor.clone();
    ctx.db
        .run(move |c| requests::closed_at_clickbank(c, &who, request_id))
        .await
}

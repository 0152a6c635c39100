//! Refunds: the refund form as typed, its checks against the order, ClickBank's preview of
//! what the customer would get back, and the refund request itself.

use serde_json::json;

use super::clickbank_calls::clickbank_words;
use super::sending::send_ticket;
use super::{load, ServiceContext};
use crate::clickbank::requests::reasons;
use crate::clickbank::{parse_minor, Amount, RefundKind, TicketRequest};
use crate::domain::clickbank_budget::Purpose;
use crate::domain::customer_service::customers::{self, OrderItemView, OrderRowView};
use crate::domain::customer_service::reason_labels::{self, ReasonKind};
use crate::domain::customer_service::requests::{Action, NewRequest, ServiceRequest};
use crate::domain::Actor;
use crate::error::AppError;

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
    if !reasons::REFUND_CODES.contains(&input.reason.as_str()) {
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
                    "At most {} can still be refunded on this order.",
                    crate::clickbank::money::display(order.refundable_minor(), &order.currency)
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

/// What ClickBank says the customer would get back, as the page shows amounts (`money::display`).
#[derive(Debug, Clone)]
pub struct RefundPreview {
    pub currency: String,
    pub subtotal: String,
    pub tax: String,
    pub shipping: String,
    pub total: String,
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
    let api = ctx.clickbank(order.plugin_id).await?;
    let amounts = api
        .refund_amounts(&order.receipt, &valid.kind, valid.sku.as_deref())
        .await;
    ctx.count_sent(order.plugin_id, Purpose::Action, api.as_ref())
        .await;
    let amounts = amounts.map_err(|e| AppError::Validation(format!("ClickBank: {}", clickbank_words(&e))))?;
    let currency = amounts.currency.clone().unwrap_or_else(|| order.currency.clone());
    let show = |a: &Option<Amount>| {
        a.as_ref()
            .and_then(|a| a.to_minor(&currency).ok())
            .map(|m| crate::clickbank::money::display(m, &currency))
            .unwrap_or_else(|| crate::clickbank::money::display(0, &currency))
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

/// Asks ClickBank to refund (all or part of) an order.
pub async fn request_refund(
    ctx: &ServiceContext,
    actor: &Actor,
    order_id: i64,
    input: &RefundInput,
) -> Result<ServiceRequest, AppError> {
    let (order, items) = order_with_items(ctx, order_id).await?;
    let valid = validate_refund(&order, &items, input)?;
    let code = valid.reason.clone();
    let reason_label = load(&ctx.db, move |c| {
        reason_labels::label(c, ReasonKind::Refund, &code)
    })
    .await?;
    let detail = json!({
        "summary": valid.summary,
        "refund_type": input.refund_type,
        "amount": input.amount.trim(),
        "reason": valid.reason,
        "reason_label": reason_label,
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

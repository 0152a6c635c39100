//! Sending one request to ClickBank: holding the request's key (settling a request a stopped
//! portal left `sending`), calling ClickBank, and recording its answer — a ticket opened, a
//! change accepted, or ClickBank's words for a refusal.

use serde_json::Value;

use super::clickbank_calls::{answer_lost, call_change, clickbank_words, open_ticket_of, Change};
use super::ServiceContext;
use crate::clickbank::{ClickBankApi, TicketRequest};
use crate::db::DbConn;
use crate::domain::clickbank_budget::Purpose;
use crate::domain::customer_service::customers::PurchaseRow;
use crate::domain::customer_service::requests::{self, Begun, NewRequest, ServiceRequest};
use crate::error::AppError;

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

/// Opens a refund or cancel ticket and records the answer.
pub(super) async fn send_ticket(
    ctx: &ServiceContext,
    new: NewRequest,
    receipt: String,
    ticket: TicketRequest,
) -> Result<ServiceRequest, AppError> {
    let api = ctx.clickbank(new.plugin_id).await?;
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
    ctx.count_sent(new.plugin_id, Purpose::Action, api.as_ref()).await;
    let who = new.actor;
    ctx.db
        .run(move |c| match outcome {
            Ok(ticket) => requests::opened(c, &who, id, &ticket),
            Err(words) => requests::failed(c, &who, id, &words),
        })
        .await
}

/// Sends a change, then stores what changed (`after`) with ClickBank's acceptance.
pub(super) async fn send_change<A>(
    ctx: &ServiceContext,
    p: &PurchaseRow,
    new: NewRequest,
    change: Change,
    after: A,
) -> Result<ServiceRequest, AppError>
where
    A: FnOnce(&mut DbConn) -> Result<Value, AppError> + Send + 'static,
{
    let api = ctx.clickbank(new.plugin_id).await?;
    let id = begin(ctx, api.as_ref(), &new, &p.receipt).await?;
    let result = call_change(api.as_ref(), &p.receipt, &p.sku, change).await;
    ctx.count_sent(new.plugin_id, Purpose::Action, api.as_ref()).await;
    let who = new.actor;
    ctx.db
        .run(move |c| match result {
            Ok(()) => requests::answered(c, &who, id, after),
            Err(e) => requests::failed(c, &who, id, &clickbank_words(&e)),
        })
        .await
}

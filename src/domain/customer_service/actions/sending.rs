//! Sending one request to ClickBank: holding the request's key (settling a request a stopped
//! portal left `sending`), calling ClickBank, and recording its answer — a ticket opened, a
//! change accepted, or ClickBank's words for a refusal.

use diesel::prelude::*;
use serde_json::Value;

use super::clickbank_calls::{answer_lost, call_change, clickbank_words, open_ticket_of, Change};
use super::ServiceContext;
use crate::clickbank::{rules, ClickBankApi, TicketRequest};
use crate::db::models::PurchaseStatus;
use crate::db::schema::purchases;
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
    let (who, purchase) = (new.actor, new.purchase_id);
    ctx.db
        .run(move |c| match outcome {
            Ok(ticket) => requests::opened(c, &who, id, &ticket),
            Err(words) => refused(c, &who, id, purchase, &words),
        })
        .await
}

/// Records ClickBank's refusal; when it says the subscription is cancelled already, the
/// purchase is marked so (the Cancel button goes, the page says why).
fn refused(
    c: &mut DbConn,
    who: &crate::domain::Actor,
    id: i64,
    purchase: Option<i64>,
    words: &str,
) -> Result<ServiceRequest, AppError> {
    match purchase.filter(|_| rules::says_already_cancelled(words)) {
        Some(p) => c.transaction(|c| {
            cancelled_at_clickbank(c, p)?;
            let words = format!("{words}: it is marked cancelled here, as ClickBank has it");
            requests::failed(c, who, id, &words)
        }),
        None => requests::failed(c, who, id, words),
    }
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
    let (who, purchase) = (new.actor, new.purchase_id);
    ctx.db
        .run(move |c| match result {
            Ok(()) => requests::answered(c, &who, id, after),
            Err(e) => refused(c, &who, id, purchase, &clickbank_words(&e)),
        })
        .await
}

/// ClickBank said the subscription is cancelled already: it is, from now (ClickBank's word,
/// stamped like a state read from ClickBank, so a later event still decides).
fn cancelled_at_clickbank(conn: &mut DbConn, purchase_id: i64) -> Result<(), AppError> {
    let now = crate::domain::now();
    let at = now - chrono::Duration::seconds(rules::READ_MARGIN_SECS);
    let newer = purchases::state_at
        .is_null()
        .or(purchases::state_at.lt(at))
        .or(purchases::state_at
            .eq(at)
            .and(purchases::state_rank.le(rules::READ_RANK)));
    diesel::update(purchases::table.find(purchase_id).filter(newer))
        .set((
            purchases::status.eq(PurchaseStatus::Cancelled),
            purchases::cancelled_at.eq(Some(now)),
            purchases::pending_request.eq(None::<String>),
            purchases::state_at.eq(Some(at)),
            purchases::state_rank.eq(rules::READ_RANK),
            purchases::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

//! Following up an open request: asking ClickBank about its ticket, and freeing the request
//! when ClickBank closed the ticket without acting on it.

use super::clickbank_calls::clickbank_words;
use super::{load, ServiceContext};
use crate::domain::clickbank_budget::Purpose;
use crate::domain::customer_service::requests::{self, RequestStatus, ServiceRequest};
use crate::domain::Actor;
use crate::error::AppError;

/// Asks ClickBank about an open request's ticket. A ticket ClickBank closed without the RFND
/// or CANCEL-REBILL arriving frees the request (staff can then ask again); an open one stays.
pub async fn check_ticket(
    ctx: &ServiceContext,
    actor: &Actor,
    request_id: i64,
) -> Result<ServiceRequest, AppError> {
    let req = load(&ctx.db, move |c| requests::find(c, request_id)).await?;
    let ticket_id = match (&req.ticket_id, req.status) {
        (Some(t), RequestStatus::Open) => t.clone(),
        _ => return Ok(req),
    };
    let api = ctx.clickbank(req.plugin_id).await?;
    let ticket = api.ticket(&ticket_id).await;
    ctx.count_sent(req.plugin_id, Purpose::Action, api.as_ref()).await;
    let ticket = ticket.map_err(|e| AppError::Validation(format!("ClickBank: {}", clickbank_words(&e))))?;
    if ticket.is_open() {
        return Ok(req);
    }
    let who = actor.clone();
    ctx.db
        .run(move |c| requests::closed_at_clickbank(c, &who, request_id))
        .await
}

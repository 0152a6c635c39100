//! Reading the bodies of ClickBank's ticket and product answers, which come wrapped,
//! bare, as one object or as a list.

use serde::Deserialize;

use super::decode_err;
use crate::clickbank::error::ClickBankError;
use crate::clickbank::quirks::{one_or_many, opt_object};
use crate::clickbank::types::{Product, RefundAmounts, Ticket};

#[derive(Deserialize)]
struct TicketsBody {
    #[serde(
        rename = "ticketData",
        alias = "ticket",
        alias = "tickets",
        default,
        deserialize_with = "one_or_many"
    )]
    tickets: Vec<Ticket>,
}

pub(super) fn parse_tickets(body: &[u8]) -> Result<Vec<Ticket>, ClickBankError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let wrapped: TicketsBody = serde_json::from_slice(body).map_err(decode_err)?;
    if !wrapped.tickets.is_empty() {
        return Ok(wrapped.tickets);
    }
    // A bare ticket object.
    match serde_json::from_slice::<Ticket>(body) {
        Ok(t) => Ok(vec![t]),
        Err(_) => Ok(Vec::new()),
    }
}

pub(super) fn parse_one_ticket(body: &[u8]) -> Result<Ticket, ClickBankError> {
    parse_tickets(body)?
        .into_iter()
        .next()
        .ok_or_else(|| decode_err("the answer holds no ticket"))
}

#[derive(Deserialize)]
pub(super) struct ProductBody {
    #[serde(default, deserialize_with = "opt_object")]
    pub(super) product: Option<Product>,
}

#[derive(Deserialize)]
pub(super) struct RefundAmountsBody {
    #[serde(rename = "refundAmounts", default, deserialize_with = "opt_object")]
    pub(super) refund_amounts: Option<RefundAmounts>,
}

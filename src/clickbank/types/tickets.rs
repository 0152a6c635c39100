//! Tickets: refund, cancel and tech-support tickets and refund previews.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clickbank::money::Amount;
use crate::clickbank::quirks::{
    one_or_many, opt_amount, opt_enum, opt_string, opt_time, string, string_enum,
};

string_enum! {
    /// Ticket state.
    pub enum TicketStatus {
        Open = "OPEN",
        Reopened = "REOPENED",
        Closed = "CLOSED",
    }
}

string_enum! {
    /// Ticket kind.
    pub enum TicketType {
        Refund = "REFUND",
        Cancel = "CANCEL",
        TechSupport = "TECH_SUPPORT",
    }
}

string_enum! {
    /// How much of an order a refund pays back (case-sensitive on the wire).
    pub enum RefundType {
        Full = "FULL",
        PartialPercent = "PARTIAL_PERCENT",
        PartialAmount = "PARTIAL_AMOUNT",
    }
}

/// A comment on a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TicketComment {
    /// Id.
    #[serde(default, deserialize_with = "opt_string")]
    pub comment_id: Option<String>,
    /// When.
    #[serde(default, deserialize_with = "opt_time")]
    pub date: Option<DateTime<Utc>>,
    /// Text.
    #[serde(default, deserialize_with = "opt_string")]
    pub comment: Option<String>,
    /// Action that added it.
    #[serde(default, deserialize_with = "opt_string")]
    pub action: Option<String>,
    /// Who wrote it.
    #[serde(default, deserialize_with = "opt_string")]
    pub comment_role: Option<String>,
}

/// A ClickBank support ticket (refund, cancel, tech support).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    /// Ticket id.
    #[serde(alias = "ticketid", deserialize_with = "string")]
    pub ticket_id: String,
    /// Receipt.
    #[serde(default, deserialize_with = "opt_string")]
    pub receipt: Option<String>,
    /// OPEN / REOPENED / CLOSED.
    #[serde(default, deserialize_with = "opt_enum")]
    pub status: Option<TicketStatus>,
    /// REFUND / CANCEL / TECH_SUPPORT.
    #[serde(rename = "type", default, deserialize_with = "opt_enum")]
    pub ticket_type: Option<TicketType>,
    /// Opened.
    #[serde(default, deserialize_with = "opt_time")]
    pub opened_date: Option<DateTime<Utc>>,
    /// Closed.
    #[serde(default, deserialize_with = "opt_time")]
    pub closed_date: Option<DateTime<Utc>>,
    /// Description / reason.
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
    /// Refund type of a refund ticket.
    #[serde(default, deserialize_with = "opt_enum")]
    pub refund_type: Option<RefundType>,
    /// Money the refund pays back, in the order's currency.
    #[serde(default, deserialize_with = "opt_amount")]
    pub refund_amount: Option<Amount>,
    /// SKU the ticket is about.
    #[serde(default, deserialize_with = "opt_string")]
    pub product_item_no: Option<String>,
    /// Customer first name.
    #[serde(default, deserialize_with = "opt_string")]
    pub customer_first_name: Option<String>,
    /// Customer last name.
    #[serde(default, deserialize_with = "opt_string")]
    pub customer_last_name: Option<String>,
    /// Customer email.
    #[serde(default, deserialize_with = "opt_string")]
    pub email: Option<String>,
    /// Last update.
    #[serde(default, deserialize_with = "opt_time")]
    pub update_time: Option<DateTime<Utc>>,
    /// Comments.
    #[serde(default, deserialize_with = "one_or_many")]
    pub comments: Vec<TicketComment>,
}

impl Ticket {
    /// OPEN or REOPENED.
    pub fn is_open(&self) -> bool {
        matches!(
            self.status,
            Some(TicketStatus::Open) | Some(TicketStatus::Reopened)
        )
    }
}

/// What a refund would pay back (`tickets/refundAmounts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RefundAmounts {
    /// Currency of the amounts.
    #[serde(default, deserialize_with = "opt_string")]
    pub currency: Option<String>,
    /// Refund type the preview was made for.
    #[serde(default, deserialize_with = "opt_enum")]
    pub refund_type: Option<RefundType>,
    /// Product part.
    #[serde(default, deserialize_with = "opt_amount")]
    pub subtotal: Option<Amount>,
    /// Tax part.
    #[serde(default, deserialize_with = "opt_amount")]
    pub tax_amount: Option<Amount>,
    /// Shipping part.
    #[serde(default, deserialize_with = "opt_amount")]
    pub shipping_amount: Option<Amount>,
    /// Total paid back.
    #[serde(default, deserialize_with = "opt_amount")]
    pub total_amount: Option<Amount>,
}

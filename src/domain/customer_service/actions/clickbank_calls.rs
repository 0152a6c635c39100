//! The ClickBank calls the actions make beyond opening a ticket (finding an open ticket on a
//! receipt, the subscription changes ClickBank answers at once) and how a failed call reads:
//! ClickBank's own words, and whether its answer may have been lost.

use chrono::NaiveDate;

use crate::clickbank::{AddressChange, ClickBankApi, ClickBankError, TicketType};
use crate::domain::customer_service::requests::Action;

/// ClickBank's own words for a refusal (its plain-text body), or our description of the
/// failure when there was no answer.
pub(super) fn clickbank_words(e: &ClickBankError) -> String {
    match e {
        ClickBankError::Forbidden { text }
        | ClickBankError::BadRequest { text }
        | ClickBankError::RateLimited { text } => text.trim().to_string(),
        other => other.to_string(),
    }
}

/// True when ClickBank may have acted without us hearing the answer.
pub(super) fn answer_lost(e: &ClickBankError) -> bool {
    matches!(
        e,
        ClickBankError::Timeout | ClickBankError::Connection { .. } | ClickBankError::Status { .. }
    )
}

/// An open ticket of the action's type on `receipt`, if ClickBank has one.
pub(super) async fn open_ticket_of(api: &dyn ClickBankApi, receipt: &str, action: Action) -> Option<String> {
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

/// A subscription change ClickBank answers at once.
#[derive(Debug, Clone)]
pub(super) enum Change {
    Pause(NaiveDate),
    NextBill(NaiveDate),
    Reinstate,
    /// The receipt's shipping address (for every subscription of the receipt).
    Address(Box<AddressChange>),
}

pub(super) async fn call_change(
    api: &dyn ClickBankApi,
    receipt: &str,
    sku: &str,
    change: Change,
) -> Result<(), ClickBankError> {
    match change {
        Change::Pause(d) => api.pause(receipt, Some(sku), d).await,
        Change::NextBill(d) => api.change_date(receipt, Some(sku), d).await,
        Change::Reinstate => api.reinstate(receipt, Some(sku)).await,
        Change::Address(a) => api.change_address(receipt, &a).await,
    }
}

//! What staff ask ClickBank for from a customer's profile: refunds (with ClickBank's preview
//! of what the customer gets back), cancellations, pause, resume and next-bill-date changes.
//!
//! Every action checks ClickBank's rules first (so the form answers without a round trip),
//! takes the request's key (`requests::begin`, so a double click never sends twice),
//! calls ClickBank, then records ClickBank's answer verbatim and writes the audit log.
//!
//! Here: [`ServiceContext`], what every action needs. Submodules, each using only those listed
//! before it: `clickbank_calls` (the ClickBank calls and how their failures read; a leaf),
//! `sending` (taking the request's key, calling ClickBank, recording its answer), `refunds`
//! (the refund form, its checks, ClickBank's preview and the refund request), `subscriptions`
//! (cancel, pause, resume and next-bill-date changes of a purchase), `ticket_check`
//! (asking ClickBank about an open request's ticket) and `addresses` (the saved shipping
//! address sent to the customer's subscriptions, `changeAddress`).

mod addresses;
mod clickbank_calls;
mod refunds;
mod sending;
mod subscriptions;
mod ticket_check;

pub use addresses::{send_address, subscriptions_that_ship, AddressSent};
pub use refunds::{
    order_with_items, refund_preview, request_refund, validate_refund, RefundInput, RefundPreview,
    ValidRefund,
};
pub use subscriptions::{change_date, pause, request_cancel, resume};
pub use ticket_check::check_ticket;

use crate::db::{Database, DbConn};
use crate::domain::context::JobContext;
use crate::error::AppError;

/// What the actions need: the database and a way to reach the plugin's ClickBank account.
pub type ServiceContext = JobContext;

async fn load<T, F>(db: &Database, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
{
    db.read(f).await
}

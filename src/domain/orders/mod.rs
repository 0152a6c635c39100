//! The one domain function that turns a ClickBank event into CRM records. Instant
//! Notifications and the orders-list import both build an [`OrderEvent`] and call
//! [`apply`], so the same sale seen twice — in either order of arrival — is one order.
//!
//! Idempotency: every applied event's key (plugin, receipt, type, time, items) is stored in
//! `applied_events`; a key seen again changes nothing. Events that need an order which has not
//! arrived yet (an RFND before its SALE) wait in `pending_events` and are applied right after
//! the SALE, in the same transaction.
//!
//! Submodules, each using only those listed before it: `event` (the event types, their
//! reading from INS and from the orders list, their key; a leaf), `existing` (the order an
//! event is about), `placement` (its campaign and products), `writes` (look-ups and rows a
//! transaction's events share), `sale`, `changes` (what later events change), `apply` (the
//! engine that picks one of them).

mod apply;
mod changes;
pub mod event;
mod existing;
pub use existing::order_and_customer;
mod placement;
mod sale;
mod writes;

pub use apply::{apply, apply_unguarded, apply_with};
pub use event::{OrderEvent, Outcome, READ_MARGIN_SECS, READ_RANK};
pub use placement::product_for;
pub use writes::LookupsAndWrites;

//! Typed ClickBank records, tolerant of every quirk in `clickbank-api.md`.

//!
//! One module per resource; everything is re-exported here, so callers name
//! `clickbank::types::X` (or `clickbank::X`).

mod event;
mod orders;
mod products;
mod subscriptions;
mod tickets;

pub use event::{EventKey, TransactionType};
pub use orders::{
    minor_or_zero, parse_orders, ContactField, LineItem, LineItemType, OrderRecord, OrdersPage,
    RefundableState, Role,
};
pub use products::{
    parse_products, PhysicalPricing, Price, Pricing, Product, ProductStatus, ProductsPage, RecurringPricing,
    StandardPricing,
};
pub use subscriptions::{Frequency, LineItemStatus, SubscriptionStatus};
pub use tickets::{RefundAmounts, RefundType, Ticket, TicketComment, TicketStatus, TicketType};

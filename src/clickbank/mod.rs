//! Everything the portal knows about ClickBank: REST client, tolerant types, INS codec
//! and the ClickBank sandbox. No database code lives here.

pub mod api;
pub mod client;
pub mod error;
pub mod ins;
pub mod money;
pub mod quirks;
pub mod requests;
pub mod time;
pub mod types;

pub use api::{fetch_all_orders, fetch_all_products, ApiFuture, ClickBankApi, OrderPages};
pub use client::{ClickBankClient, ClientConfig, ClientStats, RetryPolicy, DEFAULT_BASE_URL};
pub use error::ClickBankError;
pub use money::{format_minor, parse_minor, Amount, MoneyError};
pub use requests::{
    AddressChange, OrdersQuery, ProductChange, ProductKind, ProductsQuery, RefundKind, ShipNotice,
    TicketKind, TicketRequest,
};
pub use types::*;

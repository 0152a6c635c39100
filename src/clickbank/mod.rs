//! Everything the portal knows about ClickBank: REST client behind a trait, tolerant
//! types, the INS codec and the ClickBank sandbox. No database code lives here.

pub mod api;
pub mod cli;
pub mod client;
pub mod error;
pub mod ins;
pub mod money;
pub mod quirks;
pub mod requests;
pub mod rules;
pub mod sandbox;
pub mod time;
pub mod types;

pub use api::{fetch_all_orders, fetch_all_products, ApiFuture, ClickBankApi, OrderPages};
pub use cli::{decrypt_ins_to_pretty_json, run_sandbox, SandboxArgs};
pub use client::{
    shared_client, shared_client_with, ClickBankClient, ClientConfig, ClientStats, Limiter, Limiters,
    RetryPolicy, DEFAULT_BASE_URL,
};
pub use error::ClickBankError;
pub use ins::{InsDecoder, InsEncoder, InsError, Notification};
pub use money::{format_minor, parse_minor, Amount, MoneyError};
pub use requests::{
    AddressChange, OrdersQuery, ProductChange, ProductKind, ProductsQuery, RefundKind, ShipNotice,
    TicketKind, TicketRequest,
};
pub use sandbox::{Sandbox, SandboxConfig, SandboxHandle};
pub use types::*;

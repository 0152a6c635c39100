//! A local ClickBank for demos and tests: REST API with ClickBank's quirks, a
//! deterministic dataset, tickets that turn into refunds and cancellations, and an INS
//! sender that encrypts like ClickBank.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use merchant_crm::clickbank::sandbox::{Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig { orders: 500, ..SandboxConfig::default() })?;
//! println!("ClickBank API at {}", sandbox.base_url());
//! # Ok(()) }
//! ```

pub(crate) mod catalog;
mod config;
mod dataset;
mod delivery;
mod faults;
mod ins_hooks;
mod live;
mod model;
mod render;
mod runner;
mod server;
mod state;
mod subscriptions;
mod switches;
mod tickets;
mod truth;

pub use catalog::CURRENCIES;
pub use config::SandboxConfig;
pub use ins_hooks::{SandboxError, SandboxEvent};
pub use model::RecordedShipNotice;
pub use runner::{Sandbox, SandboxHandle};
pub use state::DeliveryRecord;
pub use truth::{
    TruthAddress, TruthItem, TruthProduct, TruthSubscription, TruthSummary, TruthTransaction, TypeTotals,
};

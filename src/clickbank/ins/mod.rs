//! ClickBank Instant Notifications: decrypt, parse, encrypt (v6/v7/v8) and legacy cverify.

mod decrypt;
mod encrypt;
mod error;
pub mod legacy;
mod notification;

pub use decrypt::{decrypt_ins_to_pretty_json, derive_key, InsDecoder};
pub use encrypt::{clickbank_iv, encrypt_notification, InsEncoder};
pub use error::InsError;
pub use notification::{
    parse_notification, Address, Contact, Customer, InsLineItem, Notification, PaymentPlan, Upsell,
};

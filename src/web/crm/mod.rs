//! CRM: products (the ClickBank catalog with the merchant's settings) and campaigns.
//! Merchant staff and account executives alike (`Staff`).

pub mod campaigns;
pub mod products;

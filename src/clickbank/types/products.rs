//! Products: the records of `products/list` and `products/{sku}` with their pricings.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::subscriptions::Frequency;
use crate::clickbank::money::Amount;
use crate::clickbank::quirks::{
    lenient_string, one_or_many, opt_amount, opt_bool, opt_enum, opt_object, opt_string, opt_time, opt_u32,
    string, string_enum,
};

string_enum! {
    /// Product status.
    pub enum ProductStatus {
        Active = "ACTIVE",
        Inactive = "INACTIVE",
    }
}

/// A price in the product's currency and in USD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Price {
    /// Price in the pricing's currency.
    #[serde(default, deserialize_with = "opt_amount")]
    pub native_price: Option<Amount>,
    /// Price in USD.
    #[serde(default, deserialize_with = "opt_amount")]
    pub usd: Option<Amount>,
}

/// One-off price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StandardPricing {
    /// The price.
    #[serde(default, deserialize_with = "opt_object")]
    pub price: Option<Price>,
}

/// Recurring price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RecurringPricing {
    /// Rebill price.
    #[serde(default, deserialize_with = "opt_object")]
    pub price: Option<Price>,
    /// Rebill frequency.
    #[serde(default, deserialize_with = "opt_enum")]
    pub frequency: Option<Frequency>,
    /// Number of payments.
    #[serde(default, deserialize_with = "opt_u32")]
    pub duration: Option<u32>,
    /// Trial days.
    #[serde(default, deserialize_with = "opt_u32")]
    pub trial_days: Option<u32>,
}

/// Physical product pricing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PhysicalPricing {
    /// Shipping profile name.
    #[serde(default, deserialize_with = "opt_string")]
    pub shipping_profile: Option<String>,
}

/// Pricing of a product in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Pricing {
    /// Currency (`@currency`).
    #[serde(
        rename = "@currency",
        alias = "currency",
        default,
        deserialize_with = "opt_string"
    )]
    pub currency: Option<String>,
    /// One-off price.
    #[serde(default, deserialize_with = "opt_object")]
    pub standard: Option<StandardPricing>,
    /// Recurring price.
    #[serde(default, deserialize_with = "opt_object")]
    pub recurring: Option<RecurringPricing>,
    /// Physical details.
    #[serde(default, deserialize_with = "opt_object")]
    pub physical: Option<PhysicalPricing>,
}

#[derive(Deserialize)]
struct PricingList {
    #[serde(default, deserialize_with = "one_or_many")]
    pricing: Vec<Pricing>,
}

#[derive(Deserialize)]
struct CategoryList {
    #[serde(default, deserialize_with = "one_or_many")]
    category: Vec<String>,
}

fn pricings<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Pricing>, D::Error> {
    Ok(opt_object::<D, PricingList>(d)?
        .map(|l| l.pricing)
        .unwrap_or_default())
}

fn categories<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(opt_object::<D, CategoryList>(d)?
        .map(|l| l.category)
        .unwrap_or_default())
}

/// A product of `products/list` or `products/{sku}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    /// SKU (`@sku`).
    #[serde(rename = "@sku", alias = "sku", deserialize_with = "string")]
    pub sku: String,
    /// ClickBank id.
    #[serde(default, deserialize_with = "opt_string")]
    pub id: Option<String>,
    /// ACTIVE / INACTIVE.
    #[serde(default, deserialize_with = "opt_enum")]
    pub status: Option<ProductStatus>,
    /// Site nickname.
    #[serde(default, deserialize_with = "opt_string")]
    pub site: Option<String>,
    /// Created (product times look like `2019-01-31 01:35:28 PST`).
    #[serde(default, deserialize_with = "opt_time")]
    pub created: Option<DateTime<Utc>>,
    /// Updated.
    #[serde(default, deserialize_with = "opt_time")]
    pub updated: Option<DateTime<Utc>>,
    /// Digital one-off.
    #[serde(default, deserialize_with = "opt_bool")]
    pub digital: Option<bool>,
    /// Physical one-off.
    #[serde(default, deserialize_with = "opt_bool")]
    pub physical: Option<bool>,
    /// Digital recurring.
    #[serde(default, deserialize_with = "opt_bool")]
    pub digital_recurring: Option<bool>,
    /// Physical recurring.
    #[serde(default, deserialize_with = "opt_bool")]
    pub physical_recurring: Option<bool>,
    /// Language.
    #[serde(default, deserialize_with = "opt_string")]
    pub language: Option<String>,
    /// Title.
    #[serde(default, deserialize_with = "opt_string")]
    pub title: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "lenient_string")]
    pub description: Option<String>,
    /// Image reference.
    #[serde(default, deserialize_with = "lenient_string")]
    pub image: Option<String>,
    /// Categories (`categories.category`, one or many).
    #[serde(default, deserialize_with = "categories")]
    pub categories: Vec<String>,
    /// Pricings (`pricings.pricing`, one or many).
    #[serde(default, deserialize_with = "pricings")]
    pub pricings: Vec<Pricing>,
}

impl Product {
    /// Recurring (digital or physical).
    pub fn is_recurring(&self) -> bool {
        self.digital_recurring == Some(true) || self.physical_recurring == Some(true)
    }

    /// Shippable (physical one-off or recurring).
    pub fn is_physical(&self) -> bool {
        self.physical == Some(true) || self.physical_recurring == Some(true)
    }

    /// The pricing in `currency`, if any.
    pub fn pricing(&self, currency: &str) -> Option<&Pricing> {
        self.pricings.iter().find(|p| {
            p.currency
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(currency))
        })
    }

    /// The rebill frequency of the first recurring pricing.
    pub fn rebill_frequency(&self) -> Option<&Frequency> {
        self.pricings
            .iter()
            .find_map(|p| p.recurring.as_ref().and_then(|r| r.frequency.as_ref()))
    }

    /// Trial days of the first recurring pricing (0 when it has none).
    pub fn trial_days(&self) -> u32 {
        self.pricings
            .iter()
            .find_map(|p| p.recurring.as_ref().and_then(|r| r.trial_days))
            .unwrap_or(0)
    }

    /// The first pricing's initial price and its currency.
    pub fn initial_price(&self) -> Option<(&str, &Amount)> {
        self.pricings.iter().find_map(|p| {
            let currency = p.currency.as_deref()?;
            let price = p
                .standard
                .as_ref()
                .and_then(|s| s.price.as_ref())
                .or_else(|| p.recurring.as_ref().and_then(|r| r.price.as_ref()))?;
            Some((currency, price.native_price.as_ref()?))
        })
    }
}

/// One page of the products list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductsPage {
    /// The page number (1-based).
    pub page: u32,
    /// Products.
    pub products: Vec<Product>,
    /// True when more pages follow.
    pub more: bool,
}

#[derive(Deserialize)]
struct ProductList {
    #[serde(default, deserialize_with = "one_or_many")]
    product: Vec<Product>,
}

#[derive(Deserialize)]
struct ProductsBody {
    #[serde(default, deserialize_with = "opt_object")]
    products: Option<ProductList>,
}

/// Parse a products list body (`{"products":{"product": ...}}`).
pub fn parse_products(body: &[u8]) -> Result<Vec<Product>, serde_json::Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    serde_json::from_slice::<ProductsBody>(body).map(|b| b.products.map(|p| p.product).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nil_products_list() {
        assert!(parse_products(br#"{"products":{"@nil":"true"}}"#)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn products_with_single_pricing_and_category() {
        let body = br#"{"products":{"product":{"@sku":"7","status":"ACTIVE","site":"DEMO",
            "created":"2019-01-31 01:35:28 PST","digital":"true","physical":"false",
            "digitalRecurring":"false","physicalRecurring":"false","title":"Guide",
            "categories":{"category":"HEALTH"},
            "pricings":{"pricing":{"@currency":"EUR","standard":{"price":{"native_price":"29.00","usd":"31.50"}}}}}}}"#;
        let products = parse_products(body).unwrap();
        assert_eq!(products.len(), 1);
        let p = &products[0];
        assert_eq!(p.sku, "7");
        assert_eq!(p.categories, vec!["HEALTH".to_string()]);
        let (cur, price) = p.initial_price().unwrap();
        assert_eq!(cur, "EUR");
        assert_eq!(price.to_minor(cur), Ok(2900));
        assert!(!p.is_recurring());
    }
}

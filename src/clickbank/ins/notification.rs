//! The typed INS 6.0 / 7.0 / 8.0 notification.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::InsError;
use crate::clickbank::money::{Amount, MoneyError};
use crate::clickbank::quirks::{
    lenient_amount, one_or_many, opt_amount, opt_bool, opt_enum, opt_number_text, opt_object, opt_string,
    opt_time, opt_u32, string, string_map, string_or_empty, time,
};
use crate::clickbank::types::{
    minor_or_zero, EventKey, Frequency, LineItemStatus, LineItemType, Role, TransactionType,
};

/// Rebill plan of a recurring line item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PaymentPlan {
    /// ACTIVE, CANCELED, COMPLETED, ...
    #[serde(default, deserialize_with = "opt_enum")]
    pub rebill_status: Option<LineItemStatus>,
    /// MONTHLY, ...
    #[serde(default, deserialize_with = "opt_enum")]
    pub rebill_frequency: Option<Frequency>,
    /// Amount of each rebill.
    #[serde(default, deserialize_with = "opt_amount")]
    pub rebill_amount: Option<Amount>,
    /// Payments made.
    #[serde(default, deserialize_with = "opt_u32")]
    pub payments_processed: Option<u32>,
    /// Payments to come.
    #[serde(default, deserialize_with = "opt_u32")]
    pub payments_remaining: Option<u32>,
    /// Next rebill.
    #[serde(default, deserialize_with = "opt_time")]
    pub next_payment_date: Option<DateTime<Utc>>,
}

/// One line item of a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InsLineItem {
    /// SKU.
    #[serde(deserialize_with = "string")]
    pub item_no: String,
    /// Title.
    #[serde(default, deserialize_with = "opt_string")]
    pub product_title: Option<String>,
    /// Physical.
    #[serde(default, deserialize_with = "opt_bool")]
    pub shippable: Option<bool>,
    /// Recurring.
    #[serde(default, deserialize_with = "opt_bool")]
    pub recurring: Option<bool>,
    /// Vendor's share.
    #[serde(default, deserialize_with = "opt_amount")]
    pub account_amount: Option<Amount>,
    /// Quantity.
    #[serde(default, deserialize_with = "opt_u32")]
    pub quantity: Option<u32>,
    /// Download link.
    #[serde(default, deserialize_with = "opt_string")]
    pub download_url: Option<String>,
    /// ORIGINAL, BUMP, UPSELL, ...
    #[serde(default, deserialize_with = "opt_enum")]
    pub line_item_type: Option<LineItemType>,
    /// Price.
    #[serde(default, deserialize_with = "opt_amount")]
    pub product_price: Option<Amount>,
    /// Discount.
    #[serde(default, deserialize_with = "opt_amount")]
    pub product_discount: Option<Amount>,
    /// Tax.
    #[serde(default, deserialize_with = "opt_amount")]
    pub tax_amount: Option<Amount>,
    /// Shipping.
    #[serde(default, deserialize_with = "opt_amount")]
    pub shipping_amount: Option<Amount>,
    /// Vendor ships it.
    #[serde(default, deserialize_with = "opt_bool")]
    pub shipping_liable: Option<bool>,
    /// JV partner payout (tolerant: a non-amount reads as `None`).
    #[serde(default, deserialize_with = "lenient_amount")]
    pub jv_payout: Option<Amount>,
    /// Affiliate payout (tolerant).
    #[serde(default, deserialize_with = "lenient_amount")]
    pub affiliate_payout: Option<Amount>,
    /// Rebill plan of a recurring item.
    #[serde(default, deserialize_with = "opt_object")]
    pub payment_plan: Option<PaymentPlan>,
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// Line 1.
    #[serde(default, deserialize_with = "opt_string")]
    pub address1: Option<String>,
    /// Line 2.
    #[serde(default, deserialize_with = "opt_string")]
    pub address2: Option<String>,
    /// City.
    #[serde(default, deserialize_with = "opt_string")]
    pub city: Option<String>,
    /// County.
    #[serde(default, deserialize_with = "opt_string")]
    pub county: Option<String>,
    /// State / province.
    #[serde(default, deserialize_with = "opt_string")]
    pub state: Option<String>,
    /// Postal code.
    #[serde(default, deserialize_with = "opt_string")]
    pub postal_code: Option<String>,
    /// Country code.
    #[serde(default, deserialize_with = "opt_string")]
    pub country: Option<String>,
}

/// A shipping or billing contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// First name.
    #[serde(default, deserialize_with = "opt_string")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, deserialize_with = "opt_string")]
    pub last_name: Option<String>,
    /// Full name.
    #[serde(default, deserialize_with = "opt_string")]
    pub full_name: Option<String>,
    /// Phone.
    #[serde(default, deserialize_with = "opt_string")]
    pub phone_number: Option<String>,
    /// Email.
    #[serde(default, deserialize_with = "opt_string")]
    pub email: Option<String>,
    /// Address.
    #[serde(default, deserialize_with = "opt_object")]
    pub address: Option<Address>,
}

/// The customer block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Customer {
    /// Ship-to contact.
    #[serde(default, deserialize_with = "opt_object")]
    pub shipping: Option<Contact>,
    /// Bill-to contact.
    #[serde(default, deserialize_with = "opt_object")]
    pub billing: Option<Contact>,
}

/// Upsell linkage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Upsell {
    /// Receipt of the order this upsell followed.
    #[serde(default, deserialize_with = "opt_string")]
    pub upsell_original_receipt: Option<String>,
    /// Flow id.
    #[serde(default, deserialize_with = "opt_string")]
    pub upsell_flow_id: Option<String>,
    /// Session.
    #[serde(default, deserialize_with = "opt_string")]
    pub upsell_session: Option<String>,
    /// Path.
    #[serde(default, deserialize_with = "opt_string")]
    pub upsell_path: Option<String>,
}

/// A decrypted Instant Notification (6.0, 7.0 or 8.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// When it happened, in UTC (6.0 `2023-07-28T02:07:57+00:00`, 7.0 `20220810T162015-0700`).
    #[serde(deserialize_with = "time")]
    pub transaction_time: DateTime<Utc>,
    /// Receipt (`********` for the "Test URL" button; empty for abandoned orders).
    #[serde(default, deserialize_with = "string_or_empty")]
    pub receipt: String,
    /// Event type; unknown ones are kept as `Other`.
    pub transaction_type: TransactionType,
    /// Vendor nickname.
    #[serde(default, deserialize_with = "opt_string")]
    pub vendor: Option<String>,
    /// Affiliate nickname.
    #[serde(default, deserialize_with = "opt_string")]
    pub affiliate: Option<String>,
    /// VENDOR, AFFILIATE, JV_UPSELL.
    #[serde(default, deserialize_with = "opt_enum")]
    pub role: Option<Role>,
    /// Vendor's share of the order.
    #[serde(default, deserialize_with = "opt_amount")]
    pub total_account_amount: Option<Amount>,
    /// VISA, MSTR, PYPL, TEST, ...
    #[serde(default, deserialize_with = "opt_string")]
    pub payment_method: Option<String>,
    /// Order total.
    #[serde(default, deserialize_with = "opt_amount")]
    pub total_order_amount: Option<Amount>,
    /// Tax.
    #[serde(default, deserialize_with = "opt_amount")]
    pub total_tax_amount: Option<Amount>,
    /// Shipping.
    #[serde(default, deserialize_with = "opt_amount")]
    pub total_shipping_amount: Option<Amount>,
    /// Currency.
    #[serde(default, deserialize_with = "opt_string")]
    pub currency: Option<String>,
    /// Language of the order form.
    #[serde(default, deserialize_with = "opt_string")]
    pub order_language: Option<String>,
    /// Tracking codes.
    #[serde(default, deserialize_with = "one_or_many")]
    pub tracking_codes: Vec<String>,
    /// Declined consent.
    #[serde(default, deserialize_with = "opt_bool")]
    pub declined_consent: Option<bool>,
    /// INS version as written (`6.0`, `7.0`, `8.0`).
    #[serde(default, deserialize_with = "opt_number_text")]
    pub version: Option<String>,
    /// Delivery attempt (rises on retries).
    #[serde(default, deserialize_with = "opt_u32")]
    pub attempt_count: Option<u32>,
    /// Line items (usually none for ABANDONED_ORDER).
    #[serde(default, deserialize_with = "one_or_many")]
    pub line_items: Vec<InsLineItem>,
    /// Customer.
    #[serde(default, deserialize_with = "opt_object")]
    pub customer: Option<Customer>,
    /// Upsell linkage.
    #[serde(default, deserialize_with = "opt_object")]
    pub upsell: Option<Upsell>,
    /// Vendor variables (free map).
    #[serde(default, deserialize_with = "string_map")]
    pub vendor_variables: BTreeMap<String, String>,
    /// INS 8.0 affiliate tracking parameters (free map).
    #[serde(default, deserialize_with = "string_map")]
    pub affiliate_tracking_parameters: BTreeMap<String, String>,
}

impl Notification {
    /// Event keys, one per line item (one with an empty item when there are none);
    /// equal to the keys of the same transaction read from the orders list.
    pub fn event_keys(&self) -> Vec<EventKey> {
        let vendor = self.vendor.as_deref().unwrap_or("");
        let key = |item: Option<&str>| {
            EventKey::new(
                vendor,
                &self.receipt,
                &self.transaction_type,
                self.transaction_time,
                item,
            )
        };
        if self.line_items.is_empty() {
            vec![key(None)]
        } else {
            self.line_items.iter().map(|l| key(Some(&l.item_no))).collect()
        }
    }

    /// The ClickBank "Test URL" button or a test transaction.
    pub fn is_test(&self) -> bool {
        self.transaction_type.is_test()
            || (!self.receipt.is_empty() && self.receipt.chars().all(|c| c == '*'))
    }

    /// Billing contact, else shipping contact.
    pub fn contact(&self) -> Option<&Contact> {
        let c = self.customer.as_ref()?;
        c.billing.as_ref().or(c.shipping.as_ref())
    }

    /// Customer email (billing first).
    pub fn email(&self) -> Option<&str> {
        let c = self.customer.as_ref()?;
        c.billing
            .as_ref()
            .and_then(|b| b.email.as_deref())
            .or_else(|| c.shipping.as_ref().and_then(|s| s.email.as_deref()))
    }

    /// Order total in minor units of the notification's currency (0 when absent).
    pub fn total_order_minor(&self) -> Result<i64, MoneyError> {
        minor_or_zero(&self.total_order_amount, self.currency.as_deref())
    }
}

/// Parse decrypted JSON into a [`Notification`].
pub fn parse_notification(plaintext: &[u8]) -> Result<Notification, InsError> {
    serde_json::from_slice(plaintext).map_err(|e| {
        if e.is_data() {
            InsError::InvalidNotification {
                detail: e.to_string(),
            }
        } else {
            InsError::NotJson {
                detail: e.to_string(),
            }
        }
    })
}

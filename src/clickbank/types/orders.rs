//! Orders: the records of `orders2/list` and `orders2/{receipt}`, their line items and
//! the vocabularies they use.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::event::{EventKey, TransactionType};
use super::subscriptions::LineItemStatus;
use crate::clickbank::money::{Amount, MoneyError};
use crate::clickbank::quirks::{
    one_or_many, opt_amount, opt_bool, opt_enum, opt_string, opt_time, opt_u32, string, string_enum,
    string_map, time,
};

string_enum! {
    /// How a line item was bought.
    pub enum LineItemType {
        Original = "ORIGINAL",
        Bump = "BUMP",
        Cart = "CART",
        Standard = "STANDARD",
        Token = "TOKEN",
        Upsell = "UPSELL",
    }
}

string_enum! {
    /// Whether the customer can still be refunded.
    pub enum RefundableState {
        Refundable = "REFUNDABLE",
        SuggestedRefundBlock = "SUGGESTED_REFUND_BLOCK",
        Unrefundable = "UNREFUNDABLE",
        AlreadyRefunded = "ALREADY_REFUNDED",
        /// ClickBank spells it `TO_OLD`; `TOO_OLD` is read too.
        TooOld = "TO_OLD" | "TOO_OLD",
        RefundBlocked = "REFUND_BLOCKED",
        HasOpenRefund = "HAS_OPEN_REFUND",
        OverElvLimit = "OVER_ELV_LIMIT",
        ProviderDisconnected = "PROVIDER_DISCONNECTED",
    }
}

string_enum! {
    /// Whose view a record is.
    pub enum Role {
        Vendor = "VENDOR",
        Affiliate = "AFFILIATE",
        JvUpsell = "JV_UPSELL",
    }
}

/// One `{field, value}` entry of `customerContactInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactField {
    /// Field name (e.g. `phone`).
    #[serde(default, deserialize_with = "opt_string")]
    pub field: Option<String>,
    /// Its value.
    #[serde(default, deserialize_with = "opt_string")]
    pub value: Option<String>,
}

/// One line of an order (`lineItemData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    /// The SKU.
    #[serde(deserialize_with = "string")]
    pub item_no: String,
    /// Product title.
    #[serde(default, deserialize_with = "opt_string")]
    pub product_title: Option<String>,
    /// Recurring product.
    #[serde(default, deserialize_with = "opt_bool")]
    pub recurring: Option<bool>,
    /// Physical product.
    #[serde(default, deserialize_with = "opt_bool")]
    pub shippable: Option<bool>,
    /// What the customer paid for this line.
    #[serde(default, deserialize_with = "opt_amount")]
    pub customer_amount: Option<Amount>,
    /// What the vendor account receives.
    #[serde(default, deserialize_with = "opt_amount")]
    pub account_amount: Option<Amount>,
    /// Quantity.
    #[serde(default, deserialize_with = "opt_u32")]
    pub quantity: Option<u32>,
    /// ORIGINAL, BUMP, UPSELL, ...
    #[serde(default, deserialize_with = "opt_enum")]
    pub line_item_type: Option<LineItemType>,
    /// Refunds blocked for this line.
    #[serde(default, deserialize_with = "opt_bool")]
    pub refunds_blocked: Option<bool>,
    /// Amount of each future rebill.
    #[serde(default, deserialize_with = "opt_amount")]
    pub rebill_amount: Option<Amount>,
    /// Payments made so far.
    #[serde(default, deserialize_with = "opt_u32")]
    pub processed_payments: Option<u32>,
    /// Payments still to come.
    #[serde(default, deserialize_with = "opt_u32")]
    pub future_payments: Option<u32>,
    /// Next rebill.
    #[serde(default, deserialize_with = "opt_time")]
    pub next_payment_date: Option<DateTime<Utc>>,
    /// Subscription state of the line.
    #[serde(default, deserialize_with = "opt_enum")]
    pub status: Option<LineItemStatus>,
    /// Role.
    #[serde(default, deserialize_with = "opt_enum")]
    pub role: Option<Role>,
}

/// One transaction of `orders2/list` (`orderData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRecord {
    /// When it happened (UTC; ClickBank sends a Pacific offset).
    #[serde(deserialize_with = "time")]
    pub transaction_time: DateTime<Utc>,
    /// Receipt.
    #[serde(deserialize_with = "string")]
    pub receipt: String,
    /// Tracking id (`tid`).
    #[serde(default, deserialize_with = "opt_string")]
    pub tracking_id: Option<String>,
    /// Payment method; ClickBank spells the field `paytmentMethod`.
    #[serde(
        rename = "paytmentMethod",
        alias = "paymentMethod",
        default,
        deserialize_with = "opt_string"
    )]
    pub payment_method: Option<String>,
    /// SALE, BILL, RFND, ...
    pub transaction_type: TransactionType,
    /// Order total (negative for refunds and chargebacks).
    #[serde(default, deserialize_with = "opt_amount")]
    pub total_order_amount: Option<Amount>,
    /// Shipping part.
    #[serde(default, deserialize_with = "opt_amount")]
    pub total_shipping_amount: Option<Amount>,
    /// Tax part.
    #[serde(default, deserialize_with = "opt_amount")]
    pub total_tax_amount: Option<Amount>,
    /// Vendor nickname.
    #[serde(default, deserialize_with = "opt_string")]
    pub vendor: Option<String>,
    /// Affiliate nickname, `None` when there is none.
    #[serde(default, deserialize_with = "opt_string")]
    pub affiliate: Option<String>,
    /// Country code.
    #[serde(default, deserialize_with = "opt_string")]
    pub country: Option<String>,
    /// State / province.
    #[serde(default, deserialize_with = "opt_string")]
    pub state: Option<String>,
    /// Last name.
    #[serde(default, deserialize_with = "opt_string")]
    pub last_name: Option<String>,
    /// First name.
    #[serde(default, deserialize_with = "opt_string")]
    pub first_name: Option<String>,
    /// ISO currency code of the amounts.
    #[serde(default, deserialize_with = "opt_string")]
    pub currency: Option<String>,
    /// Declined consent.
    #[serde(default, deserialize_with = "opt_bool")]
    pub declined_consent: Option<bool>,
    /// Email.
    #[serde(default, deserialize_with = "opt_string")]
    pub email: Option<String>,
    /// Postal code.
    #[serde(default, deserialize_with = "opt_string")]
    pub postal_code: Option<String>,
    /// Extra contact fields.
    #[serde(default, deserialize_with = "one_or_many")]
    pub customer_contact_info: Vec<ContactField>,
    /// Role.
    #[serde(default, deserialize_with = "opt_enum")]
    pub role: Option<Role>,
    /// Full name.
    #[serde(default, deserialize_with = "opt_string")]
    pub full_name: Option<String>,
    /// Refundable state (`TO_OLD` and `TOO_OLD` both read as `TooOld`).
    #[serde(default, deserialize_with = "opt_enum")]
    pub customer_refundable_state: Option<RefundableState>,
    /// Vendor variables (`vendorVariables.item[{name,value}]`) as a map.
    #[serde(default, deserialize_with = "string_map")]
    pub vendor_variables: BTreeMap<String, String>,
    /// The original receipt when this is an upsell (sent by the sandbox; absent from
    /// many real records, where `/orders2/{receipt}/upsells` links them).
    #[serde(default, deserialize_with = "opt_string")]
    pub upsell_original_receipt: Option<String>,
    /// Line items.
    #[serde(rename = "lineItemData", default, deserialize_with = "one_or_many")]
    pub line_items: Vec<LineItem>,
}

impl OrderRecord {
    /// Total order amount in minor units of the record's currency (0 when absent).
    pub fn total_minor(&self) -> Result<i64, MoneyError> {
        minor_or_zero(&self.total_order_amount, self.currency.as_deref())
    }

    /// Event keys, one per line item (one with an empty item when there are none).
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
}

/// Minor units of an optional amount, 0 when absent.
pub fn minor_or_zero(amount: &Option<Amount>, currency: Option<&str>) -> Result<i64, MoneyError> {
    match amount {
        Some(a) => a.to_minor(currency.unwrap_or("USD")),
        None => Ok(0),
    }
}

/// One page of the orders list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrdersPage {
    /// The page number (1-based).
    pub page: u32,
    /// Records of the page (up to 100, sometimes fewer even when more follow).
    pub records: Vec<OrderRecord>,
    /// True when ClickBank answered 206: more pages follow.
    pub more: bool,
}

/// Body of `orders2/list` and `orders2/{receipt}`.
#[derive(Deserialize)]
struct OrdersBody {
    #[serde(rename = "orderData", default, deserialize_with = "one_or_many")]
    order_data: Vec<OrderRecord>,
}

/// Parse an orders body (`{"orderData": ...}`) into typed records.
pub fn parse_orders(body: &[u8]) -> Result<Vec<OrderRecord>, serde_json::Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    serde_json::from_slice::<OrdersBody>(body).map(|b| b.order_data)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC_RECORD: &str = r#"{"orderData":{"transactionTime":"2019-02-18T15:11:38-08:00","receipt":"95WJABGG",
"trackingId":{"@nil":"true"},"paytmentMethod":"TEST","transactionType":"TEST_SALE",
"totalOrderAmount":"11.94","totalShippingAmount":"0.0","totalTaxAmount":"0.00","vendor":"BETHUB",
"affiliate":{"@nil":"true"},"country":"PH","state":{"@nil":"true"},"lastName":"Doe","firstName":"Jane",
"currency":"PHP","declinedConsent":{"@nil":"true"},"email":"jane@example.com","postalCode":"8000","role":"VENDOR",
"fullName":"Jane Doe","customerRefundableState":{"@nil":"true"},
"vendorVariables":{"item":{"name":"cbitems","value":"3"}},
"lineItemData":{"itemNo":"3","productTitle":"gateSpeed-ClickBank","recurring":"true","shippable":"false",
"customerAmount":"11.94","accountAmount":"9.06","quantity":"1","lineItemType":"STANDARD","rebillAmount":"10.00",
"processedPayments":"1","futurePayments":"998","nextPaymentDate":"2019-03-18T15:11:38-07:00","status":"ACTIVE","role":"VENDOR"}}}"#;

    #[test]
    fn a_record_reads_back_from_the_json_it_is_kept_as() {
        // A record that fails during an import is kept as this JSON and read back to be
        // reprocessed.
        let rec = parse_orders(DOC_RECORD.as_bytes()).unwrap().remove(0);
        let kept = serde_json::to_string(&rec).unwrap();
        let back: OrderRecord = serde_json::from_str(&kept).unwrap();
        assert_eq!(back, rec, "{kept}");
    }

    #[test]
    fn reads_the_documented_record() {
        let records = parse_orders(DOC_RECORD.as_bytes()).unwrap();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(r.receipt, "95WJABGG");
        assert_eq!(r.transaction_type, TransactionType::TestSale);
        assert!(r.transaction_type.is_test());
        assert_eq!(r.payment_method.as_deref(), Some("TEST"));
        assert_eq!(r.total_minor(), Ok(1194));
        assert_eq!(r.affiliate, None);
        assert_eq!(r.tracking_id, None);
        assert_eq!(r.declined_consent, None);
        assert_eq!(r.vendor_variables.get("cbitems").map(String::as_str), Some("3"));
        assert_eq!(r.line_items.len(), 1);
        let l = &r.line_items[0];
        assert_eq!(l.recurring, Some(true));
        assert_eq!(l.shippable, Some(false));
        assert_eq!(l.future_payments, Some(998));
        assert_eq!(l.status, Some(LineItemStatus::Active));
        assert_eq!(l.line_item_type, Some(LineItemType::Standard));
        assert_eq!(
            l.next_payment_date.unwrap().to_rfc3339(),
            "2019-03-18T22:11:38+00:00"
        );
        let keys = r.event_keys();
        assert_eq!(
            keys[0].as_key_string(),
            "BETHUB|95WJABGG|TEST_SALE|2019-02-18T23:11:38Z|3"
        );
    }

    #[test]
    fn refundable_states_both_spellings() {
        assert_eq!(RefundableState::parse("TO_OLD"), RefundableState::TooOld);
        assert_eq!(RefundableState::parse("TOO_OLD"), RefundableState::TooOld);
        assert_eq!(
            RefundableState::parse("SOMETHING_NEW"),
            RefundableState::Other("SOMETHING_NEW".into())
        );
    }

    #[test]
    fn empty_bodies_and_nil_lists() {
        assert!(parse_orders(b"").unwrap().is_empty());
        assert!(parse_orders(br#"{"orderData":[]}"#).unwrap().is_empty());
        assert!(parse_orders(br#"{"orderData":{"@nil":"true"}}"#)
            .unwrap()
            .is_empty());
    }
}

//! Typed ClickBank records, tolerant of every quirk in `clickbank-api.md`.

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use super::money::{Amount, MoneyError};
use super::quirks::{
    lenient_string, one_or_many, opt_amount, opt_bool, opt_enum, opt_object, opt_string, opt_time, opt_u32,
    string, string_enum, string_map, time,
};

string_enum! {
    /// A transaction or notification type (orders list and INS share the names).
    pub enum TransactionType {
        Sale = "SALE",
        Bill = "BILL",
        Rfnd = "RFND",
        Cgbk = "CGBK",
        Insf = "INSF",
        Fee = "FEE",
        TestSale = "TEST_SALE",
        TestBill = "TEST_BILL",
        TestRfnd = "TEST_RFND",
        TestFee = "TEST_FEE",
        CancelRebill = "CANCEL-REBILL",
        UncancelRebill = "UNCANCEL-REBILL",
        SubscriptionChg = "SUBSCRIPTION-CHG",
        AbandonedOrder = "ABANDONED_ORDER",
        CustomerAuthFailure = "CUSTOMER_AUTH_FAILURE",
        CustomerEmailUpdate = "CUSTOMER_EMAIL_UPDATE",
        CustomerUpdateCcNotification = "CUSTOMER_UPDATE_CC_NOTIFICATION",
        PurchaseDetailsEmailResponse = "PURCHASE_DETAILS_EMAIL_RESPONSE",
        Test = "TEST",
        CancelTestRebill = "CANCEL-TEST-REBILL",
        UncancelTestRebill = "UNCANCEL-TEST-REBILL",
    }
}

impl TransactionType {
    /// Every known type, in ClickBank's spelling order of the doc.
    pub const ALL: [TransactionType; 21] = [
        TransactionType::Sale,
        TransactionType::Bill,
        TransactionType::Rfnd,
        TransactionType::Cgbk,
        TransactionType::Insf,
        TransactionType::Fee,
        TransactionType::TestSale,
        TransactionType::TestBill,
        TransactionType::TestRfnd,
        TransactionType::TestFee,
        TransactionType::CancelRebill,
        TransactionType::UncancelRebill,
        TransactionType::SubscriptionChg,
        TransactionType::AbandonedOrder,
        TransactionType::CustomerAuthFailure,
        TransactionType::CustomerEmailUpdate,
        TransactionType::CustomerUpdateCcNotification,
        TransactionType::PurchaseDetailsEmailResponse,
        TransactionType::Test,
        TransactionType::CancelTestRebill,
        TransactionType::UncancelTestRebill,
    ];

    /// Test transactions (`TEST`, `TEST_*`, `*-TEST-*`).
    pub fn is_test(&self) -> bool {
        let s = self.as_str();
        s == "TEST" || s.starts_with("TEST_") || s.contains("-TEST-")
    }

    /// The live type a test type stands for (`TEST_SALE` → `SALE`); any other type is itself.
    pub fn live(&self) -> TransactionType {
        match self {
            TransactionType::TestSale => TransactionType::Sale,
            TransactionType::TestBill => TransactionType::Bill,
            TransactionType::TestRfnd => TransactionType::Rfnd,
            TransactionType::CancelTestRebill => TransactionType::CancelRebill,
            TransactionType::UncancelTestRebill => TransactionType::UncancelRebill,
            other => other.clone(),
        }
    }

    /// Types that appear in `orders2/list` (money movements).
    pub fn is_order_transaction(&self) -> bool {
        matches!(
            self,
            TransactionType::Sale
                | TransactionType::Bill
                | TransactionType::Rfnd
                | TransactionType::Cgbk
                | TransactionType::Fee
                | TransactionType::TestSale
                | TransactionType::TestBill
                | TransactionType::TestRfnd
                | TransactionType::TestFee
        )
    }
}

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
    /// State of a (recurring) line item.
    pub enum LineItemStatus {
        Active = "ACTIVE",
        AuthorizationFailure = "AUTHORIZATION_FAILURE",
        Canceled = "CANCELED" | "CANCELLED",
        Completed = "COMPLETED",
        ValidationFailure = "VALIDATION_FAILURE",
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

string_enum! {
    /// Product status.
    pub enum ProductStatus {
        Active = "ACTIVE",
        Inactive = "INACTIVE",
    }
}

string_enum! {
    /// Rebill frequency of a recurring product.
    pub enum Frequency {
        Weekly = "WEEKLY",
        BiWeekly = "BI_WEEKLY",
        Monthly = "MONTHLY",
        Quarterly = "QUARTERLY",
        HalfYearly = "HALF_YEARLY",
        Yearly = "YEARLY",
    }
}

string_enum! {
    /// Ticket state.
    pub enum TicketStatus {
        Open = "OPEN",
        Reopened = "REOPENED",
        Closed = "CLOSED",
    }
}

string_enum! {
    /// Ticket kind.
    pub enum TicketType {
        Refund = "REFUND",
        Cancel = "CANCEL",
        TechSupport = "TECH_SUPPORT",
    }
}

string_enum! {
    /// How much of an order a refund pays back (case-sensitive on the wire).
    pub enum RefundType {
        Full = "FULL",
        PartialPercent = "PARTIAL_PERCENT",
        PartialAmount = "PARTIAL_AMOUNT",
    }
}

/// The identity of one event, shared by INS and the orders list:
/// (vendor, receipt, transactionType, transactionTime, itemNo).
///
/// Vendor and receipt are upper-cased, the time is UTC truncated to the second and a
/// missing item number is the empty string, so the same sale read from either source
/// gives an equal key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct EventKey {
    /// Vendor nickname (upper case).
    pub vendor: String,
    /// Receipt (upper case).
    pub receipt: String,
    /// Transaction type in ClickBank's spelling.
    pub transaction_type: String,
    /// Transaction time in UTC, whole seconds.
    pub transaction_time: DateTime<Utc>,
    /// Line item number (SKU), or "".
    pub item_no: String,
}

impl EventKey {
    /// Build a normalised key.
    pub fn new(
        vendor: &str,
        receipt: &str,
        transaction_type: &TransactionType,
        transaction_time: DateTime<Utc>,
        item_no: Option<&str>,
    ) -> Self {
        EventKey {
            vendor: vendor.trim().to_ascii_uppercase(),
            receipt: receipt.trim().to_ascii_uppercase(),
            transaction_type: transaction_type.as_str().to_string(),
            transaction_time: transaction_time.trunc_subsecs(0),
            item_no: item_no.unwrap_or("").trim().to_string(),
        }
    }

    /// One line, e.g. `BETHUB|95WJABGG|SALE|2019-02-18T23:11:38Z|3`, for a unique column.
    pub fn as_key_string(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.vendor,
            self.receipt,
            self.transaction_type,
            self.transaction_time.format("%Y-%m-%dT%H:%M:%SZ"),
            self.item_no
        )
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

/// A comment on a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TicketComment {
    /// Id.
    #[serde(default, deserialize_with = "opt_string")]
    pub comment_id: Option<String>,
    /// When.
    #[serde(default, deserialize_with = "opt_time")]
    pub date: Option<DateTime<Utc>>,
    /// Text.
    #[serde(default, deserialize_with = "opt_string")]
    pub comment: Option<String>,
    /// Action that added it.
    #[serde(default, deserialize_with = "opt_string")]
    pub action: Option<String>,
    /// Who wrote it.
    #[serde(default, deserialize_with = "opt_string")]
    pub comment_role: Option<String>,
}

/// A ClickBank support ticket (refund, cancel, tech support).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    /// Ticket id.
    #[serde(alias = "ticketid", deserialize_with = "string")]
    pub ticket_id: String,
    /// Receipt.
    #[serde(default, deserialize_with = "opt_string")]
    pub receipt: Option<String>,
    /// OPEN / REOPENED / CLOSED.
    #[serde(default, deserialize_with = "opt_enum")]
    pub status: Option<TicketStatus>,
    /// REFUND / CANCEL / TECH_SUPPORT.
    #[serde(rename = "type", default, deserialize_with = "opt_enum")]
    pub ticket_type: Option<TicketType>,
    /// Opened.
    #[serde(default, deserialize_with = "opt_time")]
    pub opened_date: Option<DateTime<Utc>>,
    /// Closed.
    #[serde(default, deserialize_with = "opt_time")]
    pub closed_date: Option<DateTime<Utc>>,
    /// Description / reason.
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
    /// Refund type of a refund ticket.
    #[serde(default, deserialize_with = "opt_enum")]
    pub refund_type: Option<RefundType>,
    /// Money the refund pays back, in the order's currency.
    #[serde(default, deserialize_with = "opt_amount")]
    pub refund_amount: Option<Amount>,
    /// SKU the ticket is about.
    #[serde(default, deserialize_with = "opt_string")]
    pub product_item_no: Option<String>,
    /// Customer first name.
    #[serde(default, deserialize_with = "opt_string")]
    pub customer_first_name: Option<String>,
    /// Customer last name.
    #[serde(default, deserialize_with = "opt_string")]
    pub customer_last_name: Option<String>,
    /// Customer email.
    #[serde(default, deserialize_with = "opt_string")]
    pub email: Option<String>,
    /// Last update.
    #[serde(default, deserialize_with = "opt_time")]
    pub update_time: Option<DateTime<Utc>>,
    /// Comments.
    #[serde(default, deserialize_with = "one_or_many")]
    pub comments: Vec<TicketComment>,
}

impl Ticket {
    /// OPEN or REOPENED.
    pub fn is_open(&self) -> bool {
        matches!(
            self.status,
            Some(TicketStatus::Open) | Some(TicketStatus::Reopened)
        )
    }
}

/// What a refund would pay back (`tickets/refundAmounts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RefundAmounts {
    /// Currency of the amounts.
    #[serde(default, deserialize_with = "opt_string")]
    pub currency: Option<String>,
    /// Refund type the preview was made for.
    #[serde(default, deserialize_with = "opt_enum")]
    pub refund_type: Option<RefundType>,
    /// Product part.
    #[serde(default, deserialize_with = "opt_amount")]
    pub subtotal: Option<Amount>,
    /// Tax part.
    #[serde(default, deserialize_with = "opt_amount")]
    pub tax_amount: Option<Amount>,
    /// Shipping part.
    #[serde(default, deserialize_with = "opt_amount")]
    pub shipping_amount: Option<Amount>,
    /// Total paid back.
    #[serde(default, deserialize_with = "opt_amount")]
    pub total_amount: Option<Amount>,
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

/// Subscription status from `HEAD /orders2/{receipt}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SubscriptionStatus {
    /// 204: an active subscription.
    Active,
    /// 403: not active (canceled, completed, not recurring, or not visible to the key).
    NotActive,
}

/// Body of `orders2/list` and `orders2/{receipt}`.
#[derive(Deserialize)]
pub(crate) struct OrdersBody {
    #[serde(rename = "orderData", default, deserialize_with = "one_or_many")]
    pub(crate) order_data: Vec<OrderRecord>,
}

/// Parse an orders body (`{"orderData": ...}`) into typed records.
pub fn parse_orders(body: &[u8]) -> Result<Vec<OrderRecord>, serde_json::Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    serde_json::from_slice::<OrdersBody>(body).map(|b| b.order_data)
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

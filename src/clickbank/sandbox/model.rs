//! The sandbox's in-memory ClickBank: products, customers, events, subscriptions, tickets.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Months, Utc};

use crate::clickbank::types::{
    Frequency, LineItemStatus, LineItemType, RefundType, TicketStatus, TicketType, TransactionType,
};

/// Rebill plan of a recurring product.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub frequency: Frequency,
    /// Rebill amount in minor units.
    pub rebill: i64,
    /// Total number of payments (the first one included).
    pub duration: u32,
    /// Days before the first rebill instead of one period.
    pub trial_days: u32,
}

/// Role of a product in the sales funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FunnelRole {
    Front,
    Bump,
    Upsell,
    Retired,
}

/// A product of the catalog.
#[derive(Debug, Clone)]
pub(crate) struct SbProduct {
    pub sku: String,
    pub id: u32,
    pub title: String,
    pub description: String,
    pub currency: &'static str,
    /// Initial price in minor units.
    pub price: i64,
    /// Extra pricings in other currencies: (currency, price).
    pub extra_pricings: Vec<(&'static str, i64)>,
    /// Shipping per unit.
    pub shipping: i64,
    pub physical: bool,
    pub plan: Option<Plan>,
    pub category: Vec<&'static str>,
    pub role: FunnelRole,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub active: bool,
}

/// A buyer.
#[derive(Debug, Clone)]
pub(crate) struct SbCustomer {
    pub first: String,
    pub last: String,
    pub email: String,
    pub phone: String,
    pub address: SbAddress,
    /// Currency of the customer's country.
    pub currency: &'static str,
}

/// A postal address.
#[derive(Debug, Clone, Default)]
pub(crate) struct SbAddress {
    pub address1: String,
    pub address2: Option<String>,
    pub city: String,
    pub county: Option<String>,
    pub state: Option<String>,
    pub postal_code: String,
    pub country: String,
}

/// One line of an event.
#[derive(Debug, Clone)]
pub(crate) struct SbLine {
    pub product: usize,
    pub line_type: LineItemType,
    pub qty: u32,
    /// Signed (negative on refunds and chargebacks).
    pub customer_amount: i64,
    pub account_amount: i64,
    pub tax: i64,
    pub shipping: i64,
}

/// A transaction (listed by `orders2/list`) or an INS-only event.
#[derive(Debug, Clone)]
pub(crate) struct SbEvent {
    pub id: u64,
    pub time: DateTime<Utc>,
    /// `None` for abandoned orders.
    pub receipt: Option<String>,
    pub tx_type: TransactionType,
    pub customer: usize,
    pub affiliate: Option<u16>,
    pub payment_method: &'static str,
    pub currency: &'static str,
    pub lines: Vec<SbLine>,
    pub tracking_id: Option<String>,
    pub upsell_original: Option<String>,
    pub vendor_vars: Vec<(&'static str, String)>,
}

impl SbEvent {
    pub fn tax(&self) -> i64 {
        self.lines.iter().map(|l| l.tax).sum()
    }
    pub fn shipping(&self) -> i64 {
        self.lines.iter().map(|l| l.shipping).sum()
    }
    pub fn total(&self) -> i64 {
        self.lines
            .iter()
            .map(|l| l.customer_amount + l.tax + l.shipping)
            .sum()
    }
    pub fn account_total(&self) -> i64 {
        self.lines.iter().map(|l| l.account_amount).sum()
    }
    pub fn listed(&self) -> bool {
        self.tx_type.is_order_transaction()
    }
}

/// A subscription (one recurring line of a receipt).
#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub receipt: String,
    pub product: usize,
    pub rebill: i64,
    pub frequency: Frequency,
    pub processed: u32,
    pub total: u32,
    pub next_payment: Option<DateTime<Utc>>,
    pub status: LineItemStatus,
    pub canceled_at: Option<DateTime<Utc>>,
    pub paused_until: Option<DateTime<Utc>>,
}

impl Subscription {
    pub fn remaining(&self) -> u32 {
        self.total.saturating_sub(self.processed)
    }
}

/// The payment a refund applies to.
#[derive(Debug, Clone)]
pub(crate) struct Payment {
    pub time: DateTime<Utc>,
    pub lines: Vec<SbLine>,
}

impl Payment {
    pub fn total(&self) -> i64 {
        self.lines
            .iter()
            .map(|l| l.customer_amount + l.tax + l.shipping)
            .sum()
    }
}

/// What the sandbox knows about a receipt.
#[derive(Debug, Clone)]
pub(crate) struct ReceiptInfo {
    pub customer: usize,
    pub currency: &'static str,
    pub affiliate: Option<u16>,
    pub payment_method: &'static str,
    pub test: bool,
    pub sale_lines: Vec<SbLine>,
    pub last_payment: Payment,
    /// Refunded (positive minor units) of the last payment.
    pub refunded_of_last: i64,
    pub chargeback: bool,
    pub upsell_original: Option<String>,
    pub upsells: Vec<String>,
    pub tracking_id: Option<String>,
    pub vendor_vars: Vec<(&'static str, String)>,
    pub address_override: Option<SbAddress>,
}

impl ReceiptInfo {
    pub fn refundable(&self) -> i64 {
        if self.chargeback {
            0
        } else {
            (self.last_payment.total() - self.refunded_of_last).max(0)
        }
    }

    pub fn has_physical(&self, products: &[SbProduct]) -> bool {
        self.sale_lines.iter().any(|l| products[l.product].physical)
    }
}

/// A support ticket.
#[derive(Debug, Clone)]
pub(crate) struct SbTicket {
    pub id: u64,
    pub receipt: String,
    pub status: TicketStatus,
    pub ticket_type: TicketType,
    pub reason: String,
    pub opened: DateTime<Utc>,
    pub closed: Option<DateTime<Utc>>,
    pub updated: DateTime<Utc>,
    pub refund_type: Option<RefundType>,
    /// Money to pay back (minor units, positive).
    pub refund_minor: i64,
    pub sku: Option<String>,
    pub retain_subscription: bool,
    pub comments: Vec<(DateTime<Utc>, String, &'static str)>,
    /// The RFND / CANCEL-REBILL was applied.
    pub processed: bool,
}

impl SbTicket {
    pub fn is_open(&self) -> bool {
        matches!(self.status, TicketStatus::Open | TicketStatus::Reopened)
    }
}

/// A recorded shipping notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedShipNotice {
    /// Receipt.
    pub receipt: String,
    /// Ship date as sent.
    pub date: String,
    /// Carrier.
    pub carrier: String,
    /// Tracking number.
    pub tracking: String,
    /// SKU, if given.
    pub item: Option<String>,
}

/// Add one rebill period.
pub(crate) fn add_period(t: DateTime<Utc>, f: &Frequency) -> DateTime<Utc> {
    let months = |n: u32| {
        t.checked_add_months(Months::new(n))
            .unwrap_or(t + Duration::days(30 * i64::from(n)))
    };
    match f {
        Frequency::Weekly => t + Duration::weeks(1),
        Frequency::BiWeekly => t + Duration::weeks(2),
        Frequency::Monthly => months(1),
        Frequency::Quarterly => months(3),
        Frequency::HalfYearly => months(6),
        Frequency::Yearly => months(12),
        Frequency::Other(_) => months(1),
    }
}

/// Index of subscriptions by receipt.
pub(crate) type SubIndex = HashMap<String, Vec<usize>>;

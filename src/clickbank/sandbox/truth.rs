//! What the sandbox holds, for tests that compare an import with it: transactions,
//! totals, subscriptions, the catalog, tickets, shipping notices and INS deliveries.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::model::{self, RecordedShipNotice};
use super::runner::SandboxHandle;
use super::server;
use super::state::{DeliveryRecord, State};
use crate::clickbank::time::pacific_midnight;
use crate::clickbank::types::{LineItemStatus, LineItemType, Ticket, TransactionType};

/// One line of a truth transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthItem {
    /// SKU.
    pub sku: String,
    /// Line type.
    pub line_type: LineItemType,
    /// Quantity.
    pub quantity: u32,
    /// Customer amount (minor units, signed).
    pub customer_minor: i64,
    /// Vendor amount (minor units, signed).
    pub account_minor: i64,
}

/// What the sandbox holds about one event, for comparing imports with the truth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthTransaction {
    /// Sandbox event id.
    pub id: u64,
    /// Receipt.
    pub receipt: Option<String>,
    /// Type.
    pub transaction_type: TransactionType,
    /// Time.
    pub time: DateTime<Utc>,
    /// Currency.
    pub currency: String,
    /// Order total, minor units, signed.
    pub total_minor: i64,
    /// Tax part.
    pub tax_minor: i64,
    /// Shipping part.
    pub shipping_minor: i64,
    /// Vendor's share.
    pub account_minor: i64,
    /// Affiliate nickname.
    pub affiliate: Option<String>,
    /// Payment method.
    pub payment_method: String,
    /// Customer email.
    pub email: String,
    /// Customer first name (may contain HTML on purpose).
    pub first_name: String,
    /// Customer last name.
    pub last_name: String,
    /// Lines.
    pub items: Vec<TruthItem>,
    /// Original receipt of an upsell.
    pub upsell_original_receipt: Option<String>,
    /// Visible in `orders2/list`.
    pub listed: bool,
}

/// Count and signed sum per (currency, type).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeTotals {
    /// Transactions.
    pub count: u64,
    /// Sum of totals (minor units).
    pub total_minor: i64,
}

/// Totals of the listed transactions of a date range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TruthSummary {
    /// All transactions.
    pub count: u64,
    /// Per (currency, transaction type).
    pub by_currency_and_type: BTreeMap<(String, String), TypeTotals>,
}

impl TruthSummary {
    /// Totals of one (currency, type).
    pub fn get(&self, currency: &str, transaction_type: &str) -> TypeTotals {
        self.by_currency_and_type
            .get(&(currency.to_string(), transaction_type.to_string()))
            .copied()
            .unwrap_or_default()
    }
}

/// The current state of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthSubscription {
    /// Receipt.
    pub receipt: String,
    /// Current SKU.
    pub sku: String,
    /// Status.
    pub status: LineItemStatus,
    /// Next rebill.
    pub next_payment: Option<DateTime<Utc>>,
    /// Payments made.
    pub processed: u32,
    /// Payments remaining.
    pub remaining: u32,
    /// Pause end (restart date).
    pub paused_until: Option<DateTime<Utc>>,
    /// When it was canceled.
    pub canceled_at: Option<DateTime<Utc>>,
}

/// An address a `changeAddress` gave a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthAddress {
    /// Street.
    pub address1: String,
    /// Street, line 2.
    pub address2: Option<String>,
    /// City.
    pub city: String,
    /// Province / state.
    pub state: Option<String>,
    /// Postal code.
    pub postal_code: String,
    /// Country code.
    pub country: String,
}

/// A product of the sandbox catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthProduct {
    /// SKU.
    pub sku: String,
    /// Title.
    pub title: String,
    /// Main currency.
    pub currency: String,
    /// Initial price, minor units.
    pub price_minor: i64,
    /// Recurring.
    pub recurring: bool,
    /// Physical.
    pub physical: bool,
    /// Active.
    pub active: bool,
}

impl SandboxHandle {
    fn truth(st: &State, e: &model::SbEvent) -> TruthTransaction {
        let c = &st.customers[e.customer];
        TruthTransaction {
            id: e.id,
            receipt: e.receipt.clone(),
            transaction_type: e.tx_type.clone(),
            time: e.time,
            currency: e.currency.to_string(),
            total_minor: e.total(),
            tax_minor: e.tax(),
            shipping_minor: e.shipping(),
            account_minor: e.account_total(),
            affiliate: st.affiliate_name(e.affiliate).map(str::to_string),
            payment_method: e.payment_method.to_string(),
            email: c.email.clone(),
            first_name: c.first.clone(),
            last_name: c.last.clone(),
            items: e
                .lines
                .iter()
                .map(|l| TruthItem {
                    sku: st.products[l.product].sku.clone(),
                    line_type: l.line_type.clone(),
                    quantity: l.qty,
                    customer_minor: l.customer_amount,
                    account_minor: l.account_amount,
                })
                .collect(),
            upsell_original_receipt: e.upsell_original.clone(),
            listed: e.listed(),
        }
    }

    /// Every event (transactions and INS-only events), in time order.
    pub fn events(&self) -> Vec<TruthTransaction> {
        let st = self.shared.lock();
        st.events.iter().map(|e| Self::truth(&st, e)).collect()
    }

    /// The transactions `orders2/list` shows, in time order.
    pub fn transactions(&self) -> Vec<TruthTransaction> {
        let st = self.shared.lock();
        st.events
            .iter()
            .filter(|e| e.listed())
            .map(|e| Self::truth(&st, e))
            .collect()
    }

    /// Listed transactions of the Pacific days `start..=end` (the orders list's days).
    pub fn transactions_between(&self, start: NaiveDate, end: NaiveDate) -> Vec<TruthTransaction> {
        let (from, to) = (
            pacific_midnight(start),
            pacific_midnight(end + chrono::Duration::days(1)),
        );
        let st = self.shared.lock();
        st.events
            .iter()
            .filter(|e| e.listed() && e.time >= from && e.time < to)
            .map(|e| Self::truth(&st, e))
            .collect()
    }

    /// Counts and sums per currency and type of the listed transactions of `start..=end`.
    pub fn summary(&self, start: NaiveDate, end: NaiveDate) -> TruthSummary {
        let mut s = TruthSummary::default();
        for t in self.transactions_between(start, end) {
            s.count += 1;
            let e = s
                .by_currency_and_type
                .entry((t.currency.clone(), t.transaction_type.as_str().to_string()))
                .or_default();
            e.count += 1;
            e.total_minor += t.total_minor;
        }
        s
    }

    /// The catalog.
    pub fn products(&self) -> Vec<TruthProduct> {
        let st = self.shared.lock();
        st.products
            .iter()
            .map(|p| TruthProduct {
                sku: p.sku.clone(),
                title: p.title.clone(),
                currency: p.currency.to_string(),
                price_minor: p.price,
                recurring: p.plan.is_some(),
                physical: p.physical,
                active: p.active,
            })
            .collect()
    }

    /// Subscriptions of a receipt.
    pub fn subscriptions(&self, receipt: &str) -> Vec<TruthSubscription> {
        let st = self.shared.lock();
        st.sub_index
            .get(&receipt.to_ascii_uppercase())
            .map(|v| {
                v.iter()
                    .map(|&i| {
                        let s = &st.subs[i];
                        TruthSubscription {
                            receipt: s.receipt.clone(),
                            sku: st.products[s.product].sku.clone(),
                            status: s.status.clone(),
                            next_payment: s.next_payment,
                            processed: s.processed,
                            remaining: s.remaining(),
                            paused_until: s.paused_until,
                            canceled_at: s.canceled_at,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Receipts of subscriptions in `status`, for picking test subjects.
    pub fn subscription_receipts(&self, status: LineItemStatus) -> Vec<String> {
        let st = self.shared.lock();
        st.subs
            .iter()
            .filter(|s| s.status == status)
            .map(|s| s.receipt.clone())
            .collect()
    }

    /// All tickets, as the API shows them.
    pub fn tickets(&self) -> Vec<Ticket> {
        let st = self.shared.lock();
        st.tickets.iter().map(|t| server::typed_ticket(&st, t)).collect()
    }

    /// The address the last `changeAddress` gave `receipt`, if any did.
    pub fn changed_address(&self, receipt: &str) -> Option<TruthAddress> {
        let st = self.shared.lock();
        let a = st
            .receipts
            .get(&receipt.to_ascii_uppercase())?
            .address_override
            .as_ref()?;
        Some(TruthAddress {
            address1: a.address1.clone(),
            address2: a.address2.clone(),
            city: a.city.clone(),
            state: a.state.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        })
    }

    /// Shipping notices received.
    pub fn ship_notices(&self) -> Vec<RecordedShipNotice> {
        self.shared.lock().ship_notices.clone()
    }

    /// INS deliveries attempted.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.shared.lock().deliveries.clone()
    }
}

//! Data builders in the crates.io style: a value with sensible defaults, and methods that say
//! only what a test cares about. `SaleBuilder::new("PAT00001").email("pat@example.com").build()`
//! is a SALE of one MUG to Pat, two hours ago, at "1 St".

use chrono::{Duration, Utc};
use merchant_crm::domain::orders::event::{EventAddress, EventCustomer, EventItem, OrderEvent};

pub fn address(line1: &str) -> EventAddress {
    EventAddress {
        address1: line1.into(),
        address2: String::new(),
        city: "Springfield".into(),
        state: "IL".into(),
        postal_code: "62701".into(),
        country: "US".into(),
    }
}

pub fn item(sku: &str, recurring: bool) -> EventItem {
    EventItem {
        item_no: sku.into(),
        title: format!("Product {sku}"),
        line_item_type: "ORIGINAL".into(),
        quantity: 1,
        amount_minor: 1999,
        shippable: true,
        recurring,
        rebill_amount_minor: recurring.then_some(1999),
        next_payment: None,
        frequency: recurring.then(|| "MONTHLY".to_string()),
        payments_processed: Some(1),
        list_status: None,
    }
}

/// A SALE event, as INS and the import bring them to `events::apply`.
pub struct SaleBuilder {
    receipt: String,
    email: String,
    address: String,
    hours_ago: i64,
    items: Vec<EventItem>,
}

impl SaleBuilder {
    /// A SALE of `receipt` to buyer@example.com at "1 St", two hours ago; one MUG unless items
    /// are added.
    pub fn new(receipt: &str) -> Self {
        SaleBuilder {
            receipt: receipt.into(),
            email: "buyer@example.com".into(),
            address: "1 St".into(),
            hours_ago: 2,
            items: Vec::new(),
        }
    }

    pub fn email(mut self, email: &str) -> Self {
        self.email = email.into();
        self
    }

    /// The billing and shipping street line (the rest is Springfield, IL 62701, US).
    pub fn address(mut self, line1: &str) -> Self {
        self.address = line1.into();
        self
    }

    pub fn hours_ago(mut self, hours: i64) -> Self {
        self.hours_ago = hours;
        self
    }

    /// Adds one (non-recurring) item.
    pub fn item(mut self, sku: &str) -> Self {
        self.items.push(item(sku, false));
        self
    }

    /// Adds one subscription item.
    pub fn recurring_item(mut self, sku: &str) -> Self {
        self.items.push(item(sku, true));
        self
    }

    pub fn build(self) -> OrderEvent {
        let items = if self.items.is_empty() {
            vec![item("MUG", false)]
        } else {
            self.items
        };
        let total = items.iter().map(|i| i.amount_minor).sum();
        OrderEvent {
            kind: "SALE".into(),
            time: Utc::now() - Duration::hours(self.hours_ago),
            receipt: self.receipt,
            parent_receipt: None,
            vendor: Some("vendor".into()),
            affiliate: None,
            payment_method: Some("VISA".into()),
            currency: "USD".into(),
            total_minor: total,
            tax_minor: 0,
            shipping_minor: 0,
            customer: EventCustomer {
                email: self.email,
                first_name: "Pat".into(),
                last_name: "Buyer".into(),
                phone: "555-0100".into(),
                billing: address(&self.address),
                shipping: address(&self.address),
                ship_first_name: String::new(),
                ship_last_name: String::new(),
            },
            items,
            read_at: None,
        }
    }
}
